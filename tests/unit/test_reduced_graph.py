"""Reduced-dynamics graphs of the paper's reference networks, built by the atlas' own code."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import numpy as np
import pytest
import torch
from scipy.signal import find_peaks

from atlas.analysis.graph import (
    GraphFormatError,
    ReducedGraph,
    build_graph,
    build_graphs,
    compact,
    from_node_link,
    to_node_link,
)
from atlas.analysis.graph.builder import rise_index
from atlas.analysis.graph.lace import LaceRunner
from atlas.analysis.graph.loops import first_prominent_peaks
from atlas.analysis.graph_plot import (
    AUTONOMOUS_COLOUR,
    INPUT_COLOURS,
    OUTPUT_COLOURS,
    START_RING,
    graph_svg,
)
from atlas.analysis.solution_types import same_type
from atlas.cli import main
from atlas.networks import RNNPopulation, from_state_dicts
from atlas.networks.permutation import permute_hidden_units
from atlas.tasks import get_task
from atlas.tasks.graph_protocol import FREE_RUN_STEPS, Stimulus

AGREEMENT_FLOOR = 16


@pytest.fixture(scope="module")
def built(reference_networks) -> dict[str, ReducedGraph]:
    """Every reference network's graph, built once for the module."""
    return {ref.name: build_graph(ref.state_dict, get_task(ref.task)) for ref in reference_networks}


@pytest.fixture(scope="module")
def reference(reference_networks):
    """The reference network of a given name."""
    return lambda name: next(ref for ref in reference_networks if ref.name == name)


def test_compact_graphs_agree_with_the_papers(built, reference_networks) -> None:
    misses = [
        ref.name
        for ref in reference_networks
        if not same_type(built[ref.name].compact, from_node_link(ref.graph))
    ]
    total = len(reference_networks)
    agree = total - len(misses)
    print(f"\nreduced graphs isomorphic to the paper's: {agree}/{total}")
    for name in misses:
        print(f"  miss: {name}: {to_node_link(built[name].compact)}")
    assert agree >= AGREEMENT_FLOOR, f"only {agree} of {total} agree; misses: {misses}"


@pytest.mark.parametrize("architecture", ["vanilla", "gru", "lstm"])
def test_every_architecture_is_reduced_faithfully(
    built, reference_networks, architecture: str
) -> None:
    refs = [ref for ref in reference_networks if ref.architecture == architecture]
    assert refs
    for ref in refs:
        graph = built[ref.name].compact
        assert same_type(graph, from_node_link(ref.graph)), ref.name
        task = get_task(ref.task)
        event_types = {event.edge_type for event in task.input_events().values()}
        assert 0 in graph
        assert {t for _, _, t in graph.edges(data="edge_type")} <= event_types | {0}


def test_the_full_graph_is_kept_and_compacts_to_the_compact_one(built, reference_networks) -> None:
    for ref in reference_networks:
        reduced = built[ref.name]
        task = get_task(ref.task)
        protocol = task.graph_protocol()
        types = [task.input_events()[e].edge_type for e in protocol.events()]
        responses = [task.input_events()[e].edge_type for e in protocol.response_events]
        assert len(reduced.full) > len(reduced.compact)
        assert set(reduced.compact) <= set(reduced.full)
        again = compact(reduced.full, types, responses)
        assert to_node_link(again) == to_node_link(reduced.compact)


def test_node_link_round_trip_keeps_ids_outputs_and_edge_types(
    built: dict[str, ReducedGraph],
) -> None:
    for reduced in built.values():
        for graph in (reduced.compact, reduced.full):
            data = json.loads(json.dumps(to_node_link(graph)))
            assert set(data) == {"directed", "nodes", "edges"}
            assert all(set(n) == {"id", "output"} for n in data["nodes"])
            assert all(set(e) == {"source", "target", "edge_type"} for e in data["edges"])
            assert to_node_link(from_node_link(data)) == data


@pytest.mark.parametrize("name", ["interval_vanilla_30_i100", "reproduction_gru_20_i100"])
def test_graph_svg_colours_outputs_and_inputs_and_marks_the_start(built, name: str) -> None:
    graph = built[name].compact
    task = get_task(name.split("_")[0])
    names = {event.edge_type: event.name for event in task.input_events().values()}
    svg = graph_svg(graph, edge_names=names, title=name)
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = {"".join(t.itertext()) for t in root.iter() if t.tag.endswith("text")}
    assert "start" in texts and name in texts
    edge_types = sorted({t for _, _, t in graph.edges(data="edge_type")})
    assert {names.get(t, "autonomous") for t in edge_types} <= texts
    for output in {o for _, o in graph.nodes(data="output")}:
        assert f"output {output}" in texts
        assert OUTPUT_COLOURS[output] in svg
    assert START_RING in svg
    assert AUTONOMOUS_COLOUR in svg
    inputs = [t for t in edge_types if t != 0]
    assert all(INPUT_COLOURS[i] in svg for i in range(len(inputs)))


def test_peak_search_equals_scipy_row_by_row(reference) -> None:
    """The batched search for each row's first prominent dip finds what scipy finds row by
    row, on the distance rows of a free run that enters a limit cycle."""
    ref = reference("reproduction_vanilla_20_i100")
    population = from_state_dicts([ref.state_dict])
    task = get_task(ref.task)
    with torch.no_grad():
        runner = LaceRunner(population, in_trial=False)
        start = runner.start_states(task.graph_protocol().start_inputs)
        trajectory = runner.run(start, FREE_RUN_STEPS, np.ones((1, 1), dtype=bool))[0, 0]
    tail = trajectory[100:]
    distance = np.linalg.norm(tail[:, None] - tail[None, :], axis=-1)
    rows = [-distance[i, i + 1 :] for i in range(len(tail))]
    expected = [(find_peaks(row, prominence=0.1)[0][:1].tolist() or [-1])[0] for row in rows]
    assert max(expected) > 0
    assert first_prominent_peaks(rows, 0.1).tolist() == expected


def test_node_link_rejects_what_is_not_a_graph() -> None:
    with pytest.raises(GraphFormatError):
        from_node_link({"nodes": [{"id": 0}], "edges": []})
    with pytest.raises(GraphFormatError):
        from_node_link({"nodes": [{"id": 0, "output": 0}], "edges": [{"source": 0, "target": 7}]})


@pytest.mark.parametrize(
    "name", ["reproduction_vanilla_40_i100", "reproduction_gru_40_i100", "interval_vanilla_40_i100"]
)
def test_permuting_hidden_units_gives_the_same_graph_type(built, reference, name: str) -> None:
    ref = reference(name)
    population = from_state_dicts([ref.state_dict])
    permutation = np.random.default_rng(7).permutation(population.units)
    permuted = permute_hidden_units(population, permutation.tolist())
    assert not torch.equal(permuted.weight_hh, population.weight_hh)
    reduced = build_graph(permuted, get_task(ref.task))
    assert same_type(reduced.compact, built[name].compact)


def test_lstm_unit_permutation_gives_the_same_graph_type(built, reference) -> None:
    ref = reference("reproduction_lstm_30_i100")
    population = from_state_dicts([ref.state_dict])
    permutation = np.random.default_rng(3).permutation(population.units).tolist()
    reduced = build_graph(permute_hidden_units(population, permutation), get_task(ref.task))
    assert same_type(reduced.compact, built[ref.name].compact)


@pytest.mark.parametrize("name", ["interval_vanilla_40_i100", "reproduction_lstm_30_i100"])
def test_a_batch_of_networks_gives_each_network_its_own_graph(reference, name: str) -> None:
    """Networks simulated together (different numbers of laces each) get exactly the graphs
    they get alone."""
    ref = reference(name)
    generator = torch.Generator().manual_seed(11)
    variants = [ref.state_dict] + [
        {
            key: value * (1 + 0.02 * torch.randn(value.shape, generator=generator))
            for key, value in ref.state_dict.items()
        }
        for _ in range(2)
    ]
    task = get_task(ref.task)
    together = build_graphs(from_state_dicts(variants), task)
    for variant, reduced in zip(variants, together, strict=True):
        alone = build_graph(variant, task)
        assert to_node_link(reduced.full) == to_node_link(alone.full)
        assert to_node_link(reduced.compact) == to_node_link(alone.compact)


def _assert_valid(reduced: ReducedGraph, task_name: str) -> None:
    task = get_task(task_name)
    event_types = {event.edge_type for event in task.input_events().values()}
    labels = {0, 1} if task_name == "reproduction" else {-1, 0, 1}
    for graph in (reduced.full, reduced.compact):
        assert 0 in graph
        assert {o for _, o in graph.nodes(data="output")} <= labels
        assert {t for _, _, t in graph.edges(data="edge_type")} <= event_types | {0}
    assert set(reduced.compact) <= set(reduced.full)


@pytest.mark.parametrize(
    "name", ["delayed_vanilla_20_i100", "interval_vanilla_40_i100", "reproduction_lstm_40_i100"]
)
def test_strongly_perturbed_networks_still_give_valid_graphs(reference, name: str) -> None:
    """Weights scaled by 30% noise: dynamics the protocol was not tuned for (laces that
    stop at once, pulses that lead straight back) still give well-formed graphs."""
    ref = reference(name)
    generator = torch.Generator().manual_seed(5)
    variants = [
        {
            key: v * (1 + 0.3 * torch.randn(v.shape, generator=generator))
            for key, v in ref.state_dict.items()
        }
        for _ in range(3)
    ]
    for reduced in build_graphs(from_state_dicts(variants), get_task(ref.task)):
        _assert_valid(reduced, ref.task)


def test_a_population_at_initialisation_gives_valid_graphs() -> None:
    """Networks before training mostly fall straight to a fixed point: every pulse's lace
    merges back where it started."""
    population = RNNPopulation.initialise("vanilla", 30, list(range(6)))
    for reduced in build_graphs(population, get_task("delayed")):
        _assert_valid(reduced, "delayed")


def test_rise_index_marks_the_step_before_the_output_rises() -> None:
    silent_then_answer = np.r_[np.full(40, 0.01), np.linspace(0.1, 1.0, 10)]
    assert rise_index(silent_then_answer) == 39
    assert rise_index(np.full(12, 0.3)) == 11


def test_networks_that_do_not_fit_the_task_are_refused(reference) -> None:
    ref = reference("reproduction_vanilla_30_i100")
    three_inputs = dict(ref.state_dict)
    rows = ref.state_dict["rnn.weight_ih_l0"].shape[0]
    three_inputs["rnn.weight_ih_l0"] = torch.ones(rows, 3)
    with pytest.raises(ValueError, match="inputs"):
        build_graph(three_inputs, get_task("reproduction"))
    with pytest.raises(ValueError, match="one network"):
        build_graph(from_state_dicts([ref.state_dict, ref.state_dict]), get_task("reproduction"))


def test_stimulus_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="position"):
        Stimulus("set", at=("middle",), settle=5)
    with pytest.raises(ValueError):
        Stimulus("set", at=(-1,), settle=5)
    for name in ("delayed", "interval", "reproduction"):
        task = get_task(name)
        assert set(task.graph_protocol().events()) <= set(task.input_events())


def test_cli_prints_the_compact_graph(built, reference, capsys) -> None:
    ref = reference("reproduction_vanilla_30_i100")
    assert main(["graph", "--task", "reproduction", "--weights", str(ref.weights_path)]) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed == to_node_link(built[ref.name].compact)
    assert same_type(from_node_link(printed), from_node_link(ref.graph))
    assert captured.err == ""  # a solution: no warning


def test_cli_warns_when_the_network_is_no_solution(reference, tmp_path, capsys) -> None:
    ref = reference("reproduction_vanilla_30_i100")
    weakened = dict(ref.state_dict)
    weakened["fc.weight"] = weakened["fc.weight"] * 0.5
    path = tmp_path / "weakened.pt"
    torch.save(weakened, path)
    assert main(["graph", "--task", "reproduction", "--weights", str(path)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["nodes"]
    assert "warning" in captured.err and "no solution" in captured.err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--task", "nonsense"], "unknown task"),
        (["--task", "two_neuron"], "not a task: it has no trials"),
        (["--task", "delayed", "--weights", "/nonexistent/weights.pt"], "no such file"),
        (["--task", "delayed", "--weights", __file__], "state dict"),
    ],
)
def test_cli_reports_bad_input_in_one_line(
    reference_networks, arguments: list[str], message: str, capsys
) -> None:
    if "--weights" not in arguments:
        arguments = [*arguments, "--weights", str(reference_networks[0].weights_path)]
    assert main(["graph", *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error
