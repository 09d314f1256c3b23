"""Every transition of a work item's status (atlas.store.work_status has the diagram).

Jobs, two-neuron studies and charts carry the same columns for it (`WorkRow`); these
functions change them in memory and the caller's session flushes them. Nothing else assigns
a work item's status.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas.errors import ConflictError
from atlas.store.models.base import utcnow
from atlas.store.work_status import FINISHED, WorkStatus, outcome_status

ERROR_TEXT_LIMIT = 10_000
HELD = (WorkStatus.RUNNING, WorkStatus.CANCELLING)
"""The statuses in which a worker holds the work (and beats its heartbeat)."""
LOCKED = {"with_for_update": True, "populate_existing": True}
"""Session.get options that read a work row locked until the transaction ends (PostgreSQL; an
SQLite writer holds the whole database already), freshly from the database."""


class WorkRow(Protocol):
    status: str
    attempts: int
    error: str | None
    progress_fraction: float
    eta_at: datetime | None
    run_seconds: float
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None


class StopReason(StrEnum):
    """Why a worker stopped work before its end."""

    SHUTDOWN = "shutdown"  # the runner is going away: queued again, resumed later
    YIELD = "yield"  # its turn is over (embedded fair queue): queued again behind the others
    CANCEL = "cancel"  # a client asked: cancelled
    TIME_LIMIT = "time_limit"  # the per-job time limit: finished with what it has


class AlreadyFinishedError(ConflictError):
    """The work item has finished: it cannot be cancelled (the API answers 409, its
    `work_status` member the status it finished in)."""

    slug = "already-finished"

    def __init__(self, what: str, status: str):
        super().__init__(f"{what} has finished already ({status})", work_status=status)
        self.status = status


def is_finished(row: WorkRow) -> bool:
    return row.status in FINISHED


def mark_running(row: WorkRow) -> None:
    """A (re)start: running, one more attempt, started_at kept from the first."""
    row.status = WorkStatus.RUNNING
    row.attempts += 1
    row.error = None
    row.finished_at = None
    row.started_at = row.started_at or utcnow()
    row.heartbeat_at = utcnow()


def _finish(row: WorkRow, status: WorkStatus) -> None:
    """Finished, however: no end is expected any more."""
    row.status = status
    row.finished_at = utcnow()
    row.eta_at = None


def mark_succeeded(row: WorkRow) -> None:
    row.progress_fraction = 1.0
    _finish(row, WorkStatus.SUCCEEDED)


def mark_failed(row: WorkRow, error: str) -> None:
    """Failed, with a readable reason (long tracebacks cut to ERROR_TEXT_LIMIT)."""
    row.error = error[:ERROR_TEXT_LIMIT]
    _finish(row, WorkStatus.FAILED)


def mark_outcome(row: WorkRow, total: int, failed: int) -> WorkStatus:
    """Finished with `total` networks of which `failed` failed: succeeded, partially
    succeeded or failed (work_status.outcome_status). Returns the status set."""
    status = outcome_status(total, failed)
    if status is WorkStatus.FAILED and row.error is None:
        row.error = f"all {total} networks failed" if total else "no network was trained"
    _finish(row, status)
    return status


def mark_cancelled(row: WorkRow) -> None:
    """Stopped on request; what had finished stays."""
    _finish(row, WorkStatus.CANCELLED)


def request_cancel(row: WorkRow, what: str = "it") -> WorkStatus:
    """A client asks to stop the work: queued work is cancelled at once, running work becomes
    cancelling (its worker stops at its next check and marks it cancelled). Asking again
    changes nothing. Raises AlreadyFinishedError (naming the item `what`) for finished work."""
    if row.status in FINISHED:
        raise AlreadyFinishedError(what, row.status)
    if row.status == WorkStatus.QUEUED:
        mark_cancelled(row)
    else:
        row.status = WorkStatus.CANCELLING
    return WorkStatus(row.status)


def mark_requeued(row: WorkRow) -> None:
    """Stopped on purpose (the runner shuts down): queued again, and the stopped attempt does
    not count towards the worker's attempt limit: the work was given back, not lost, and a
    long job would otherwise fail after a few deploys. Work being cancelled is cancelled
    instead."""
    if row.status == WorkStatus.CANCELLING:
        mark_cancelled(row)
        return
    _queue_again(row)
    row.attempts = max(0, row.attempts - 1)


def mark_abandoned(row: WorkRow) -> None:
    """Its worker died without a word while running it (atlas.store.leases): queued again,
    the lost attempt counting, so a worker that keeps dying on it fails it at the attempt
    limit (mark_requeued, for a stop on purpose, gives the attempt back)."""
    _queue_again(row)


def _queue_again(row: WorkRow) -> None:
    """Waiting for a worker again: no end is expected until one runs it (and paces it)."""
    row.status = WorkStatus.QUEUED
    row.eta_at = None


def held_elsewhere(row: WorkRow, lease: timedelta | None) -> bool:
    """Whether a live worker holds the work: running or being cancelled, its heartbeat younger
    than `lease`. A delivery that finds it so is a duplicate and leaves it alone: the broker
    restores a message whose worker was lost only after its visibility timeout (12 h), by when
    the sweep (atlas.store.leases) has given the work back and another worker may hold it. The
    price: a message Celery requeues at once for a pool process that died waits for the sweep
    (one lease). No lease (the embedded runner, one process) means nothing is held."""
    if lease is None or row.status not in HELD or row.heartbeat_at is None:
        return False
    beat = row.heartbeat_at
    return utcnow() - (beat if beat.tzinfo else beat.replace(tzinfo=UTC)) < lease


def start_attempt(row: WorkRow, max_attempts: int) -> bool:
    """A delivery of the work begins: True, and the row is running (one more attempt), when
    there is work to do; False when it has finished already, when a cancel was asked for (it
    is cancelled now), or when `max_attempts` deliveries did not finish it (its worker keeps
    dying), which marks it failed instead of trying forever.
    """
    if row.status in FINISHED:
        return False
    if row.status == WorkStatus.CANCELLING:
        mark_cancelled(row)
        return False
    if row.attempts >= max_attempts:
        mark_failed(row, f"gave up after {row.attempts} attempts that did not finish")
        return False
    mark_running(row)
    return True


def mark_stopped(row: WorkRow, reason: StopReason, total: int, failed: int, detail: str) -> None:
    """Work stopped before its end, keeping what had finished: queued again (shutdown, yield),
    cancelled, or at the time limit finished by its networks, those not trained counted as
    failed (`failed` includes them), with `detail` as the error."""
    if reason in (StopReason.SHUTDOWN, StopReason.YIELD):
        mark_requeued(row)
    elif reason is StopReason.CANCEL:
        mark_cancelled(row)
    else:
        row.error = detail[:ERROR_TEXT_LIMIT]
        mark_outcome(row, total, failed)


def record_pace(row: WorkRow, fraction: float, eta_at: datetime | None, run_seconds: float) -> None:
    """How far running work has got: share done (0..1), expected end, time run in total."""
    row.progress_fraction = min(1.0, max(0.0, fraction))
    row.eta_at = eta_at
    row.run_seconds = run_seconds


def status_of(session: Session, model: Any, work_id: int) -> WorkStatus | None:
    """The status of work item `work_id` of `model` (Job, TwoNeuronStudyRow, Chart) as stored
    now, None when there is no such row: how a worker notices a cancel."""
    status = session.scalar(select(model.status).where(model.id == work_id))
    return None if status is None else WorkStatus(status)
