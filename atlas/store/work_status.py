"""The one lifecycle of every piece of queued work: training jobs, two-neuron studies, charts.

    queued ──> running ──> succeeded | partially_succeeded | failed
      │          │  ^
      │          │  └── (restart, redelivery: running again, from its last snapshot)
      │          v
      └──────> cancelling ──> cancelled
      (queued work is cancelled at once)

- `queued`: accepted, waiting for a worker (or put back after an interruption).
- `running`: a worker is on it.
- `cancelling`: a client asked to cancel; the worker stops at its next check (after a
  minibatch or an epoch) and keeps what had finished.
- `cancelled`: stopped on request; networks finished before stay in the atlas.
- `succeeded`: every network trained (none failed).
- `partially_succeeded`: finished, some networks failed and some did not.
- `failed`: finished with an error, or every network failed.

Everything that names these states derives from `WorkStatus`: the database CHECK constraints
(`check_constraint`), the API's enums (pydantic reads the StrEnum), CLI choices
(`WORK_STATUSES`). Transitions live in one place, atlas.store.lifecycle:

    mark_running(row) / start_attempt(row, max_attempts) -> bool
    request_cancel(row) -> WorkStatus     queued -> cancelled, running -> cancelling;
                                          raises AlreadyFinishedError when it has finished
    mark_cancelled(row) / mark_requeued(row)   (requeued work being cancelled is cancelled)
    mark_abandoned(row)                   its worker died unheard (atlas.store.leases): queued
                                          again, the attempt counting
    mark_outcome(row, total, failed)      succeeded | partially_succeeded | failed by counts
    mark_succeeded(row) / mark_failed(row, error)
    mark_stopped(row, StopReason, total, failed, detail)   shutdown/yield -> queued,
                                          cancel -> cancelled, time_limit -> by counts
    record_pace(row, fraction, eta_at, run_seconds) / status_of(session, Model, id)

Rows carry the columns of atlas.store.models.work.WorkColumns. A worker notices a cancel by
polling status_of (worker.work.Watch); API routes answer 409 on AlreadyFinishedError
(api.cancelling).

The names in this module and those are stable: the charts (atlas.store.charts) use them too.
"""

from __future__ import annotations

from enum import StrEnum


class WorkStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    FAILED = "failed"


WORK_STATUSES: tuple[str, ...] = tuple(status.value for status in WorkStatus)
"""Every status, in lifecycle order (CLI choices, documentation)."""

FINISHED: frozenset[WorkStatus] = frozenset(
    {
        WorkStatus.CANCELLED,
        WorkStatus.SUCCEEDED,
        WorkStatus.PARTIALLY_SUCCEEDED,
        WorkStatus.FAILED,
    }
)
"""Terminal: nothing will change the work item again."""

UNFINISHED: frozenset[WorkStatus] = frozenset(set(WorkStatus) - FINISHED)
"""Queued, running or cancelling: a worker still owes it something."""

TO_RESUME: frozenset[WorkStatus] = frozenset({WorkStatus.QUEUED, WorkStatus.RUNNING})
"""What a restarted embedded runner queues again (cancelling work is cancelled instead)."""

STATUS_LENGTH = 24
"""Width of the status columns (the longest value is 19 characters)."""


def check_constraint(column: str = "status") -> str:
    """SQL for a CHECK constraint that admits exactly the statuses, e.g. for a model's
    __table_args__ or a migration."""
    values = ", ".join(f"'{status.value}'" for status in WorkStatus)
    return f"{column} IN ({values})"


def outcome_status(total: int, failed: int) -> WorkStatus:
    """How finished work reads from its networks: none failed -> succeeded, all failed (or
    nothing trained) -> failed, else partially_succeeded."""
    if total <= 0 or failed >= total:
        return WorkStatus.FAILED
    if failed == 0:
        return WorkStatus.SUCCEEDED
    return WorkStatus.PARTIALLY_SUCCEEDED
