"""Training throughput: whole epochs of PopulationTraining against the loop a user would write.

For vanilla 20 on `delayed` and GRU 50 and LSTM 50 on `reproduction`, and each population
size K, both ways train networks from the same initial weights on the same training set, batch
size and number of minibatches per epoch:
  population  whole epochs of atlas' PopulationTraining for K networks: every minibatch's
              batched step (hand-written BPTT, atlas.networks.fused, in C kernels for float32
              on the CPU unless ATLAS_NATIVE_KERNELS=off; per-network Adam), the
              epoch loss (`--epoch-loss`: a pass over the whole training set, the default, or
              the minibatches' mean, as the paper's trainer), the recipe's verdicts and
              bookkeeping;
  user loop   per network one nn.RNN/GRU/LSTM + nn.Linear trained by torch.optim.Adam on its
              own shuffle of the training set, one network after another, training steps only.
The user loop's rate does not depend on K (each network runs alone), so it is measured on
`--sample` networks and reported per network-step. GFLOP/s count the matrix products (a
training step is three times its forward products; a training-set epoch loss one forward
over the training set) beside the device's measured matrix-product peak (float32 n x n, best of 5).
Runs on the CPU at one thread and all threads, or on CUDA (`--device cuda`, the user loop
there too, through cuDNN). Prints a table; the last line is one JSON object.
`--to-criterion` measures instead one whole run of 64 vanilla 20 networks on `delayed` under
the default recipe (each network until it converges, fails or reaches `--criterion-epochs`),
at the first of `--threads`: wall and CPU time, the outcomes and the network-epochs run,
against the user loop's time for as many network-epochs (timed on `--sample` networks for
`--epochs` epochs; it computes no epoch loss). About 45 minutes at one thread.

    PYTHONPATH=. python benchmarks/train_throughput.py [--device cpu|cuda] [--counts 16,64,256]
        [--threads 1,all] [--configs vanilla_20,gru_50,lstm_50] [--epochs 1] [--sample 4]
        [--clock wall|process] [--epoch-loss minibatches|training_set]
        [--cuda-graphs] [--criterion-epochs 2000] [--to-criterion]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import torch

from atlas.networks import torch_network
from atlas.networks.cells import GATES
from atlas.tasks import TrialSet, get_task
from atlas.training.batched import PopulationTraining, train_population
from atlas.training.config import EPOCH_LOSSES, TrainingConfig

CONFIGURATIONS = (
    ("vanilla", 20, "delayed"),
    ("gru", 50, "reproduction"),
    ("lstm", 50, "reproduction"),
)
BATCH = 32
CRITERION_RUN = ("vanilla", 20, "delayed", 64)  # architecture, units, task, networks


@dataclass(frozen=True)
class Work:
    """Matrix-product FLOPs of one network: a training step and an epoch's loss pass."""

    step_flops: float
    loss_flops: float
    steps_per_epoch: int


def work_of(architecture: str, units: int, train: TrialSet) -> Work:
    n_trials, steps, n_inputs = train.inputs.shape
    n_outputs = train.targets.shape[2]
    rows = GATES[architecture] * units
    per_trial_step = 2 * rows * (units + n_inputs) + 2 * units * n_outputs
    return Work(
        step_flops=3 * BATCH * steps * per_trial_step,
        loss_flops=n_trials * steps * per_trial_step,
        steps_per_epoch=-(-n_trials // BATCH),
    )


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device: torch.device, clock: Callable[[], float], n: int = 1024) -> float:
    """GFLOP/s of float32 n x n products on this device and thread count, best of 5."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    repeats = 50 if device.type == "cuda" else 3
    best = float("inf")
    for _ in range(5):
        synchronise(device)
        start = clock()
        for _ in range(repeats):
            a @ b
        synchronise(device)
        best = min(best, (clock() - start) / repeats)
    return 2 * n**3 / best / 1e9


def population_config(args, device: torch.device, **recipe) -> TrainingConfig:
    """The population's config: `recipe` over the defaults, the command line's epoch loss and
    CUDA graphs, on `device`."""
    return TrainingConfig(
        **recipe, device=device.type, epoch_loss=args.epoch_loss, cuda_graphs=args.cuda_graphs
    )


def population_epochs(
    task, architecture, units, count, args, device, clock
) -> tuple[float, PopulationTraining]:
    """Seconds for `args.epochs` whole epochs (after one warm-up epoch) of K networks."""
    config = population_config(args, device, max_epochs=args.epochs + 10, checkpoint_every=0)
    run = PopulationTraining(task, architecture, units, list(range(count)), config)
    run.run_epoch()  # warm-up: allocator, kernels, the CUDA graph's recording
    synchronise(device)
    start = clock()
    for _ in range(args.epochs):
        run.run_epoch()
    synchronise(device)
    return clock() - start, run


def user_epoch(net, optimiser, inputs, targets, generator) -> None:
    """One epoch of the plain loop: the network's own shuffle, minibatches of BATCH."""
    order = torch.randperm(len(inputs), generator=generator).to(inputs.device)
    for batch in order.split(BATCH):
        optimiser.zero_grad()
        (net(inputs[batch]) - targets[batch]).pow(2).mean().backward()
        optimiser.step()


def user_loop(run: PopulationTraining, sample: int, epochs: int, device, clock) -> float:
    """Seconds per network for `epochs` epochs of plain PyTorch, one network at a time."""
    elapsed = 0.0
    for k in range(sample):
        net = torch_network(run.initial[k]).to(device)
        optimiser = torch.optim.Adam(net.parameters(), lr=run.config.learning_rate)
        data = (run.inputs, run.targets, torch.Generator().manual_seed(k))
        user_epoch(net, optimiser, *data)  # warm-up, as the population's
        synchronise(device)
        start = clock()
        for _ in range(epochs):
            user_epoch(net, optimiser, *data)
        synchronise(device)
        elapsed += clock() - start
    return elapsed / sample


def to_criterion(args, device: torch.device) -> dict:
    """One whole training run of CRITERION_RUN, against the user loop for its network-epochs
    (both by wall clock)."""
    architecture, units, task_name, count = CRITERION_RUN
    task = get_task(task_name)
    config = population_config(args, device, max_epochs=args.criterion_epochs)
    wall, cpu = time.perf_counter(), time.process_time()
    outcomes = train_population(task, architecture, units, range(count), config, progress_bar=True)
    synchronise(device)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    network_epochs = sum(o.epochs for o in outcomes)
    sample = PopulationTraining(task, architecture, units, list(range(args.sample)), config)
    user_epoch_s = user_loop(sample, args.sample, args.epochs, device, time.perf_counter)
    user_epoch_s /= args.epochs
    return {
        "networks": count,
        "wall_s": wall,
        "cpu_s": cpu,
        "epochs": max(o.epochs for o in outcomes),
        "network_epochs": network_epochs,
        "outcomes": dict(Counter(o.status for o in outcomes)),
        "user_loop_s_estimate": user_epoch_s * network_epochs,
        "speedup": user_epoch_s * network_epochs / wall,
    }


def measure(
    args, device: torch.device, threads: int, clock: Callable[[], float]
) -> tuple[list[tuple], dict]:
    peak = matmul_peak(device, clock, n=4096 if device.type == "cuda" else 1024)
    rows, figures = [], {"matmul_peak_gflops": peak}
    for architecture, units, task_name in CONFIGURATIONS:
        if f"{architecture}_{units}" not in args.configs:
            continue
        task = get_task(task_name)
        work = work_of(architecture, units, task.training_set())
        for count in args.counts:
            seconds, run = population_epochs(task, architecture, units, count, args, device, clock)
            per_network = user_loop(run, min(args.sample, count), args.epochs, device, clock)
            network_steps = count * work.steps_per_epoch * args.epochs
            loss_flops = work.loss_flops if args.epoch_loss == "training_set" else 0.0
            flops = count * args.epochs * (work.steps_per_epoch * work.step_flops + loss_flops)
            name = f"{architecture}_{units}_K{count}"
            figures[name] = {
                "task": task_name,
                "epoch_s": seconds / args.epochs,
                "population_network_steps_per_s": network_steps / seconds,
                "user_loop_network_steps_per_s": work.steps_per_epoch * args.epochs / per_network,
                "speedup": per_network * count / seconds,
                "population_gflops": flops / seconds / 1e9,
            }
            rows.append((name, figures[name]))
    return rows, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--counts", default="16,64,256", help="population sizes K")
    parser.add_argument(
        "--threads", default="1,all", help="CPU thread counts to run at ('all': every core)"
    )
    parser.add_argument(
        "--configs", default="vanilla_20,gru_50,lstm_50", help="which configurations to run"
    )
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per measurement")
    parser.add_argument("--sample", type=int, default=4, help="networks the user loop trains")
    parser.add_argument(
        "--clock",
        choices=("wall", "process"),
        default="wall",
        help="CPU runs by wall clock or by this process's CPU time (one thread only: robust "
        "on a machine shared with other jobs); CUDA always by wall clock",
    )
    parser.add_argument(
        "--epoch-loss",
        choices=EPOCH_LOSSES,
        default=TrainingConfig().epoch_loss,
        help="the population's epoch loss (TrainingConfig.epoch_loss)",
    )
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="on CUDA, replay each training step from a CUDA graph (TrainingConfig.cuda_graphs)",
    )
    parser.add_argument(
        "--to-criterion",
        action="store_true",
        help="instead of the table, one whole run of 64 vanilla 20 networks on `delayed`",
    )
    parser.add_argument(
        "--criterion-epochs",
        type=int,
        default=TrainingConfig().max_epochs,
        help="epochs a 64-network vanilla 20 population on `delayed` runs to the criterion "
        "(default max_epochs: an upper bound, networks that finish earlier leave the batch)",
    )
    args = parser.parse_args()
    args.counts = [int(c) for c in args.counts.split(",")]
    args.configs = args.configs.split(",")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here")
    all_threads = torch.get_num_threads()
    thread_counts = [all_threads if t == "all" else int(t) for t in args.threads.split(",")]
    if device.type == "cuda":
        thread_counts = thread_counts[:1]
    summary: dict = {
        "device": args.device,
        "epochs": args.epochs,
        "sample": args.sample,
        "epoch_loss": args.epoch_loss,
        "cuda_graphs": args.cuda_graphs and device.type == "cuda",
    }
    if device.type == "cuda":
        summary["gpu"] = torch.cuda.get_device_name()
    if args.to_criterion:
        torch.set_num_threads(thread_counts[0])
        f = summary["to_criterion"] = to_criterion(args, device)
        hours, user_hours = f["wall_s"] / 3600, f["user_loop_s_estimate"] / 3600
        print(f"64 vanilla 20 networks on delayed to the criterion, {thread_counts[0]} thread(s): "
              f"{hours:.2f} h ({f['wall_s']:.0f} s wall, {f['cpu_s']:.0f} s CPU), "
              f"{f['network_epochs']} network-epochs, {f['outcomes']}; the user loop "
              f"{user_hours:.2f} h for as many: {f['speedup']:.1f}x")  # fmt: skip
        print(json.dumps(summary))
        return
    for threads in thread_counts:
        if args.clock == "process" and threads != 1 and device.type == "cpu":
            continue
        torch.set_num_threads(threads)
        clock = (
            time.process_time
            if args.clock == "process" and device.type == "cpu"
            else time.perf_counter
        )
        rows, figures = measure(args, device, threads, clock)
        label = f"{args.device}, {threads} thread(s)"
        print(f"{label}: matmul peak {figures['matmul_peak_gflops']:.1f} GFLOP/s")
        print(f"{'config':<18}{'epoch s':>9}{'population/s':>14}{'user loop/s':>13}"
              f"{'speed-up':>10}{'GFLOP/s':>9}")  # fmt: skip
        for name, f in rows:
            print(f"{name:<18}{f['epoch_s']:>9.3f}{f['population_network_steps_per_s']:>14.1f}"
                  f"{f['user_loop_network_steps_per_s']:>13.1f}{f['speedup']:>9.1f}x"
                  f"{f['population_gflops']:>9.1f}")  # fmt: skip
        summary[f"threads_{threads}" if device.type == "cpu" else "cuda"] = figures
        k64 = figures.get("vanilla_20_K64")
        if k64 is not None:
            hours = k64["epoch_s"] * args.criterion_epochs / 3600
            figures["vanilla_20_K64_hours_to_criterion_estimate"] = hours
            print(f"64 vanilla 20 networks on delayed to the criterion: <= {hours:.2f} h "
                  f"(estimate: {args.criterion_epochs} epochs x epoch time)")  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
