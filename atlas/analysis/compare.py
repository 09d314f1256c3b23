"""Comparing two solutions side by side (science.md, "Comparing two solutions").

Four views, each available when both summaries carry what it needs:
- graph: same solution type (`solution_types.same_type`) and the graph edit distance under
  the same matching;
- fixed-point structure: points counted by condition, kind, stability and output label, and
  the L1 difference of those counts;
- extrapolation: the signature distance;
- geometry of the validation-set states: both reduced to the same number of principal
  components (so networks of any architecture and size compare), then orthogonal Procrustes
  similarity (1 - disparity) and the mean canonical correlation.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx
import numpy as np
from scipy.spatial import procrustes

from atlas.analysis.extrapolation import (
    Signature,
    distance_scales,
    extrapolation_signature,
    signature_distance,
)
from atlas.analysis.graph import edit_distance
from atlas.analysis.graph.node_link import from_node_link
from atlas.analysis.solution_types import assign_types, same_type
from atlas.analysis.trial_runs import validation_states
from atlas.networks import RNNPopulation
from atlas.tasks import TrialTask

COMPONENTS = 10
VARIANCE_FLOOR = 1e-10


@dataclass
class SolutionSummary:
    """What a comparison needs about one network, as plain data.

    states: validation-set states (B, T, S); graph: compact reduced-dynamics graph as node-link
    JSON (nodes {id, output}, edges {source, target, edge_type}); fixed_points: the network's
    fixed-point analysis as `FixedPointAnalysis.to_dict()` gives it ({"conditions":
    [{"condition", "points": [{"kind", "stable", "output", ...}, ...]}, ...]}).
    """

    task: TrialTask
    architecture: str
    units: int
    states: np.ndarray
    graph: dict | nx.DiGraph | None = None
    fixed_points: Mapping[str, Any] | None = None
    signature: Signature | None = None
    name: str = ""

    @cached_property
    def geometry(self) -> StateGeometry:
        return StateGeometry.of(self.states)

    @cached_property
    def compact_graph(self) -> nx.DiGraph | None:
        return None if self.graph is None else as_graph(self.graph)

    @cached_property
    def point_counts(self) -> dict[str, int] | None:
        """Fixed points counted as fixed_point_counts does, once however many comparisons."""
        if self.fixed_points is None:
            return None
        return fixed_point_counts(self.fixed_points, self.task)

    @classmethod
    def from_network(
        cls,
        population: RNNPopulation,
        k: int,
        task: TrialTask,
        graph: dict | None = None,
        fixed_points: Mapping[str, Any] | None = None,
        name: str = "",
    ) -> SolutionSummary:
        """The summary of network k: its states and signature computed here, the graph and
        fixed points (computed by their own analyses) passed in."""
        (summary,) = summaries_from_population(population.select([k]), task, names=[name])
        summary.graph, summary.fixed_points = graph, fixed_points
        return summary


def summaries_from_population(
    population: RNNPopulation,
    task: TrialTask,
    graphs: Sequence[dict | None] | None = None,
    fixed_points: Sequence[Mapping[str, Any] | None] | None = None,
    names: Sequence[str] | None = None,
) -> list[SolutionSummary]:
    """Summaries of every network, states and signatures from batched runs."""
    states = validation_states(population, task)
    signatures = extrapolation_signature(population, task)
    count = population.count
    graphs = graphs if graphs is not None else [None] * count
    fixed_points = fixed_points if fixed_points is not None else [None] * count
    names = names if names is not None else [f"network {k}" for k in range(count)]
    return [
        SolutionSummary(
            task=task,
            architecture=population.architecture,
            units=population.units,
            states=states[k],
            graph=graphs[k],
            fixed_points=fixed_points[k],
            signature=signatures[k],
            name=names[k],
        )
        for k in range(count)
    ]


@dataclass(frozen=True)
class Comparison:
    """The four views of two solutions; None where a summary lacked what a view needs."""

    same_type: bool | None
    graph_edit_distance: float | None
    fixed_point_difference: int | None
    fixed_point_counts: tuple[dict[str, int], dict[str, int]] | None
    signature_distance: float | None
    procrustes_similarity: float
    cca_similarity: float
    components: int

    def to_json(self) -> dict[str, Any]:
        return {
            "same_type": self.same_type,
            "graph_edit_distance": self.graph_edit_distance,
            "fixed_point_difference": self.fixed_point_difference,
            "fixed_point_counts": list(self.fixed_point_counts)
            if self.fixed_point_counts
            else None,
            "signature_distance": self.signature_distance,
            "procrustes_similarity": self.procrustes_similarity,
            "cca_similarity": self.cca_similarity,
            "components": self.components,
        }


# ---------------------------------------------------------------- graphs


def as_graph(graph: dict | nx.DiGraph) -> nx.DiGraph:
    """A compact graph given as a DiGraph or as node-link JSON."""
    return graph if isinstance(graph, nx.DiGraph) else from_node_link(graph)


@dataclass(frozen=True)
class GraphView:
    """Two reduced graphs compared: one solution type or not, and their edit distance (0
    exactly for two graphs of one type, else `edit_distance.graph_edit_distance`)."""

    same_type: bool
    edit_distance: float

    @classmethod
    def of(cls, a: nx.DiGraph, b: nx.DiGraph) -> GraphView:
        if same_type(a, b):
            return cls(True, 0.0)
        return cls(False, edit_distance.graph_edit_distance(a, b))


class GraphViews:
    """The graph views of the pairs of a list of summaries, each computed once per pair of
    solution types where it can be.

    Graphs of one type are isomorphic with their labels, so the exact edit distance from
    either to any third graph is the same: a matrix of n networks of t types needs t(t-1)/2
    edit-path searches, not n(n-1)/2. Pairs too large for the exact search keep their own
    bipartite bound (which depends on node order), as a request for that pair alone gives it.
    """

    def __init__(self, summaries: Sequence[SolutionSummary]) -> None:
        graphed = [s for s in summaries if s.compact_graph is not None]
        types = assign_types([s.compact_graph for s in graphed])
        self._types = {id(s): t for s, t in zip(graphed, types, strict=True)}
        self._known: dict[tuple[int, int], GraphView] = {}

    def between(self, a: SolutionSummary, b: SolutionSummary) -> GraphView | None:
        """The view of a and b (both among the summaries given), None where a graph lacks."""
        graph_a, graph_b = a.compact_graph, b.compact_graph
        if graph_a is None or graph_b is None:
            return None
        type_a, type_b = self._types[id(a)], self._types[id(b)]
        if type_a == type_b:
            return GraphView(True, 0.0)
        if len(graph_a) + len(graph_b) > edit_distance.EXACT_NODES:
            return GraphView.of(graph_a, graph_b)
        key = (min(type_a, type_b), max(type_a, type_b))
        if key not in self._known:
            self._known[key] = GraphView.of(graph_a, graph_b)
        return self._known[key]


# ---------------------------------------------------------------- fixed points


def fixed_point_counts(fixed_points: Mapping[str, Any], task: TrialTask) -> dict[str, int]:
    """Points counted by 'condition/kind/stability/output label' (the task's output label)."""
    counts: Counter[str] = Counter()
    for entry in fixed_points["conditions"]:
        condition = entry["condition"]
        for point in entry["points"]:
            label = int(np.ravel(task.output_label(np.asarray(point["output"], dtype=float)))[0])
            stability = "stable" if point["stable"] else "unstable"
            counts[f"{condition}/{point['kind']}/{stability}/{label}"] += 1
    return dict(sorted(counts.items()))


def count_difference(a: Mapping[str, int], b: Mapping[str, int]) -> int:
    return sum(abs(a.get(key, 0) - b.get(key, 0)) for key in set(a) | set(b))


# ---------------------------------------------------------------- geometry


@dataclass(frozen=True)
class StateGeometry:
    """A network's validation-set states on their principal components: one SVD per network,
    however many networks it is compared with."""

    coordinates: np.ndarray  # (B*T, k): the states on their top k <= COMPONENTS components
    basis: np.ndarray  # (B*T, k): the same, scaled to unit length (orthonormal columns)
    rank: int  # components whose variance is above VARIANCE_FLOOR of the total

    @classmethod
    def of(cls, states: np.ndarray) -> StateGeometry:
        flat = states.reshape(-1, states.shape[-1]).astype(np.float64)
        u, s, _ = np.linalg.svd(flat - flat.mean(axis=0), full_matrices=False)
        variances = s**2
        rank = int((variances > VARIANCE_FLOOR * variances.sum()).sum())
        return cls(u[:, :COMPONENTS] * s[:COMPONENTS], u[:, :COMPONENTS], rank)


def shared_components(a: StateGeometry, b: StateGeometry) -> int:
    """How many components both state sets really have, at most COMPONENTS."""
    return max(1, min(COMPONENTS, a.rank, b.rank))


def procrustes_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """1 - disparity after the best rotation, reflection and scaling of b onto a (both
    centred and normalised); 1 for congruent point sets."""
    return float(1.0 - procrustes(a, b)[2])


def mean_canonical_correlation(qa: np.ndarray, qb: np.ndarray) -> float:
    """Mean canonical correlation of two centred point sets of the same rows, given by
    orthonormal bases of their spans: the mean cosine of the principal angles between them.
    Principal components come with such a basis, so a matrix needs no QR per pair."""
    return float(np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), 0.0, 1.0).mean())


# ---------------------------------------------------------------- comparison


def compare_solutions(
    a: SolutionSummary, b: SolutionSummary, graphs: GraphViews | None = None
) -> Comparison:
    """Compare two networks of one task, of any architectures and sizes (`graphs`: the graph
    views of a list holding both, shared by the pairs of a matrix)."""
    if a.task.name != b.task.name:
        raise ValueError(f"solutions of different tasks ({a.task.name!r}, {b.task.name!r})")
    if a.states.shape[:2] != b.states.shape[:2]:
        raise ValueError(
            f"validation states cover different trials: {a.states.shape} vs {b.states.shape}"
        )
    graph = (graphs or GraphViews([a, b])).between(a, b)
    counts = difference = None
    if a.point_counts is not None and b.point_counts is not None:
        counts = (a.point_counts, b.point_counts)
        difference = count_difference(*counts)
    signatures = None
    if a.signature is not None and b.signature is not None:
        signatures = signature_distance(a.signature, b.signature, distance_scales(a.task))
    n = shared_components(a.geometry, b.geometry)
    pcs_a, pcs_b = a.geometry.coordinates[:, :n], b.geometry.coordinates[:, :n]
    return Comparison(
        same_type=None if graph is None else graph.same_type,
        graph_edit_distance=None if graph is None else graph.edit_distance,
        fixed_point_difference=difference,
        fixed_point_counts=counts,
        signature_distance=signatures,
        procrustes_similarity=procrustes_similarity(pcs_a, pcs_b),
        cca_similarity=mean_canonical_correlation(a.geometry.basis[:, :n], b.geometry.basis[:, :n]),
        components=n,
    )


MATRIX_FIELDS = (
    "same_type",
    "graph_edit_distance",
    "fixed_point_difference",
    "signature_distance",
    "procrustes_similarity",
    "cca_similarity",
)


def comparison_matrix(summaries: Sequence[SolutionSummary]) -> dict[str, np.ndarray]:
    """Every pairwise comparison as symmetric (n, n) matrices, one per view (same_type as
    1/0); NaN where a view is unavailable."""
    n = len(summaries)
    matrices = {name: np.full((n, n), np.nan) for name in MATRIX_FIELDS}
    graphs = GraphViews(summaries)
    for i, j in itertools.combinations_with_replacement(range(n), 2):
        comparison = compare_solutions(summaries[i], summaries[j], graphs)
        for name in MATRIX_FIELDS:
            value = getattr(comparison, name)
            matrices[name][i, j] = matrices[name][j, i] = math.nan if value is None else value
    return matrices
