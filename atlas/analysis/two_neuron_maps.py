"""Regime maps of the two-neuron study: where in the space of *initial* W each final regime
comes from, as PNG bytes (matplotlib's object API and Agg canvas: no pyplot state, thread-safe).

- `trace_determinant`: the initial W's trace against its determinant, the plane in which the
  eigenvalue rule draws its boundaries (complex eigenvalues above the parabola det = tr^2 / 4);
- `off_diagonal`: the slice of W space spanned by the two cross weights W12 and W21, which set
  whether the pair rotates (W12 * W21 < 0) or reinforces itself.
Networks that did not solve the task are drawn in grey beneath the others.
"""

from __future__ import annotations

import numpy as np

from atlas.analysis.plots_extrapolation import new_axes, png_bytes
from atlas.analysis.two_neuron_regimes import REGIMES

COLOURS = {"limit_cycle": "C0", "fixed_point": "C1", "stable_origin": "C2"}
UNSOLVED = "0.8"


def _scatter(axes, x: np.ndarray, y: np.ndarray, regimes: np.ndarray, solved: np.ndarray) -> float:
    """The networks as dots coloured by regime; returns the dot size (for the legend)."""
    size = max(1.0, 2000 / max(len(x), 1))
    axes.scatter(x[~solved], y[~solved], s=size, color=UNSOLVED, label="not solved", lw=0)
    for regime in REGIMES:
        chosen = solved & (regimes == regime)
        label = f"{regime.replace('_', ' ')} ({int(chosen.sum())})"
        axes.scatter(x[chosen], y[chosen], s=size, color=COLOURS[regime], label=label, lw=0)
    return size


def _legend(axes, size: float) -> None:
    axes.legend(loc="best", fontsize="small", markerscale=max(1.0, 6 / size))


def trace_determinant_map(initial_w: np.ndarray, regimes: np.ndarray, solved: np.ndarray) -> bytes:
    trace = np.trace(initial_w, axis1=1, axis2=2)
    determinant = np.linalg.det(initial_w)
    figure, axes = new_axes((5.5, 4.5))
    size = _scatter(axes, trace, determinant, regimes, solved)
    grid = np.linspace(trace.min(), trace.max(), 200)
    axes.plot(grid, grid**2 / 4, color="0.3", linewidth=1, linestyle="--", label="det = tr²/4")
    _legend(axes, size)
    axes.set_xlabel("trace of initial W")
    axes.set_ylabel("determinant of initial W")
    axes.set_title("final regime by initial W")
    return png_bytes(figure)


def off_diagonal_map(initial_w: np.ndarray, regimes: np.ndarray, solved: np.ndarray) -> bytes:
    figure, axes = new_axes((5, 4.5))
    _legend(axes, _scatter(axes, initial_w[:, 0, 1], initial_w[:, 1, 0], regimes, solved))
    axes.axhline(0, color="0.3", linewidth=0.8)
    axes.axvline(0, color="0.3", linewidth=0.8)
    axes.set_xlabel("initial W12")
    axes.set_ylabel("initial W21")
    axes.set_title("final regime by initial cross weights")
    return png_bytes(figure)


def regime_maps(initial_w: np.ndarray, regimes: np.ndarray, solved: np.ndarray) -> dict[str, bytes]:
    """The study's maps by name: initial W (n, 2, 2), final regimes (n,) in REGIMES, solved
    (n,) booleans."""
    initial_w = np.asarray(initial_w, dtype=np.float64)
    regimes, solved = np.asarray(regimes).astype(str), np.asarray(solved, dtype=bool)
    if initial_w.ndim != 3 or initial_w.shape[1:] != (2, 2):
        raise ValueError(f"initial W must be (n, 2, 2), got {initial_w.shape}")
    if not len(initial_w) == len(regimes) == len(solved):
        raise ValueError("initial W, regimes and solved must have one entry per network")
    return {
        "trace_determinant": trace_determinant_map(initial_w, regimes, solved),
        "off_diagonal": off_diagonal_map(initial_w, regimes, solved),
    }
