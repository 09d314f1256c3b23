"""One optimisation step for every network of a population, each on its own minibatch."""

from __future__ import annotations

import torch

from atlas.networks import RNNPopulation
from atlas.networks.population import PARAMETER_NAMES
from atlas.training.adam import BatchedAdam


def population_parameters(population: RNNPopulation) -> list[torch.Tensor]:
    return [getattr(population, name) for name in PARAMETER_NAMES]


def training_step(
    population: RNNPopulation, adam: BatchedAdam, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """MSE of each network on its minibatch, inputs (K, B, T, I) and targets (K, B, T, O), then
    one Adam step; returns the K losses.

    The per-network losses are summed for backward: the networks' parameters are disjoint, so
    each network's gradient is exactly the gradient of its own loss.
    """
    hidden, _ = population.hidden_states(inputs)  # time-major; an LSTM's cells unused
    errors = population.readout(hidden) - targets.transpose(1, 2)
    losses = errors.pow(2).flatten(1).mean(dim=1)
    for param in adam.params:
        param.grad = None
    losses.sum().backward()
    adam.step()
    return losses.detach()
