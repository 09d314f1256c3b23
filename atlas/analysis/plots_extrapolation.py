"""Pictures of extrapolation and dynamics as PNG bytes.

Figures are built with matplotlib's object API and rendered by its Agg canvas, so no display
and no global pyplot state are involved (safe in worker threads).

- tp(ts) against the training range (`reproduction`);
- decision maps over the probe grid (`delayed`, `interval`), a discrete colour per answer.

State trajectories with fixed points are in atlas.analysis.plots_trajectories.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
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


DECISION_COLOURS = {-1.0: "#2166ac", 0.0: "#ffd54f", 1.0: "#b2182b"}
NO_TRIAL_COLOUR = "#bdbdbd"


def decision_map_plot(signature: Signature, task: TrialTask) -> bytes:
    """The decision sign over the probe grid as PNG bytes (see decision_map_figure)."""
    return png_bytes(decision_map_figure(signature, task))


def decision_map_figure(signature: Signature, task: TrialTask) -> Figure:
    """The decision sign over the probe grid, the training square outlined.

    The map holds -1, +1 (and 0 where the output stayed at zero): one flat colour each, and a
    colour bar with one box per value drawn; cells without a trial (equal values) are grey.
    """
    if "decision_map" not in signature.arrays:
        raise ValueError(f"a {signature.task!r} signature has no decision map; draw tp(ts)")
    axis, grid = signature.arrays["axis"], np.asarray(signature.arrays["decision_map"], float)
    low, high = training_range(task)
    step = float(np.diff(axis).min()) if len(axis) > 1 else 1.0
    extent = (axis[0] - step / 2, axis[-1] + step / 2, axis[0] - step / 2, axis[-1] + step / 2)
    present = [v for v in DECISION_COLOURS if np.any(grid == v)] or [-1.0, 1.0]
    colours = ListedColormap([DECISION_COLOURS[v] for v in present]).with_extremes(
        bad=NO_TRIAL_COLOUR
    )
    ranks = np.full(grid.shape, np.nan)
    for rank, value in enumerate(present):
        ranks[grid == value] = rank
    norm = BoundaryNorm(np.arange(len(present) + 1) - 0.5, len(present))
    figure, axes = new_axes((5, 4.5))
    image = axes.imshow(ranks, origin="lower", extent=extent, cmap=colours, norm=norm)
    axes.add_patch(
        Rectangle((low, low), high - low, high - low, fill=False, edgecolor="k", linewidth=1.5)
    )
    names = task.input_names
    axes.set_xlabel(f"{names[1]} value")
    axes.set_ylabel(f"{names[0]} value")
    bar = figure.colorbar(image, ax=axes, ticks=range(len(present)))
    bar.set_ticklabels([f"{int(v):+d}" if v else "0" for v in present])
    bar.set_label("decision (sign of output)")
    if np.isnan(grid).any():
        axes.set_title("grey: no trial (equal values); box: training range", fontsize="small")
    return figure
