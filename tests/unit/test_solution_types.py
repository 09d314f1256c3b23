"""Solution types over the paper's reduced graphs: hashing, isomorphism, naming, coverage."""

from __future__ import annotations

import random

import networkx as nx
import numpy as np
import pytest

from atlas.analysis.graph import from_node_link
from atlas.analysis.solution_types import (
    assign_types,
    canonical_hash,
    coverage,
    same_type,
    type_name,
)

# The paper's coverage per setting (science.md, "Solution types").
PAPER_COVERAGE = {
    "delayed_vanilla": 0.695,
    "interval_vanilla": 0.885,
    "reproduction_vanilla": 0.935,
    "reproduction_gru": 0.87,
    "reproduction_lstm": 0.8775,
}


@pytest.fixture(scope="module")
def paper_graphs(reference_networks) -> dict[str, nx.DiGraph]:
    return {ref.name: from_node_link(ref.graph) for ref in reference_networks}


def relabelled(graph: nx.DiGraph, seed: int) -> nx.DiGraph:
    """The same graph with new ids for every node but the start, added in shuffled order."""
    rng = random.Random(seed)
    others = [n for n in graph if n != 0]
    new_ids = rng.sample(range(1, 10 * len(graph) + 10), len(others))
    mapping = {0: 0, **dict(zip(others, new_ids, strict=True))}
    copy = nx.DiGraph()
    nodes = list(graph.nodes(data=True))
    rng.shuffle(nodes)
    copy.add_nodes_from((mapping[n], data) for n, data in nodes)
    edges = list(graph.edges(data=True))
    rng.shuffle(edges)
    copy.add_edges_from((mapping[u], mapping[v], data) for u, v, data in edges)
    return copy


def test_relabelled_graphs_keep_their_hash_type_and_name(paper_graphs) -> None:
    for name, graph in paper_graphs.items():
        task = name.split("_")[0]
        for seed in range(3):
            copy = relabelled(graph, seed)
            assert canonical_hash(copy) == canonical_hash(graph)
            assert same_type(copy, graph)
            assert type_name(task, copy) == type_name(task, graph)


def test_moving_the_start_changes_the_type(paper_graphs) -> None:
    graph = paper_graphs["reproduction_vanilla_30_i100"]
    silent_end = next(n for n in graph if n != 0 and graph.nodes[n]["output"] == 0)
    swapped = nx.relabel_nodes(graph, {0: silent_end, silent_end: 0})
    plain = {"node_match": lambda a, b: a["output"] == b["output"]}
    assert nx.is_isomorphic(graph, swapped, **plain)
    assert not same_type(graph, swapped)
    assert canonical_hash(graph) != canonical_hash(swapped)


def test_outputs_and_edge_types_tell_types_apart(paper_graphs) -> None:
    graph = paper_graphs["interval_vanilla_30_i100"]
    other_output = graph.copy()
    node = next(n for n in graph if graph.nodes[n]["output"] == 1)
    other_output.nodes[node]["output"] = -1
    other_edge = graph.copy()
    u, v = next((u, v) for u, v, t in graph.edges(data="edge_type") if t == 4)
    other_edge.edges[u, v]["edge_type"] = 2
    for changed in (other_output, other_edge):
        assert not same_type(graph, changed)
        assert canonical_hash(graph) != canonical_hash(changed)


def test_types_of_the_reference_graphs_follow_exact_isomorphism(paper_graphs) -> None:
    names = sorted(paper_graphs)
    graphs = [paper_graphs[n] for n in names]
    copies = [relabelled(g, 100 + i) for i, g in enumerate(graphs)]
    types = assign_types(graphs + copies)
    originals, relabels = types[: len(names)], types[len(names) :]
    assert relabels == originals
    for i, j in [(i, j) for i in range(len(names)) for j in range(len(names))]:
        assert (originals[i] == originals[j]) == same_type(graphs[i], graphs[j]), (
            names[i],
            names[j],
        )
    assert originals[0] == 0 and sorted(set(originals)) == list(range(max(originals) + 1))
    type_of = dict(zip(names, originals, strict=True))
    for a, b in [
        ("reproduction_gru_30_i100", "reproduction_vanilla_20_i100"),
        ("reproduction_gru_40_i100", "reproduction_lstm_20_i100"),
        ("reproduction_lstm_40_i100", "reproduction_lstm_50_i100"),
        ("interval_vanilla_30_i100", "interval_vanilla_50_i100"),
    ]:
        assert type_of[a] == type_of[b], (a, b)
    print(f"\n{len(set(originals))} types among the {len(names)} reference graphs")


def _cycle_graph(lengths: list[int]) -> nx.DiGraph:
    """Silent directed rings of the given lengths, the start on the first."""
    graph, first = nx.DiGraph(), 0
    for length in lengths:
        ring = list(range(first, first + length))
        graph.add_nodes_from(ring, output=0)
        graph.add_edges_from(zip(ring, ring[1:] + ring[:1], strict=True), edge_type=0)
        first += length
    return graph


def test_a_hash_collision_still_gives_two_types_and_two_names() -> None:
    one_ring, two_rings = _cycle_graph([16]), _cycle_graph([8, 8])
    assert canonical_hash(one_ring) == canonical_hash(two_rings)
    assert not same_type(one_ring, two_rings)
    assert assign_types([one_ring, two_rings, relabelled(two_rings, 1)]) == [0, 1, 1]
    first = type_name("demo", one_ring)
    second = type_name("demo", two_rings, taken=[first])
    assert second == f"{first}-2"
    assert type_name("demo", two_rings, taken=[first, second]) == f"{first}-3"


@pytest.mark.parametrize("setting", sorted(PAPER_COVERAGE))
def test_coverage_of_the_papers_released_labels(paper_features_dir, setting: str) -> None:
    """Label 0 lumps the types under 10 of 400 networks; each is at most 9 networks, so
    counting them as networks of their own does not change the coverage."""
    labels = np.load(paper_features_dir / f"{setting}.npz")["labels"].astype(int)
    counts = np.bincount(labels)
    sizes = [int(c) for c in counts[1:]] + [1] * int(counts[0])
    assert coverage(sizes) == pytest.approx(PAPER_COVERAGE[setting])


def test_coverage_counts_types_at_the_threshold() -> None:
    assert coverage([10, 390]) == 1.0
    assert coverage([9, 391]) == pytest.approx(391 / 400)
    assert coverage([1, 1, 2], threshold=0.5) == pytest.approx(0.5)
    assert coverage([]) == 0.0
