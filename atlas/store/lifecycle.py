"""The life of a queued piece of work (a training job, a two-neuron study) as its row records
it: queued -> running (one more attempt) -> succeeded | failed, or back to queued when it was
stopped on purpose. Both tables carry the same columns for it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from atlas.store.models.base import utcnow

ERROR_TEXT_LIMIT = 10_000


class WorkRow(Protocol):
    status: str
    attempts: int
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


def mark_running(row: WorkRow) -> None:
    """A (re)start: running, one more attempt, started_at kept from the first."""
    row.status = "running"
    row.attempts += 1
    row.error = None
    row.finished_at = None
    row.started_at = row.started_at or utcnow()


def mark_succeeded(row: WorkRow) -> None:
    row.status = "succeeded"
    row.finished_at = utcnow()


def mark_failed(row: WorkRow, error: str) -> None:
    """Failed, with a readable reason (long tracebacks cut to ERROR_TEXT_LIMIT)."""
    row.status = "failed"
    row.error = error[:ERROR_TEXT_LIMIT]
    row.finished_at = utcnow()


def mark_requeued(row: WorkRow) -> None:
    """Stopped on purpose: queued again, and the stopped attempt does not count towards the
    worker's attempt limit."""
    row.status = "queued"
    row.attempts = max(0, row.attempts - 1)


def start_attempt(row: WorkRow, max_attempts: int) -> bool:
    """A delivery of the work begins: True, and the row is running (one more attempt), when
    there is work to do; False when it has finished already, or when `max_attempts` deliveries
    did not finish it (its worker keeps dying), which marks it failed instead of trying forever.
    """
    if row.status in ("succeeded", "failed"):
        return False
    if row.attempts >= max_attempts:
        mark_failed(row, f"gave up after {row.attempts} attempts that did not finish")
        return False
    mark_running(row)
    return True
