"""Edit distance between reduced-dynamics graphs, deterministic whatever the machine's load.

Unit costs: inserting or deleting a node or an edge costs 1, substituting one costs 1 unless
its output (node) or edge type (edge) matches; mapping the start state onto another node costs
1 more. Small graphs (the paper's have 2 to 7 nodes) get the exact distance from networkx's
edit-path search, pruned by an upper bound; larger ones get that upper bound: the cost of the
edit path induced by an optimal assignment of nodes with their incident edges (Riesen and
Bunke's bipartite method). Neither depends on a wall-clock timeout, so one pair of graphs has
one distance, whether it is asked for alone or inside a matrix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import networkx as nx
import numpy as np
from scipy.optimize import linear_sum_assignment

from atlas.analysis.graph.paths import START

EXACT_NODES = 14  # both graphs together at most this many nodes: the exact search stays fast


def loops_as_attributes(graph: nx.DiGraph) -> nx.DiGraph:
    """A copy without self-loops, each node carrying its loop's edge type (None if it has none).

    networkx's edit-path search mismatches self-loops (it may pair a loop with an ordinary
    edge: networkx issues 5400 and 8188), and reduced graphs are full of them. A DiGraph has at
    most one loop per node and a loop goes wherever its node goes, so the loop can be costed
    with its node instead: this gives the same edit distance. Nodes also carry whether they are
    the start state, which a solution type pins (see `solution_types`)."""
    copy = nx.DiGraph()
    for node, output in graph.nodes(data="output"):
        loop = graph.edges[node, node]["edge_type"] if graph.has_edge(node, node) else None
        copy.add_node(node, output=output, loop=loop, start=node == START)
    copy.add_edges_from(
        (u, v, {"edge_type": t}) for u, v, t in graph.edges(data="edge_type") if u != v
    )
    return copy


def node_substitution(a: dict, b: dict) -> float:
    return sum(float(a[key] != b[key]) for key in ("output", "loop", "start"))


def node_deletion(node: dict) -> float:
    return 1.0 + float(node["loop"] is not None)


def edge_substitution(a: dict, b: dict) -> float:
    return float(a["edge_type"] != b["edge_type"])


def edit_path_cost(a: nx.DiGraph, b: nx.DiGraph, mapping: dict) -> float:
    """The cost of the complete edit path that maps the nodes of `a` in `mapping` onto those of
    `b`, deletes the other nodes of `a` and inserts the other nodes of `b` (loop-free graphs
    from `loops_as_attributes`), edges following their end nodes."""
    image = set(mapping.values())
    cost = sum(node_substitution(a.nodes[u], b.nodes[v]) for u, v in mapping.items())
    cost += sum(node_deletion(a.nodes[u]) for u in a if u not in mapping)
    cost += sum(node_deletion(b.nodes[v]) for v in b if v not in image)
    matched = 0
    for u, v, data in a.edges(data=True):
        target = (mapping.get(u), mapping.get(v))
        if b.has_edge(*target):
            cost += edge_substitution(data, b.edges[target])
            matched += 1
        else:
            cost += 1.0
    return cost + b.number_of_edges() - matched


def _incident_types(graph: nx.DiGraph, node) -> tuple[Counter, Counter]:
    outgoing = Counter(t for _, _, t in graph.out_edges(node, data="edge_type"))
    incoming = Counter(t for _, _, t in graph.in_edges(node, data="edge_type"))
    return outgoing, incoming


def _edge_set_distance(a: Counter, b: Counter) -> float:
    """Least cost to turn one multiset of edge types into another: pairs of one type are free,
    every other edge is substituted, inserted or deleted at 1."""
    return float(max(a.total(), b.total()) - (a & b).total())


def bipartite_upper_bound(a: nx.DiGraph, b: nx.DiGraph) -> float:
    """The cost of the edit path induced by an optimal assignment of nodes with their incident
    edges (each edge is seen from both its ends, so its estimate counts half at each): an upper
    bound on the edit distance, exact for many small pairs."""
    nodes_a, nodes_b = list(a), list(b)
    n, m = len(nodes_a), len(nodes_b)
    edges_a = [_incident_types(a, u) for u in nodes_a]
    edges_b = [_incident_types(b, v) for v in nodes_b]
    forbidden = 1e9
    costs = np.zeros((n + m, n + m))
    for i, u in enumerate(nodes_a):
        for j, v in enumerate(nodes_b):
            local = sum(
                _edge_set_distance(x, y) for x, y in zip(edges_a[i], edges_b[j], strict=True)
            )
            costs[i, j] = node_substitution(a.nodes[u], b.nodes[v]) + 0.5 * local
    costs[:n, m:] = forbidden
    costs[n:, :m] = forbidden
    for i, u in enumerate(nodes_a):
        costs[i, m + i] = node_deletion(a.nodes[u]) + 0.5 * _degree(edges_a[i])
    for j, v in enumerate(nodes_b):
        costs[n + j, j] = node_deletion(b.nodes[v]) + 0.5 * _degree(edges_b[j])
    rows, columns = linear_sum_assignment(costs)
    mapping = {
        nodes_a[i]: nodes_b[j] for i, j in zip(rows, columns, strict=True) if i < n and j < m
    }
    return edit_path_cost(a, b, mapping)


def _degree(incident: Iterable[Counter]) -> int:
    return sum(c.total() for c in incident)


def graph_edit_distance(a: nx.DiGraph, b: nx.DiGraph) -> float:
    """Edit distance between two reduced graphs (with self-loops): exact when both together
    have at most EXACT_NODES nodes, else the bipartite upper bound (the better of both
    directions, so that the distance is symmetric)."""
    plain_a, plain_b = loops_as_attributes(a), loops_as_attributes(b)
    bound = min(bipartite_upper_bound(plain_a, plain_b), bipartite_upper_bound(plain_b, plain_a))
    if bound == 0.0 or len(plain_a) + len(plain_b) > EXACT_NODES:
        return bound
    exact = nx.graph_edit_distance(
        plain_a,
        plain_b,
        node_subst_cost=node_substitution,
        node_del_cost=node_deletion,
        node_ins_cost=node_deletion,
        edge_subst_cost=edge_substitution,
        upper_bound=bound,
    )
    return bound if exact is None else float(exact)
