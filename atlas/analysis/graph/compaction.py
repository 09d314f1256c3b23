"""Compaction: rewrite the labelled graph until no rule applies any more.

The rules, applied in turn on every round:
- silent runs: a chain of silent nodes (output 0) with no other connections becomes one edge;
- autonomous edges: the two ends of an autonomous edge that play the same role merge;
- parallel nodes: two autonomous predecessors of one node that play the same role merge;
- lead-ins: a silent node whose only way on is into an answering node joins it;
- answer routes: from a node entered only by response pulses, the autonomous edge skips the
  silent stretch before the answer;
- squares: two nodes joined by an autonomous edge whose pulses lead to places that coincide
  or answer alike merge, together with those places.
"Same role" (`_same_role`): equal output, no conflicting edge types to shared neighbours, and
no pulse of any type leading to two different places. Rules scan nodes and edges in the
graph's own order and restart after each change, so the result does not depend on chance.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from itertools import combinations, groupby

import networkx as nx

from atlas.analysis.graph.paths import (
    AUTONOMOUS,
    START,
    autonomous_subgraph,
    component_paths,
    contract,
    predecessor,
    successor,
)

SILENT = 0


class _Rules:
    """The compaction rules for one task's input edge types."""

    def __init__(self, input_types: Sequence[int], response_types: Sequence[int]):
        self.input_types = list(dict.fromkeys(input_types))
        self.response_types = [t for t in self.input_types if t in response_types]
        self.primer_types = [t for t in self.input_types if t not in response_types]

    @staticmethod
    def output(graph: nx.DiGraph, node: Hashable) -> int:
        return graph.nodes[node]["output"]

    def _same_role(self, graph: nx.DiGraph, a: Hashable, b: Hashable) -> bool:
        if self.output(graph, a) != self.output(graph, b):
            return False
        pred, succ = graph.pred, graph.adj
        for p in (set(pred[a]) & set(pred[b])) - {a, b}:
            ta, tb = pred[a][p]["edge_type"], pred[b][p]["edge_type"]
            if ta != tb and min(ta, tb) > 0:
                return False
        for c in (set(succ[a]) & set(succ[b])) - {a, b}:
            if succ[a][c]["edge_type"] != succ[b][c]["edge_type"]:
                return False
        for edge_type in self.input_types:
            targets = {successor(graph, a, edge_type), successor(graph, b, edge_type)} - {None}
            outside = targets - {a, b}
            if len(outside) == 2 or (len(outside) == 1 and len(targets) > 1):
                return False
        return True

    @staticmethod
    def _merge(graph: nx.DiGraph, keep: Hashable, drop: Hashable) -> nx.DiGraph:
        """Merge two nodes of one role; a parent pulsing one and stepping into the other now
        reaches the merged node autonomously, and its pulse leaves it where it was."""
        if drop == START:
            keep, drop = drop, keep
        for parent in set(graph.predecessors(keep)) & set(graph.predecessors(drop)):
            pulsed = keep if graph[parent][keep]["edge_type"] > 0 else drop
            graph.add_edge(parent, parent, edge_type=graph[parent][pulsed]["edge_type"])
            graph.remove_edge(parent, pulsed)
        return contract(graph, keep, drop, self_loops=True)

    def silent_runs(self, graph: nx.DiGraph) -> nx.DiGraph:
        silent = autonomous_subgraph(graph)
        silent.remove_nodes_from([n for n in graph if self.output(graph, n) != SILENT])

        def plain(node: Hashable) -> bool:
            return (
                node != START
                and graph.in_degree(node) <= 1
                and graph.out_degree(node) <= 1
                and successor(graph, node, AUTONOMOUS) is not None
            )

        while True:
            runs = [
                list(run)
                for paths in component_paths(silent)
                for path in paths
                for is_plain, run in groupby(path[1:-1], plain)
                if is_plain
            ]
            if not runs:
                return self._fold_links(graph, silent)
            for run in runs:
                for g in (graph, silent):
                    source = predecessor(g, run[0], AUTONOMOUS)
                    target = successor(g, run[-1], AUTONOMOUS)
                    g.remove_nodes_from(run)
                    g.add_edge(source, target, edge_type=AUTONOMOUS)

    @staticmethod
    def _fold_links(graph: nx.DiGraph, silent: nx.DiGraph) -> nx.DiGraph:
        """Merge silent links u -> v where u has one way in and out and v one way in."""
        while True:
            link = next(
                (
                    (u, v)
                    for u, v in silent.edges
                    if graph.in_degree(u) == 1
                    and graph.in_degree(v) == 1
                    and graph.out_degree(u) == 1
                    and v != START
                ),
                None,
            )
            if link is None:
                return graph
            graph = contract(graph, *link, self_loops=False)
            silent = contract(silent, *link, self_loops=False)

    def autonomous_edges(self, graph: nx.DiGraph) -> nx.DiGraph:
        while True:
            edge = next(
                (
                    (s, t)
                    for s, t, kind in graph.edges(data="edge_type")
                    if s != t and kind == AUTONOMOUS and self._same_role(graph, s, t)
                ),
                None,
            )
            if edge is None:
                return graph
            graph.remove_edge(*edge)
            graph = self._merge(graph, *edge)

    def parallel_nodes(self, graph: nx.DiGraph) -> nx.DiGraph:
        while True:
            for node in [n for n in graph.nodes if graph.in_degree(n) > 1]:
                parents = [
                    p
                    for p in sorted(graph.predecessors(node))
                    if graph[p][node]["edge_type"] == AUTONOMOUS
                ]
                pair = next(
                    (
                        (a, b)
                        for a, b in combinations(parents, 2)
                        if successor(graph, a, AUTONOMOUS) == successor(graph, b, AUTONOMOUS)
                        and self._same_role(graph, a, b)
                    ),
                    None,
                )
                if pair is not None:
                    graph = self._merge(graph, *pair)
                    break
            else:
                return graph

    def lead_ins(self, graph: nx.DiGraph) -> nx.DiGraph:
        def leads_in(s: Hashable, t: Hashable, kind: int) -> bool:
            return (
                kind == AUTONOMOUS
                and self.output(graph, s) == SILENT
                and self.output(graph, t) != SILENT
                and graph.out_degree(s) == 1
                and graph.in_degree(t) == 1
                and successor(graph, t, AUTONOMOUS) != s
            )

        while True:
            edge = next(
                ((s, t) for s, t, k in graph.edges(data="edge_type") if leads_in(s, t, k)), None
            )
            if edge is None:
                return graph
            graph = contract(graph, edge[1], edge[0], self_loops=False)

    def answer_routes(self, graph: nx.DiGraph) -> nx.DiGraph:
        entered_by_response = [
            n
            for n in graph.nodes
            if graph.in_degree(n) > 0
            and all(d["edge_type"] in self.response_types for d in graph.pred[n].values())
        ]
        for node in entered_by_response:
            target = successor(graph, node, AUTONOMOUS)
            if target is None or self.output(graph, target) != SILENT:
                continue
            visited = {target}
            following = successor(graph, target, AUTONOMOUS)
            while (
                following is not None
                and following not in visited
                and self.output(graph, following) == SILENT
            ):
                graph.remove_edge(node, target)
                target = following
                graph.add_edge(node, target, edge_type=AUTONOMOUS)
                visited.add(target)
                following = successor(graph, target, AUTONOMOUS)
        return graph

    def _returns_to(
        self, graph: nx.DiGraph, s: Hashable, t: Hashable, a: Hashable, b: Hashable
    ) -> bool:
        """Whether a and b each step back (autonomously) into {s, t}."""
        return len({s, t, successor(graph, a, AUTONOMOUS), successor(graph, b, AUTONOMOUS)}) <= 2

    def _primed_square(self, graph: nx.DiGraph, s: Hashable, t: Hashable) -> bool:
        """s and t lead by one response pulse to one place, and by a primer pulse to two
        places that return into {s, t} and whose response pulse leads to one place too."""
        for primer in self.primer_types:
            for response in self.response_types:
                if successor(graph, s, response) != successor(graph, t, response):
                    continue
                a, b = successor(graph, s, primer), successor(graph, t, primer)
                if a is None or b is None or a == b or not self._returns_to(graph, s, t, a, b):
                    continue
                if successor(graph, a, response) == successor(graph, b, response):
                    return True
        return False

    def _answer_square(self, graph: nx.DiGraph, s: Hashable, t: Hashable) -> bool:
        """s and t agree on every primer pulse, and a response pulse leads them to two places
        that give the same answer and return into {s, t}."""
        if any(successor(graph, s, p) != successor(graph, t, p) for p in self.primer_types):
            return False
        for response in self.response_types:
            a, b = successor(graph, s, response), successor(graph, t, response)
            if a is None or b is None or a == b:
                continue
            out_a, out_b = self.output(graph, a), self.output(graph, b)
            if out_a != out_b or out_b == SILENT or not self._returns_to(graph, s, t, a, b):
                continue
            return True
        return False

    def squares(self, graph: nx.DiGraph) -> nx.DiGraph:
        def square(s: Hashable, t: Hashable, kind: int) -> bool:
            return (
                s != t
                and kind == AUTONOMOUS
                and (self._primed_square(graph, s, t) or self._answer_square(graph, s, t))
            )

        while True:
            edge = next(
                ((s, t) for s, t, k in graph.edges(data="edge_type") if square(s, t, k)), None
            )
            if edge is None:
                return graph
            s, t = edge
            for edge_type in self.response_types + self.primer_types:
                a, b = successor(graph, s, edge_type), successor(graph, t, edge_type)
                if a is not None and b is not None and a != b:
                    graph = contract(graph, a, b, self_loops=False)
            graph = contract(graph, s, t, self_loops=False)


def compact(
    graph: nx.DiGraph, input_types: Sequence[int], response_types: Sequence[int]
) -> nx.DiGraph:
    """The compact graph of a labelled graph (node `output`, edge `edge_type`).

    `input_types` are the edge types of the task's pulses; `response_types` those of the
    pulses after which the network answers. Self-loops are dropped first.
    """
    rules = _Rules(input_types, response_types)
    graph = graph.copy()
    graph.remove_edges_from(list(nx.selfloop_edges(graph)))
    steps = (
        rules.silent_runs,
        rules.autonomous_edges,
        rules.parallel_nodes,
        rules.lead_ins,
        rules.answer_routes,
        rules.squares,
    )
    while True:
        size = (graph.number_of_nodes(), graph.number_of_edges())
        for step in steps:
            graph = step(graph)
        if (graph.number_of_nodes(), graph.number_of_edges()) == size:
            return graph
