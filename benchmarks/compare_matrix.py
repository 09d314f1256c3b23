"""The comparison matrix of the 12 reference `reproduction` networks against pair by pair.

Vanilla, GRU and LSTM networks of 20 to 50 units, each with the paper's graph and its fixed
points. Matrix: one `comparison_matrix` call (each network's validation-state PCA computed once).
Baseline: every pair compared from fresh summaries, so that each comparison redoes its own PCA
(what the matrix did before the PCA was kept per network), measured in the same run; both give
the same numbers. The rows split the matrix's time into its views.

Usage: python benchmarks/compare_matrix.py [--threads 1]
The last line is one JSON object with the figures; `speedup` is the baseline's CPU time over
the matrix's.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atlas.analysis.compare import (
    MATRIX_FIELDS,
    GraphView,
    SolutionSummary,
    compare_solutions,
    comparison_matrix,
)
from tests.conftest import load_references
from tests.unit.test_compare import summary_of


def summaries() -> list[SolutionSummary]:
    return [summary_of(net) for net in load_references() if net.task == "reproduction"]


def cpu_timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def pair_by_pair(items: list[SolutionSummary]) -> dict[str, np.ndarray]:
    n = len(items)
    matrices = {name: np.full((n, n), np.nan) for name in MATRIX_FIELDS}
    for i, j in itertools.combinations_with_replacement(range(n), 2):
        comparison = compare_solutions(copy.copy(items[i]), copy.copy(items[j]))
        for name in MATRIX_FIELDS:
            value = getattr(comparison, name)
            matrices[name][i, j] = matrices[name][j, i] = float(value)
    return matrices


def graph_distances(items: list[SolutionSummary]) -> None:
    for a, b in itertools.combinations(items, 2):
        GraphView.of(a.compact_graph, b.compact_graph)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)  # NumPy's BLAS too: the SVDs run there
    items = summaries()
    fresh = [copy.copy(s) for s in items]  # no PCA kept yet: the matrix pays for its own

    baseline, wall_1, cpu_1 = cpu_timed(pair_by_pair, items)
    matrix, wall, cpu = cpu_timed(comparison_matrix, fresh)
    _, ged_wall, ged_cpu = cpu_timed(graph_distances, items)
    for name in MATRIX_FIELDS:
        np.testing.assert_allclose(matrix[name], baseline[name], rtol=1e-9, err_msg=name)

    pairs = len(items) * (len(items) + 1) // 2
    print(f"{len(items)} reproduction reference networks, {pairs} pairs, {args.threads} thread(s)")
    print(f"{'':36s} {'wall s':>8s} {'cpu s':>8s} {'cpu ratio':>10s}")
    rows = [
        ("pair by pair (PCA in every pair)", wall_1, cpu_1, 1.0),
        ("comparison_matrix (PCA per network)", wall, cpu, cpu_1 / cpu),
    ]
    for name, w, c, ratio in rows:
        print(f"{name:36s} {w:8.2f} {c:8.2f} {ratio:9.2f}x")
    print(f"{'  of which graph edit distances':36s} {ged_wall:8.2f} {ged_cpu:8.2f}")
    print("matrices equal: yes")
    print(
        json.dumps(
            {
                "networks": len(items),
                "pairs": pairs,
                "threads": args.threads,
                "matrix_cpu_s": round(cpu, 3),
                "pair_by_pair_cpu_s": round(cpu_1, 3),
                "matrix_wall_s": round(wall, 3),
                "pair_by_pair_wall_s": round(wall_1, 3),
                "graph_edit_distance_cpu_s": round(ged_cpu, 3),
                "speedup": round(cpu_1 / cpu, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
