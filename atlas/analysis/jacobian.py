"""Analytic, batched Jacobians of one RNN step and of the two-neuron vector field.

Written out per architecture (PyTorch's gate order, as in `atlas.networks.cells`) because the
polishing step needs a Jacobian per point per iteration: the closed form costs O(G*H*S) per
point where differentiating a step for every state coordinate costs O(G*H*S^2).
Shapes: states (K, N, S), Jacobians (K, N, S, S) with J[k, n, i, j] = dF_i / dh_j.
"""

from __future__ import annotations

import torch

from atlas.networks import RNNPopulation


def _rows(scale: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """diag(scale) @ matrix for scale (K, N, H) and per-network matrix (K, H, M): (K, N, H, M)."""
    return scale.unsqueeze(-1) * matrix.unsqueeze(1)


def _diag(values: torch.Tensor) -> torch.Tensor:
    return torch.diag_embed(values)


def _vanilla(h, xproj, hproj, weight_hh):
    new = torch.tanh(xproj + hproj)
    return _rows(1 - new.pow(2), weight_hh)


def _gru(h, xproj, hproj, weight_hh):
    x_r, x_z, x_n = xproj.chunk(3, dim=-1)
    h_r, h_z, h_n = hproj.chunk(3, dim=-1)
    w_r, w_z, w_n = weight_hh.chunk(3, dim=1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    dr = _rows(r * (1 - r), w_r)
    dz = _rows(z * (1 - z), w_z)
    dn = (1 - n.pow(2)).unsqueeze(-1) * (_rows(r, w_n) + h_n.unsqueeze(-1) * dr)
    return (1 - z).unsqueeze(-1) * dn + _diag(z) + (h - n).unsqueeze(-1) * dz


def _lstm(state, xproj, hproj, weight_hh):
    _, c = state.chunk(2, dim=-1)
    i, f, g, o = (xproj + hproj).chunk(4, dim=-1)
    w_i, w_f, w_g, w_o = weight_hh.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_new = f * c + i * g
    tanh_c = torch.tanh(c_new)
    dc_dh = _rows(c * f * (1 - f), w_f) + _rows(g * i * (1 - i), w_i) + _rows(i * (1 - g**2), w_g)
    out_gain = o * (1 - tanh_c.pow(2))
    dh_dh = _rows(tanh_c * o * (1 - o), w_o) + out_gain.unsqueeze(-1) * dc_dh
    top = torch.cat([dh_dh, _diag(out_gain * f)], dim=-1)
    bottom = torch.cat([dc_dh, _diag(f)], dim=-1)
    return torch.cat([top, bottom], dim=-2)


_JACOBIANS = {"vanilla": _vanilla, "gru": _gru, "lstm": _lstm}


def step_jacobian(
    population: RNNPopulation, states: torch.Tensor, inputs: torch.Tensor
) -> torch.Tensor:
    """dF/dh of one step at states (K, N, S) under inputs (K, N, I) or (I,): (K, N, S, S)."""
    if inputs.dim() == 1:
        inputs = inputs.expand(population.count, states.shape[1], -1)
    params = {name: p.detach() for name, p in population.named_parameters()}
    xproj = torch.baddbmm(params["bias_ih"].unsqueeze(1), inputs, params["weight_ih"].mT)
    h = states[..., : population.units]
    hproj = torch.baddbmm(params["bias_hh"].unsqueeze(1), h, params["weight_hh"].mT)
    return _JACOBIANS[population.architecture](states, xproj, hproj, params["weight_hh"])


def two_neuron_jacobian(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d/dx of -x + W tanh(x) for W (K, 2, 2) and x (K, N, 2): -I + W diag(1 - tanh(x)^2)."""
    gain = 1 - torch.tanh(x).pow(2)
    return w.unsqueeze(1) * gain.unsqueeze(-2) - torch.eye(2, dtype=x.dtype)
