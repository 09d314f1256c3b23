"""Fixed-point search for a population at once against one network at a time.

64 vanilla networks of 50 units (the paper's three trained 50-unit vanilla reference networks,
delayed / interval / reproduction, cycled, every weight scaled by (1 + 1% noise) so that each is
its own network), 256 starting states each from the network's own validation trajectories plus
noise, zero input. Batched: one `find_fixed_points` call for the population. Baseline: the same
call network by network (how FixedPointFinder-style tools run), with the same optimiser,
iteration budget and starting states, measured in the same run. Rows: the Adam phase alone,
then the whole search (Adam, polishing, duplicates, Jacobians and eigenvalues).

Usage: python benchmarks/fixed_points.py [--networks 64] [--starts 256] [--threads 1]
The last line is one JSON object with the figures; `speedup` is the baseline's CPU time over
the batched run's (CPU time, not wall time: the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atlas.analysis.fixed_point_conditions import sample_initial_states
from atlas.analysis.fixed_point_search import FixedPointConfig, minimise_speed
from atlas.analysis.fixed_points import find_fixed_points, population_system
from atlas.networks import RNNPopulation, from_state_dicts, load_state_dict
from atlas.tasks import get_task
from tests.conftest import reference_dir

SOURCES = ("delayed_vanilla_50_i100", "interval_vanilla_50_i100", "reproduction_vanilla_50_i100")


def population_and_starts(count: int, starts: int) -> tuple[RNNPopulation, torch.Tensor]:
    """`count` perturbed copies of the reference networks, and starting states for each."""
    generator = torch.Generator().manual_seed(0)
    state_dicts, tasks = [], []
    for k in range(count):
        folder = reference_dir() / "networks" / SOURCES[k % len(SOURCES)]
        original = load_state_dict(folder / "weights.pt")
        noise = {
            n: 1 + 0.01 * torch.randn(v.shape, generator=generator) for n, v in original.items()
        }
        state_dicts.append({n: v * noise[n] for n, v in original.items()})
        tasks.append(json.loads((folder / "network.json").read_text())["task"])
    population = from_state_dicts(state_dicts)
    states = torch.cat(
        [
            sample_initial_states(population.select([k]), get_task(tasks[k]), starts, seed=k)
            for k in range(count)
        ]
    )
    return population, states


def timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def adam_phase(population, starts, config):
    residual = population_system(population, torch.zeros(population.n_inputs))(starts.dtype)
    return minimise_speed(residual.residual, starts, config)


def one_at_a_time(function, population, starts, config):
    return [function(population.select([k]), starts[k : k + 1], config) for k in range(len(starts))]


def full_search(population, starts, config):
    return find_fixed_points(population, torch.zeros(population.n_inputs), starts, config)


def same_points(batched, serial) -> int:
    """Networks whose true fixed points agree (same count, same states within 1e-8)."""
    agree = 0
    for a, b in zip(batched, serial, strict=True):
        fa, fb = a.states[a.fixed], b[0].states[b[0].fixed]
        if len(fa) == len(fb) and (
            len(fa) == 0 or np.abs(fa[:, None] - fb[None]).max(-1).min(1).max() < 1e-8
        ):
            agree += 1
    return agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=64)
    parser.add_argument("--starts", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = FixedPointConfig()
    population, starts = population_and_starts(args.networks, args.starts)
    full_search(population.select([0]), starts[:1, :8], config)  # warm-up

    _, adam_wall, adam_cpu = timed(adam_phase, population, starts, config)
    _, adam_wall_1, adam_cpu_1 = timed(one_at_a_time, adam_phase, population, starts, config)
    batched, wall, cpu = timed(full_search, population, starts, config)
    serial, wall_1, cpu_1 = timed(one_at_a_time, full_search, population, starts, config)

    fixed = sum(int(s.fixed.sum()) for s in batched)
    slow = sum(int((~s.fixed).sum()) for s in batched)
    print(
        f"{args.networks} vanilla networks x 50 units x {args.starts} starting states, "
        f"zero input, {args.threads} thread(s); Adam {config.adam_steps} steps, "
        f"polishing up to {config.polish_steps}"
    )
    print(f"{'':34s} {'wall s':>8s} {'cpu s':>8s} {'cpu ratio':>10s}")
    rows = [
        ("Adam phase, one network at a time", adam_wall_1, adam_cpu_1, 1.0),
        ("Adam phase, batched", adam_wall, adam_cpu, adam_cpu_1 / adam_cpu),
        ("whole search, one network at a time", wall_1, cpu_1, 1.0),
        ("whole search, batched", wall, cpu, cpu_1 / cpu),
    ]
    for name, w, c, ratio in rows:
        print(f"{name:34s} {w:8.2f} {c:8.2f} {ratio:9.2f}x")
    agree = same_points(batched, serial)
    print(f"fixed points {fixed}, slow points {slow}; networks agreeing: {agree}/{args.networks}")
    print(
        json.dumps(
            {
                "networks": args.networks,
                "starts": args.starts,
                "threads": args.threads,
                "batched_cpu_s": round(cpu, 3),
                "serial_cpu_s": round(cpu_1, 3),
                "batched_wall_s": round(wall, 3),
                "serial_wall_s": round(wall_1, 3),
                "speedup": round(cpu_1 / cpu, 3),
                "speedup_wall": round(wall_1 / wall, 3),
                "batched_adam_cpu_s": round(adam_cpu, 3),
                "serial_adam_cpu_s": round(adam_cpu_1, 3),
                "adam_speedup": round(adam_cpu_1 / adam_cpu, 3),
                "fixed_points": fixed,
                "slow_points": slow,
                "networks_agreeing": agree,
            }
        )
    )


if __name__ == "__main__":
    main()
