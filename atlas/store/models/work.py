"""The columns every kind of work item carries (jobs, two-neuron studies, charts): its status
in the one lifecycle (atlas.store.work_status) and how far it has got."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from atlas.store.models.base import utcnow
from atlas.store.work_status import STATUS_LENGTH, WorkStatus, check_constraint


def work_status_check() -> CheckConstraint:
    """The CHECK constraint on `status` (named ck_<table>_status), for __table_args__."""
    return CheckConstraint(check_constraint(), name="status")


class WorkColumns:
    """Mixin of a work item's lifecycle and progress columns (atlas.store.lifecycle.WorkRow).

    `progress_fraction`: share of the work done, 0..1; `eta_at`: when the worker expects to
    finish, from its pace so far; `run_seconds`: time spent running over every attempt (the
    per-job time limit counts it); `heartbeat_at`: when the worker holding it last said it
    was alive (atlas.store.leases).
    """

    status: Mapped[str] = mapped_column(String(STATUS_LENGTH), default=WorkStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    progress_fraction: Mapped[float] = mapped_column(default=0.0)
    eta_at: Mapped[datetime | None]
    run_seconds: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
