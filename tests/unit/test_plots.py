"""The pictures on reference networks: what each draws, and the faults seen on the demo.

- trajectory plot: one line per trial, a colour bar naming the trial variable, explained
  variance on the axes, the legend naming only what is drawn and the input condition;
- graph drawings: no two nodes overlap, every edge is drawn (zero-length self-loops too);
- decision map: a discrete colour bar, one box per answer present.
"""

from __future__ import annotations

import math
import re
from xml.etree import ElementTree

import networkx as nx
import numpy as np
import pytest
from matplotlib.colors import ListedColormap

from atlas.analysis.extrapolation import extrapolation_signature
from atlas.analysis.fixed_point_conditions import analyse_fixed_points
from atlas.analysis.graph import build_graph
from atlas.analysis.graph_plot import RADIUS, graph_svg, layered_layout
from atlas.analysis.plots_extrapolation import decision_map_figure
from atlas.analysis.plots_trajectories import FixedPointGroup, trajectory_figure
from atlas.analysis.trial_runs import validation_states
from atlas.networks import from_state_dicts
from atlas.tasks import get_task

SVG = "{http://www.w3.org/2000/svg}"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _reference(reference_networks, name: str):
    net = next(n for n in reference_networks if n.name == name)
    return from_state_dicts([net.state_dict]), get_task(net.task)


def _centres(svg: str) -> dict[int, tuple[float, float]]:
    root = ElementTree.fromstring(svg)
    centres = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node":
            circle = group.find(f"{SVG}circle")
            centres[int(group.get("data-node"))] = (
                float(circle.get("cx")),
                float(circle.get("cy")),
            )
    return centres


def _edges(svg: str) -> set[tuple[int, int, int]]:
    root = ElementTree.fromstring(svg)
    return {
        (int(p.get("data-source")), int(p.get("data-target")), int(p.get("data-edge-type")))
        for p in root.iter(f"{SVG}path")
        if p.get("class") == "edge"
    }


@pytest.mark.parametrize(
    "name", ["delayed_vanilla_40_i100", "reproduction_gru_30_i100", "interval_vanilla_30_i100"]
)
def test_graph_drawing_has_no_overlapping_nodes_and_draws_every_edge(reference_networks, name):
    """delayed_vanilla_40 put nodes 5 and 39 on one spot (hiding two edges); the reproduction
    and interval graphs have a self-loop made by an input, which the old drawing lost."""
    population, task = _reference(reference_networks, name)
    graph = build_graph(population, task).compact
    names = {event.edge_type: event.name for event in task.input_events().values()}
    svg = graph_svg(graph, edge_names=names, title=name)
    centres = _centres(svg)
    assert set(centres) == set(graph)
    for a, b in [(a, b) for a in centres for b in centres if a < b]:
        assert math.dist(centres[a], centres[b]) > 2 * RADIUS + 20, (a, b)
    drawn = _edges(svg)
    assert drawn == {(s, t, e) for s, t, e in graph.edges(data="edge_type")}
    if name != "delayed_vanilla_40_i100":
        assert any(s == t for s, t, _ in drawn), "an input's self-loop is drawn"
    texts = {"".join(t.itertext()) for t in ElementTree.fromstring(svg).iter(f"{SVG}text")}
    used = {e for _, _, e in graph.edges(data="edge_type")}
    legend_names = {names.get(e, "autonomous") for e in used}
    assert legend_names <= texts
    unused = set(names) - used
    assert not {names[e] for e in unused} & texts, "the legend lists only edges drawn"


def test_layout_keeps_nodes_apart_on_graphs_that_defeat_force_layouts():
    """A complete graph and two disconnected parts: every node on a cell of its own."""
    graph = nx.complete_graph(6, create_using=nx.DiGraph)
    graph.add_edge(10, 11)
    nx.set_node_attributes(graph, 0, "output")
    nx.set_edge_attributes(graph, 0, "edge_type")
    cells = layered_layout(graph)
    assert len(set(cells.values())) == len(graph)
    centres = _centres(graph_svg(graph))
    assert len({(round(x), round(y)) for x, y in centres.values()}) == len(graph)


def test_graph_svgs_inlined_together_keep_their_ids_apart():
    graph = nx.DiGraph()
    graph.add_node(0, output=0)
    graph.add_edge(0, 0, edge_type=2)
    one, two = graph_svg(graph, id_prefix="a"), graph_svg(graph, id_prefix="b")
    ids = lambda svg: set(re.findall(r'id="([^"]+)"', svg))  # noqa: E731
    assert ids(one) and not ids(one) & ids(two)


def test_trajectory_plot_draws_trials_apart_with_variance_legend_and_conditions(
    reference_networks,
):
    population, task = _reference(reference_networks, "delayed_vanilla_40_i100")
    states = validation_states(population, task)[0]
    (analysis,) = analyse_fixed_points(population, task)
    zero = analysis.conditions[0]
    fixed = zero.points.fixed
    group = FixedPointGroup(zero.label, zero.points.states[fixed], zero.points.stable[fixed])
    trials = task.validation_set().conditions
    figure = trajectory_figure(states, [group], ("f1", trials["f1"]))
    axes, colour_bar = figure.axes
    trial_lines = [line for line in axes.lines if len(line.get_xdata()) == states.shape[1]]
    assert len(trial_lines) == len(states), "one line per trial, none joining trials"
    for line, trajectory in zip(trial_lines, states, strict=True):
        start = line.get_xydata()[0]
        assert np.allclose(start, trial_lines[0].get_xydata()[0]), "every trial starts at zero"
        assert len(trajectory) == len(line.get_xdata())
    assert re.fullmatch(r"PC 1 \(\d+\.\d% of variance\)", axes.get_xlabel())
    assert re.fullmatch(r"PC 2 \(\d+\.\d% of variance\)", axes.get_ylabel())
    assert colour_bar.get_ylabel() == "trial f1"
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    stable, unstable = int(group.stable.sum()), int((~group.stable).sum())
    assert f"zero input: {stable} stable, {unstable} unstable" in legend
    assert ("stable (filled)" in legend) == (stable > 0)
    assert ("unstable (open)" in legend) == (unstable > 0)


def test_trajectory_legend_lists_stable_points_only_when_there_are_some(reference_networks):
    population, task = _reference(reference_networks, "reproduction_gru_30_i100")
    states = validation_states(population, task)[0]
    unstable = FixedPointGroup("zero", states[:1, -1], np.array([False]))
    legend = [t.get_text() for t in trajectory_figure(states, [unstable]).legends[0].get_texts()]
    assert "unstable (open)" in legend and "stable (filled)" not in legend
    with pytest.raises(ValueError, match="colour_by"):
        trajectory_figure(states, [], ("ts", np.arange(3)))


def test_decision_map_colour_bar_is_discrete(reference_networks):
    population, task = _reference(reference_networks, "interval_vanilla_30_i100")
    (signature,) = extrapolation_signature(population, task)
    figure = decision_map_figure(signature, task)
    image = figure.axes[0].images[0]
    values = np.unique(signature.arrays["decision_map"])
    present = sorted(float(v) for v in values if np.isfinite(v))
    assert isinstance(image.cmap, ListedColormap) and len(present) == image.cmap.N
    labels = [t.get_text() for t in figure.axes[1].get_yticklabels()]
    assert labels == [f"{int(v):+d}" if v else "0" for v in present]
    assert set(np.unique(image.get_array().compressed())) == set(range(len(present)))
