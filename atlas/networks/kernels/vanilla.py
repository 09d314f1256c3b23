"""The vanilla sweep's C kernel (vanilla_sweep.c) on float32 CPU tensors."""

from __future__ import annotations

import ctypes
from functools import cache

import torch

from atlas.networks.kernels import run
from atlas.networks.kernels.run import KernelGradients


def _library():
    return run.library("vanilla_sweep", vanilla_forward=7, vanilla_backward=10)


def applies(states: torch.Tensor) -> bool:
    """Whether the kernel sweeps networks whose states are like `states` (float32, CPU)."""
    return run.serves(states) and _library() is not None


def forward(
    rows, h0, weight_ih, weight_hh, bias_hh, readout_weight=None, readout_bias=None, keep="backward"
):
    """(hs, None, saved, outputs): states (K, T, B, H), what backward needs (the states), and
    given a readout the outputs (K, T, B, O), as far as `keep` asks (run.KEEPS), of networks fed
    `rows` (K, T*B, C), each trial-step's inputs then a ones column whose weight (weight_ih's
    last column) is the bias; bias_hh is in it already."""
    k, units, columns = weight_ih.shape
    batch = h0.shape[1]
    steps = rows.shape[1] // batch
    states, for_backward = run.kept(keep)
    hs = h0.new_empty(k, steps, batch, units) if states else None
    outputs, readout = run.readout_buffers(h0, steps, readout_weight, readout_bias)
    parameters = (h0.contiguous(), weight_ih.contiguous(), weight_hh.contiguous(), *readout)
    sizes = (k, steps, batch, units, columns, run.outputs_of(readout_weight))
    run.sweep(_library().vanilla_forward, sizes, rows, (*parameters, hs, outputs))
    return hs, None, (hs,) if for_backward else (), outputs


def backward(rows, h0, saved, weight_hh, grad, readout_weight, grad_c=None, keep_steps=False):
    """The gradients (KernelGradients) from the outputs' gradient `grad` (K, T, B, O) through
    the readout, or without a readout the states' own (K, T, B, H)."""
    (hs,) = saved
    k, steps, batch, units = hs.shape
    d_weight_ih = hs.new_empty(k, units, rows.shape[2])
    d_weight_hh, d_h0 = hs.new_empty(k, units, units), hs.new_empty(k, batch, units)
    d = torch.empty_like(hs) if keep_steps else None
    readout, d_readout = run.readout_gradient_buffers(hs, grad, readout_weight)
    tensors = (h0.contiguous(), hs, weight_hh.contiguous(), readout, grad.contiguous())
    tensors += (d_weight_ih, d_weight_hh, d_h0, d_readout, d)
    sizes = (k, steps, batch, units, rows.shape[2], grad.shape[-1])
    run.sweep(_library().vanilla_backward, sizes, rows, tensors)
    steps_gradient = None if d is None else [d.view(k, steps * batch, units)]
    bias = d_weight_ih[..., -1].clone()
    return KernelGradients(d_weight_ih, d_weight_hh, bias, d_h0, d_readout, steps_gradient)


@cache
def _tanh_function():
    function = _library().vanilla_tanh
    function.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
    return function


def tanh(x: torch.Tensor) -> torch.Tensor:
    """The sweeps' tanh (activations.h) of float32 numbers, as the kernel computes it."""
    flat = x.detach().float().cpu().flatten()
    padded = flat.new_zeros(run.padded(flat.numel()))  # whole vectors, aligned
    padded[: flat.numel()] = flat
    out = torch.empty_like(padded)
    _tanh_function()(padded.numel(), padded.data_ptr(), out.data_ptr())
    return out[: flat.numel()].view(x.shape)
