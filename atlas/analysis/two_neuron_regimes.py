"""Which regime a two-neuron network dx/dt = -x + W tanh(x) ends in, read two ways.

From the eigenvalues of W (science.md; the origin's Jacobian is W - I): limit cycle (complex
eigenvalues, real part > 1), non-trivial fixed point (real eigenvalues, the largest > 1), stable
origin (largest real part <= 1). From what the dynamics actually do: run from x0 long past the
model's horizon, look for a cycle in the tail, else match the end state to the stable fixed
points found for that W (the origin or a non-trivial one).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from atlas.analysis.fixed_points import find_two_neuron_fixed_points
from atlas.analysis.limit_cycles import detect_cycles, two_neuron_tail
from atlas.networks.two_neuron import simulate
from atlas.studies import TwoNeuronModel

REGIMES = ("limit_cycle", "fixed_point", "stable_origin")
UNDETERMINED = "undetermined"


def eigenvalue_regimes(w: np.ndarray) -> np.ndarray:
    """The regime of each W (n, 2, 2) by the eigenvalue rule, (n,) strings in REGIMES."""
    eigenvalues = np.linalg.eigvals(np.asarray(w, dtype=np.float64))
    largest_real = eigenvalues.real.max(axis=-1)
    complex_pair = np.abs(eigenvalues.imag).max(axis=-1) > 0
    return np.where(
        largest_real <= 1,
        "stable_origin",
        np.where(complex_pair, "limit_cycle", "fixed_point"),
    )


def final_losses(w: np.ndarray, model: TwoNeuronModel | None = None) -> np.ndarray:
    """Loss of each W (n, 2, 2): 0.5 * ||x(t_final) - target||^2 from x0 by RK4."""
    model = model or TwoNeuronModel()
    wt = torch.as_tensor(np.asarray(w), dtype=torch.float64)
    final = simulate(wt, torch.tensor(model.x0), model.n_steps, model.dt)[:, 0]
    return (0.5 * (final - torch.tensor(model.target, dtype=torch.float64)).pow(2).sum(-1)).numpy()


@dataclass
class DynamicRegimes:
    """What the dynamics from x0 do, per network: the regime (REGIMES or UNDETERMINED), the end
    state, the cycle's period (NaN if none), and the fixed points found (all, stable)."""

    regimes: np.ndarray
    end_states: np.ndarray
    periods: np.ndarray
    fixed_points: np.ndarray
    stable_fixed_points: np.ndarray


def dynamic_regimes(
    w: np.ndarray,
    model: TwoNeuronModel | None = None,
    t_total: float = 200.0,
    t_tail: float = 80.0,
    sample_dt: float = 0.05,
    match_tol: float = 1e-3,
    chunk: int = 2000,
) -> DynamicRegimes:
    """Regimes from the dynamics: run from the model's x0 to t_total (far past t_final) and
    detect a cycle in the last t_tail. Otherwise (in the plane a bounded orbit that does not
    cycle converges to a fixed point) the fixed point nearest the end state decides, if it is
    stable and the orbit is closing in on it (within match_tol, or nearer at the end of the tail
    than at its start): the origin gives stable_origin, another fixed_point. Anything else is
    undetermined."""
    model = model or TwoNeuronModel()
    wt = torch.as_tensor(np.asarray(w), dtype=torch.float64)
    parts = [
        _dynamic_regimes(wt[i : i + chunk], model, t_total, t_tail, sample_dt, match_tol)
        for i in range(0, len(wt), chunk)
    ]
    merged = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(parts[0])}
    return DynamicRegimes(**merged)


def _dynamic_regimes(w, model, t_total, t_tail, sample_dt, match_tol) -> DynamicRegimes:
    x0 = torch.tensor(model.x0, dtype=torch.float64).expand(len(w), 1, 2)
    tail = two_neuron_tail(w, x0, t_total, t_tail, model.dt, sample_dt)[:, 0]
    cycles = detect_cycles(tail, closing_tol=2e-3)
    start, end = tail[:, 0], tail[:, -1]
    point_sets = find_two_neuron_fixed_points(w)
    regimes = np.full(len(w), UNDETERMINED, dtype=object)
    for k, points in enumerate(point_sets):
        if cycles.on_cycle[k]:
            regimes[k] = "limit_cycle"
            continue
        fixed = points.fixed
        if not fixed.any():
            continue
        distance = np.linalg.norm(points.states[fixed] - end[k], axis=-1)
        nearest = int(distance.argmin())
        target = points.states[fixed][nearest]
        arrived = distance[nearest] < match_tol
        closing_in = distance[nearest] < np.linalg.norm(start[k] - target)
        if points.stable[fixed][nearest] and (arrived or closing_in):
            at_origin = np.linalg.norm(target) < match_tol
            regimes[k] = "stable_origin" if at_origin else "fixed_point"
    return DynamicRegimes(
        regimes=regimes.astype(str),
        end_states=end,
        periods=cycles.period * sample_dt,
        fixed_points=np.array([int(p.fixed.sum()) for p in point_sets]),
        stable_fixed_points=np.array([int((p.fixed & p.stable).sum()) for p in point_sets]),
    )


def regime_counts(regimes: np.ndarray) -> dict[str, int]:
    """Counts per regime in REGIMES order (other labels, such as UNDETERMINED, are not listed)."""
    return {name: int(np.sum(regimes == name)) for name in REGIMES}


def regime_summary(w: np.ndarray, model: TwoNeuronModel | None = None) -> dict:
    """n, how many reach the target (loss < model.solved_loss, from x0 to t_final by RK4), and
    the eigenvalue-rule regime counts among the solved networks and among all of them."""
    model = model or TwoNeuronModel()
    w = np.asarray(w, dtype=np.float64)
    solved = final_losses(w, model) < model.solved_loss
    regimes = eigenvalue_regimes(w)
    return {
        "n": len(w),
        "solved": int(solved.sum()),
        "regimes_solved": regime_counts(regimes[solved]),
        "regimes_all": regime_counts(regimes),
    }
