"""Read queries of the web explorer's overview pages: counts per task, recent work, and the
spread of a type's members. Each is one or two indexed queries, so the pages stay fast at
100,000 networks; none loads a weight blob.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atlas.store.arrays import from_blob
from atlas.store.models import (
    Chart,
    ExtrapolationSignature,
    Features,
    Job,
    Network,
    SolutionType,
    TwoNeuronStudyRow,
)
from atlas.wording import counted


@dataclass(frozen=True)
class TaskCounts:
    """How much of the atlas one task holds."""

    networks: int = 0
    types: int = 0
    charts: int = 0


def task_counts(session: Session) -> dict[str, TaskCounts]:
    """Networks, solution types and charts per task name (tasks with none are absent)."""
    networks = dict(
        session.execute(select(Network.task, func.count()).group_by(Network.task)).all()
    )
    types = dict(
        session.execute(select(SolutionType.task, func.count()).group_by(SolutionType.task)).all()
    )
    charts = dict(session.execute(select(Chart.task, func.count()).group_by(Chart.task)).all())
    return {
        task: TaskCounts(networks.get(task, 0), types.get(task, 0), charts.get(task, 0))
        for task in {*networks, *types, *charts}
    }


@dataclass(frozen=True)
class WorkItem:
    """One piece of queued work as a row of a list: kind is `job`, `study` or `chart`."""

    kind: str
    id: int
    status: str
    task: str
    what: str
    progress: float
    created_at: datetime


def recent_work(session: Session, limit: int = 10) -> list[WorkItem]:
    """The `limit` most recent jobs, two-neuron studies and charts together, newest first."""
    jobs = session.execute(select(Job).order_by(Job.id.desc()).limit(limit)).scalars()
    studies = session.execute(
        select(TwoNeuronStudyRow).order_by(TwoNeuronStudyRow.id.desc()).limit(limit)
    ).scalars()
    charts = session.execute(select(Chart).order_by(Chart.id.desc()).limit(limit)).scalars()
    items = [
        WorkItem(
            "job",
            j.id,
            j.status,
            j.task,
            f"{counted(j.count, f'{j.architecture} network')} of {j.units} units",
            j.progress_fraction,
            j.created_at,
        )
        for j in jobs
    ]
    items += [
        WorkItem(
            "study",
            s.id,
            s.status,
            "two_neuron",
            f"{s.count} two-neuron networks" + (f" ({s.name})" if s.name else ""),
            s.progress_fraction,
            s.created_at,
        )
        for s in studies
    ]
    items += [
        WorkItem(
            "chart",
            c.id,
            c.status,
            c.task,
            f"{c.networks_per_setting} accepted networks per setting",
            c.progress_fraction,
            c.created_at,
        )
        for c in charts
    ]
    return sorted(items, key=lambda item: item.created_at, reverse=True)[:limit]


@dataclass(frozen=True)
class MemberSpread:
    """Features and extrapolation-signature scalars of (up to a limit of) a type's members.

    `features`: names and values (n, F) of the members that have them; `signatures`: per
    scalar name, the values over the members that have a signature (NaN where undefined).
    """

    sampled: int
    feature_names: list[str]
    features: np.ndarray
    signatures: dict[str, np.ndarray]


def member_spread(session: Session, type_id: int, limit: int = 500) -> MemberSpread:
    """The spread of a type's first `limit` members (in id order): a bounded read."""
    members = (
        select(Network.id)
        .where(Network.solution_type_id == type_id)
        .order_by(Network.id)
        .limit(limit)
        .subquery()
    )
    feature_rows = session.execute(
        select(Features.names, Features.values).join(members, members.c.id == Features.network_id)
    ).all()
    names: list[str] = list(feature_rows[0].names) if feature_rows else []
    values = [from_blob(r.values) for r in feature_rows if list(r.names) == names]
    summaries: list[dict[str, Any]] = list(
        session.execute(
            select(ExtrapolationSignature.summary).join(
                members, members.c.id == ExtrapolationSignature.network_id
            )
        ).scalars()
    )
    keys = sorted({k for s in summaries for k, v in s.items() if isinstance(v, int | float)})
    signatures = {
        key: np.array([_number(s.get(key)) for s in summaries], dtype=np.float64) for key in keys
    }
    sampled = session.scalar(select(func.count()).select_from(members)) or 0
    features = np.stack(values) if values else np.zeros((0, len(names)))
    return MemberSpread(sampled, names, features, signatures)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")
