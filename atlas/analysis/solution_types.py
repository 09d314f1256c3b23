"""Solution types: classes of compact reduced-dynamics graphs.

Two networks of one task share a type when their compact graphs are isomorphic with equal
node output labels, equal edge types and the start state (node 0) matched to the start state.
A Weisfeiler-Lehman hash over those labels indexes the types (isomorphic graphs always share
it); exact isomorphism decides within a hash bucket, since different graphs may collide.

Type names: `<task>-<first 8 hex digits of the hash>`, with `-2`, `-3`, ... for further types
whose hash collides with an earlier one. A name derived from the graph's canonical labels,
rather than an ordinal by arrival, stays the same whichever networks arrive first and in
whichever atlas (only a hash collision, which is rare, depends on arrival order).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import networkx as nx

START = 0
HASH_ITERATIONS = 3
HASH_DIGITS = 16
NAME_DIGITS = 8
COVERAGE_THRESHOLD = 0.025
"""The paper keeps types holding at least 10 of 400 networks (2.5%)."""


def _labelled(graph: nx.DiGraph) -> nx.DiGraph:
    """A copy whose node labels are output and start flag, edge labels the edge type."""
    labelled = nx.DiGraph()
    labelled.add_nodes_from(
        (node, {"label": f"{int(output)}{'*' if node == START else ''}"})
        for node, output in graph.nodes(data="output")
    )
    labelled.add_edges_from(
        (u, v, {"label": str(int(t))}) for u, v, t in graph.edges(data="edge_type")
    )
    return labelled


def canonical_hash(graph: nx.DiGraph) -> str:
    """Weisfeiler-Lehman hash over output labels, edge types and the start mark.

    networkx 3.5 changed (fixed) the hash of directed graphs to follow in- and out-edges
    separately and warns about it on every call; the project requires networkx >= 3.5, so type
    names derived from the hash stay the same across installs.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The hashes produced for directed graphs")
        return nx.weisfeiler_lehman_graph_hash(
            _labelled(graph),
            node_attr="label",
            edge_attr="label",
            iterations=HASH_ITERATIONS,
            digest_size=HASH_DIGITS,
        )


def _same_node(a: dict, b: dict) -> bool:
    return a["label"] == b["label"]


def same_type(first: nx.DiGraph, second: nx.DiGraph) -> bool:
    """Whether two compact graphs are one solution type (node ids do not matter)."""
    return nx.is_isomorphic(
        _labelled(first), _labelled(second), node_match=_same_node, edge_match=_same_node
    )


def assign_types(graphs: Sequence[nx.DiGraph]) -> list[int]:
    """The type index of each graph: types numbered in order of first appearance."""
    buckets: dict[str, list[int]] = {}
    representatives: list[nx.DiGraph] = []
    assigned = []
    for graph in graphs:
        bucket = buckets.setdefault(canonical_hash(graph), [])
        match = next((t for t in bucket if same_type(graph, representatives[t])), None)
        if match is None:
            match = len(representatives)
            representatives.append(graph)
            bucket.append(match)
        assigned.append(match)
    return assigned


def coverage(type_sizes: Sequence[int], threshold: float = COVERAGE_THRESHOLD) -> float:
    """Share of networks in types holding at least `threshold` of all the networks."""
    total = sum(type_sizes)
    if total == 0:
        return 0.0
    return sum(size for size in type_sizes if size >= threshold * total) / total


def type_name(prefix: str, graph: nx.DiGraph, taken: Sequence[str] = ()) -> str:
    """The stable name of a graph's type under `prefix` (the task, or task.variant); `taken`
    are the names of the task's other types (a collision of hashes between different types
    gets the next free suffix)."""
    base = f"{prefix}-{canonical_hash(graph)[:NAME_DIGITS]}"
    name, suffix = base, 1
    while name in taken:
        suffix += 1
        name = f"{base}-{suffix}"
    return name
