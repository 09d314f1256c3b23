"""Analytic, batched Jacobians of one RNN step and of the two-neuron vector field.

Written out per architecture (PyTorch's gate order, as in `atlas.networks.cells`) because the
polishing step needs a Jacobian per point per iteration: the closed form, a sum over gates of
diag(coefficients) @ W_gate, costs O(G*H*S) per point where differentiating a step for every
state coordinate costs O(G*H*S^2).
Shapes: states (K, N, S), Jacobians (K, N, S, S) with J[k, n, i, j] = dF_i / dh_j.
"""

from __future__ import annotations

import torch

from atlas.networks import RNNPopulation


def _gate_sum(coefficients: torch.Tensor, weight_hh: torch.Tensor) -> torch.Tensor:
    """sum_g diag(c_g) W_g: coefficients (K, N, G, H) per gate and unit, weight_hh (K, G*H, H)
    -> (K, N, H, H), as one batched contraction over the gates."""
    k, _, gates, units = coefficients.shape
    blocks = weight_hh.reshape(k, gates, units, units)
    return torch.einsum("kngi,kgij->knij", coefficients, blocks)


def _vanilla(h, xproj, hproj, weight_hh):
    new = torch.tanh(xproj + hproj)
    return _gate_sum((1 - new.pow(2)).unsqueeze(-2), weight_hh)


def _gru(h, xproj, hproj, weight_hh):
    """h' = n + z (h - n), n = tanh(x_n + r * h_n), so with n' = 1 - n^2:
    dh'/dh = diag((1-z) n' h_n r(1-r)) W_r + diag((h-n) z(1-z)) W_z + diag((1-z) n' r) W_n
    + diag(z)."""
    x_r, x_z, x_n = xproj.chunk(3, dim=-1)
    h_r, h_z, h_n = hproj.chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    through_n = (1 - z) * (1 - n.pow(2))
    coefficients = torch.stack(
        [through_n * h_n * r * (1 - r), (h - n) * z * (1 - z), through_n * r], dim=-2
    )
    return _gate_sum(coefficients, weight_hh) + torch.diag_embed(z)


def _lstm(state, xproj, hproj, weight_hh):
    """State [h, c]: c' = f c + i g, h' = o tanh(c'); the four blocks of d[h', c']/d[h, c]."""
    _, c = state.chunk(2, dim=-1)
    i, f, g, o = (xproj + hproj).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    tanh_c = torch.tanh(f * c + i * g)
    out_gain = o * (1 - tanh_c.pow(2))
    to_c = torch.stack(
        [g * i * (1 - i), c * f * (1 - f), i * (1 - g.pow(2)), torch.zeros_like(o)], dim=-2
    )
    to_h = out_gain.unsqueeze(-2) * to_c
    to_h[..., 3, :] = tanh_c * o * (1 - o)
    top = torch.cat([_gate_sum(to_h, weight_hh), torch.diag_embed(out_gain * f)], dim=-1)
    bottom = torch.cat([_gate_sum(to_c, weight_hh), torch.diag_embed(f)], dim=-1)
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
