"""One optimisation step for every network of a population, each on its own minibatch."""

from __future__ import annotations

import torch

from atlas.networks import RNNPopulation
from atlas.networks.population import PARAMETER_NAMES
from atlas.training.adam import BatchedAdam


def population_parameters(population: RNNPopulation) -> list[torch.Tensor]:
    return [getattr(population, name) for name in PARAMETER_NAMES]


NETWORKS_PER_THREAD = {"gru": 16, "lstm": 16}
"""On the CPU, a gated population's training step sweeps groups of this many networks per
thread, one group after another: per network they run faster than one sweep of all, whose
per-step buffers outgrow the caches (one AMD EPYC core, `reproduction`, 50 units, whole
epochs: LSTM K = 64 4.75 -> 3.83 s, K = 256 27.3 -> 18.8 s; GRU K = 256 18.5 -> 15.6 s). Each
thread needs its share: at two threads groups of 16 keep a step's elementwise work below
PyTorch's parallel grain (K = 64: GRU 1.33-1.46 s an epoch against 1.06-1.12 s in groups of
32, LSTM 2.0 against 1.5-1.6 s). A vanilla population runs fastest whole (its rate per
network still grows at K = 256), as does any population on a GPU, where each group's kernel
launches would add up. Measured again with the C kernels (atlas.networks.kernels, which sweep
network by network; an AVX2 EPYC, whole `minibatches` epochs, best of two, K = 64 / 256): at
one thread GRU 50 in groups of 16 2.5 / 8.7 s against 3.7 / 9.6 s whole, LSTM 50 2.8 / 12.0
against 4.2 / 16.1; at two threads GRU 1.1 / 5.1 against 1.3 / 8.6, LSTM 2.0 / 8.2 against
2.8 / 10.6 (the kept gates of a group stay in the caches); groups of 4 or 8 per thread were
within the noise of 16. Vanilla 20 whole 1.08 / 4.3 s, in groups of 16 1.39 / 5.6."""


def sweep_groups(population: RNNPopulation) -> list[slice]:
    """The groups of networks one training step sweeps in turn (see NETWORKS_PER_THREAD)."""
    per_thread = NETWORKS_PER_THREAD.get(population.architecture)
    if per_thread is None or population.weight_hh.device.type != "cpu":
        return [slice(0, population.count)]
    group, count = per_thread * torch.get_num_threads(), population.count
    return [slice(start, min(start + group, count)) for start in range(0, count, group)]


def training_step(
    population: RNNPopulation, adam: BatchedAdam, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """MSE of each network on its minibatch, inputs (K, B, T, I) and targets (K, B, T, O), then
    one Adam step; returns the K losses.

    The per-network losses are summed for backward: the networks' parameters are disjoint, so
    each network's gradient is exactly the gradient of its own loss, whichever group of
    networks it is swept with.
    """
    for param in adam.params:
        param.grad = None
    losses = []
    for networks in sweep_groups(population):
        outputs = population.training_outputs(inputs[networks], networks)  # time-major
        errors = outputs - targets[networks].transpose(1, 2)
        group_losses = errors.pow(2).flatten(1).mean(dim=1)
        group_losses.sum().backward()
        losses.append(group_losses.detach())
    adam.step()
    return torch.cat(losses)
