"""The GRU sweep's C kernel (gru_sweep.c) on float32 CPU tensors."""

from __future__ import annotations

import torch

from atlas.networks.kernels import run
from atlas.networks.kernels.run import KernelGradients

GATES = 3


def _library():
    return run.library("gru_sweep", gru_forward=10, gru_backward=12)


def applies(states: torch.Tensor) -> bool:
    """Whether the kernel sweeps networks whose states are like `states` (float32, CPU)."""
    return run.serves(states) and _library() is not None


def forward(
    rows, h0, weight_ih, weight_hh, bias_hh, readout_weight=None, readout_bias=None, keep="backward"
):
    """(hs, None, saved, outputs): states (K, T, B, H), what backward needs and given a readout
    the outputs (K, T, B, O), as far as `keep` asks (run.KEEPS); weight_ih ends in the biases'
    column, which holds all but b_hn, taken from bias_hh (K, 3H)."""
    k, gate_rows, columns = weight_ih.shape
    units, batch = gate_rows // GATES, h0.shape[1]
    steps = rows.shape[1] // batch
    states, for_backward = run.kept(keep)
    hs = h0.new_empty(k, steps, batch, units) if states else None
    width = run.padded(units)
    gates = h0.new_empty(k, steps, batch, GATES * width) if for_backward else None
    hn = h0.new_empty(k, steps, batch, width) if for_backward else None
    outputs, readout = run.readout_buffers(h0, steps, readout_weight, readout_bias)
    bias_hn = bias_hh[:, 2 * units :].contiguous()
    parameters = (h0.contiguous(), weight_ih.contiguous(), weight_hh.contiguous(), bias_hn)
    sizes = (k, steps, batch, units, columns, run.outputs_of(readout_weight))
    tensors = (*parameters, *readout, hs, gates, hn, outputs)
    run.sweep(_library().gru_forward, sizes, rows, tensors)
    return hs, None, (hs, gates, hn) if for_backward else (), outputs


def backward(rows, h0, saved, weight_hh, grad, readout_weight, grad_c=None, keep_steps=False):
    """The gradients (KernelGradients) from the outputs' gradient `grad` (K, T, B, O) through
    the readout, or without a readout the states' own (K, T, B, H). Overwrites the kept gates
    (one backward per forward)."""
    hs, gates, hn = saved
    k, steps, batch, units = hs.shape
    d_weight_ih = hs.new_empty(k, GATES * units, rows.shape[2])
    d_weight_hh = hs.new_empty(k, GATES * units, units)
    d_bias_hn, d_h0 = hs.new_empty(k, units), hs.new_empty(k, batch, units)
    readout, d_readout = run.readout_gradient_buffers(hs, grad, readout_weight)
    tensors = (h0.contiguous(), hs, gates, hn, weight_hh.contiguous(), readout)
    tensors += (grad.contiguous(), d_weight_ih, d_weight_hh, d_bias_hn, d_h0, d_readout)
    sizes = (k, steps, batch, units, rows.shape[2], grad.shape[-1])
    run.sweep(_library().gru_backward, sizes, rows, tensors)
    torch.autograd.graph.increment_version(gates)  # a second backward is refused, not wrong
    steps_gradient = run.gate_steps(gates, GATES, units) if keep_steps else None
    bias = torch.cat([d_weight_ih[:, : 2 * units, -1], d_bias_hn], dim=1)
    return KernelGradients(d_weight_ih, d_weight_hh, bias, d_h0, d_readout, steps_gradient)
