"""Populations of continuous-time two-neuron networks, dx/dt = -x + W tanh(x), integrated by RK4."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from atlas.studies import TwoNeuronModel


def vector_field(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """dx/dt for states x (K, N, 2) and weights w (K, 2, 2)."""
    return -x + torch.tanh(x) @ w.transpose(1, 2)


def rk4_step(x: torch.Tensor, w: torch.Tensor, dt: float) -> torch.Tensor:
    k1 = vector_field(x, w)
    k2 = vector_field(x + 0.5 * dt * k1, w)
    k3 = vector_field(x + 0.5 * dt * k2, w)
    k4 = vector_field(x + dt * k3, w)
    return x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def initial_weights(seeds: Sequence[int], model: TwoNeuronModel | None = None) -> torch.Tensor:
    """W (K, 2, 2) ~ Uniform(w_init_low, w_init_high), network k drawn from its own seed."""
    model = model or TwoNeuronModel()
    span = model.w_init_high - model.w_init_low
    return torch.stack(
        [
            torch.rand((2, 2), generator=torch.Generator().manual_seed(s), dtype=torch.float64)
            * span
            + model.w_init_low
            for s in seeds
        ]
    )


def simulate(
    w: torch.Tensor, x0: torch.Tensor, steps: int, dt: float, keep_trajectory: bool = False
) -> torch.Tensor:
    """Integrate from x0 ((2,), (K, 2) or (K, N, 2)); the final state or the whole trajectory.

    Returns (K, N, 2), or (K, N, steps + 1, 2) with `keep_trajectory`.
    """
    x = x0.to(w.dtype)
    if x.dim() == 1:
        x = x.expand(w.shape[0], 1, 2)
    elif x.dim() == 2:
        x = x.unsqueeze(1)
    trajectory = [x]
    for _ in range(steps):
        x = rk4_step(x, w, dt)
        if keep_trajectory:
            trajectory.append(x)
    return torch.stack(trajectory, dim=2) if keep_trajectory else x


def endpoint_loss(w: torch.Tensor, model: TwoNeuronModel | None = None) -> torch.Tensor:
    """0.5 * ||x(t_final) - target||^2 per network, (K,)."""
    model = model or TwoNeuronModel()
    final = simulate(w, torch.tensor(model.x0), model.n_steps, model.dt)[:, 0]
    return 0.5 * (final - torch.tensor(model.target, dtype=w.dtype)).pow(2).sum(-1)
