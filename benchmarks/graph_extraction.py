"""Reduced-dynamics graph extraction time per network.

1. The 20 reference networks, one at a time (`build_graph`): median and max seconds per
   network, wall clock and CPU, and how many agree with the paper's graphs.
2. A batch of 64 networks of one setting: the reference network and 63 copies with every
   weight scaled by (1 + 1% noise) (there is no trained population of 64 at hand), built
   together (`build_graphs`) against the same 64 built one at a time (the baseline),
   measured in the same run.

Usage: python benchmarks/graph_extraction.py [--batch 64] [--settings NAME ...]
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atlas.analysis.graph import build_graph, build_graphs, from_node_link
from atlas.analysis.solution_types import same_type
from atlas.networks import from_state_dicts, load_state_dict
from atlas.tasks import get_task
from tests.conftest import reference_dir

DEFAULT_SETTINGS = ("interval_vanilla_30_i100", "reproduction_gru_50_i100")


def timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def references() -> dict:
    rows, agree = [], 0
    for folder in sorted((reference_dir() / "networks").iterdir()):
        meta = json.loads((folder / "network.json").read_text())
        state_dict = load_state_dict(folder / "weights.pt")
        reduced, wall, cpu = timed(build_graph, state_dict, get_task(meta["task"]))
        paper = from_node_link(json.loads((folder / "reduced_graph.json").read_text()))
        agree += same_type(reduced.compact, paper)
        rows.append((folder.name, wall, cpu, len(reduced.full), len(reduced.compact)))
        print(
            f"  {folder.name:32s} {wall:7.3f} s wall {cpu:7.3f} s cpu  "
            f"{len(reduced.full):5d} -> {len(reduced.compact)} nodes"
        )
    walls, cpus = [r[1] for r in rows], [r[2] for r in rows]
    return {
        "median_s": statistics.median(walls),
        "max_s": max(walls),
        "median_cpu_s": statistics.median(cpus),
        "max_cpu_s": max(cpus),
        "slowest": max(rows, key=lambda r: r[1])[0],
        "agree": agree,
        "networks": len(rows),
    }


def perturbed(name: str, count: int) -> tuple[list[dict], str]:
    folder = reference_dir() / "networks" / name
    task = json.loads((folder / "network.json").read_text())["task"]
    original = load_state_dict(folder / "weights.pt")
    generator = torch.Generator().manual_seed(0)
    copies = [
        {k: v * (1 + 0.01 * torch.randn(v.shape, generator=generator)) for k, v in original.items()}
        for _ in range(count - 1)
    ]
    return [original, *copies], task


def batch(name: str, count: int) -> dict:
    state_dicts, task_name = perturbed(name, count)
    task = get_task(task_name)
    alone, wall_alone, cpu_alone = timed(lambda: [build_graph(sd, task) for sd in state_dicts])
    together, wall_together, cpu_together = timed(build_graphs, from_state_dicts(state_dicts), task)
    identical = sum(same_type(a.compact, b.compact) for a, b in zip(alone, together, strict=True))
    return {
        "setting": name,
        "networks": count,
        "one_at_a_time_s": wall_alone / count,
        "batched_s": wall_together / count,
        "one_at_a_time_cpu_s": cpu_alone / count,
        "batched_cpu_s": cpu_together / count,
        "speedup": wall_alone / wall_together,
        "same_types": identical,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--settings", nargs="*", default=list(DEFAULT_SETTINGS))
    args = parser.parse_args()
    torch.manual_seed(0)
    print("20 reference networks, one at a time:")
    summary = references()
    batches = [batch(name, args.batch) for name in args.settings]
    print()
    print(f"{'measurement':52s} {'s/network':>10s} {'cpu s/net':>10s} {'ratio':>7s}")
    print(
        f"{'references, median (one at a time)':52s} {summary['median_s']:10.3f} "
        f"{summary['median_cpu_s']:10.3f} {'':>7s}"
    )
    print(
        f"{'references, max (' + summary['slowest'] + ')':52s} {summary['max_s']:10.3f} "
        f"{summary['max_cpu_s']:10.3f} {'':>7s}"
    )
    for b in batches:
        label = f"{b['networks']} x {b['setting']}"
        print(
            f"{label + ', one at a time (baseline)':52s} {b['one_at_a_time_s']:10.3f} "
            f"{b['one_at_a_time_cpu_s']:10.3f} {1.0:7.2f}"
        )
        print(
            f"{label + ', batched':52s} {b['batched_s']:10.3f} {b['batched_cpu_s']:10.3f} "
            f"{b['speedup']:7.2f}"
        )
    print(
        f"agreement with the paper's graphs: {summary['agree']}/{summary['networks']}; "
        f"batched and one-at-a-time types equal: "
        f"{', '.join(str(b['same_types']) + '/' + str(b['networks']) for b in batches)}"
    )
    figures = {
        "median_s": round(summary["median_s"], 4),
        "max_s": round(summary["max_s"], 4),
        "median_cpu_s": round(summary["median_cpu_s"], 4),
        "max_cpu_s": round(summary["max_cpu_s"], 4),
        "agree": summary["agree"],
        "batches": [
            {k: round(v, 4) if isinstance(v, float) else v for k, v in b.items()} for b in batches
        ],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
