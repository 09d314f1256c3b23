"""Full-set losses without autograd, in chunks of trials, so memory stays bounded."""

from __future__ import annotations

import torch

from atlas.networks import RNNPopulation
from atlas.tasks import TrialSet

# Trials per chunk are chosen so that a chunk's states, K x steps x trials x S, stay under
# this (64 MiB in float32): large enough that each step's batched product is a big one.
STATE_ELEMENTS_PER_CHUNK = 1 << 24


@torch.no_grad()
def population_mse(population: RNNPopulation, trials: TrialSet) -> torch.Tensor:
    """Mean squared error of every network over all trials, steps and outputs: (K,).

    Each chunk of trials is one no-grad sweep (atlas.networks.fused, nothing but the states
    kept) and one readout; the sums stay on the device (no host round-trip per chunk).
    """
    param = population.weight_hh
    inputs = trials.inputs.to(param)
    targets = trials.targets.to(param)
    count, (n_trials, steps, n_outputs) = population.count, targets.shape
    per_trial = count * steps * population.state_size
    chunk = max(1, STATE_ELEMENTS_PER_CHUNK // per_trial)
    total = param.new_zeros(count)
    for start in range(0, n_trials, chunk):
        hidden, _ = population.hidden_states(inputs[start : start + chunk])
        expected = targets[start : start + chunk].transpose(0, 1)  # (T, B, O), time-major
        total += (population.readout(hidden) - expected).pow(2).sum(dim=(1, 2, 3))
    return total / (n_trials * steps * n_outputs)
