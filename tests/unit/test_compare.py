"""Comparing solutions: a network against itself, its unit permutation, and other networks."""

from __future__ import annotations

import copy
import itertools
import json

import networkx as nx
import numpy as np
import pytest
import torch

from atlas.analysis.compare import (
    GraphView,
    GraphViews,
    SolutionSummary,
    as_graph,
    compare_solutions,
    comparison_matrix,
    summaries_from_population,
)
from atlas.analysis.fixed_point_conditions import analyse_fixed_points
from atlas.analysis.graph import build_graphs
from atlas.networks import from_state_dicts, to_state_dict
from atlas.networks.permutation import permute_hidden_units
from atlas.tasks import get_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def reference(reference_networks, name: str):
    return next(n for n in reference_networks if n.name == name)


def summary_of(net) -> SolutionSummary:
    """A reference network with the paper's graph, its fixed points and signature."""
    population = from_state_dicts([net.state_dict])
    task = get_task(net.task)
    (fixed,) = analyse_fixed_points(population, task)
    return SolutionSummary.from_network(
        population, 0, task, graph=net.graph, fixed_points=fixed.to_dict(), name=net.name
    )


@pytest.fixture(scope="module")
def network_and_permutation(reference_networks):
    """reproduction_vanilla_20_i100 and the same network with its units relabelled, each with
    the graph, fixed points and signature computed from its own weights."""
    net = reference(reference_networks, "reproduction_vanilla_20_i100")
    original = from_state_dicts([net.state_dict])
    perm = torch.randperm(net.units, generator=torch.Generator().manual_seed(2)).tolist()
    pair = from_state_dicts(
        [net.state_dict, to_state_dict(permute_hidden_units(original, perm), 0)]
    )
    task = get_task(net.task)
    graphs = [g.compact for g in build_graphs(pair, task)]
    fixed = [f.to_dict() for f in analyse_fixed_points(pair, task)]
    return summaries_from_population(pair, task, graphs, fixed, ["original", "permuted"])


def test_a_network_against_itself(network_and_permutation):
    original, _ = network_and_permutation
    same = compare_solutions(original, original)
    assert same.same_type is True
    assert same.graph_edit_distance == 0.0
    assert same.fixed_point_difference == 0
    assert same.signature_distance == 0.0
    assert same.procrustes_similarity == pytest.approx(1.0, abs=1e-9)
    assert same.cca_similarity == pytest.approx(1.0, abs=1e-9)
    json.dumps(same.to_json())


def test_a_network_against_its_unit_permutation(network_and_permutation):
    original, permuted = network_and_permutation
    comparison = compare_solutions(original, permuted)
    print(json.dumps(comparison.to_json()))
    assert comparison.same_type is True
    assert comparison.graph_edit_distance == 0.0
    assert comparison.signature_distance == 0.0
    assert comparison.procrustes_similarity == pytest.approx(1.0, abs=1e-6)
    assert comparison.cca_similarity == pytest.approx(1.0, abs=1e-6)
    # The search starts from noisy samples, so which saddles and slow points it meets may differ;
    # the attractors (stable true fixed points) may not.
    counts_a, counts_b = comparison.fixed_point_counts
    attractors_a = {k: v for k, v in counts_a.items() if "/fixed/stable/" in k}
    attractors_b = {k: v for k, v in counts_b.items() if "/fixed/stable/" in k}
    assert attractors_a == attractors_b and attractors_a


def test_two_networks_of_one_task(reference_networks):
    a = summary_of(reference(reference_networks, "delayed_vanilla_20_i100"))
    b = summary_of(reference(reference_networks, "delayed_vanilla_40_i100"))
    comparison = compare_solutions(a, b)
    print(json.dumps(comparison.to_json()))
    assert comparison.same_type is False
    assert comparison.graph_edit_distance > 0
    assert 0 < comparison.signature_distance < 1
    assert 0 < comparison.procrustes_similarity < 0.999
    assert 0 < comparison.cca_similarity < 0.999
    assert comparison.fixed_point_difference >= 0
    assert comparison.components == 10


def test_matrix_across_architectures_and_sizes(reference_networks):
    names = [
        "reproduction_vanilla_20_i100",
        "reproduction_gru_30_i100",
        "reproduction_lstm_20_i100",
    ]
    summaries = [summary_of(reference(reference_networks, n)) for n in names]
    assert [s.states.shape[-1] for s in summaries] == [20, 30, 40]
    matrices = comparison_matrix(summaries)
    for name, matrix in matrices.items():
        print(name, np.round(matrix, 3).tolist())
        assert matrix.shape == (3, 3)
        assert np.isfinite(matrix).all(), name
        np.testing.assert_allclose(matrix, matrix.T, err_msg=name)
    np.testing.assert_allclose(np.diag(matrices["procrustes_similarity"]), 1.0)
    # The matrix keeps each network's PCA; a pair compared from fresh summaries agrees.
    alone = compare_solutions(copy.copy(summaries[0]), copy.copy(summaries[2]))
    for name in ("procrustes_similarity", "cca_similarity", "signature_distance"):
        assert matrices[name][0, 2] == pytest.approx(getattr(alone, name), rel=1e-12), name
    np.testing.assert_array_equal(np.diag(matrices["signature_distance"]), 0.0)
    off = ~np.eye(3, dtype=bool)
    assert (matrices["signature_distance"][off] > 0).all()
    assert (matrices["procrustes_similarity"][off] < 0.999).all()
    # In the paper's graphs, vanilla_20 and gru_30 share a type (one solution, two
    # architectures); lstm_20 (no Set loop on the start state) is another.
    assert matrices["same_type"][0, 1] == 1 and matrices["graph_edit_distance"][0, 1] == 0
    assert (matrices["same_type"][2, :2] == 0).all()
    assert (matrices["graph_edit_distance"][2, :2] > 0).all()


def test_comparisons_refuse_mismatched_tasks(reference_networks):
    a, b = (
        SolutionSummary.from_network(from_state_dicts([net.state_dict]), 0, get_task(net.task))
        for net in (
            reference(reference_networks, "interval_vanilla_20_i100"),
            reference(reference_networks, "delayed_vanilla_20_i100"),
        )
    )
    with pytest.raises(ValueError, match="different tasks"):
        compare_solutions(a, b)


def exhaustive_edit_distance(a: nx.DiGraph, b: nx.DiGraph) -> int:
    """Edit distance by trying every partial one-to-one node mapping (small graphs only)."""
    best = None
    for k in range(min(len(a), len(b)) + 1):
        for kept in itertools.combinations(a, k):
            for image in itertools.permutations(b, k):
                forward = dict(zip(kept, image, strict=True))
                backward = {v: u for u, v in forward.items()}
                cost = len(a) + len(b) - 2 * k
                cost += sum(
                    a.nodes[u]["output"] != b.nodes[v]["output"] for u, v in forward.items()
                )
                cost += sum((u == 0) != (v == 0) for u, v in forward.items())  # start state
                for u, v, t in a.edges(data="edge_type"):
                    mapped = (forward.get(u), forward.get(v))
                    cost += 1 if not b.has_edge(*mapped) else t != b.edges[mapped]["edge_type"]
                cost += sum(not a.has_edge(backward.get(u), backward.get(v)) for u, v in b.edges)
                best = cost if best is None else min(best, cost)
    return best


def test_edit_distance_is_exact_on_the_papers_small_graphs(reference_networks):
    """networkx alone mismatches self-loops; the loops-as-node-attributes search must not."""
    graphs = {n.name: as_graph(n.graph) for n in reference_networks if len(n.graph["nodes"]) <= 4}
    assert len(graphs) >= 10
    for (name_a, a), (name_b, b) in itertools.combinations(graphs.items(), 2):
        expected = exhaustive_edit_distance(a, b)
        assert GraphView.of(a, b).edit_distance == expected, (name_a, name_b)
        assert GraphView.of(b, a).edit_distance == expected, (name_b, name_a)


def test_canonical_correlation_from_principal_components_equals_qr_of_the_states(
    reference_networks,
):
    """The matrix reads CCA off each network's principal-component basis; the textbook way
    (QR of each centred point set, then the singular values of Qa'Qb) must agree."""
    a = summary_of(reference(reference_networks, "delayed_vanilla_20_i100"))
    b = summary_of(reference(reference_networks, "delayed_vanilla_40_i100"))
    n = min(a.geometry.rank, b.geometry.rank, 10)
    pcs = [s.geometry.coordinates[:, :n] for s in (a, b)]
    qa, qb = (np.linalg.qr(p - p.mean(axis=0))[0] for p in pcs)
    textbook = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), 0, 1).mean()
    assert compare_solutions(a, b).cca_similarity == pytest.approx(textbook, abs=1e-12)


def test_graph_views_of_a_list_equal_each_pair_alone(reference_networks):
    """A matrix computes one edit distance per pair of types; every pair must still read what
    it reads alone (the reference graphs hold several networks of one type)."""
    summaries = [
        SolutionSummary(
            task=get_task(net.task),
            architecture=net.architecture,
            units=net.units,
            states=np.empty((1, 1, net.units)),
            graph=net.graph,
        )
        for net in reference_networks
    ]
    views = GraphViews(summaries)
    one_type = 0
    for a, b in itertools.combinations(summaries, 2):
        alone = GraphView.of(a.compact_graph, b.compact_graph)
        assert views.between(a, b) == alone == views.between(b, a)
        one_type += alone.same_type
    assert one_type >= 3
