"""Full-set losses without autograd, a time step at a time, so memory stays small."""

from __future__ import annotations

import torch

from atlas.networks import RNNPopulation
from atlas.tasks import TrialSet

# Trials per chunk are chosen so that a chunk's state, K x trials x S, stays under this.
STATE_ELEMENTS_PER_CHUNK = 1 << 22


@torch.no_grad()
def population_mse(population: RNNPopulation, trials: TrialSet) -> torch.Tensor:
    """Mean squared error of every network over all trials, steps and outputs: (K,).

    Unlike `RNNPopulation.mse` it keeps no trajectory, only the current state of one chunk of
    trials, so it scales to large training sets and populations.
    """
    param = population.weight_hh
    inputs = trials.inputs.to(param)
    targets = trials.targets.to(param)
    count, (n_trials, steps, n_outputs) = population.count, targets.shape
    chunk = max(1, STATE_ELEMENTS_PER_CHUNK // (count * population.state_size))
    total = param.new_zeros(count)
    for start in range(0, n_trials, chunk):
        x = inputs[start : start + chunk]
        y = targets[start : start + chunk]
        state = population.zero_state(len(x))
        for t in range(steps):
            state = population.step(state, x[:, t].expand(count, -1, -1))
            total += (population.readout(state) - y[:, t]).pow(2).sum(dim=(1, 2))
    return total / (n_trials * steps * n_outputs)
