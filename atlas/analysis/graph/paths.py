"""Walking a graph's edges by type, and the paths its laces trace along autonomous edges.

Node ids and edge insertion order decide ties (which path is found first, which loop is
reported), so every helper here walks networkx's own orders and never re-sorts them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import networkx as nx
import numpy as np

AUTONOMOUS = 0
"""Edge type of one zero-input step."""
START = 0
"""Node id of the start state."""


def autonomous_subgraph(graph: nx.DiGraph) -> nx.DiGraph:
    """The graph's structure with only its autonomous edges: every node (without attributes)
    and the edges in the graph's own order."""
    skeleton = nx.DiGraph()
    skeleton.add_nodes_from(graph)
    skeleton.add_edges_from(
        ((u, v) for u, v, t in graph.edges(data="edge_type") if t == AUTONOMOUS),
        edge_type=AUTONOMOUS,
    )
    return skeleton


def successor(graph: nx.DiGraph, node: Hashable, edge_type: int) -> Hashable | None:
    """The first successor reached by an edge of `edge_type`, or None."""
    for target, data in graph.adj[node].items():
        if data["edge_type"] == edge_type:
            return target
    return None


def predecessor(graph: nx.DiGraph, node: Hashable, edge_type: int) -> Hashable | None:
    """The first predecessor joined by an edge of `edge_type`, or None."""
    for source, data in graph.pred[node].items():
        if data["edge_type"] == edge_type:
            return source
    return None


Successors = Mapping[Hashable, list]
"""Each node's successors, listed once per search (`successor_lists`)."""


def successor_lists(graph: nx.DiGraph) -> Successors:
    """Each node's successors as a list. (Built by iterating: list() on a networkx subgraph
    view first asks its len(), which intersects the whole node set, node after node.)"""
    return {node: [t for t in following] for node, following in graph.adjacency()}


def _walk(successors: Successors, source: Hashable) -> tuple[list, int | None] | None:
    """Follow single successors from `source`: the nodes visited and the index the walk
    returns to (None at a dead end); None where a node has several successors."""
    order: dict = {}
    node = source
    while node not in order:
        order[node] = len(order)
        following = successors[node]
        if len(following) > 1:
            return None
        if not following:
            return list(order), None
        node = following[0]
    return list(order), order[node]


def path_from(graph: nx.DiGraph, source: Hashable, successors: Successors | None = None) -> list:
    """The path a lace from `source` follows: to the node that closes the loop it reaches,
    or, where it reaches none, the longest path down its descendants."""
    walk = _walk(successors or successor_lists(graph), source)
    if walk is not None:
        return walk[0]
    try:
        loop = nx.find_cycle(graph, source)
    except nx.NetworkXNoCycle:
        reach = nx.descendants(graph, source) | {source}
        return nx.dag_longest_path(graph.subgraph(reach))
    return nx.shortest_path(graph, source, loop[-1][0])


def _first_loop(graph: nx.DiGraph, nodes: set, successors: Successors) -> list:
    """The loop networkx's depth-first search finds first in the component `nodes`."""
    part = graph.subgraph(nodes)
    if all(len(successors[n]) <= 1 for n in nodes):
        visited, back_to = _walk(successors, next(iter(part)))
        return [] if back_to is None else visited[back_to:]
    try:
        return [u for u, _ in nx.find_cycle(part)]
    except nx.NetworkXNoCycle:
        return []


def component_paths(graph: nx.DiGraph) -> list[list[list]]:
    """Per weakly connected component, the paths that cover it.

    A component's loop comes first (when it has one longer than a self-loop); then, from each
    node without predecessors, its path up to the first node an earlier path covered. The
    last path found is moved to the front, so a component's main path leads.
    """
    covered: set = set()
    components = []
    successors = successor_lists(graph)
    entered = {target for following in successors.values() for target in following}
    for nodes in nx.weakly_connected_components(graph):
        paths = []
        loop = _first_loop(graph, nodes, successors)
        if len(loop) > 1:
            covered.update(loop)
            paths.append(loop)
        for source in [node for node in nodes if node not in entered]:
            path = path_from(graph, source, successors)
            seen = [i for i, node in enumerate(path) if node in covered]
            if seen:
                path = path[: seen[0] + 1]
            if len(path) > 1:
                paths.append(path)
            covered.update(path)
        components.append(paths[-1:] + paths[:-1])
    return components


def rings(graph: nx.DiGraph) -> list[list]:
    """Every simple loop of the graph, each listed from its smallest node id.

    Where no node has two successors (the usual case: each state steps to one next state) the
    loops are found by walking; otherwise networkx enumerates them.
    """
    successors = successor_lists(graph)
    if any(len(following) > 1 for following in successors.values()):
        found = list(nx.simple_cycles(graph))
    else:
        found, walk_of = [], {}
        for start in graph:
            walk, node = [], start
            while node not in walk_of:
                walk_of[node] = start
                walk.append(node)
                if not successors[node]:
                    break
                node = successors[node][0]
            else:
                if walk_of[node] == start:
                    found.append(walk[walk.index(node) :])
    return [loop[loop.index(min(loop)) :] + loop[: loop.index(min(loop))] for loop in found]


def node_values(graph: nx.DiGraph, path: list, key: str) -> np.ndarray:
    """The `key` attribute of each node along a path, stacked (states: (L, S); outputs: (L,))."""
    return np.stack([graph.nodes[node][key] for node in path])


def renamed(node: Hashable, keep: Hashable, drop: Hashable) -> Hashable:
    """The id `node` has after `contract(graph, keep, drop, ...)`."""
    if node == drop:
        node = keep
    return START if drop == START and node == keep else node


def contract(graph: nx.DiGraph, keep: Hashable, drop: Hashable, self_loops: bool) -> nx.DiGraph:
    """`drop` merged into `keep`, in place (keep's attributes and edges win); the start node
    keeps its id 0 even when it is the one merged away."""
    graph = nx.contracted_nodes(graph, keep, drop, self_loops=self_loops, copy=False)
    graph.nodes[keep].pop("contraction", None)
    if drop == START:
        nx.relabel_nodes(graph, {keep: START}, copy=False)
    return graph
