"""Arrays and state dicts as compact binary blobs: the one place the store (de)serialises them.

Single arrays are `.npy` bytes (dtype and shape kept); a state dict or any named set of arrays
is an uncompressed `.npz`. Both are read with `allow_pickle=False`, so a blob can never run code.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def _as_numpy(value: ArrayLike) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu").numpy()
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError("object arrays cannot be stored as blobs")
    return array


def to_blob(value: ArrayLike) -> bytes:
    """An array or tensor as `.npy` bytes."""
    buffer = io.BytesIO()
    np.save(buffer, _as_numpy(value), allow_pickle=False)
    return buffer.getvalue()


def from_blob(blob: bytes) -> np.ndarray:
    """The array `to_blob` stored, same dtype and shape."""
    return np.load(io.BytesIO(blob), allow_pickle=False)


def arrays_to_blob(arrays: Mapping[str, ArrayLike]) -> bytes:
    """Named arrays (a state dict, a signature's parts) as `.npz` bytes."""
    buffer = io.BytesIO()
    np.savez(buffer, **{name: _as_numpy(value) for name, value in arrays.items()})
    return buffer.getvalue()


def arrays_from_blob(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def state_dict_from_blob(blob: bytes) -> dict[str, torch.Tensor]:
    """A stored state dict back as CPU tensors, keys as saved (`rnn.weight_ih_l0`, ...)."""
    return {name: torch.from_numpy(array) for name, array in arrays_from_blob(blob).items()}
