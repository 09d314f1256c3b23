"""Limit cycles from long autonomous runs, for RNN populations and the two-neuron model.

After the transient, a trajectory is on a cycle when it keeps returning to where it ended:
through the section that passes through its last state, orthogonal to its last velocity, it
crosses again (same direction) close to that state, twice, one period apart. Crossing times are
interpolated between samples, so a period need not be a whole number of steps (a discrete map's
oscillation is usually quasi-periodic: its samples never repeat exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from atlas.networks import RNNPopulation
from atlas.networks.two_neuron import rk4_step


@dataclass
class LimitCycle:
    """One cycle: period in steps (discrete) or time units (continuous), one period of states
    (L, S) and outputs (L, O) sampled every `sample_dt`, the orbit's diameter, and the closing
    error (distance at the return, relative to the diameter)."""

    period: float
    states: np.ndarray
    outputs: np.ndarray
    diameter: float
    closing_error: float
    sample_dt: float
    continuous: bool = False

    def to_dict(self, include_states: bool = True) -> dict[str, Any]:
        entry = {
            "period": self.period,
            "diameter": self.diameter,
            "closing_error": self.closing_error,
            "sample_dt": self.sample_dt,
            "continuous": self.continuous,
            "output_min": self.outputs.min(axis=0).tolist(),
            "output_max": self.outputs.max(axis=0).tolist(),
            "outputs": self.outputs.tolist(),
        }
        if include_states:
            entry["states"] = self.states.tolist()
        return entry


@dataclass(frozen=True)
class Recurrence:
    """Per trajectory: on a cycle or not, and the period in samples."""

    on_cycle: np.ndarray
    period: np.ndarray
    closing_error: np.ndarray
    diameter: np.ndarray


def _diameter(tail: np.ndarray) -> np.ndarray:
    """Twice the largest distance from the centroid, per trajectory (M, L, S) -> (M,)."""
    return 2 * np.linalg.norm(tail - tail.mean(axis=1, keepdims=True), axis=-1).max(axis=1)


def _last_returns(
    tail: np.ndarray, diameter: np.ndarray, closing_tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """The two latest interpolated return times (M, 2), counted back from the end in samples,
    and their closing errors (M, 2); NaN where a trajectory does not return."""
    end = tail[:, -1]
    velocity = end - tail[:, -2]
    section = np.einsum("mls,ms->ml", tail - end[:, None], velocity)
    # on a closed orbit of a map the state returns exactly, up to round-off: count as crossings
    # the sections within round-off of zero (relative 1e-6, well above float32's)
    zero = 1e-6 * np.linalg.norm(velocity, axis=-1, keepdims=True) * diameter[:, None]
    upward = (section[:, :-1] < -zero) & (section[:, 1:] >= -zero)
    upward[:, -2:] = False  # the crossing into the last state itself, and its neighbour
    frac = -section[:, :-1] / np.where(upward, section[:, 1:] - section[:, :-1], 1.0)
    crossing = tail[:, :-1] + frac[..., None] * (tail[:, 1:] - tail[:, :-1])
    gap = np.linalg.norm(crossing - end[:, None], axis=-1) / np.maximum(diameter, 1e-300)[:, None]
    close = upward & (gap < closing_tol)
    length = tail.shape[1]
    back = np.full((len(tail), 2), np.nan)
    error = np.full((len(tail), 2), np.nan)
    for m, steps in enumerate(close):
        latest = np.nonzero(steps)[0][::-1][:2]
        back[m, : len(latest)] = (length - 1) - (latest + frac[m, latest])
        error[m, : len(latest)] = gap[m, latest]
    return back, error


def detect_cycles(
    tail: np.ndarray, closing_tol: float = 0.05, drift_tol: float = 0.05, still_tol: float = 1e-6
) -> Recurrence:
    """Which trajectories (M, L, S), sampled after their transient, lie on a cycle.

    A cycle needs two returns to the last state, the second at twice the first's delay (within
    closing_tol), an orbit that neither shrinks nor grows (its diameter over the first and the
    last period of the tail agree within drift_tol: a slowly decaying spiral is no cycle), and
    a diameter above still_tol (below it the state is at a fixed point).
    """
    diameter = _diameter(tail)
    back, error = _last_returns(tail, diameter, closing_tol)
    with np.errstate(invalid="ignore"):
        consistent = np.abs(back[:, 1] - 2 * back[:, 0]) <= closing_tol * back[:, 0] + 1.0
    on_cycle = consistent & (diameter > still_tol)
    for m in np.nonzero(on_cycle)[0]:
        span = int(np.ceil(back[m, 0])) + 1
        first, last = _diameter(tail[m : m + 1, :span]), _diameter(tail[m : m + 1, -span:])
        on_cycle[m] = abs(first[0] - last[0]) <= drift_tol * diameter[m]
    return Recurrence(
        on_cycle=on_cycle,
        period=np.where(on_cycle, back[:, 0], np.nan),
        closing_error=np.where(on_cycle, error[:, 0], np.nan),
        diameter=diameter,
    )


def _distinct_cycles(
    tail: np.ndarray, outputs: np.ndarray, found: Recurrence, sample_dt: float, continuous: bool
) -> list[LimitCycle]:
    """One LimitCycle per distinct cycle among one system's trajectories (M, L, S)."""
    cycles: list[LimitCycle] = []
    orbits: list[np.ndarray] = []
    for m in np.nonzero(found.on_cycle)[0]:
        length = int(np.ceil(found.period[m])) + 1
        orbit = tail[m, -length:]
        if any(_same_orbit(orbit[-1], other) for other in orbits):
            continue
        orbits.append(orbit)
        cycles.append(
            LimitCycle(
                period=float(found.period[m] * sample_dt),
                states=orbit,
                outputs=outputs[m, -length:],
                diameter=float(found.diameter[m]),
                closing_error=float(found.closing_error[m]),
                sample_dt=sample_dt,
                continuous=continuous,
            )
        )
    return cycles


def _same_orbit(state: np.ndarray, orbit: np.ndarray) -> bool:
    """Whether a state lies on an orbit sampled along one period (within one sample's reach)."""
    step = np.linalg.norm(np.diff(orbit, axis=0), axis=-1).max()
    return bool(np.linalg.norm(orbit - state, axis=-1).min() <= step)


ROUND_OFF_ORBIT = 100.0
"""A simulated fixed point wanders over an orbit of a few round-off units per coordinate (the
step's rounding errors do not cancel): orbits under this many units of the simulation's
precision, times sqrt(units) and the state's scale, are fixed points, not cycles."""


def round_off_diameter(states: torch.Tensor) -> float:
    """The largest orbit that round-off alone sustains at a fixed point, for these states."""
    scale = max(1.0, float(states.abs().max()))
    return ROUND_OFF_ORBIT * torch.finfo(states.dtype).eps * math.sqrt(states.shape[-1]) * scale


def find_limit_cycles(
    population: RNNPopulation,
    initial_states: torch.Tensor,
    inputs: torch.Tensor,
    steps: int = 2000,
    tail: int | None = None,
    closing_tol: float = 0.05,
) -> list[list[LimitCycle]]:
    """Per network, the distinct cycles reached from initial states (K, N, S) under a constant
    input (I,) or (K, I) within `steps` steps; the last `tail` steps (default half) are searched."""
    tail = tail or steps // 2
    if not 3 <= tail <= steps:
        raise ValueError("need 3 <= tail <= steps")
    state = initial_states.detach()
    u = inputs if inputs.dim() == 1 else inputs[:, None, :].expand(-1, state.shape[1], -1)
    kept = []
    with torch.no_grad():
        for t in range(steps):
            state = population.step(state, u)
            if t >= steps - tail:
                kept.append(state)
        trajectory = torch.stack(kept, dim=2)
        outputs = population.readout(trajectory)
    still_tol = round_off_diameter(trajectory)
    trajectory = trajectory.double().numpy()
    outputs = outputs.double().numpy()
    return [
        _distinct_cycles(
            trajectory[k],
            outputs[k],
            detect_cycles(trajectory[k], closing_tol, still_tol=still_tol),
            1.0,
            False,
        )
        for k in range(population.count)
    ]


def two_neuron_tail(
    w: torch.Tensor, x0: torch.Tensor, t_total: float, t_tail: float, dt: float, sample_dt: float
) -> np.ndarray:
    """RK4 runs of dx/dt = -x + W tanh(x) from x0 (K, N, 2): the last t_tail time units,
    sampled every sample_dt, (K, N, L, 2)."""
    stride = round(sample_dt / dt)
    steps = round(t_total / dt)
    first_kept = steps - round(t_tail / dt)
    x = x0.to(torch.float64)
    w = w.to(torch.float64)
    kept = []
    for t in range(1, steps + 1):
        x = rk4_step(x, w, dt)
        if t >= first_kept and (steps - t) % stride == 0:
            kept.append(x)
    return torch.stack(kept, dim=2).numpy()


def find_two_neuron_limit_cycles(
    w: torch.Tensor,
    x0: torch.Tensor,
    t_total: float = 200.0,
    t_tail: float = 80.0,
    dt: float = 0.01,
    sample_dt: float = 0.05,
    closing_tol: float = 2e-3,
) -> list[list[LimitCycle]]:
    """Per W (K, 2, 2), the distinct cycles reached from x0 (K, N, 2) or (2,) by t_total; the
    period is in time units. Outputs along the cycle are the states themselves."""
    if x0.dim() == 1:
        x0 = x0.to(torch.float64).expand(w.shape[0], 1, 2)
    tail = two_neuron_tail(w, x0, t_total, t_tail, dt, sample_dt)
    return [
        _distinct_cycles(tail[k], tail[k], detect_cycles(tail[k], closing_tol), sample_dt, True)
        for k in range(w.shape[0])
    ]
