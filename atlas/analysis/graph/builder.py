"""The reduced-dynamics graph of each network, driven by its task's GraphProtocol.

One algorithm for every task: start laces, then each declared stimulus at its positions
(depth first, as declared), each new lace attached by an edge of the event's type and merged
into what is there; for free runs, components that run together or reach the same attractor
are joined; nodes get the task's output labels; the result is compacted.

All K networks of a population advance through the protocol together, so each simulation
(start laces, the laces of one stimulus, the long runs to the attractors) is one batched run;
the graph surgery in between is per network.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch

from atlas.analysis.graph.compaction import compact
from atlas.analysis.graph.lace import Lace, LaceRunner
from atlas.analysis.graph.merging import (
    attach,
    component_ends,
    join_ends,
    merge_components,
    merge_new_lace,
)
from atlas.analysis.graph.paths import (
    START,
    autonomous_subgraph,
    node_values,
    path_from,
    successor,
)
from atlas.networks import RNNPopulation, from_state_dicts
from atlas.tasks.base import TrialTask
from atlas.tasks.graph_protocol import BEFORE_RISE, END, GraphProtocol, Position, Stimulus

ATTRACTOR_STEPS = 10_000
"""How long the ends of separate components run to see whether they meet."""


@dataclass(frozen=True)
class ReducedGraph:
    """The compact graph and the full graph it was compacted from (node attribute `output`,
    edge attribute `edge_type`; node 0 is the start state)."""

    compact: nx.DiGraph
    full: nx.DiGraph


@dataclass(frozen=True)
class LaceRef:
    """A lace in a graph under construction: the node it starts at, and the lace itself."""

    node: int
    lace: Lace


def rise_index(outputs: np.ndarray) -> int:
    """The last step before the output rises above its usual range (an outlier fence on
    |output|: 80th percentile + 1.5 x (80th - 10th)); the last step if it never does."""
    size = np.abs(outputs)
    low, high = np.percentile(size, 10), np.percentile(size, 80)
    below = np.flatnonzero(size < high + 1.5 * (high - low))
    return int(below[-1]) if below.size else len(outputs) - 1


def resolve(graph: nx.DiGraph, path: list, position: Position) -> int | None:
    """The step along `path` a position names, or None where the path is too short."""
    if position == END:
        return len(path) - 1
    if position == BEFORE_RISE:
        return rise_index(node_values(graph, path, "output"))
    return position if position < len(path) else None


class _Builder:
    """Graphs of K networks under construction, advanced through one protocol together."""

    def __init__(self, population: RNNPopulation, task: TrialTask):
        if population.n_inputs != task.n_inputs:
            raise ValueError(
                f"the networks take {population.n_inputs} inputs; task {task.name!r} gives "
                f"{task.n_inputs}"
            )
        self.protocol: GraphProtocol = task.graph_protocol()
        self.events = task.input_events()
        self.task = task
        self.runner = LaceRunner(population, self.protocol.in_trial)
        self.population = population
        self.graphs: list[nx.DiGraph] = [nx.DiGraph() for _ in range(population.count)]

    def build(self) -> list[ReducedGraph]:
        starts = self.runner.start_states(self.protocol.start_inputs)
        active = np.ones((self.population.count, 1), dtype=bool)
        laces = self.runner.laces(starts, self.protocol.start_lace_steps, active)
        roots = []
        for k, (lace,) in enumerate(laces):
            self.graphs[k], _ = attach(self.graphs[k], lace, None, 0)
            roots.append([LaceRef(START, lace)])
        for stimulus in self.protocol.stimuli:
            self.apply(stimulus, roots)
        if not self.protocol.in_trial:
            self.join_components()
        return [self.finish(graph) for graph in self.graphs]

    def apply(self, stimulus: Stimulus, parents: list[list[LaceRef]]) -> None:
        """Apply a stimulus on the given laces of every network, then its follow-ups."""
        edge_type = self.events[stimulus.event].edge_type
        plans = [
            self.plan(graph, stimulus, refs, edge_type)
            for graph, refs in zip(self.graphs, parents, strict=True)
        ]
        width = max((len(p) for p in plans), default=0)
        if width == 0:
            return
        states = torch.zeros(
            self.population.count, width, self.population.state_size, dtype=self.runner.dtype
        )
        active = np.zeros((self.population.count, width), dtype=bool)
        for k, plan in enumerate(plans):
            for n, (_, state) in enumerate(plan):
                states[k, n] = torch.as_tensor(state)
                active[k, n] = True
            states[k, len(plan) :] = states[k, :1]
        pulse = (
            self.events[stimulus.event].inputs
            + ((0.0,) * self.population.n_inputs,) * stimulus.settle
        )
        laces = self.runner.laces(self.runner.drive(states, pulse), stimulus.lace_steps, active)
        children = []
        for k, (plan, new_laces) in enumerate(zip(plans, laces, strict=True)):
            started = []
            for (node, _), lace in zip(plan, new_laces, strict=True):
                graph, first = attach(self.graphs[k], lace, node, edge_type)
                self.graphs[k], first = merge_new_lace(graph, first, lace)
                started.append(LaceRef(first, lace))
            children.append(started)
        for follow_up in stimulus.then:
            self.apply(follow_up, children)

    def plan(
        self, graph: nx.DiGraph, stimulus: Stimulus, refs: list[LaceRef], edge_type: int
    ) -> list[tuple[int, np.ndarray]]:
        """(node, state to pulse) for each position of the stimulus on each lace.

        Positions beyond a lace's path, and nodes that already have an edge of this type,
        are skipped. Free runs pulse the node's state; trial epochs pulse the state the trial
        has reached, the lace's own step (its last one for END).
        """
        chosen: list[tuple[int, np.ndarray]] = []
        autonomous = autonomous_subgraph(graph)
        for ref in refs:
            if stimulus.unless_looping and ref.lace.loops:
                continue
            path = path_from(autonomous, ref.node)
            for position in stimulus.at:
                step = resolve(graph, path, position)
                if step is None:
                    continue
                node = path[step]
                if successor(graph, node, edge_type) is not None or node in [c[0] for c in chosen]:
                    continue
                state = self._pulsed_state(graph, ref, node, step, position)
                if state is not None:
                    chosen.append((node, state))
        return chosen

    def _pulsed_state(
        self, graph: nx.DiGraph, ref: LaceRef, node: int, step: int, position: Position
    ) -> np.ndarray | None:
        if not self.protocol.in_trial:
            return graph.nodes[node]["state"]
        trajectory = ref.lace.trajectory
        if position == END:
            return trajectory[-1]
        return trajectory[step] if step < len(trajectory) else None

    def join_components(self) -> None:
        """Fuse components whose paths run together; then run the ends of the components
        still apart (all networks together) and join those reaching one attractor. Self-loops
        left by fusing go first: they would hide where a component ends."""
        ends = []
        for k, graph in enumerate(self.graphs):
            graph = merge_components(graph)
            graph.remove_edges_from(list(nx.selfloop_edges(graph)))
            self.graphs[k] = graph
            ends.append(component_ends(graph))
        needed = [k for k, e in enumerate(ends) if e]
        if not needed:
            return
        width = max(len(ends[k]) for k in needed)
        padded = [ends[k] + ends[k][:1] * (width - len(ends[k])) for k in needed]
        states = torch.tensor(
            np.array(
                [
                    [self.graphs[k].nodes[e]["state"] for e in row]
                    for k, row in zip(needed, padded, strict=True)
                ]
            ),
            dtype=self.runner.dtype,
        )
        runner = LaceRunner(self.population.select(needed), in_trial=False)
        final = runner.final_states(states, ATTRACTOR_STEPS)
        for i, k in enumerate(needed):
            self.graphs[k] = join_ends(self.graphs[k], ends[k], final[i, : len(ends[k])])

    def finish(self, graph: nx.DiGraph) -> ReducedGraph:
        """Label the nodes by output, drop the states, compact."""
        full = nx.DiGraph()
        labels = self.task.output_label(node_values(graph, list(graph.nodes), "output"))
        full.add_nodes_from(
            (node, {"output": int(label)}) for node, label in zip(graph.nodes, labels, strict=True)
        )
        full.add_edges_from(
            (u, v, {"edge_type": int(t)}) for u, v, t in graph.edges(data="edge_type")
        )
        input_types = [self.events[name].edge_type for name in self.protocol.events()]
        response_types = [self.events[name].edge_type for name in self.protocol.response_events]
        return ReducedGraph(compact=compact(full, input_types, response_types), full=full)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Tiny matrix products only lose from intra-op threads (which thrash on a busy CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def build_graphs(population: RNNPopulation, task: TrialTask) -> list[ReducedGraph]:
    """Reduced-dynamics graphs of every network of a population, simulated together (on the
    CPU: the matrices are tiny, and the graph work between simulations is CPU work)."""
    if population.weight_hh.device.type != "cpu":
        population = population.select(range(population.count)).cpu()
    with torch.no_grad(), _one_thread():
        return _Builder(population, task).build()


def build_graph(
    network: RNNPopulation | Mapping[str, torch.Tensor], task: TrialTask
) -> ReducedGraph:
    """The reduced-dynamics graph of one network (a state dict or a one-network population)."""
    population = network if isinstance(network, RNNPopulation) else from_state_dicts([network])
    if population.count != 1:
        raise ValueError(f"build_graph takes one network, got {population.count}; use build_graphs")
    return build_graphs(population, task)[0]
