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

__all__ = [
    "ARCHITECTURES",
    "RNNPopulation",
    "Run",
    "StateDictError",
    "from_state_dicts",
    "infer_shape",
    "load_state_dict",
    "to_state_dict",
    "to_state_dicts",
    "torch_network",
]
