"""Validation-set state trajectories in their top-2 PCA plane, with fixed points, as PNG bytes.

Each trial is its own line (coloured by a trial variable, with a colour bar naming it), the
axes say how much of the states' variance each component explains, and the fixed points are
drawn per input condition (colour: condition, filled: stable, open: unstable), so that the
legend names only what is drawn and says which input each point belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from atlas.analysis.plots_extrapolation import png_bytes

CONDITION_COLOURS = ("#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
TRIAL_COLOURMAP = "viridis"


@dataclass(frozen=True)
class FixedPointGroup:
    """The fixed points found under one constant input: `condition` is its label (`zero`,
    `f1=4`, ...), states (P, S), stable (P,)."""

    condition: str
    states: np.ndarray
    stable: np.ndarray

    def describe(self) -> str:
        return "zero input" if self.condition == "zero" else f"input {self.condition}"


@dataclass(frozen=True)
class StatePlane:
    """The top-2 principal plane of a set of states: centre (S,), basis (S, 2), and the
    share of the variance each of the two components explains."""

    centre: np.ndarray
    basis: np.ndarray
    explained: tuple[float, float]

    @classmethod
    def fit(cls, flat: np.ndarray) -> StatePlane:
        centre = flat.mean(axis=0)
        _, singular, rows = np.linalg.svd(flat - centre, full_matrices=False)
        variance = singular**2
        total = float(variance.sum()) or 1.0
        shares = [float(v / total) for v in variance[:2]] + [0.0, 0.0]
        basis = rows[:2].T
        if basis.shape[1] < 2:
            basis = np.pad(basis, ((0, 0), (0, 2 - basis.shape[1])))
        return cls(centre, basis, (shares[0], shares[1]))

    def project(self, states: np.ndarray) -> np.ndarray:
        return (np.asarray(states) - self.centre) @ self.basis


def trajectory_plot(
    states: np.ndarray,
    fixed: Sequence[FixedPointGroup] = (),
    colour_by: tuple[str, np.ndarray] | None = None,
) -> bytes:
    """PNG bytes of trajectory_figure."""
    return png_bytes(trajectory_figure(states, fixed, colour_by))


def trajectory_figure(
    states: np.ndarray,
    fixed: Sequence[FixedPointGroup] = (),
    colour_by: tuple[str, np.ndarray] | None = None,
) -> Figure:
    """Trajectories (B, T, S), one line per trial, in their top-2 PCA plane; `fixed` point
    groups projected on the same plane; trials coloured by `colour_by` = (name, values (B,))."""
    states = np.asarray(states, dtype=np.float64)
    plane = StatePlane.fit(states.reshape(-1, states.shape[-1]))
    drawn = [g for g in fixed if len(g.states)]
    figure = Figure(figsize=(6.4, 5.6 + 0.22 * ((len(drawn) + 5) // 2)), layout="constrained")
    axes = figure.subplots()
    values = None if colour_by is None else np.asarray(colour_by[1], dtype=np.float64)
    if values is not None and len(values) != len(states):
        raise ValueError(f"colour_by has {len(values)} values for {len(states)} trials")
    norm = Normalize(*(np.nanmin(values), np.nanmax(values))) if values is not None else None
    colourmap = colormaps[TRIAL_COLOURMAP]
    for index, trajectory in enumerate(states):
        colour = colourmap(norm(values[index])) if values is not None else "0.35"
        xy = plane.project(trajectory)
        axes.plot(xy[:, 0], xy[:, 1], color=colour, linewidth=0.7, alpha=0.7)
        axes.plot(*xy[-1], "o", color=colour, markersize=2.5)
    start = plane.project(states[:, 0]).mean(axis=0)
    axes.plot(*start, "k^", markersize=8, zorder=4)
    handles = [Line2D([], [], color="k", marker="^", linestyle="none", label="trial start")]
    handles += [Line2D([], [], color="0.35", marker="o", markersize=3, lw=0.7, label="trial end")]
    handles += _draw_fixed_points(axes, plane, drawn)
    figure.legend(handles=handles, loc="outside lower center", ncols=2, fontsize="small")
    if values is not None:
        bar = figure.colorbar(ScalarMappable(norm=norm, cmap=colourmap), ax=axes)
        bar.set_label(f"trial {colour_by[0]}")
    first, second = plane.explained
    axes.set_xlabel(f"PC 1 ({100 * first:.1f}% of variance)")
    axes.set_ylabel(f"PC 2 ({100 * second:.1f}% of variance)")
    title = f"{len(states)} validation trials"
    if drawn:
        title += "; fixed points by input condition"
    axes.set_title(title, fontsize="medium")
    return figure


def _draw_fixed_points(axes, plane: StatePlane, fixed: Sequence[FixedPointGroup]) -> list:
    """Scatter each group's points in its own colour; legend handles for what was drawn."""
    handles = []
    kinds = set()
    many = colormaps["tab20"].colors
    palette = CONDITION_COLOURS if len(fixed) <= len(CONDITION_COLOURS) else many
    for index, group in enumerate(fixed):
        colour = palette[index % len(palette)]
        xy = plane.project(group.states)
        stable = np.asarray(group.stable, dtype=bool)
        if stable.any():
            axes.scatter(*xy[stable].T, s=70, color=colour, edgecolors="k", zorder=5)
            kinds.add("stable")
        if (~stable).any():
            axes.scatter(
                *xy[~stable].T, s=70, facecolors="white", edgecolors=colour, lw=2, zorder=5
            )
            kinds.add("unstable")
        counts = f"{int(stable.sum())} stable, {int((~stable).sum())} unstable"
        label = f"{group.describe()}: {counts}"
        handles.append(Line2D([], [], color=colour, marker="o", linestyle="none", label=label))
    if "stable" in kinds:
        handles.append(_kind_handle("k", "stable (filled)"))
    if "unstable" in kinds:
        handles.append(_kind_handle("white", "unstable (open)"))
    return handles


def _kind_handle(face: str, label: str) -> Line2D:
    return Line2D(
        [], [], marker="o", linestyle="none", markerfacecolor=face, markeredgecolor="k", label=label
    )
