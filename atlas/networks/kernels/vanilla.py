"""The vanilla sweep's C kernel (vanilla_sweep.c) on float32 CPU tensors.

Each call splits the K networks into one contiguous share per torch thread; ctypes releases
the GIL during the call, so the shares run in parallel, and every network is swept by one
thread in the same order whatever the thread count (results do not depend on it).
"""

from __future__ import annotations

import ctypes
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from itertools import pairwise

import torch

from atlas.networks.kernels.build import load

_SIZE = ctypes.c_int64
_POINTER = ctypes.c_void_p


@cache
def _library() -> ctypes.CDLL | None:
    library = load("vanilla_sweep")
    if library is not None:
        library.vanilla_forward.argtypes = [_SIZE] * 5 + [_POINTER] * 3
        library.vanilla_backward.argtypes = [_SIZE] * 6 + [_POINTER] * 6
    return library


def applies(states: torch.Tensor) -> bool:
    """Whether the kernel sweeps networks whose states are like `states` (float32, CPU)."""
    return states.dtype == torch.float32 and states.device.type == "cpu" and _library() is not None


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vanilla-sweep")


# A forked child (a Celery worker) inherits the pool without its threads: it makes its own.
os.register_at_fork(after_in_child=_pool.cache_clear)


def _over_networks(kernel, count: int, *arguments) -> None:
    """kernel(k0, k1, *arguments) for the networks' shares, in parallel over torch's threads."""
    threads = max(1, min(torch.get_num_threads(), count))
    bounds = [count * i // threads for i in range(threads + 1)]
    shares = list(pairwise(bounds))
    if threads == 1:
        statuses = [kernel(0, count, *arguments)]
    else:
        statuses = list(_pool(threads).map(lambda share: kernel(*share, *arguments), shares))
    if any(statuses):
        raise MemoryError("the vanilla sweep kernel could not allocate its scratch buffers")


def _address(tensor: torch.Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


def forward(xs: torch.Tensor, h0: torch.Tensor, weight_hh: torch.Tensor) -> torch.Tensor:
    """States (K, T, B, H), in place of xs: each step's input projection with its biases."""
    assert xs.is_contiguous()
    k, steps, batch, units = xs.shape
    h0, weight_hh = h0.contiguous(), weight_hh.contiguous()
    _over_networks(
        _library().vanilla_forward, k, steps, batch, units, *map(_address, (xs, h0, weight_hh))
    )
    return xs


def backward(
    hs: torch.Tensor,
    grad: torch.Tensor,
    readout_weight: torch.Tensor | None,
    weight_hh: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pre-activations' gradient (K, T, B, H) and h0's (K, B, H), from the states hs and
    the outputs' gradient (K, T, B, O) through the readout (K, O, H), or without a readout
    the states' own gradient (K, T, B, H)."""
    k, steps, batch, units = hs.shape
    grad, weight_hh = grad.contiguous(), weight_hh.contiguous()
    readout_weight = None if readout_weight is None else readout_weight.contiguous()
    outputs = grad.shape[-1]
    d, d_h0 = torch.empty_like(hs), hs.new_empty(k, batch, units)
    addresses = map(_address, (hs, grad, readout_weight, weight_hh, d, d_h0))
    _over_networks(_library().vanilla_backward, k, steps, batch, units, outputs, *addresses)
    return d, d_h0
