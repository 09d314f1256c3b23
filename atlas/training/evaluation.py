"""Full-set losses without autograd, in chunks of trials, so memory stays bounded."""

from __future__ import annotations

import torch

from atlas.networks import RNNPopulation
from atlas.tasks import TrialSet
from atlas.training.step import sweep_groups

# Trials per chunk are chosen so that a chunk's states, K x steps x trials x S, stay under
# this (64 MiB in float32): large enough that each step's batched product is a big one.
STATE_ELEMENTS_PER_CHUNK = 1 << 24

STATE_ELEMENTS_PER_STEP = 1 << 16
"""On the CPU a chunk is also cut so that one step's hidden state, networks x trials x units,
stays under this many elements per thread (256 KiB in float32), gated networks in the training
step's groups (atlas.training.step.sweep_groups): a step's products and gate work then stay in
the cores' caches. Swept on one AMD EPYC core (64 networks over their training sets, `delayed`
1,440 trials of 60 steps, `reproduction` 128 of 150): every architecture ran 25-40% faster
with a step's networks x trials at or under the budget than above it, and slower again far
under it (the per-operation cost). The loss pass, before -> after, seconds, one thread, K = 16
/ 64 / 256: vanilla 20 0.11 / 0.47 / 1.6 -> 0.10 / 0.35 / 1.5, GRU 50 0.26 / 1.2 / 4.9 -> 0.24 /
1.0 / 3.2, LSTM 50 0.21 / 1.07 / 6.5 -> 0.21 / 0.85 / 3.5; two threads vanilla 0.07 / 0.27 /
1.17 -> 0.07 / 0.18 / 0.81, GRU 0.16 / 0.66 / 3.4 -> 0.16 / 0.62 / 2.6, LSTM 0.20 / 0.72 /
3.7 -> 0.20 / 0.74 / 2.5."""


@torch.no_grad()
def population_mse(population: RNNPopulation, trials: TrialSet) -> torch.Tensor:
    """Mean squared error of every network over all trials, steps and outputs: (K,).

    Networks go in the training step's groups, trials in chunks (STATE_ELEMENTS_PER_CHUNK,
    STATE_ELEMENTS_PER_STEP); each chunk is one no-grad sweep to the outputs
    (atlas.networks.fused.sweep_outputs: in a C kernel the states are never written, in PyTorch's
    sweep nothing but them is kept); the sums stay on the device (no host round-trip).
    """
    groups = sweep_groups(population)
    if len(groups) == 1:  # the population as it is, no copy
        return _group_mse(population, trials)
    parts = [population.select(range(g.start, g.stop)) for g in groups]
    return torch.cat([_group_mse(part, trials) for part in parts])


def _group_mse(population: RNNPopulation, trials: TrialSet) -> torch.Tensor:
    """population_mse of networks that are swept together, chunk by chunk of trials."""
    param = population.weight_hh
    inputs = trials.inputs.to(param)
    targets = trials.targets.to(param)
    count, (n_trials, steps, n_outputs) = population.count, targets.shape
    chunk = STATE_ELEMENTS_PER_CHUNK // (count * steps * population.state_size)
    if param.device.type == "cpu":
        per_step = STATE_ELEMENTS_PER_STEP * torch.get_num_threads()
        chunk = min(chunk, per_step // (count * population.units))
    chunk = max(1, chunk)
    total = param.new_zeros(count)
    for start in range(0, n_trials, chunk):
        outputs = population.training_outputs(inputs[start : start + chunk])
        expected = targets[start : start + chunk].transpose(0, 1)  # (T, B, O), time-major
        total += (outputs - expected).pow(2).sum(dim=(1, 2, 3))
    return total / (n_trials * steps * n_outputs)
