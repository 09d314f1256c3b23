"""Running a sweep kernel's C functions over K networks on torch's threads.

Every kernel function takes (threads, K, T, B, H, C, O, rows, rows' network stride) and then
its tensors, passed as pointers (None as NULL), and shares the K networks out over `threads`
OpenMP threads: the process' one libgomp, PyTorch's, so the kernels run on the threads torch's
own operations use (threads of their own competed with torch's, spinning between its parallel
regions, for the cores: measured, vanilla 20 at K = 64 on two threads, 0.39 s an epoch in the
kernels on a Python thread pool against 0.20 s in torch's idle threads). Every network is
swept by one thread in the same order whatever the thread count: results do not depend on it.
Forks follow torch's rule: a child forked after parallel work in its parent (torch's or the
kernels') hangs in its own parallel work; Celery's prefork parent runs none.
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import NamedTuple

import torch

from atlas.networks.kernels.build import load

KEEPS = ("backward", "states", "outputs")
"""What a forward sweep writes out besides a readout's outputs: the states and what the backward
sweep needs (training), the states alone (a run without autograd), or nothing (a loss pass: the
states never leave the kernel's caches). What is not written is returned as None, or () for
what backward needs."""


def kept(keep: str) -> tuple[bool, bool]:
    """(whether the states are written, whether what backward needs is) for `keep` (KEEPS)."""
    if keep not in KEEPS:
        raise ValueError(f"a sweep keeps one of {KEEPS}, not {keep!r}")
    return keep != "outputs", keep == "backward"


_SIZE = ctypes.c_int64
_POINTER = ctypes.c_void_p


@cache
def library(name: str, **tensor_counts: int) -> ctypes.CDLL | None:
    """The kernel `name` built for this machine, its functions (keyword: how many tensors each
    takes after the rows) declared for ctypes; None where it cannot be built."""
    kernel = load(name)
    if kernel is not None:
        for function, tensors in tensor_counts.items():
            sizes = [ctypes.c_int, *[_SIZE] * 6]  # threads, K, T, B, H, C, O
            getattr(kernel, function).argtypes = [*sizes, _POINTER, _SIZE, *[_POINTER] * tensors]
    return kernel


def serves(states: torch.Tensor) -> bool:
    """Whether states like these are a kernel's to sweep (float32 on the CPU)."""
    return states.dtype == torch.float32 and states.device.type == "cpu"


def sweep(function, sizes: tuple[int, ...], rows: torch.Tensor, tensors: tuple) -> None:
    """function(threads, K, T, B, H, C, O, rows, rows' network stride, *tensors) on torch's
    threads; sizes are (K, T, B, H, C, O)."""
    rows = network_rows(rows)
    threads = max(1, min(torch.get_num_threads(), sizes[0]))
    arguments = (threads, *sizes, rows.data_ptr(), rows.stride(0))
    if function(*arguments, *(None if t is None else t.data_ptr() for t in tensors)):
        raise MemoryError("a sweep kernel could not allocate its scratch buffers")


def network_rows(rows: torch.Tensor) -> torch.Tensor:
    """rows (K, T*B, C) with contiguous rows; its network stride may be 0 (shared trials)."""
    return rows if rows.stride()[1:] == (rows.shape[2], 1) else rows.contiguous()


def padded(units: int) -> int:
    """A padded row's length for `units` numbers: whole vectors of 8 floats (products.h)."""
    return -(-units // 8) * 8


def gate_steps(gates: torch.Tensor, count: int, units: int) -> list[torch.Tensor]:
    """Per gate, the (K, T*B, H) view of a kernel's padded gate rows (K, T, B, count * hp)."""
    k, steps, batch, width = gates.shape
    blocks = gates.view(k, steps * batch, count, width // count)
    return [blocks[:, :, g, :units] for g in range(count)]


class KernelGradients(NamedTuple):
    """A kernel's backward sweep: the gradients of [W_ih, b] (K, G*H, C), of W_hh, of b_hh, of
    h0, of the readout's weight (None without a readout), and where asked for, of each gate's
    pre-activation at every trial-step, G tensors (K, T*B, H) (the rows' gradient's inputs)."""

    weight_ih: torch.Tensor
    weight_hh: torch.Tensor
    bias_hh: torch.Tensor
    h0: torch.Tensor
    readout: torch.Tensor | None
    steps: list[torch.Tensor] | None


def readout_buffers(h0: torch.Tensor, steps: int, weight, bias):
    """(outputs (K, T, B, O) to fill, or None; the readout's weight and bias as the kernel reads
    them, or Nones) for an optional readout."""
    if weight is None:
        return None, (None, None)
    k, batch = h0.shape[:2]
    outputs = h0.new_empty(k, steps, batch, weight.shape[1])
    return outputs, (weight.contiguous(), bias.contiguous())


def readout_gradient_buffers(hs: torch.Tensor, grad: torch.Tensor, weight):
    """(the readout's weight as the kernel reads it, the buffer for its gradient (K, O, H)) for
    a backward sweep through an optional readout, or (None, None)."""
    if weight is None:
        return None, None
    k, units = hs.shape[0], hs.shape[-1]
    return weight.contiguous(), hs.new_empty(k, grad.shape[-1], units)


def outputs_of(readout_weight: torch.Tensor | None) -> int:
    return 0 if readout_weight is None else readout_weight.shape[1]
