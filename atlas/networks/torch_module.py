"""A network from the atlas as a ready PyTorch module, in one call.

`to_torch` takes a state dict with the atlas' (and the paper's) `rnn.`/`fc.` keys, or a
downloaded file of one: a `.pt` from `GET /solutions/{id}/weights` (read tensors-only, never
unpickling code) or a `.safetensors` from an exported dataset. It returns the plain
`nn.RNN`/`nn.GRU`/`nn.LSTM` (batch_first) plus `nn.Linear` readout, so users need no wrapper of
their own: `to_torch("final.safetensors")(x)` gives outputs (B, T, O) for inputs (B, T, I).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from atlas.networks.interop import (
    StateDictError,
    TorchNetwork,
    infer_shape,
    load_state_dict,
    torch_network,
)

WeightsSource = Mapping[str, torch.Tensor] | str | Path | bytes


def is_safetensors(payload: bytes) -> bool:
    """Whether `payload` starts like a safetensors file: an 8-byte little-endian header
    length that fits the payload, then a JSON object. A `torch.save` file (a zip or a pickle)
    never does."""
    if len(payload) < 10:
        return False
    (header_length,) = struct.unpack("<Q", payload[:8])
    return 0 < header_length <= len(payload) - 8 and payload[8:9] == b"{"


def read_weights(source: str | Path | bytes) -> dict[str, torch.Tensor]:
    """The state dict in a file (path) or its bytes: safetensors or `torch.save` format,
    checked as a network's (keys, shapes, finite values); float32 on the CPU."""
    payload = Path(source).read_bytes() if isinstance(source, str | Path) else source
    if not is_safetensors(payload):
        return load_state_dict(io.BytesIO(payload))
    try:
        state_dict = load_safetensors(payload)
    except SafetensorError as exc:
        raise StateDictError(f"not a readable safetensors file: {exc}") from exc
    infer_shape(state_dict)
    return {key: value.to(torch.float32) for key, value in state_dict.items()}


def to_torch(source: WeightsSource, dtype: torch.dtype = torch.float32) -> TorchNetwork:
    """A ready `nn.Module` (attributes `rnn` and `fc`; forward(x) -> outputs) holding the
    network in `source`: a state dict, or the path or bytes of a `.pt`/`.safetensors` file.

    Raises StateDictError (a ValueError) when the source is not a network's state dict.
    """
    state_dict = source if isinstance(source, Mapping) else read_weights(source)
    return torch_network(state_dict).to(dtype).eval()
