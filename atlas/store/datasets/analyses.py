"""A network's analyses between the store and a dataset: rows of the dataset's tables plus
arrays of its analyses.safetensors, in both directions.

Export reads through the store's analysis readers (the science's result objects); import
rebuilds those objects from the dataset, checks them (shapes, finite values, graph hashes,
eigenvalues against Jacobians recomputed from the weights) and saves them through the same
writers the analysis steps use, so imported rows are exactly what the steps would write.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas.analysis.extrapolation import Signature
from atlas.analysis.features import feature_names
from atlas.analysis.fixed_point_conditions import ConditionPoints, FixedPointAnalysis
from atlas.analysis.fixed_points import KINDS, FixedPointSet
from atlas.analysis.graph import GraphFormatError, ReducedGraph, from_node_link
from atlas.analysis.jacobian import step_jacobian
from atlas.analysis.limit_cycles import LimitCycle
from atlas.analysis.solution_types import canonical_hash
from atlas.analysis_status import FINISHED_RUNS
from atlas.datasets import DatasetError
from atlas.networks import RNNPopulation
from atlas.store.analyses import (
    ConditionCycles,
    json_number,
    save_extrapolation,
    save_features,
    save_fixed_points,
    save_limit_cycles,
    save_reduced_graph,
)
from atlas.store.analysis_reads import (
    extrapolation_signature,
    fixed_point_analysis,
    limit_cycles,
    network_features,
    reduced_graph,
)
from atlas.store.analysis_results import save_validation_result
from atlas.store.arrays import arrays_from_blob, from_blob
from atlas.store.models import AnalysisRun, Network, ValidationResult
from atlas.tasks import TrialTask

#: The analysis steps a dataset carries, in the order the worker runs them (worker/steps.py).
DATASET_STEPS = (
    "validation",
    "fixed_points",
    "limit_cycles",
    "extrapolation",
    "graph",
    "solution_type",
    "features",
)
# Eigenvalues of the Jacobian recomputed from the stored state and weights against the
# recorded ones: round-off, and the sensitivity of nearly repeated eigenvalues.
EIGENVALUE_ATOL = 1e-6


@dataclass
class NetworkAnalyses:
    """One network's analyses in dataset form: rows by table name, and named arrays."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)


def _json_dict(values: Mapping[str, float]) -> dict[str, float | None]:
    return {name: json_number(value) for name, value in values.items()}


# --------------------------------------------------------------------------- export


def export_analyses(
    session: Session, network: Network, key: str, jacobians: bool
) -> NetworkAnalyses:
    """Everything the analysis steps stored for `network`, under the dataset id `key`."""
    out = NetworkAnalyses()
    runs = session.scalars(
        select(AnalysisRun).where(AnalysisRun.network_id == network.id).order_by(AnalysisRun.id)
    ).all()
    for run in runs:
        if run.status in FINISHED_RUNS:
            out.add("analysis_runs", {
                "network": key, "step": run.step, "status": run.status,
                "attempts": run.attempts, "duration_s": run.duration_s,
                "summary": run.summary, "error": run.error,
            })  # fmt: skip
    validation = session.scalars(
        select(ValidationResult).where(ValidationResult.network_id == network.id)
    ).one_or_none()
    if validation is not None:
        out.add("validation", {"network": key, "loss": validation.loss})
        out.arrays["validation.trial_errors"] = from_blob(validation.trial_errors)
        for name, values in arrays_from_blob(validation.conditions).items():
            out.arrays[f"validation.conditions.{name}"] = values
    _export_fixed_points(session, network.id, key, jacobians, out)
    found = limit_cycles(session, network.id) or []
    pairs = [(entry, cycle) for entry in found for cycle in entry.cycles]
    for index, (entry, cycle) in enumerate(pairs):
        out.add("limit_cycles", {
            "network": key, "index": index, "condition": entry.condition,
            "inputs": [float(v) for v in entry.inputs], "period": float(cycle.period),
            "diameter": float(cycle.diameter), "closing_error": float(cycle.closing_error),
        })  # fmt: skip
        out.arrays[f"limit_cycles.{index}.states"] = cycle.states
        out.arrays[f"limit_cycles.{index}.outputs"] = cycle.outputs
    signature = extrapolation_signature(session, network.id)
    if signature is not None:
        out.add("extrapolation", {"network": key, "summary": _json_dict(signature.summary)})
        for name, values in signature.arrays.items():
            out.arrays[f"extrapolation.{name}"] = np.asarray(values)
    graph = reduced_graph(session, network.id)
    if graph is not None:
        out.add("graphs", {
            "network": key, "compact": graph.compact, "full": graph.full,
            "canonical_hash": graph.canonical_hash, "n_nodes": graph.n_nodes,
            "n_edges": graph.n_edges,
        })  # fmt: skip
    features = network_features(session, network.id)
    if features is not None:
        out.add("features", {"network": key, **_json_dict(features)})
    return out


def _export_fixed_points(
    session: Session, network_id: int, key: str, jacobians: bool, out: NetworkAnalyses
) -> None:
    analysis = fixed_point_analysis(session, network_id)
    if analysis is None:
        return
    sets = [c.points for c in analysis.conditions]
    index = 0
    for condition in analysis.conditions:
        points = condition.points
        for p in range(len(points)):
            out.add("fixed_points", {
                "network": key, "index": index, "condition": condition.label,
                "inputs": condition.inputs.tolist(), "kind": str(points.kinds[p]),
                "q": float(points.q[p]), "stable": bool(points.stable[p]),
            })  # fmt: skip
            index += 1
    eigenvalues = np.concatenate([s.eigenvalues for s in sets])
    out.arrays["fixed_points.states"] = np.concatenate([s.states for s in sets])
    out.arrays["fixed_points.outputs"] = np.concatenate([s.outputs for s in sets])
    out.arrays["fixed_points.eigenvalues"] = np.stack([eigenvalues.real, eigenvalues.imag], -1)
    if jacobians:
        out.arrays["fixed_points.jacobians"] = np.concatenate([s.jacobians for s in sets])


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class NetworkContext:
    """What the import of one network's analyses checks against: its dataset id, task,
    weights as a float32 population of one, and its rows and arrays from the dataset."""

    key: str
    task: TrialTask
    population: RNNPopulation
    rows: Mapping[str, list[dict[str, Any]]]
    arrays: Mapping[str, np.ndarray]

    def array(self, name: str, shape: tuple[int | None, ...], finite: bool = True) -> np.ndarray:
        """A named float array of the given shape (None: any length), checked."""
        if name not in self.arrays:
            raise DatasetError(f"network {self.key}: analyses.safetensors lacks {name}")
        value = self.arrays[name]
        if (
            value.dtype.kind != "f"
            or value.ndim != len(shape)
            or any(
                want is not None and got != want
                for got, want in zip(value.shape, shape, strict=True)
            )
        ):
            raise DatasetError(
                f"network {self.key}: {name} is {value.dtype} {value.shape}, expected floats "
                f"of shape {tuple('n' if s is None else s for s in shape)}"
            )
        if finite and not np.isfinite(value).all():
            raise DatasetError(f"network {self.key}: {name} holds NaN or infinite values")
        return value.astype(np.float64)

    def one_row(self, table: str) -> dict[str, Any]:
        rows = self.rows.get(table, [])
        if len(rows) != 1:
            raise DatasetError(f"network {self.key}: {len(rows)} rows in {table}, expected 1")
        return rows[0]


Saver = Callable[[Session, int], dict[str, Any] | None]


def _conditions(context: NetworkContext, summary: Any, step: str) -> list[tuple[str, list[float]]]:
    entries = summary.get("conditions") if isinstance(summary, dict) else None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("condition"), str)
        and isinstance(e.get("inputs"), list)
        for e in entries
    ):
        raise DatasetError(f"network {context.key}: the {step} run has no list of conditions")
    conditions = [(e["condition"], [float(v) for v in e["inputs"]]) for e in entries]
    for _, inputs in conditions:
        if len(inputs) != context.task.n_inputs:
            raise DatasetError(f"network {context.key}: a {step} condition has wrong inputs")
    return conditions


def validation_saver(context: NetworkContext, trial_errors: np.ndarray) -> Saver:
    """The stored validation result, checked against the per-trial errors recomputed from the
    weights (`trial_errors`)."""
    row = context.one_row("validation")
    stored = context.array("validation.trial_errors", (len(trial_errors),))
    if not np.allclose(stored, trial_errors, rtol=1e-3, atol=1e-8):
        raise DatasetError(
            f"network {context.key}: the recorded per-trial validation errors are not what "
            "its weights give"
        )
    prefix = "validation.conditions."
    conditions = {k[len(prefix) :]: v for k, v in context.arrays.items() if k.startswith(prefix)}
    if not math.isclose(row["loss"], float(stored.mean()), rel_tol=1e-9, abs_tol=1e-15):
        raise DatasetError(f"network {context.key}: validation loss is not its trials' mean")

    def save(session: Session, network_id: int) -> dict[str, Any]:
        save_validation_result(session, network_id, row["loss"], stored, conditions)
        return {"loss": json_number(row["loss"])}

    return save


def fixed_points_saver(context: NetworkContext, summary: Any) -> Saver:
    """The fixed points by condition; Jacobians recomputed from state and weights where the
    dataset leaves them out, and every point's eigenvalues checked against them."""
    conditions = _conditions(context, summary, "fixed_points")
    rows = sorted(context.rows.get("fixed_points", []), key=lambda r: r["index"])
    count, size = len(rows), context.population.state_size
    if [r["index"] for r in rows] != list(range(count)):
        raise DatasetError(f"network {context.key}: fixed point indexes are not 0..{count - 1}")
    states = context.array("fixed_points.states", (count, size))
    outputs = context.array("fixed_points.outputs", (count, context.population.n_outputs))
    pairs = context.array("fixed_points.eigenvalues", (count, size, 2))
    eigenvalues = np.ascontiguousarray(pairs).view(np.complex128)[..., 0]  # bit for bit
    given = "fixed_points.jacobians" in context.arrays
    by_label = dict(conditions)
    if any(r["condition"] not in by_label for r in rows):
        raise DatasetError(f"network {context.key}: a fixed point's condition was not searched")
    if any(r["kind"] not in KINDS or r["q"] < 0 for r in rows):
        raise DatasetError(f"network {context.key}: a fixed point has a bad kind or q")
    inputs = np.array([by_label[r["condition"]] for r in rows], dtype=np.float64)
    recomputed = _jacobians(context.population, inputs, states)
    _check_eigenvalues(context.key, eigenvalues, recomputed)
    jacobians = context.array("fixed_points.jacobians", (count, size, size)) if given else None
    analysis = FixedPointAnalysis()
    for label, condition_inputs in conditions:
        picked = [r["index"] for r in rows if r["condition"] == label]
        analysis.conditions.append(
            ConditionPoints(
                label=label,
                inputs=np.asarray(condition_inputs, dtype=np.float64),
                points=FixedPointSet(
                    states=states[picked],
                    q=np.array([rows[i]["q"] for i in picked], dtype=np.float64),
                    outputs=outputs[picked],
                    jacobians=(recomputed if jacobians is None else jacobians)[picked],
                    eigenvalues=eigenvalues[picked],
                    stable=np.array([rows[i]["stable"] for i in picked], dtype=bool),
                    kinds=np.array([rows[i]["kind"] for i in picked], dtype=str),
                ),
            )
        )
    return lambda session, nid: save_fixed_points(session, nid, analysis)


def _jacobians(population: RNNPopulation, inputs: np.ndarray, states: np.ndarray) -> np.ndarray:
    """dF/dh at `states` (P, S) under constant `inputs` (P, I), in float64, by the function
    the fixed-point analysis computes them with."""
    if not len(states):
        return np.zeros((0, states.shape[1], states.shape[1]))
    with torch.no_grad():
        frozen = population.select([0]).to(torch.float64)  # a copy; the caller's stays float32
        jacobians = step_jacobian(
            frozen, torch.from_numpy(states)[None], torch.from_numpy(inputs)[None]
        )
    return jacobians[0].numpy()


def _check_eigenvalues(key: str, recorded: np.ndarray, jacobians: np.ndarray) -> None:
    """Each point's recorded eigenvalues are those of its Jacobian (as multisets, to a
    tolerance relative to the spectrum's size)."""
    if not len(jacobians):
        return
    eigenvalues = np.linalg.eigvals(jacobians)  # (P, S)
    distance = np.abs(recorded[:, :, None] - eigenvalues[:, None, :])  # (P, S, S)
    scale = EIGENVALUE_ATOL * np.maximum(1.0, np.abs(eigenvalues).max(axis=1))
    worst = np.maximum(distance.min(axis=2).max(axis=1), distance.min(axis=1).max(axis=1))
    bad = np.flatnonzero(worst > scale)
    if len(bad):
        raise DatasetError(
            f"network {key}: fixed point {int(bad[0])} has eigenvalues that its weights do not give"
        )


def limit_cycles_saver(context: NetworkContext, summary: Any) -> Saver:
    conditions = _conditions(context, summary, "limit_cycles")
    rows = sorted(context.rows.get("limit_cycles", []), key=lambda r: r["index"])
    size, n_outputs = context.population.state_size, context.population.n_outputs
    found = []
    for label, inputs in conditions:
        cycles = []
        for row in (r for r in rows if r["condition"] == label):
            i = row["index"]
            states = context.array(f"limit_cycles.{i}.states", (None, size))
            outputs = context.array(f"limit_cycles.{i}.outputs", (len(states), n_outputs))
            if not row["period"] > 0:
                raise DatasetError(f"network {context.key}: limit cycle {i} has no period")
            cycles.append(
                LimitCycle(
                    row["period"], states, outputs, row["diameter"], row["closing_error"], 1.0
                )
            )
        found.append(ConditionCycles(label, inputs, cycles))
    if sum(len(entry.cycles) for entry in found) != len(rows):
        raise DatasetError(f"network {context.key}: a limit cycle's condition was not searched")
    return lambda session, nid: save_limit_cycles(session, nid, found)


def extrapolation_saver(context: NetworkContext) -> Saver:
    row = context.one_row("extrapolation")
    prefix = "extrapolation."
    arrays = {
        k[len(prefix) :]: context.array(k, context.arrays[k].shape, finite=False)
        for k in context.arrays
        if k.startswith(prefix)
    }
    summary = {}
    for name, value in row["summary"].items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise DatasetError(f"network {context.key}: extrapolation {name!r} is not a number")
        summary[name] = math.nan if value is None else float(value)
    signature = Signature(context.task.name, arrays, summary)
    return lambda session, nid: save_extrapolation(session, nid, signature)


def graph_saver(context: NetworkContext) -> tuple[Saver, dict[str, Any]]:
    """The reduced graph, its canonical hash and sizes recomputed; with its compact graph."""
    row = context.one_row("graphs")
    try:
        compact, full = from_node_link(row["compact"]), from_node_link(row["full"])
    except GraphFormatError as exc:
        raise DatasetError(f"network {context.key}: {exc}") from exc
    recorded = (row["canonical_hash"], row["n_nodes"], row["n_edges"])
    if recorded != (canonical_hash(compact), compact.number_of_nodes(), compact.number_of_edges()):
        raise DatasetError(f"network {context.key}: its graph's hash or size is not its graph's")
    graph = ReducedGraph(compact=compact, full=full)
    return (lambda session, nid: save_reduced_graph(session, nid, graph)), row["compact"]


def features_saver(context: NetworkContext) -> Saver:
    row = dict(context.one_row("features"))
    row.pop("network")
    names = list(row)
    if tuple(names) != tuple(feature_names(context.task)):
        raise DatasetError(f"network {context.key}: features {names} are not the task's")
    values = np.array([math.nan if v is None else v for v in row.values()], dtype=np.float64)
    return lambda session, nid: save_features(session, nid, names, values)
