"""Small SVG charts written as text for the pages (a loss curve): no plotting library, no
extra request, and readable by assistive technology through their title and description."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 420, 180
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 34


def loss_curve_svg(values: Sequence[float | None], title: str) -> str | None:
    """The loss per epoch on a log scale, with decade ticks; None when there is no curve."""
    points = [(i, v) for i, v in enumerate(values) if v is not None and v > 0 and math.isfinite(v)]
    if len(points) < 2:
        return None
    logs = [math.log10(v) for _, v in points]
    low, high = math.floor(min(logs)), math.ceil(max(logs))
    if high == low:
        high = low + 1
    last = points[-1][0] or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + plot_w * i / last

    def y(log: float) -> float:
        return TOP + plot_h * (high - log) / (high - low)

    path = " ".join(f"{x(i):.1f},{y(lg):.1f}" for (i, _), lg in zip(points, logs, strict=True))
    ticks = []
    for decade in range(low, high + 1):
        ticks.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(decade):.1f}" y2="{y(decade):.1f}" '
            'stroke="#d0d0d0"/>'
            f'<text x="{LEFT - 6}" y="{y(decade) + 4:.1f}" text-anchor="end">1e{decade}</text>'
        )
    first, final = points[0][1], points[-1][1]
    lowest = min(v for _, v in points)
    description = f"{len(values)} epochs; loss from {first:.3g} to {final:.3g}, lowest {lowest:.3g}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="loss" role="img" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" aria-labelledby="loss-title loss-desc" '
        'font-family="sans-serif" font-size="11" fill="#1a1a1a">'
        f'<title id="loss-title">{escape(title)}</title>'
        f'<desc id="loss-desc">{escape(description)}</desc>'
        f"{''.join(ticks)}"
        f'<polyline points="{path}" fill="none" stroke="#0b57d0" stroke-width="1.8"/>'
        f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"epoch (0 to {last})</text>"
        f'<text x="14" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2:.0f})">training loss</text>'
        "</svg>"
    )
