"""Node-link JSON for reduced graphs: nodes {id, output}, edges {source, target, edge_type}."""

from __future__ import annotations

from typing import Any

import networkx as nx


class GraphFormatError(ValueError):
    """Node-link data that is not a reduced graph; the message says what is wrong."""


def to_node_link(graph: nx.DiGraph) -> dict[str, Any]:
    """The graph as node-link data, nodes and edges sorted by id (node 0 is the start)."""
    return {
        "directed": True,
        "nodes": [{"id": int(n), "output": int(graph.nodes[n]["output"])} for n in sorted(graph)],
        "edges": [
            {"source": int(u), "target": int(v), "edge_type": int(t)}
            for u, v, t in sorted(graph.edges(data="edge_type"))
        ],
    }


def from_node_link(data: dict[str, Any]) -> nx.DiGraph:
    """The graph from node-link data (outputs may be written as floats, as the paper did)."""
    try:
        graph = nx.DiGraph()
        for node in data["nodes"]:
            graph.add_node(int(node["id"]), output=round(float(node["output"])))
        for edge in data["edges"]:
            source, target = int(edge["source"]), int(edge["target"])
            if source not in graph or target not in graph:
                raise GraphFormatError(f"edge {source}->{target} joins an unknown node")
            graph.add_edge(source, target, edge_type=int(edge["edge_type"]))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, GraphFormatError):
            raise
        raise GraphFormatError(f"not a node-link reduced graph: {exc!r}") from exc
    return graph
