"""One step of each architecture for K networks at once, with PyTorch's gate conventions.

`xproj` is the input projection W_ih x + b_ih, already computed (for a whole trial at once when
training); `h` is the state, (K, B, S) with S = units (LSTM: 2 * units, [h, c]).
PyTorch's gate order: GRU (r, z, n), LSTM (i, f, g, o).
"""

from __future__ import annotations

import torch

GATES = {"vanilla": 1, "gru": 3, "lstm": 4}
STATE_FACTOR = {"vanilla": 1, "gru": 1, "lstm": 2}


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
