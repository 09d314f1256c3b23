"""Relabelling hidden units: the same network with its units in another order.

Any analysis of a network's dynamics should be blind to the order of its units; these give the
permuted network and the matching permutation of its states, so tests can check that it is.
New unit i is old unit permutation[i].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from atlas.networks.cells import GATES, STATE_FACTOR
from atlas.networks.population import RNNPopulation


def _checked(permutation: Sequence[int], units: int) -> torch.Tensor:
    perm = torch.as_tensor(permutation, dtype=torch.long)
    if perm.dim() != 1 or sorted(perm.tolist()) != list(range(units)):
        raise ValueError(f"not a permutation of {units} units: {list(permutation)}")
    return perm


def state_index(permutation: Sequence[int], architecture: str) -> torch.Tensor:
    """Index into a state vector (h, or [h, c] for an LSTM) that applies the permutation."""
    perm = _checked(permutation, len(permutation))
    units = len(perm)
    return torch.cat([perm + block * units for block in range(STATE_FACTOR[architecture])])


def permute_hidden_units(population: RNNPopulation, permutation: Sequence[int]) -> RNNPopulation:
    """Every network of the population with its hidden units reordered by `permutation`.

    Gate rows are permuted within each gate block, recurrent columns and readout columns by
    the same permutation; outputs are unchanged and states are permuted (see `state_index`).
    """
    perm = _checked(permutation, population.units)
    units = population.units
    rows = torch.cat([perm + gate * units for gate in range(GATES[population.architecture])])
    params = population.stacked_parameters()
    permuted = {
        "weight_ih": params["weight_ih"][:, rows],
        "weight_hh": params["weight_hh"][:, rows][:, :, perm],
        "bias_ih": params["bias_ih"][:, rows],
        "bias_hh": params["bias_hh"][:, rows],
        "fc_weight": params["fc_weight"][:, :, perm],
        "fc_bias": params["fc_bias"],
    }
    return RNNPopulation(population.architecture, permuted)
