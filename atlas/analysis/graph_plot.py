"""A reduced-dynamics graph as an SVG picture: nodes coloured by output, edges by input type.

Drawn with matplotlib's object API on an SVG canvas (no pyplot state), so it is safe inside
a web worker.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import matplotlib
import networkx as nx
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

START = 0
OUTPUT_COLOURS = {-1: "#c2185b", 0: "#bdbdbd", 1: "#388e3c"}
OTHER_OUTPUT = "#ffb300"
AUTONOMOUS_COLOUR = "#212121"
INPUT_COLOURS = ("#1e88e5", "#f4511e", "#8e24aa", "#00897b", "#fdd835", "#6d4c41")
START_RING = "#d50000"


def _edge_colours(edge_types: list[int]) -> dict[int, str]:
    inputs = sorted(t for t in set(edge_types) if t != 0)
    colours = {t: INPUT_COLOURS[i % len(INPUT_COLOURS)] for i, t in enumerate(inputs)}
    return {0: AUTONOMOUS_COLOUR, **colours}


def graph_svg(
    graph: nx.DiGraph, edge_names: Mapping[int, str] | None = None, title: str | None = None
) -> str:
    """SVG of a graph with node attribute `output` and edge attribute `edge_type`.

    `edge_names` labels the input types in the legend (e.g. {2: "set"}); node 0, the start
    state, is ringed and labelled "start".
    """
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        return _draw(graph, {0: "autonomous", **(edge_names or {})}, title)


def _draw(graph: nx.DiGraph, names: Mapping[int, str], title: str | None) -> str:
    figure = Figure(figsize=(5.5, 4.5))
    FigureCanvasSVG(figure)
    axes = figure.add_subplot()
    axes.set_axis_off()
    if title:
        axes.set_title(title)
    layout = nx.kamada_kawai_layout(graph) if len(graph) > 1 else {n: (0.0, 0.0) for n in graph}
    outputs = dict(graph.nodes(data="output"))
    edge_types = [t for _, _, t in graph.edges(data="edge_type")]
    colours = _edge_colours(edge_types)
    nx.draw_networkx_nodes(
        graph,
        layout,
        ax=axes,
        node_color=[OUTPUT_COLOURS.get(outputs[n], OTHER_OUTPUT) for n in graph],
        edgecolors=[START_RING if n == START else "black" for n in graph],
        linewidths=[3.0 if n == START else 1.0 for n in graph],
        node_size=600,
    )
    nx.draw_networkx_labels(
        graph,
        layout,
        ax=axes,
        labels={n: "start" if n == START else str(n) for n in graph},
        font_size=8,
    )
    nx.draw_networkx_edges(
        graph,
        layout,
        ax=axes,
        edge_color=[colours[t] for t in edge_types],
        width=2.0,
        arrowsize=14,
        node_size=600,
        connectionstyle="arc3,rad=0.15",
    )
    handles = [
        Line2D([], [], color=colours[t], lw=2, label=names.get(t, f"input {t}"))
        for t in sorted(colours)
        if t in edge_types
    ]
    handles += [
        Patch(facecolor=OUTPUT_COLOURS.get(o, OTHER_OUTPUT), edgecolor="black", label=f"output {o}")
        for o in sorted(set(outputs.values()))
    ]
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    return buffer.getvalue()
