"""Training throughput: K networks trained batched vs one after another, on `delayed`.

Both ways run the same networks (same initial weights) for the same number of Adam steps on
the same minibatches (each network's own shuffle of the delayed training set):
  batched     one RNNPopulation of K networks, atlas' training step (per-network Adam);
  sequential  what users do today: per network an nn.RNN/GRU/LSTM + nn.Linear with
              torch.optim.Adam, trained one network after another.
Prints network-steps per second and the speed-up per configuration (a GPU row for the batched
trainer when CUDA is present); the last line is one JSON object with the figures.

    .venv/bin/python benchmarks/train_throughput.py [--count 64] [--steps 10] [--threads N]
        [--clock wall|process] [--glibc-allocator]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from atlas.allocator import tune_allocator
from atlas.networks import RNNPopulation, to_state_dict, torch_network
from atlas.tasks import get_task
from atlas.training.adam import BatchedAdam
from atlas.training.minibatches import MinibatchOrder
from atlas.training.step import population_parameters, training_step

CONFIGURATIONS = (("vanilla", 20), ("gru", 50), ("lstm", 50))
LEARNING_RATE = 1e-3


def minibatches(count: int, steps: int, n_trials: int, batch_size: int) -> torch.Tensor:
    """(steps, K, batch) trial indices: each network's own shuffles, as in training."""
    order = MinibatchOrder(range(count), n_trials, batch_size)
    batches: list[torch.Tensor] = []
    while len(batches) < steps:
        batches.extend(b for b in order.epoch() if b.shape[1] == batch_size)
    return torch.stack(batches[:steps])


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def batched(population, inputs, targets, index, device, clock) -> tuple[float, RNNPopulation]:
    population = population.select(range(population.count)).to(device)
    adam = BatchedAdam(
        population_parameters(population), torch.full((population.count,), LEARNING_RATE)
    )
    inputs, targets, index = inputs.to(device), targets.to(device), index.to(device)
    training_step(population, adam, inputs[index[0]], targets[index[0]])  # warm-up
    _synchronise(device)
    start = clock()
    for batch in index[1:]:
        training_step(population, adam, inputs[batch], targets[batch])
    _synchronise(device)
    return clock() - start, population


def _plain_step(net, optimiser, inputs: torch.Tensor, targets: torch.Tensor) -> None:
    optimiser.zero_grad()
    (net(inputs) - targets).pow(2).mean().backward()
    optimiser.step()


def sequential(population, inputs, targets, index, clock) -> tuple[float, list[dict]]:
    elapsed, finals = 0.0, []
    for k in range(population.count):
        net = torch_network(to_state_dict(population, k))
        optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
        batch = index[0, k]
        _plain_step(net, optimiser, inputs[batch], targets[batch])  # warm-up, as batched
        start = clock()
        for batch in index[1:, k]:
            _plain_step(net, optimiser, inputs[batch], targets[batch])
        elapsed += clock() - start
        finals.append(net.state_dict())
    return elapsed, finals


def largest_difference(population: RNNPopulation, finals: list[dict]) -> float:
    """Largest relative parameter difference between the two ways (they should agree)."""
    worst = 0.0
    for k, final in enumerate(finals):
        mine = to_state_dict(population, k)
        worst = max(worst, *(float((mine[n] - final[n]).norm() / final[n].norm()) for n in final))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=64, help="networks K")
    parser.add_argument("--steps", type=int, default=10, help="timed Adam steps per network")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads"
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "process"),
        default="wall",
        help="time CPU runs by wall clock, or by this process's CPU time (with --threads 1: "
        "robust on a machine shared with other jobs)",
    )
    parser.add_argument(
        "--glibc-allocator",
        action="store_true",
        help="leave glibc's allocator as it comes (the trainer tunes it: atlas.allocator)",
    )
    args = parser.parse_args()
    if args.clock == "process" and args.threads != 1:
        parser.error("--clock process measures one thread: use it with --threads 1")
    torch.set_num_threads(args.threads)
    allocator_tuned = not args.glibc_allocator and tune_allocator()
    clock = time.process_time if args.clock == "process" else time.perf_counter
    train = get_task("delayed").training_set()
    index = minibatches(args.count, args.steps + 1, len(train), 32)
    network_steps = args.count * args.steps
    rows, figures = [], {}
    for architecture, units in CONFIGURATIONS:
        population = RNNPopulation.initialise(architecture, units, range(args.count))
        cpu, trained = batched(
            population, train.inputs, train.targets, index, torch.device("cpu"), clock
        )
        seq, finals = sequential(population, train.inputs, train.targets, index, clock)
        name = f"{architecture}_{units}"
        figures[name] = {
            "batched_network_steps_per_s": network_steps / cpu,
            "sequential_network_steps_per_s": network_steps / seq,
            "speedup": seq / cpu,
            "max_relative_parameter_difference": largest_difference(trained, finals),
        }
        rows.append((name, "cpu", network_steps / seq, network_steps / cpu, seq / cpu))
        if torch.cuda.is_available():
            gpu, _ = batched(
                population, train.inputs, train.targets, index, torch.device("cuda"),
                time.perf_counter,
            )  # fmt: skip
            figures[name]["gpu_batched_network_steps_per_s"] = network_steps / gpu
            figures[name]["gpu_speedup_vs_cpu_sequential"] = seq / gpu
            rows.append((name, "cuda", network_steps / seq, network_steps / gpu, seq / gpu))
    print(f"K={args.count} networks, {args.steps} Adam steps each, batch 32, delayed task, "
          f"{args.threads} CPU thread(s), {args.clock} clock on the CPU (wall on a GPU); "
          "sequential always on the CPU; allocator "
          f"{'tuned (atlas.allocator)' if allocator_tuned else 'as glibc comes'}")  # fmt: skip
    print(f"{'config':<12}{'device':<8}{'sequential/s':>14}{'batched/s':>12}{'speed-up':>10}")
    for name, device, seq_rate, batch_rate, speedup in rows:
        print(f"{name:<12}{device:<8}{seq_rate:>14.1f}{batch_rate:>12.1f}{speedup:>9.1f}x")
    summary = {
        "count": args.count,
        "steps": args.steps,
        "threads": args.threads,
        "clock": args.clock,
        "allocator_tuned": allocator_tuned,
        **figures,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
