"""The LSTM sweep's C kernel (lstm_sweep.c) on float32 CPU tensors."""

from __future__ import annotations

import torch

from atlas.networks.kernels import run
from atlas.networks.kernels.run import KernelGradients

GATES = 4


def _library():
    return run.library("lstm_sweep", lstm_forward=9, lstm_backward=12)


def applies(states: torch.Tensor) -> bool:
    """Whether the kernel sweeps networks whose states are like `states` (float32, CPU)."""
    return run.serves(states) and _library() is not None


def forward(
    rows, h0, weight_ih, weight_hh, bias_hh, readout_weight=None, readout_bias=None, keep="backward"
):
    """(hs, cs, saved, outputs): states and cells (K, T, B, H), what backward needs and given a
    readout the outputs (K, T, B, O), as far as `keep` asks (run.KEEPS); h0 is (K, B, 2H),
    [h, c]; weight_ih ends in the biases' column (bias_hh in it already)."""
    k, gate_rows, columns = weight_ih.shape
    units, batch = gate_rows // GATES, h0.shape[1]
    steps = rows.shape[1] // batch
    states, for_backward = run.kept(keep)
    hs, cs = (h0.new_empty(k, steps, batch, units) if states else None for _ in "hc")
    gates = h0.new_empty(k, steps, batch, GATES * run.padded(units)) if for_backward else None
    outputs, readout = run.readout_buffers(h0, steps, readout_weight, readout_bias)
    parameters = (h0.contiguous(), weight_ih.contiguous(), weight_hh.contiguous(), *readout)
    sizes = (k, steps, batch, units, columns, run.outputs_of(readout_weight))
    run.sweep(_library().lstm_forward, sizes, rows, (*parameters, hs, cs, gates, outputs))
    return hs, cs, (hs, cs, gates) if for_backward else (), outputs


def backward(rows, h0, saved, weight_hh, grad, readout_weight, grad_c=None, keep_steps=False):
    """The gradients (KernelGradients) from the outputs' gradient `grad` (K, T, B, O) through
    the readout, or without a readout the states' own (K, T, B, H), and the cells' own
    `grad_c` (K, T, B, H) or None. Overwrites the kept gates (one backward per forward)."""
    hs, cs, gates = saved
    k, steps, batch, units = hs.shape
    d_weight_ih = hs.new_empty(k, GATES * units, rows.shape[2])
    d_weight_hh = hs.new_empty(k, GATES * units, units)
    d_h0 = hs.new_empty(k, batch, 2 * units)
    readout, d_readout = run.readout_gradient_buffers(hs, grad, readout_weight)
    grad_c = None if grad_c is None else grad_c.contiguous()
    tensors = (h0.contiguous(), hs, cs, gates, weight_hh.contiguous(), readout)
    tensors += (grad.contiguous(), grad_c, d_weight_ih, d_weight_hh, d_h0, d_readout)
    sizes = (k, steps, batch, units, rows.shape[2], grad.shape[-1])
    run.sweep(_library().lstm_backward, sizes, rows, tensors)
    torch.autograd.graph.increment_version(gates)  # a second backward is refused, not wrong
    steps_gradient = run.gate_steps(gates, GATES, units) if keep_steps else None
    bias = d_weight_ih[..., -1].clone()
    return KernelGradients(d_weight_ih, d_weight_hh, bias, d_h0, d_readout, steps_gradient)
