"""Populations of networks held as stacked tensors, and their PyTorch state-dict interop."""

from atlas.networks.interop import (
    StateDictError,
    from_state_dicts,
    infer_shape,
    load_state_dict,
    to_state_dict,
    to_state_dicts,
    torch_network,
)
from atlas.networks.population import ARCHITECTURES, RNNPopulation, Run
from atlas.networks.torch_module import read_weights, to_torch

__all__ = [
    "ARCHITECTURES",
    "RNNPopulation",
    "Run",
    "StateDictError",
    "from_state_dicts",
    "infer_shape",
    "load_state_dict",
    "read_weights",
    "to_state_dict",
    "to_state_dicts",
    "to_torch",
    "torch_network",
]
