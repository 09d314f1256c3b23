"""benchmarks/fixed_points.py hands FixedPointFinder each network as the plain PyTorch module
a user would: one step of it is the atlas' own map, for every architecture (an LSTM through the
[h, c] wrapper, whose state order must be the atlas')."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from conftest import ROOT

from atlas.analysis.fixed_points import population_system


def benchmark_module():
    spec = importlib.util.spec_from_file_location(
        "fixed_points_benchmark", ROOT / "benchmarks" / "fixed_points.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("architecture", ["vanilla", "gru", "lstm"])
def test_the_module_given_to_fixed_point_finder_steps_as_the_atlas_map(architecture):
    benchmark = benchmark_module()
    population, starts = benchmark.population_and_starts(architecture, 2, 8)
    population = population.double()
    zero = torch.zeros(population.n_inputs, dtype=torch.float64)
    atlas_step = population_system(population, zero)(torch.float64).dynamics(starts.double())
    for k in range(population.count):
        rnn = benchmark.torch_rnn(population, k).double()
        state = starts[k].double()[None]  # (1, N, S): one layer, N trials
        with torch.no_grad():
            _, moved = rnn(zero.expand(len(starts[k]), 1, -1), state)
        torch.testing.assert_close(moved[0], atlas_step[k], rtol=1e-12, atol=1e-12)
