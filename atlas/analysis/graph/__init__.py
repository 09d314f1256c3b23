"""Reduced-dynamics graphs: laces, input events, merging, output labels and compaction."""

from atlas.analysis.graph.builder import ReducedGraph, build_graph, build_graphs
from atlas.analysis.graph.compaction import compact
from atlas.analysis.graph.node_link import GraphFormatError, from_node_link, to_node_link

__all__ = [
    "GraphFormatError",
    "ReducedGraph",
    "build_graph",
    "build_graphs",
    "compact",
    "from_node_link",
    "to_node_link",
]
