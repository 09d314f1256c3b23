"""Writing the dynamical analyses of one network: fixed points, limit cycles, extrapolation
signature, reduced graph and neural features.

Each save replaces the network's earlier rows of its kind (replace_rows), so a re-run step
never duplicates them, and returns the JSON summary its analysis run keeps (finish_step).
Arrays go in as npy/npz blobs (atlas.store.arrays); JSON never holds NaN (PostgreSQL's JSONB
refuses it), so undefined numbers are stored as null.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from atlas.analysis.extrapolation import Signature
from atlas.analysis.fixed_point_conditions import FixedPointAnalysis
from atlas.analysis.graph import ReducedGraph, to_node_link
from atlas.analysis.limit_cycles import LimitCycle
from atlas.analysis.solution_types import canonical_hash
from atlas.store.analysis_results import replace_rows
from atlas.store.arrays import arrays_to_blob, to_blob
from atlas.store.models import (
    ExtrapolationSignature,
    Features,
    FixedPoint,
    LimitCycleRow,
    ReducedGraphRow,
)

SIGNATURE_PROBE = "signature"
"""The extrapolation signature covers all of a task's probes; it is stored as one row."""


def json_number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def save_fixed_points(
    session: Session, network_id: int, analysis: FixedPointAnalysis
) -> dict[str, Any]:
    """One row per point; the summary lists every condition in order, with its counts (a
    condition where nothing was found is kept there) and the record of how the search covered
    its state space (starts by kind, saturation curve), which the step's run keeps."""
    rows, conditions = [], []
    for condition in analysis.conditions:
        points = condition.points
        inputs = [float(v) for v in condition.inputs]
        rows += [
            FixedPoint(
                condition=condition.label,
                inputs=inputs,
                kind=str(points.kinds[p]),
                q=float(points.q[p]),
                stable=bool(points.stable[p]),
                state=to_blob(points.states[p]),
                output=to_blob(points.outputs[p]),
                jacobian=to_blob(points.jacobians[p]),
                eigenvalues=to_blob(points.eigenvalues[p]),
            )
            for p in range(len(points))
        ]
        summary = {
            "condition": condition.label,
            "inputs": inputs,
            "fixed": int(points.fixed.sum()),
            "slow": int((~points.fixed).sum()),
            "stable_fixed": int((points.fixed & points.stable).sum()),
        }
        if condition.coverage is not None:
            summary["coverage"] = condition.coverage.to_dict()
        conditions.append(summary)
    replace_rows(session, FixedPoint, network_id, rows)
    return {"conditions": conditions}


@dataclass(frozen=True)
class ConditionCycles:
    """The limit cycles found under one input condition (possibly none)."""

    condition: str
    inputs: list[float]
    cycles: list[LimitCycle]

    def to_dict(self, include_states: bool = True) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "inputs": self.inputs,
            "count": len(self.cycles),
            "cycles": [c.to_dict(include_states) for c in self.cycles],
        }


def save_limit_cycles(
    session: Session, network_id: int, found: Sequence[ConditionCycles]
) -> dict[str, Any]:
    """The distinct cycles of each condition searched; the summary lists every condition."""
    rows = [
        LimitCycleRow(
            condition=entry.condition,
            inputs=[float(v) for v in entry.inputs],
            period=float(cycle.period),
            diameter=float(cycle.diameter),
            closing_error=float(cycle.closing_error),
            states=to_blob(cycle.states),
            outputs=to_blob(cycle.outputs),
        )
        for entry in found
        for cycle in entry.cycles
    ]
    replace_rows(session, LimitCycleRow, network_id, rows)
    return {
        "conditions": [
            {
                "condition": entry.condition,
                "inputs": [float(v) for v in entry.inputs],
                "count": len(entry.cycles),
                "periods": [float(c.period) for c in entry.cycles],
            }
            for entry in found
        ]
    }


def save_extrapolation(session: Session, network_id: int, signature: Signature) -> dict[str, Any]:
    """The signature's arrays as one npz blob, its scalars as JSON (NaN as null)."""
    summary = {name: json_number(value) for name, value in signature.summary.items()}
    row = ExtrapolationSignature(
        probe=SIGNATURE_PROBE,
        arrays=arrays_to_blob({k: np.asarray(v) for k, v in signature.arrays.items()}),
        summary=summary,
    )
    replace_rows(session, ExtrapolationSignature, network_id, [row])
    return summary


def save_reduced_graph(session: Session, network_id: int, graph: ReducedGraph) -> dict[str, Any]:
    """The compact and the full graph as node-link JSON, with the compact graph's hash."""
    row = ReducedGraphRow(
        compact=to_node_link(graph.compact),
        full=to_node_link(graph.full),
        canonical_hash=canonical_hash(graph.compact),
        n_nodes=graph.compact.number_of_nodes(),
        n_edges=graph.compact.number_of_edges(),
    )
    replace_rows(session, ReducedGraphRow, network_id, [row])
    return {
        "canonical_hash": row.canonical_hash,
        "nodes": row.n_nodes,
        "edges": row.n_edges,
        "full_nodes": graph.full.number_of_nodes(),
    }


def save_features(
    session: Session, network_id: int, names: Sequence[str], values: np.ndarray
) -> dict[str, Any]:
    """One network's neural features: names as JSON, values as a float64 blob."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(values) != len(names):
        raise ValueError(f"{len(names)} feature names for {len(values)} values")
    row = Features(names=list(names), values=to_blob(values))
    replace_rows(session, Features, network_id, [row])
    return {name: json_number(v) for name, v in zip(names, values, strict=True)}
