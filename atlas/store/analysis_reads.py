"""Reading a network's analyses back as the science's own result objects.

The API serialises them with their `to_dict`/`to_json` (JSON) or sends their arrays as `.npy`;
the comparison and classification code takes them as they come from the analysis. Each reader
returns None while its analysis has not run (pending is not an error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas.analysis.extrapolation import Signature
from atlas.analysis.fixed_point_conditions import ConditionPoints, FixedPointAnalysis
from atlas.analysis.fixed_points import FixedPointSet
from atlas.analysis.limit_cycles import LimitCycle
from atlas.analysis_status import RunStatus
from atlas.store.analyses import SIGNATURE_PROBE, ConditionCycles
from atlas.store.analysis_runs import analysis_run
from atlas.store.arrays import arrays_from_blob, from_blob
from atlas.store.models import (
    ExtrapolationSignature,
    Features,
    FixedPoint,
    LimitCycleRow,
    Network,
    ReducedGraphRow,
    SolutionType,
)


def _state_size(network: Network) -> int:
    return network.units * (2 if network.architecture == "lstm" else 1)


def _point_set(rows: list[FixedPoint], state_size: int, n_outputs: int) -> FixedPointSet:
    def stacked(column: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        if not rows:
            return np.zeros((0, *shape), dtype=dtype)
        return np.stack([from_blob(getattr(r, column)) for r in rows])

    return FixedPointSet(
        states=stacked("state", (state_size,), np.float64),
        q=np.array([r.q for r in rows], dtype=np.float64),
        outputs=stacked("output", (n_outputs,), np.float64),
        jacobians=stacked("jacobian", (state_size, state_size), np.float64),
        eigenvalues=stacked("eigenvalues", (state_size,), np.complex128),
        stable=np.array([r.stable for r in rows], dtype=bool),
        kinds=np.array([r.kind for r in rows], dtype=str),
    )


def fixed_point_analysis(session: Session, network_id: int) -> FixedPointAnalysis | None:
    """The network's fixed and slow points by condition, in the order they were searched
    (conditions where nothing was found included), points by increasing q."""
    network = session.get(Network, network_id)
    run = analysis_run(session, network_id, "fixed_points")
    if network is None or run is None or run.status != RunStatus.SUCCEEDED:
        return None
    rows = session.scalars(
        select(FixedPoint)
        .where(FixedPoint.network_id == network_id)
        .order_by(FixedPoint.q, FixedPoint.id)
    ).all()
    by_condition: dict[str, list[FixedPoint]] = {}
    for row in rows:
        by_condition.setdefault(row.condition, []).append(row)
    return FixedPointAnalysis(
        [
            ConditionPoints(
                label=entry["condition"],
                inputs=np.asarray(entry["inputs"], dtype=np.float64),
                points=_point_set(
                    by_condition.get(entry["condition"], []),
                    _state_size(network),
                    network.n_outputs,
                ),
            )
            for entry in run.summary["conditions"]
        ]
    )


def limit_cycles(session: Session, network_id: int) -> list[ConditionCycles] | None:
    """The network's limit cycles by condition searched (a condition may have none)."""
    run = analysis_run(session, network_id, "limit_cycles")
    if run is None or run.status != RunStatus.SUCCEEDED:
        return None
    rows = session.scalars(
        select(LimitCycleRow)
        .where(LimitCycleRow.network_id == network_id)
        .order_by(LimitCycleRow.id)
    ).all()
    return [
        ConditionCycles(
            condition=entry["condition"],
            inputs=entry["inputs"],
            cycles=[
                LimitCycle(
                    period=row.period,
                    states=from_blob(row.states),
                    outputs=from_blob(row.outputs),
                    diameter=row.diameter,
                    closing_error=row.closing_error,
                    sample_dt=1.0,
                )
                for row in rows
                if row.condition == entry["condition"]
            ],
        )
        for entry in run.summary["conditions"]
    ]


def extrapolation_signature(session: Session, network_id: int) -> Signature | None:
    """The network's extrapolation signature: arrays as stored, scalars with null as NaN."""
    row = session.scalars(
        select(ExtrapolationSignature).where(
            ExtrapolationSignature.network_id == network_id,
            ExtrapolationSignature.probe == SIGNATURE_PROBE,
        )
    ).one_or_none()
    if row is None:
        return None
    summary = {k: math.nan if v is None else float(v) for k, v in row.summary.items()}
    task = session.get(Network, network_id).task
    return Signature(task=task, arrays=arrays_from_blob(row.arrays), summary=summary)


@dataclass(frozen=True)
class GraphRecord:
    """A network's reduced graph as stored: compact and full node-link JSON, compact's hash."""

    compact: dict[str, Any]
    full: dict[str, Any]
    canonical_hash: str
    n_nodes: int
    n_edges: int


def reduced_graph(session: Session, network_id: int) -> GraphRecord | None:
    row = session.scalars(
        select(ReducedGraphRow).where(ReducedGraphRow.network_id == network_id)
    ).one_or_none()
    if row is None:
        return None
    return GraphRecord(row.compact, row.full, row.canonical_hash, row.n_nodes, row.n_edges)


def network_features(session: Session, network_id: int) -> dict[str, float] | None:
    """The network's neural features by name, in the paper's column order."""
    row = session.scalars(select(Features).where(Features.network_id == network_id)).one_or_none()
    if row is None:
        return None
    return dict(zip(row.names, from_blob(row.values).tolist(), strict=True))


@dataclass(frozen=True)
class FeatureTable:
    """Neural features of a task's networks (rows in network id order) with their types (None
    where a network has no type): what the type predictor is trained on."""

    network_ids: list[int]
    names: list[str]
    values: np.ndarray
    type_names: list[str | None]


def feature_table(
    session: Session, task: str, architecture: str | None = None, variant: str | None = None
) -> FeatureTable | None:
    """The features of every network of `task` that has them; optionally only one
    architecture, or only the typed networks of one variant."""
    query = (
        select(Network.id, Features.names, Features.values, SolutionType.name)
        .join(Features, Features.network_id == Network.id)
        .outerjoin(SolutionType, Network.solution_type_id == SolutionType.id)
        .where(Network.task == task)
        .order_by(Network.id)
    )
    if architecture is not None:
        query = query.where(Network.architecture == architecture)
    if variant is not None:
        query = query.where(SolutionType.variant == variant)
    rows = session.execute(query).all()
    if not rows:
        return None
    names = list(rows[0].names)
    if any(list(r.names) != names for r in rows):
        raise ValueError(f"networks of task {task!r} have features under different names")
    return FeatureTable(
        network_ids=[r.id for r in rows],
        names=names,
        values=np.stack([from_blob(r.values) for r in rows]),
        type_names=[r[3] for r in rows],
    )
