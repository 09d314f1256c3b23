"""One step of each architecture for K networks at once, with PyTorch's gate conventions.

`xproj` is the input projection W_ih x + b_ih, already computed (for a whole trial at once when
training); `h` is the state, (K, B, S) with S = units (LSTM: 2 * units, [h, c]).
PyTorch's gate order: GRU (r, z, n), LSTM (i, f, g, o).
"""

from __future__ import annotations

import torch

GATES = {"vanilla": 1, "gru": 3, "lstm": 4}
STATE_FACTOR = {"vanilla": 1, "gru": 1, "lstm": 2}


def float32_tanh(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """tanh(x), into `out` if given (it may be x), as 2 sigmoid(2x) - 1 for float32 CPU tensors.

    PyTorch's float32 tanh on the CPU runs at very different speeds by vendor (measured, one
    thread, 64 x 32 x 50): on an AMD EPYC 3-4x slower than its sigmoid (262 us against 71), on
    an Intel Xeon 35 us against 83 us for the identity (an epoch 6% slower with the identity).
    One way everywhere, not the faster one timed per process: a choice by timing changed the
    rounding, and so the trained networks, between runs of one machine. The identity's absolute
    error is below 2e-7 (torch.tanh's own: 5e-8), its relative error large only where tanh is
    below 1e-7: for the float32 work where that cannot matter (training sweeps, the fixed-point
    search's rough phases); float64 and CUDA tensors get torch.tanh."""
    if x.dtype != torch.float32 or x.device.type != "cpu":
        return torch.tanh(x, out=out)
    if x.requires_grad:
        return 2 * torch.sigmoid(2 * x) - 1
    out = torch.empty_like(x) if out is None else out
    return torch.mul(x, 2, out=out).sigmoid_().mul_(2).sub_(1)


def _recurrent(h: torch.Tensor, weight_hh_t: torch.Tensor, bias_hh: torch.Tensor) -> torch.Tensor:
    return torch.baddbmm(bias_hh.unsqueeze(1), h, weight_hh_t)


def vanilla_step(h, xproj, weight_hh_t, bias_hh):
    return torch.tanh(xproj + _recurrent(h, weight_hh_t, bias_hh))


def gru_step(h, xproj, weight_hh_t, bias_hh):
    x_r, x_z, x_n = xproj.chunk(3, dim=-1)
    h_r, h_z, h_n = _recurrent(h, weight_hh_t, bias_hh).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return n + z * (h - n)


def lstm_step(state, xproj, weight_hh_t, bias_hh):
    h, c = state.chunk(2, dim=-1)
    gates = xproj + _recurrent(h, weight_hh_t, bias_hh)
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return torch.cat([h, c], dim=-1)


STEPS = {"vanilla": vanilla_step, "gru": gru_step, "lstm": lstm_step}
