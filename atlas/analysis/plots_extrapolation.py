"""Pictures of extrapolation and dynamics as PNG bytes.

Figures are built with matplotlib's object API and rendered by its Agg canvas, so no display
and no global pyplot state are involved (safe in worker threads).

- tp(ts) against the training range (`reproduction`);
- decision maps over the probe grid (`delayed`, `interval`);
- state trajectories in their top-2 PCA plane with fixed points marked by stability.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from atlas.analysis.extrapolation import Signature
from atlas.tasks import TrialTask


def new_axes(size: tuple[float, float]):
    figure = Figure(figsize=size)
    return figure, figure.subplots()


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def training_range(task: TrialTask) -> tuple[float, float]:
    """The range of the trained variable (ts, f or t) the probes extend."""
    for low, high in (("ts_min", "ts_max"), ("f_min", "f_max"), ("t_min", "t_max")):
        if hasattr(task, low):
            return float(getattr(task, low)), float(getattr(task, high))
    raise ValueError(f"task {task.name!r} declares no training range")


def tp_plot(signature: Signature, task: TrialTask) -> bytes:
    """Produced interval tp against ts, the identity line and the training range shaded."""
    if "tp" not in signature.arrays:
        raise ValueError(f"a {signature.task!r} signature has no tp(ts); draw its decision map")
    ts, tp = signature.arrays["ts"], signature.arrays["tp"]
    low, high = training_range(task)
    figure, axes = new_axes((5, 4))
    axes.axvspan(low, high, color="0.9", label="training range")
    axes.plot(ts, ts, color="0.5", linestyle="--", linewidth=1, label="tp = ts")
    axes.plot(ts, tp, ".", color="C0", label="produced tp")
    missing = ~np.isfinite(tp)
    if missing.any():
        axes.plot(ts[missing], np.zeros(missing.sum()), "x", color="C3", label="no Go")
    axes.set_xlabel("ts (steps)")
    axes.set_ylabel("tp (steps)")
    axes.legend(loc="upper left", fontsize="small")
    return png_bytes(figure)


def decision_map_plot(signature: Signature, task: TrialTask) -> bytes:
    """The decision sign over the probe grid, the training square outlined."""
    if "decision_map" not in signature.arrays:
        raise ValueError(f"a {signature.task!r} signature has no decision map; draw tp(ts)")
    axis, grid = signature.arrays["axis"], signature.arrays["decision_map"]
    low, high = training_range(task)
    step = float(np.diff(axis).min()) if len(axis) > 1 else 1.0
    extent = (axis[0] - step / 2, axis[-1] + step / 2, axis[0] - step / 2, axis[-1] + step / 2)
    figure, axes = new_axes((5, 4.5))
    image = axes.imshow(grid, origin="lower", extent=extent, cmap="coolwarm", vmin=-1, vmax=1)
    axes.add_patch(
        Rectangle((low, low), high - low, high - low, fill=False, edgecolor="k", linewidth=1.5)
    )
    names = task.input_names
    axes.set_xlabel(f"{names[1]} value")
    axes.set_ylabel(f"{names[0]} value")
    figure.colorbar(image, ax=axes, label="decision (sign of output)")
    return png_bytes(figure)


def trajectory_plot(
    states: np.ndarray,
    fixed_states: np.ndarray | None = None,
    fixed_stable: Sequence[bool] | None = None,
) -> bytes:
    """Trajectories (B, T, S) in their top-2 PCA plane; fixed points (P, S) projected on the
    same plane, filled when stable, open when not."""
    flat = states.reshape(-1, states.shape[-1])
    centre = flat.mean(axis=0)
    _, _, basis = np.linalg.svd(flat - centre, full_matrices=False)
    plane = basis[:2].T
    figure, axes = new_axes((5, 5))
    colours = colormaps["viridis"](np.linspace(0, 1, len(states)))
    for trajectory, colour in zip(states, colours, strict=True):
        xy = (trajectory - centre) @ plane
        axes.plot(xy[:, 0], xy[:, 1], color=colour, linewidth=0.8, alpha=0.8)
    if fixed_states is not None and len(fixed_states):
        xy = (np.asarray(fixed_states) - centre) @ plane
        stable = np.asarray(fixed_stable, dtype=bool)
        axes.scatter(*xy[stable].T, s=60, color="k", zorder=3, label="stable")
        axes.scatter(
            *xy[~stable].T, s=60, facecolors="none", edgecolors="k", zorder=3, label="unstable"
        )
        axes.legend(loc="best", fontsize="small")
    axes.set_xlabel("PC 1")
    axes.set_ylabel("PC 2")
    return png_bytes(figure)
