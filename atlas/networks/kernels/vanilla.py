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
        sizes = [_SIZE] * 7  # k0, k1, T, B, H, C, O
        library.vanilla_forward.argtypes = [*sizes, _POINTER, _SIZE, *[_POINTER] * 7]
        library.vanilla_backward.argtypes = [*sizes, _POINTER, _SIZE, *[_POINTER] * 10]
    return library


def applies(states: torch.Tensor) -> bool:
    """Whether the kernel sweeps networks whose states are like `states` (float32, CPU)."""
    return states.dtype == torch.float32 and states.device.type == "cpu" and _library() is not None


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vanilla-sweep")


# A forked child (a Celery worker) inherits the pool without its threads: it makes its own.
os.register_at_fork(after_in_child=_pool.cache_clear)


def _sweep(kernel, sizes: tuple[int, ...], rows: torch.Tensor, tensors: tuple) -> None:
    """kernel(k0, k1, T, B, H, C, O, rows, rows' network stride, *tensors) for the networks'
    shares [k0, k1), in parallel over torch's threads; sizes are (K, T, B, H, C, O), a None
    tensor is passed as NULL."""
    count, *rest = sizes
    arguments = (*rest, rows.data_ptr(), rows.stride(0))
    arguments += tuple(None if t is None else t.data_ptr() for t in tensors)
    threads = max(1, min(torch.get_num_threads(), count))
    if threads == 1:
        statuses = [kernel(0, count, *arguments)]
    else:
        shares = pairwise(count * i // threads for i in range(threads + 1))
        statuses = list(_pool(threads).map(lambda share: kernel(*share, *arguments), shares))
    if any(statuses):
        raise MemoryError("the vanilla sweep kernel could not allocate its scratch buffers")


def _network_rows(rows: torch.Tensor) -> torch.Tensor:
    """rows (K, T*B, C) with contiguous rows; its network stride may be 0 (shared trials)."""
    return rows if rows.stride()[1:] == (rows.shape[2], 1) else rows.contiguous()


def forward(
    rows: torch.Tensor,
    h0: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    readout_weight: torch.Tensor | None = None,
    readout_bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """States (K, T, B, H) and, given a readout, outputs (K, T, B, O), of networks fed `rows`
    (K, T*B, C): each trial-step's inputs then a ones column, whose weight (weight_ih's last
    column) is the bias."""
    k, units, columns = weight_ih.shape
    batch = h0.shape[1]
    steps = rows.shape[1] // batch
    rows = _network_rows(rows)
    h0, weight_ih, weight_hh = h0.contiguous(), weight_ih.contiguous(), weight_hh.contiguous()
    hs = h0.new_empty(k, steps, batch, units)
    outputs, n_outputs = None, 0
    if readout_weight is not None:
        readout_weight, readout_bias = readout_weight.contiguous(), readout_bias.contiguous()
        n_outputs = readout_weight.shape[1]
        outputs = h0.new_empty(k, steps, batch, n_outputs)
    sizes = (k, steps, batch, units, columns, n_outputs)
    tensors = (h0, weight_ih, weight_hh, readout_weight, readout_bias, hs, outputs)
    _sweep(_library().vanilla_forward, sizes, rows, tensors)
    return hs, outputs


def backward(
    rows: torch.Tensor,
    h0: torch.Tensor,
    hs: torch.Tensor,
    weight_hh: torch.Tensor,
    grad: torch.Tensor,
    readout_weight: torch.Tensor | None,
    keep_steps: bool = False,
) -> tuple[torch.Tensor, ...]:
    """Gradients of weight_ih (its last column the bias'), weight_hh, h0, the readout's weight
    (None without a readout) and, if `keep_steps`, of each step's pre-activation (K, T, B, H),
    from the outputs' gradient `grad` (K, T, B, O) through the readout, or without a readout
    the states' own gradient (K, T, B, H)."""
    assert hs.is_contiguous()
    k, steps, batch, units = hs.shape
    columns = rows.shape[2]
    rows, h0 = _network_rows(rows), h0.contiguous()
    grad, weight_hh = grad.contiguous(), weight_hh.contiguous()
    n_outputs = grad.shape[-1]
    d_weight_ih, d_weight_hh = hs.new_empty(k, units, columns), hs.new_empty(k, units, units)
    d_h0 = hs.new_empty(k, batch, units)
    d_readout = None
    if readout_weight is not None:
        readout_weight = readout_weight.contiguous()
        d_readout = hs.new_empty(k, n_outputs, units)
    d = torch.empty_like(hs) if keep_steps else None
    sizes = (k, steps, batch, units, columns, n_outputs)
    tensors = (h0, hs, weight_hh, readout_weight, grad, d_weight_ih, d_weight_hh, d_h0)
    tensors = (*tensors, d_readout, d)
    _sweep(_library().vanilla_backward, sizes, rows, tensors)
    return d_weight_ih, d_weight_hh, d_h0, d_readout, d
