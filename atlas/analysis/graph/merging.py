"""Joining laces into the graph: a new lace that runs into an existing path is cut and joined
there; a new loop that retraces an existing one is folded into it; components whose paths
run together are fused; components whose ends reach the same attractor are joined."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from itertools import pairwise

import networkx as nx
import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from atlas.analysis.graph.lace import Lace
from atlas.analysis.graph.matching import running_together
from atlas.analysis.graph.paths import (
    AUTONOMOUS,
    autonomous_subgraph,
    component_paths,
    contract,
    node_values,
    path_from,
    renamed,
    rings,
    successor_lists,
)

LACE_OUTPUT_TOLERANCE = 0.01
COMPONENT_OUTPUT_TOLERANCE = 0.1
LOOP_LENGTH_RATIO = (0.8, 1.2)
SAME_ATTRACTOR = 1e-3


def attach(
    graph: nx.DiGraph, lace: Lace, parent: Hashable | None, edge_type: int
) -> tuple[nx.DiGraph, int]:
    """Append the lace's nodes under fresh ids, its autonomous edges (and the edge closing its
    loop) and, from `parent`, an edge of `edge_type` to its first node; return the graph and
    the id of that first node."""
    first = max(graph.nodes, default=-1) + 1
    ids = range(first, first + len(lace.states))
    graph.add_nodes_from(
        (node, {"state": s, "output": o})
        for node, s, o in zip(ids, lace.states, lace.outputs, strict=True)
    )
    graph.add_edges_from(pairwise(ids), edge_type=AUTONOMOUS)
    if lace.loops:
        graph.add_edge(ids[-1], first + lace.loop_to, edge_type=AUTONOMOUS)
    if parent is not None:
        graph.add_edge(parent, first, edge_type=edge_type)
    return graph, first


def merge_new_lace(graph: nx.DiGraph, start: Hashable, lace: Lace) -> tuple[nx.DiGraph, Hashable]:
    """Fold the lace that starts at `start` into the graph (a loop or an open run); return
    the graph and the node the lace now starts at."""
    nodes = list(range(start, start + len(lace.states)))
    if lace.loops:
        return _fold_loop(graph, nodes[lace.loop_to :], start)
    return _join_open_lace(graph, nodes, lace)


def _join_open_lace(graph: nx.DiGraph, nodes: list, lace: Lace) -> tuple[nx.DiGraph, Hashable]:
    """Cut the lace where it first runs into an existing path and join it there.

    The path's nodes from there on take the lace's states and outputs (the lace is the
    fresher sample of the same stretch).
    """
    best: tuple[int, list] | None = None
    for paths in component_paths(autonomous_subgraph(graph)):
        for path in paths:
            if path[0] == nodes[0]:
                continue
            point = running_together(
                node_values(graph, path, "state"),
                node_values(graph, path, "output"),
                lace.states,
                lace.outputs,
                LACE_OUTPUT_TOLERANCE,
            )
            if point is not None and (best is None or point[1] < best[0]):
                best = (point[1], path[point[0] :])
    if best is None:
        return graph, nodes[0]
    offset, path = best
    for node, state, output in zip(path, lace.states[offset:], lace.outputs[offset:], strict=False):
        graph.nodes[node].update(state=state, output=output)
    graph.remove_nodes_from(nodes[offset + 1 :])
    graph.remove_edges_from(list(graph.out_edges(nodes[offset])))
    graph = contract(graph, path[0], nodes[offset], self_loops=False)
    return graph, path[0] if offset == 0 else nodes[0]


def separating_margin(a: np.ndarray, b: np.ndarray) -> float:
    """Width of the margin a linear SVM finds between two point sets (0 if they overlap)."""
    points = StandardScaler().fit_transform(np.vstack([a, b]))
    labels = np.r_[np.ones(len(a)), -np.ones(len(b))]
    svm = SVC(kernel="linear", C=100, max_iter=1_000_000).fit(points, labels)
    if svm.score(points, labels) < 1:
        return 0.0
    return float(2 / np.linalg.norm(svm.coef_))


def _fold_loop(graph: nx.DiGraph, loop: list, start: Hashable) -> tuple[nx.DiGraph, Hashable]:
    """Fold a new loop into the graph's other loops of about its length that it cannot be
    told apart from: no linear margin between their states wider than 0.1 (standardised
    units) for loops of 10 states or more, none at all for shorter ones. The matching loop
    with the smallest node id is kept; the new loop and any further matches fold into it,
    each at its nearest state."""
    low, high = LOOP_LENGTH_RATIO
    candidates = sorted(
        (c for c in rings(autonomous_subgraph(graph)) if loop[0] not in c and len(c) > 1),
        key=lambda c: c[0],
    )
    margin = 0.1 if len(loop) >= 10 else 0.0
    loop_states = node_values(graph, loop, "state")
    candidates = [
        c
        for c in candidates
        if low <= len(c) / len(loop) <= high
        and separating_margin(node_values(graph, c, "state"), loop_states) <= margin
    ]
    if not candidates:
        return graph, start
    kept, folded = candidates[0], [loop, *candidates[1:]]
    kept_states = node_values(graph, kept, "state")
    for other in folded:
        nearest = kept[
            int(np.linalg.norm(kept_states - graph.nodes[other[0]]["state"], axis=1).argmin())
        ]
        graph.remove_nodes_from(other[1:])
        graph = contract(graph, nearest, other[0], self_loops=True)
        start = renamed(start, nearest, other[0])
    return graph, start


Laid = list[tuple[list, np.ndarray, np.ndarray]]
"""A component's paths, each with its states and outputs."""


def _lay_out(graph: nx.DiGraph, part: nx.DiGraph) -> Laid:
    return [
        (path, node_values(graph, path, "state"), node_values(graph, path, "output"))
        for path in component_paths(part)[0]
    ]


def _overlap(first: Laid, second: Laid) -> tuple[Hashable, Hashable] | None:
    """Nodes (in first, in second) from which paths of two components run together the
    longest, or None."""
    best_size, best = 0, None
    for path, states, outputs in first:
        found = None
        for other, other_states, other_outputs in second:
            point = running_together(
                other_states, other_outputs, states, outputs, COMPONENT_OUTPUT_TOLERANCE
            )
            if point is not None and (found is None or point[1] < found[0]):
                found = (point[1], other, point[0])
        if found is None:
            continue
        at, other, other_at = found
        size = min(len(path) - at, len(other) - other_at)
        if size > best_size:
            best_size, best = size, (path[at], other[other_at])
    return best


def _fuse_paths(graph: nx.DiGraph, keep: list, drop: list) -> nx.DiGraph:
    """Merge two paths node by node, then the autonomous successors that now fan out."""
    for a, b in zip(keep, drop, strict=False):
        graph = contract(graph, a, b, self_loops=True)
    node = keep[min(len(keep), len(drop)) - 1]
    while len(fan := sorted(_autonomous_successors(graph, node))) > 1:
        graph = contract(graph, fan[0], fan[1], self_loops=True)
        node = fan[0]
    return graph


def _autonomous_successors(graph: nx.DiGraph, node: Hashable) -> list:
    return [t for t, data in graph.adj[node].items() if data["edge_type"] == AUTONOMOUS]


def merge_components(graph: nx.DiGraph) -> nx.DiGraph:
    """Fuse autonomous components whose paths run together, until none do."""
    while True:
        autonomous = autonomous_subgraph(graph)
        parts = [autonomous.subgraph(c) for c in nx.weakly_connected_components(autonomous)]
        if len(parts) < 2:
            return graph
        laid = [_lay_out(graph, part) for part in parts]
        pairs = (
            (a, b, _overlap(laid[a], laid[b]))
            for a in range(len(parts))
            for b in range(len(parts))
            if a != b
        )
        fusion = next(((a, b, nodes) for a, b, nodes in pairs if nodes is not None), None)
        if fusion is None:
            return graph
        a, b, (node_a, node_b) = fusion
        graph = _fuse_paths(graph, path_from(parts[a], node_a), path_from(parts[b], node_b))


def component_ends(graph: nx.DiGraph) -> list:
    """One end node per autonomous component: where it stops, else where paths meet, else its
    last node. A graph of one component has none to join."""
    autonomous = autonomous_subgraph(graph)
    parts = list(nx.weakly_connected_components(autonomous))
    if len(parts) < 2:
        return []
    successors = successor_lists(autonomous)
    entries = Counter(target for following in successors.values() for target in following)
    ends = []
    for nodes in parts:
        order = [node for node in autonomous.subgraph(nodes)]  # networkx's order of the part
        sinks = [node for node in order if not successors[node]]
        joins = [node for node in order if entries[node] > 1]
        ends.append(sinks[0] if sinks else joins[0] if joins else order[-1])
    return ends


def join_ends(graph: nx.DiGraph, ends: list, final_states: np.ndarray) -> nx.DiGraph:
    """Join all component ends into the first if they all reach the same attractor."""
    gaps = np.linalg.norm(final_states[:, None] - final_states[None, :], axis=-1)
    if not ends or gaps.max() >= SAME_ATTRACTOR:
        return graph
    for node in ends[1:]:
        graph.remove_edges_from([(node, t) for t in _autonomous_successors(graph, node)])
        graph = contract(graph, ends[0], node, self_loops=False)
    return graph
