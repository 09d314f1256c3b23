"""A reduced-dynamics graph as an SVG picture: nodes coloured by output, edges by input type.

Written as SVG text directly (no plotting library): the layout is layered, so no two nodes can
overlap; every edge is drawn, self-loops (a state an input leaves where it was) as loops above
their node; each node and edge carries a `<title>` and data attributes, so that a page that
inlines the picture can highlight a node's edges on hover. `id_prefix` keeps the ids
of several pictures inlined in one page apart.

Layout: node 0 (the start state) on the first row; every other node on the row of its shortest
directed distance from it (nodes it cannot reach below, by undirected distance); within a row,
ordered by the mean column of their predecessors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape

import networkx as nx

START = 0
OUTPUT_COLOURS = {-1: "#c2185b", 0: "#bdbdbd", 1: "#388e3c"}
OTHER_OUTPUT = "#ffb300"
AUTONOMOUS_COLOUR = "#212121"
INPUT_COLOURS = ("#1e88e5", "#f4511e", "#8e24aa", "#00897b", "#b8860b", "#6d4c41")
START_RING = "#d50000"

RADIUS = 18.0
COLUMN_GAP = 92.0
ROW_GAP = 96.0
LOOP_REACH = 2.2 * RADIUS
MARGIN = 30.0 + LOOP_REACH
LEGEND_WIDTH = 150.0
TITLE_HEIGHT = 28.0
TITLE_CHAR = 7.5
LEGEND_TOP = 30.0


@dataclass(frozen=True)
class Point:
    x: float
    y: float


def _edge_colours(edge_types: list[int]) -> dict[int, str]:
    inputs = sorted(t for t in set(edge_types) if t != 0)
    colours = {t: INPUT_COLOURS[i % len(INPUT_COLOURS)] for i, t in enumerate(inputs)}
    return {0: AUTONOMOUS_COLOUR, **colours}


def layered_layout(graph: nx.DiGraph) -> dict[int, tuple[int, int]]:
    """(row, column) per node: rows by distance from the start, distinct cells by design."""
    if not len(graph):
        return {}
    root = START if START in graph else min(graph)
    rows = dict(nx.single_source_shortest_path_length(graph, root))
    undirected = graph.to_undirected(as_view=True)
    for node in sorted(graph):
        if node not in rows:
            reach = nx.single_source_shortest_path_length(undirected, node)
            placed = [rows[n] + d for n, d in reach.items() if n in rows]
            rows[node] = min(placed) if placed else max(rows.values()) + 1
    by_row: dict[int, list[int]] = {}
    for node in sorted(rows, key=lambda n: (rows[n], n)):
        by_row.setdefault(rows[node], []).append(node)
    column: dict[int, float] = {}
    cells = {}
    for row in sorted(by_row):
        nodes = by_row[row]

        def order(node: int, row: int = row) -> tuple[float, int]:
            parents = [column[p] for p in graph.predecessors(node) if p in column and p != node]
            return (sum(parents) / len(parents) if parents else math.inf, node)

        for index, node in enumerate(sorted(nodes, key=order)):
            column[node] = index - (len(nodes) - 1) / 2
            cells[node] = (row, index)
    return cells


def graph_svg(
    graph: nx.DiGraph,
    edge_names: Mapping[int, str] | None = None,
    title: str | None = None,
    id_prefix: str = "g",
) -> str:
    """SVG of a graph with node attribute `output` and edge attribute `edge_type`.

    `edge_names` labels the input types in the legend (e.g. {2: "set"}); node 0, the start
    state, is ringed and labelled "start".
    """
    names = {0: "autonomous", **(edge_names or {})}
    edge_types = [t for _, _, t in graph.edges(data="edge_type")]
    outputs = dict(graph.nodes(data="output"))
    cells = layered_layout(graph)
    widest = max(
        (sum(1 for c in cells.values() if c[0] == r) for r, _ in cells.values()), default=1
    )
    rows = 1 + max((r for r, _ in cells.values()), default=0)
    plot_width = max(widest - 1, 0) * COLUMN_GAP + 2 * MARGIN + 2 * RADIUS
    width = max(plot_width + LEGEND_WIDTH, len(title or "") * TITLE_CHAR + 16)
    top = (TITLE_HEIGHT if title else 8.0) + RADIUS + 12
    legend_rows = len(set(edge_types)) + len(set(outputs.values()))
    height = max(top + (rows - 1) * ROW_GAP + RADIUS + 16, LEGEND_TOP + 18 * legend_rows)
    centres = {}
    for node, (row, index) in cells.items():
        in_row = sum(1 for r, _ in cells.values() if r == row)
        offset = (index - (in_row - 1) / 2) * COLUMN_GAP
        centres[node] = Point(plot_width / 2 + offset, top + row * ROW_GAP)
    colours = _edge_colours(edge_types)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'aria-labelledby="{id_prefix}-title {id_prefix}-desc">',
        f'<title id="{id_prefix}-title">{escape(title or "reduced-dynamics graph")}</title>',
        f'<desc id="{id_prefix}-desc">{escape(_description(graph, names))}</desc>',
        _markers(colours, id_prefix),
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    if title:
        parts.append(
            f'<text x="8" y="19" font-size="14" font-family="sans-serif">{escape(title)}</text>'
        )
    for source, target, edge_type in sorted(graph.edges(data="edge_type")):
        parts.append(
            _edge(
                graph,
                centres,
                (source, target, edge_type),
                colours[edge_type],
                names,
                id_prefix,
                plot_width / 2,
            )
        )
    for node in sorted(graph):
        parts.append(_node(graph, node, centres[node], outputs[node]))
    parts.append(_legend(plot_width, colours, edge_types, outputs, names))
    parts.append("</svg>")
    return "\n".join(parts)


def _description(graph: nx.DiGraph, names: Mapping[int, str]) -> str:
    nodes = ", ".join(
        f"{'start' if n == START else f'node {n}'} (output {o})"
        for n, o in sorted(graph.nodes(data="output"))
    )
    edges = "; ".join(
        f"{s} to {t} by {names.get(e, f'input {e}')}"
        for s, t, e in sorted(graph.edges(data="edge_type"))
    )
    return f"{len(graph)} nodes: {nodes}. {graph.number_of_edges()} edges: {edges}."


def _markers(colours: Mapping[int, str], prefix: str) -> str:
    markers = [
        f'<marker id="{prefix}-arrow-{t if t >= 0 else f"m{-t}"}" viewBox="0 0 10 10" refX="9" '
        f'refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        for t, colour in sorted(colours.items())
    ]
    return f"<defs>{''.join(markers)}</defs>"


def _edge(
    graph: nx.DiGraph,
    centres: Mapping[int, Point],
    edge: tuple[int, int, int],
    colour: str,
    names: Mapping[int, str],
    prefix: str,
    middle: float,
) -> str:
    source, target, edge_type = edge
    name = names.get(edge_type, f"input {edge_type}")
    marker = f"{prefix}-arrow-{edge_type if edge_type >= 0 else f'm{-edge_type}'}"
    if source == target:
        path = _self_loop(centres[source], -1.0 if centres[source].x < middle else 1.0)
        label = f"{name}: {_node_name(source)} stays at itself"
    else:
        bend = _bend(graph, centres, source, target)
        path = _arc(centres[source], centres[target], bend)
        label = f"{name}: {_node_name(source)} to {_node_name(target)}"
    return (
        f'<path class="edge" data-source="{source}" data-target="{target}" '
        f'data-edge-type="{edge_type}" d="{path}" fill="none" stroke="{colour}" '
        f'stroke-width="2.2" marker-end="url(#{marker})"><title>{escape(label)}</title></path>'
    )


def _node_name(node: int) -> str:
    return "start" if node == START else f"node {node}"


def _bend(graph: nx.DiGraph, centres: Mapping[int, Point], source: int, target: int) -> float:
    """Sideways offset of an edge's middle, as a share of its length: apart from its reverse,
    and around the nodes it would otherwise cross (same row, or rows skipped)."""
    a, b = centres[source], centres[target]
    rows_apart = abs(b.y - a.y) / ROW_GAP
    crosses = any(_near_segment(centres[n], a, b) for n in graph if n not in (source, target))
    if graph.has_edge(target, source) or crosses or rows_apart > 1.5 or rows_apart < 0.5:
        return 0.22 if crosses or rows_apart != 1 else 0.15
    return 0.0


def _near_segment(p: Point, a: Point, b: Point) -> bool:
    dx, dy = b.x - a.x, b.y - a.y
    length2 = dx * dx + dy * dy or 1.0
    t = max(0.0, min(1.0, ((p.x - a.x) * dx + (p.y - a.y) * dy) / length2))
    return math.hypot(a.x + t * dx - p.x, a.y + t * dy - p.y) < 1.6 * RADIUS


def _arc(a: Point, b: Point, bend: float) -> str:
    """A quadratic curve from a's border to b's border, its middle pushed `bend` x length to
    the left of the direction a -> b (so an edge and its reverse separate)."""
    dx, dy = b.x - a.x, b.y - a.y
    length = math.hypot(dx, dy) or 1.0
    control = Point(
        (a.x + b.x) / 2 - dy / length * bend * length, (a.y + b.y) / 2 + dx / length * bend * length
    )
    start = _towards(a, control, RADIUS)
    end = _towards(b, control, RADIUS + 1.5)
    return f"M{start.x:.1f},{start.y:.1f} Q{control.x:.1f},{control.y:.1f} {end.x:.1f},{end.y:.1f}"


def _towards(centre: Point, other: Point, distance: float) -> Point:
    dx, dy = other.x - centre.x, other.y - centre.y
    length = math.hypot(dx, dy) or 1.0
    return Point(centre.x + dx / length * distance, centre.y + dy / length * distance)


def _self_loop(c: Point, side: float) -> str:
    """A loop leaving the node's upper flank and returning at its lower flank, on the side
    (`side` -1 left, +1 right) away from the picture's middle, where edges between rows run."""
    angle = math.radians(50)
    start = Point(c.x + side * RADIUS * math.sin(angle), c.y - RADIUS * math.cos(angle))
    end = Point(c.x + side * (RADIUS * math.sin(angle) + 1), c.y + RADIUS * math.cos(angle) + 1)
    reach = c.x + side * (RADIUS + LOOP_REACH)
    return (
        f"M{start.x:.1f},{start.y:.1f} C{reach:.1f},{c.y - 1.9 * RADIUS:.1f} "
        f"{reach:.1f},{c.y + 1.9 * RADIUS:.1f} {end.x:.1f},{end.y:.1f}"
    )


def _node(graph: nx.DiGraph, node: int, c: Point, output: int) -> str:
    fill = OUTPUT_COLOURS.get(output, OTHER_OUTPUT)
    ring, width = (START_RING, 3.5) if node == START else ("#000000", 1.2)
    label = _node_name(node)
    inputs = graph.in_degree(node)
    outputs = graph.out_degree(node)
    text_colour = "#ffffff" if output in (-1, 1) else "#000000"
    tip = f"{label}: output {output}, {inputs} edges in, {outputs} out"
    return (
        f'<g class="node" data-node="{node}"><title>{escape(tip)}</title>'
        f'<circle cx="{c.x:.1f}" cy="{c.y:.1f}" r="{RADIUS}" fill="{fill}" stroke="{ring}" '
        f'stroke-width="{width}"/>'
        f'<text x="{c.x:.1f}" y="{c.y + 4:.1f}" text-anchor="middle" font-size="11" '
        f'font-family="sans-serif" fill="{text_colour}">{"start" if node == START else node}'
        "</text></g>"
    )


def _legend(
    left: float,
    colours: Mapping[int, str],
    edge_types: list[int],
    outputs: Mapping[int, int],
    names: Mapping[int, str],
) -> str:
    rows = []
    y = LEGEND_TOP
    for edge_type in sorted(set(edge_types)):
        rows.append(
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + 24:.1f}" y2="{y:.1f}" '
            f'stroke="{colours[edge_type]}" stroke-width="2.5"/>'
            f'<text x="{left + 30:.1f}" y="{y + 4:.1f}" font-size="11" font-family="sans-serif">'
            f"{escape(names.get(edge_type, f'input {edge_type}'))}</text>"
        )
        y += 18
    for output in sorted(set(outputs.values())):
        rows.append(
            f'<circle cx="{left + 12:.1f}" cy="{y:.1f}" r="6" '
            f'fill="{OUTPUT_COLOURS.get(output, OTHER_OUTPUT)}" stroke="#000000"/>'
            f'<text x="{left + 30:.1f}" y="{y + 4:.1f}" font-size="11" font-family="sans-serif">'
            f"output {output}</text>"
        )
        y += 18
    return f'<g class="legend">{"".join(rows)}</g>'
