"""The paper's chart figure: the share of each solution type per setting, as stacked bars.

Types keep one colour across the settings (the chart's types are shared), largest overall at
the bottom; the chart's rare types are drawn together as one grey segment on top. PNG and SVG
bytes from matplotlib's object API and Agg/SVG canvases (no pyplot state; thread-safe).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib import colormaps
from matplotlib.figure import Figure

from atlas.analysis.chart_summary import TypeBreakdown

RARE_COLOUR = "0.75"
RARE_LABEL = "rare types"
FORMATS = ("png", "svg")


def shares_figure(
    setting_labels: Sequence[str], breakdowns: Sequence[TypeBreakdown], title: str
) -> Figure:
    """One bar per setting, its typed networks split by type (shares add up to 1)."""
    if len(setting_labels) != len(breakdowns):
        raise ValueError("one label per setting is needed")
    totals: dict[str, int] = {}
    for b in breakdowns:
        for t in b.types:
            if not t.rare:
                totals[t.name] = totals.get(t.name, 0) + t.count
    order = sorted(totals, key=lambda name: (-totals[name], name))
    palette = colormaps["tab20"].colors
    figure = Figure(figsize=(max(4.0, 1.2 * len(breakdowns) + 3.5), 4.5))
    axes = figure.subplots()
    x = range(len(breakdowns))
    bottoms = [0.0] * len(breakdowns)
    for i, name in enumerate(order):
        shares = [next((t.share for t in b.types if t.name == name), 0.0) for b in breakdowns]
        axes.bar(x, shares, bottom=bottoms, color=palette[i % len(palette)], label=name)
        bottoms = [low + share for low, share in zip(bottoms, shares, strict=True)]
    rare = [b.rare_share for b in breakdowns]
    if any(rare):
        axes.bar(x, rare, bottom=bottoms, color=RARE_COLOUR, label=RARE_LABEL, hatch="//")
    axes.set_xticks(
        list(x),
        [f"{label}\n(n={b.typed})" for label, b in zip(setting_labels, breakdowns, strict=True)],
    )
    axes.set_ylim(0, 1)
    axes.set_ylabel("share of typed networks")
    axes.set_title(title, fontsize="medium")
    if order or any(rare):
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    return figure


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure as PNG or SVG bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=100, bbox_inches="tight")
    return buffer.getvalue()
