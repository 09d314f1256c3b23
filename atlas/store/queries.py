"""Read queries for the API: filtered, keyset-paginated solution listings and detail lookups.

Listings never load blobs (weights, loss curves) and page by keyset: `(sort value, id)` of the
last row seen, so a page deep in the chain costs what the first one does. The indexes on
`networks` (task, architecture, units, validation_loss, each ending in id) serve these orders.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.orm import Session

from atlas.errors import NotFoundError
from atlas.store.arrays import from_blob
from atlas.store.models import AnalysisRun, ChartChunk, CheckpointRow, Network, SolutionType
from atlas.store.task_records import resolve_task
from atlas.tasks import TrialTask

#: Sort keys a listing accepts. `created_at` orders by id, which the database assigns in
#: creation order, so that the order is total and served by the (..., id) indexes.
SORT_COLUMNS: dict[str, Any] = {
    "created_at": Network.id,
    "validation_loss": Network.validation_loss,
    "units": Network.units,
}
_SUMMARY_COLUMNS = (
    Network.id,
    Network.task,
    Network.architecture,
    Network.units,
    Network.source,
    Network.name,
    Network.status,
    Network.analysis_status,
    Network.seed,
    Network.job_id,
    Network.epochs,
    Network.best_loss,
    Network.validation_loss,
    Network.created_at,
)


@dataclass(frozen=True)
class SolutionFilters:
    """What a listing is narrowed to; None means any. `task` is a canonical short name."""

    task: str | None = None
    architecture: str | None = None
    units: int | None = None
    status: str | None = None
    source: str | None = None
    solution_type: str | None = None
    min_loss: float | None = None
    max_loss: float | None = None
    job_id: int | None = None
    chart_id: int | None = None  # networks trained by the chart's chunks (jobs)

    def conditions(self) -> list[ColumnElement[bool]]:
        equal = {
            Network.task: self.task,
            Network.architecture: self.architecture,
            Network.units: self.units,
            Network.status: self.status,
            Network.source: self.source,
            Network.job_id: self.job_id,
        }
        where = [column == value for column, value in equal.items() if value is not None]
        if self.min_loss is not None:
            where.append(Network.validation_loss >= self.min_loss)
        if self.max_loss is not None:
            where.append(Network.validation_loss <= self.max_loss)
        if self.solution_type is not None:
            where.append(SolutionType.name == self.solution_type)
        if self.chart_id is not None:
            chunks = select(ChartChunk.job_id).where(ChartChunk.chart_id == self.chart_id)
            where.append(Network.job_id.in_(chunks))
        return where


@dataclass(frozen=True)
class ListedSolution:
    """One solution as a listing shows it: its summary columns and its solution type's name."""

    id: int
    task: str
    architecture: str
    units: int
    source: str
    name: str | None
    status: str
    analysis_status: str
    seed: int | None
    job_id: int | None
    epochs: int | None
    best_loss: float | None
    validation_loss: float | None
    created_at: datetime
    solution_type: str | None


def list_solutions(
    session: Session,
    filters: SolutionFilters,
    *,
    sort: str = "created_at",
    descending: bool = True,
    after: tuple[Any, int] | None = None,
    limit: int = 50,
) -> list[ListedSolution]:
    """Up to `limit` solutions matching `filters` in (sort, id) order, after the position
    `after` = (sort value, id) of the previous page's last row.

    Sorting by validation loss lists only networks that have one.
    """
    column = SORT_COLUMNS[sort]
    query = (
        select(*_SUMMARY_COLUMNS, SolutionType.name.label("solution_type"))
        .outerjoin(SolutionType, Network.solution_type_id == SolutionType.id)
        .where(*filters.conditions())
    )
    if sort == "validation_loss":
        query = query.where(Network.validation_loss.is_not(None))
    if after is not None:
        query = query.where(_after(column, after, descending))
    if column is Network.id:
        order = [Network.id.desc() if descending else Network.id.asc()]
    else:
        order = [column.desc(), Network.id.desc()] if descending else [column, Network.id]
    rows = session.execute(query.order_by(*order).limit(limit)).all()
    return [ListedSolution(**row._mapping) for row in rows]


def _after(column: Any, position: tuple[Any, int], descending: bool) -> ColumnElement[bool]:
    value, last_id = position
    if column is Network.id:
        return Network.id < last_id if descending else Network.id > last_id
    key, bound = tuple_(column, Network.id), tuple_(value, last_id)
    return key < bound if descending else key > bound


def sort_value(solution: ListedSolution, sort: str) -> Any:
    """The value of the sort key on a listed solution (what a cursor records)."""
    return getattr(solution, SORT_COLUMNS[sort].key)


@dataclass(frozen=True)
class SolutionRecord:
    """A network as the solution routes read it: its columns (the loss curve decoded) and its
    solution type's name; no weights."""

    id: int
    task: str
    task_parameters: dict[str, Any]
    architecture: str
    units: int
    n_inputs: int
    n_outputs: int
    source: str
    name: str | None
    info: dict[str, Any]
    job_id: int | None
    index_in_job: int | None
    seed: int | None
    status: str
    epochs: int | None
    steps: int | None
    best_loss: float | None
    final_loss: float | None
    validation_loss: float | None
    loss_curve: list[float] | None
    code_version: str
    analysis_status: str
    created_at: datetime
    solution_type: str | None


_RECORD_COLUMNS = [f.name for f in fields(SolutionRecord) if f.name != "solution_type"]


def get_solution(session: Session, network_id: int) -> SolutionRecord:
    """A network's record; NotFoundError (`solution-not-found`) when there is none."""
    row = session.execute(
        select(*(getattr(Network, name) for name in _RECORD_COLUMNS), SolutionType.name)
        .outerjoin(SolutionType, Network.solution_type_id == SolutionType.id)
        .where(Network.id == network_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no solution with id {network_id}", slug="solution-not-found")
    *columns, type_name = row
    values = dict(zip(_RECORD_COLUMNS, columns, strict=True))
    curve = values["loss_curve"]
    values["loss_curve"] = None if curve is None else from_blob(curve).tolist()
    return SolutionRecord(**values, solution_type=type_name)


def require_solutions(session: Session, network_ids: list[int]) -> None:
    """NotFoundError (`solution-not-found`, naming every missing id) unless each network
    exists: one query, so a request for many learns of all its missing ids at once, before
    any of them is loaded."""
    found = set(session.scalars(select(Network.id).where(Network.id.in_(network_ids))))
    missing = [network_id for network_id in network_ids if network_id not in found]
    if missing:
        listed = ", ".join(map(str, missing))
        raise NotFoundError(
            f"no solution with id {listed}", slug="solution-not-found", missing=missing
        )


def solution_task(session: Session, solution: SolutionRecord) -> TrialTask:
    """The task as the solution was trained on it (its recorded parameters), built-in or
    declared."""
    return resolve_task(session, solution.task, **solution.task_parameters)


@dataclass(frozen=True)
class CheckpointRecord:
    """A checkpoint of a network's training, without its weights."""

    id: int
    kind: str
    epoch: int
    loss: float | None


def checkpoint_summaries(session: Session, network_id: int) -> list[CheckpointRecord]:
    """A network's checkpoints in training order."""
    rows = session.execute(
        select(CheckpointRow.id, CheckpointRow.kind, CheckpointRow.epoch, CheckpointRow.loss)
        .where(CheckpointRow.network_id == network_id)
        .order_by(CheckpointRow.epoch, CheckpointRow.id)
    )
    return [CheckpointRecord(*row) for row in rows]


def checkpoint_weights(session: Session, network_id: int, checkpoint_id: int) -> bytes:
    """The weight blob of one of a network's checkpoints; NotFoundError when it has none by
    that id."""
    weights = session.scalar(
        select(CheckpointRow.weights).where(
            CheckpointRow.id == checkpoint_id, CheckpointRow.network_id == network_id
        )
    )
    if weights is None:
        raise NotFoundError(
            f"solution {network_id} has no checkpoint with id {checkpoint_id}",
            slug="checkpoint-not-found",
        )
    return weights


@dataclass(frozen=True)
class StepRunRecord:
    """How one analysis step of a network last ran."""

    step: str
    status: str
    attempts: int
    error: str | None
    finished_at: datetime | None


def step_runs(session: Session, network_id: int) -> list[StepRunRecord]:
    """The network's analysis step runs, in the order they were first started."""
    rows = session.execute(
        select(
            AnalysisRun.step,
            AnalysisRun.status,
            AnalysisRun.attempts,
            AnalysisRun.error,
            AnalysisRun.finished_at,
        )
        .where(AnalysisRun.network_id == network_id)
        .order_by(AnalysisRun.id)
    )
    return [StepRunRecord(*row) for row in rows]
