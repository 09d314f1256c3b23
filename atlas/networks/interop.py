"""Standard PyTorch state dicts in and out, so users' own networks enter the atlas unchanged.

A network's state dict is what `nn.RNN/nn.GRU/nn.LSTM(batch_first=True)` named `rnn` plus an
`nn.Linear` named `fc` give: `rnn.weight_ih_l0`, `rnn.weight_hh_l0`, `rnn.bias_ih_l0`,
`rnn.bias_hh_l0`, `fc.weight`, `fc.bias`.
"""

from __future__ import annotations

import io
import pickle
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn

from atlas.errors import InvalidError
from atlas.networks.cells import GATES
from atlas.networks.population import PARAMETER_NAMES, RNNPopulation

STATE_DICT_KEYS = {
    "weight_ih": "rnn.weight_ih_l0",
    "weight_hh": "rnn.weight_hh_l0",
    "bias_ih": "rnn.bias_ih_l0",
    "bias_hh": "rnn.bias_hh_l0",
    "fc_weight": "fc.weight",
    "fc_bias": "fc.bias",
}
_ARCH_BY_GATES = {gates: arch for arch, gates in GATES.items()}
_TORCH_MODULES = {"vanilla": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class StateDictError(InvalidError):
    """A file or mapping that is not a usable network state dict; the message says why."""

    slug = "invalid-state-dict"


@dataclass(frozen=True)
class Shape:
    """What a state dict says about its network."""

    architecture: str
    units: int
    n_inputs: int
    n_outputs: int


def infer_shape(state_dict: Mapping[str, torch.Tensor]) -> Shape:
    """Architecture and sizes from the tensor shapes; every inconsistency is a StateDictError."""
    missing = sorted(set(STATE_DICT_KEYS.values()) - set(state_dict))
    if missing:
        raise StateDictError(
            f"state dict lacks {missing}; expected keys {sorted(STATE_DICT_KEYS.values())}"
        )
    extra = sorted(set(state_dict) - set(STATE_DICT_KEYS.values()))
    if extra:
        raise StateDictError(f"unexpected keys {extra} (one layer, unidirectional, with biases)")
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise StateDictError(f"{key} is not a floating-point tensor")
        if not torch.isfinite(value).all():
            raise StateDictError(f"{key} holds NaN or infinite values")
    w_hh = state_dict["rnn.weight_hh_l0"]
    if w_hh.dim() != 2 or w_hh.shape[0] % w_hh.shape[1]:
        raise StateDictError(f"rnn.weight_hh_l0 has shape {tuple(w_hh.shape)}; expected (G*H, H)")
    units = w_hh.shape[1]
    gates = w_hh.shape[0] // units
    if gates not in _ARCH_BY_GATES:
        raise StateDictError(f"rnn.weight_hh_l0 has {gates} gate blocks; expected 1, 3 or 4")
    w_ih = state_dict["rnn.weight_ih_l0"]
    fc = state_dict["fc.weight"]
    if w_ih.dim() != 2 or fc.dim() != 2:
        raise StateDictError("rnn.weight_ih_l0 and fc.weight must be matrices")
    shape = Shape(_ARCH_BY_GATES[gates], units, w_ih.shape[1], fc.shape[0])
    expected = {
        "rnn.weight_ih_l0": (gates * units, shape.n_inputs),
        "rnn.bias_ih_l0": (gates * units,),
        "rnn.bias_hh_l0": (gates * units,),
        "fc.weight": (shape.n_outputs, units),
        "fc.bias": (shape.n_outputs,),
    }
    for key, want in expected.items():
        if tuple(state_dict[key].shape) != want:
            raise StateDictError(
                f"{key} has shape {tuple(state_dict[key].shape)}; a {shape.architecture} network "
                f"of {units} units expects {want}"
            )
    return shape


def from_state_dicts(state_dicts: Sequence[Mapping[str, torch.Tensor]]) -> RNNPopulation:
    """A population from state dicts of one architecture and size."""
    shapes = {infer_shape(sd) for sd in state_dicts}
    if len(shapes) != 1:
        raise StateDictError(f"state dicts of different shapes cannot share a population: {shapes}")
    (shape,) = shapes
    stacked = {
        name: torch.stack([sd[key].detach().to("cpu", torch.float32) for sd in state_dicts])
        for name, key in STATE_DICT_KEYS.items()
    }
    return RNNPopulation(shape.architecture, stacked)


def to_state_dict(population: RNNPopulation, k: int) -> dict[str, torch.Tensor]:
    """Network k as a standard state dict (CPU tensors)."""
    return {
        STATE_DICT_KEYS[name]: getattr(population, name)[k].detach().to("cpu").clone()
        for name in PARAMETER_NAMES
    }


def to_state_dicts(population: RNNPopulation) -> list[dict[str, torch.Tensor]]:
    return [to_state_dict(population, k) for k in range(population.count)]


class TorchNetwork(nn.Module):
    """The plain PyTorch network a state dict describes: `rnn` plus `fc`, batch first."""

    def __init__(self, architecture: str, units: int, n_inputs: int = 2, n_outputs: int = 1):
        super().__init__()
        self.rnn = _TORCH_MODULES[architecture](n_inputs, units, batch_first=True)
        self.fc = nn.Linear(units, n_outputs)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.rnn(inputs)
        return self.fc(hidden)


def torch_network(state_dict: Mapping[str, torch.Tensor]) -> TorchNetwork:
    shape = infer_shape(state_dict)
    net = TorchNetwork(shape.architecture, shape.units, shape.n_inputs, shape.n_outputs)
    net.load_state_dict(state_dict)
    return net


_TORCH_ADVICE = ("Weights only load failed", "Please file an issue", "Check the documentation")


def _refused_part(text: str) -> str:
    """What torch's weights-only unpickler refused, from the prose around it (its wording
    differs by what it met): the sentence after "WeightsUnpickler error:", else the
    paragraphs that are not advice."""
    named = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\.\s|\.?\n|\.?$)", text)
    if named:
        return named[1]
    paragraphs = (part.strip() for part in text.split("\n\n"))
    return " ".join(p for p in paragraphs if p and not p.startswith(_TORCH_ADVICE)).rstrip(".")


def _why_unreadable(error: Exception) -> str:
    """torch.load's refusal in the atlas' words. Its own message advises loading again with
    weights_only=False, which would run whatever code the file carries: never passed on."""
    text = str(error)
    if text.startswith(_TORCH_ADVICE[0]):
        refused = _refused_part(text)
        return (
            "its pickle holds more than tensors and plain containers"
            + (f" ({refused})" if refused else "")
            + ", so it is not loaded: it could run code. Save the network's state_dict() "
            "with torch.save"
        )
    if isinstance(error, RuntimeError) and "zip archive" in text:
        return "it is not a file torch.save wrote (not a zip archive), or it is corrupted"
    return f"the file is truncated or corrupted ({type(error).__name__})"


def load_state_dict(source: str | Path | bytes | BinaryIO) -> dict[str, torch.Tensor]:
    """Load a state dict safely (`weights_only=True`, on the CPU) and check its shapes.

    Anything that is not a plain tensor mapping, a pickle that carries code included, is
    refused with a StateDictError instead of being executed.
    """
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        loaded = torch.load(source, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        IndexError,
        ValueError,
        AttributeError,
        TypeError,
        OSError,
    ) as exc:
        raise StateDictError(f"not a safe PyTorch state dict: {_why_unreadable(exc)}") from exc
    if not isinstance(loaded, Mapping):
        raise StateDictError(
            f"expected a state dict (a mapping of tensors), got {type(loaded).__name__}"
        )
    state_dict = {str(k): v for k, v in loaded.items()}
    infer_shape(state_dict)
    return {k: v.detach().to(torch.float32) for k, v in state_dict.items()}
