"""Leases on running work: the worker holding a job or a two-neuron study beats its heartbeat;
work whose heartbeat has stopped is given back.

Celery redelivers the task of a worker process that dies (task_reject_on_worker_lost), but
not that of a worker killed outright (SIGKILL, a lost machine, `docker compose stop` after its
grace period): its message stays unacknowledged until the broker's visibility timeout (12 h by
default) and the work reads `running`, or `cancelling` for ever after a cancel. Every worker
therefore sweeps: work running or cancelling whose heartbeat is older than the lease is given
back: running work is abandoned (atlas.store.lifecycle.mark_abandoned), queued again for the
sweeping worker to send; work being cancelled is stopped as a cancel would stop it. Rows are
taken FOR UPDATE SKIP LOCKED, so two sweeping workers never both give the same work back.

    beat(session, kind, work_id)                 the holder is alive
    orphaned_work(session, kind, lease_s) -> ids  running or cancelling, heartbeat too old
    reclaim(session, kind, work_id) -> WorkStatus | None   queued again, or cancelled
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from atlas.store.jobs import stop_job
from atlas.store.lifecycle import HELD, StopReason, mark_abandoned
from atlas.store.models import Job, TwoNeuronStudyRow
from atlas.store.models.base import utcnow
from atlas.store.two_neuron import stop_study
from atlas.store.work_status import WorkStatus

LeasedKind = Literal["job", "study"]
_MODELS: dict[str, type[Job] | type[TwoNeuronStudyRow]] = {
    "job": Job,
    "study": TwoNeuronStudyRow,
}


def beat(session: Session, kind: LeasedKind, work_id: int) -> None:
    """The worker holding the work is alive (no effect once it has ended)."""
    model = _MODELS[kind]
    session.execute(
        update(model)
        .where(model.id == work_id, model.status.in_(HELD))
        .values(heartbeat_at=utcnow())
    )


def orphaned_work(session: Session, kind: LeasedKind, lease_s: float) -> list[int]:
    """Ids of the work running or being cancelled whose heartbeat is older than `lease_s`
    (or missing), locked for this transaction; rows another sweep holds are skipped."""
    model = _MODELS[kind]
    before = utcnow() - timedelta(seconds=lease_s)
    query = (
        select(model.id)
        .where(
            model.status.in_(HELD),
            or_(model.heartbeat_at.is_(None), model.heartbeat_at < before),
        )
        .order_by(model.id)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def reclaim(session: Session, kind: LeasedKind, work_id: int) -> WorkStatus | None:
    """Give back work whose worker is gone: cancelled (as a stop on request would, its
    finished networks kept) when a cancel was waiting, else queued again; None when it is
    no longer held (it ended, or is gone)."""
    model = _MODELS[kind]
    row = session.get(model, work_id)
    if row is None or row.status not in HELD:
        return None
    if row.status == WorkStatus.CANCELLING:
        stop = stop_job if kind == "job" else stop_study
        return stop(session, work_id, StopReason.CANCEL, "its worker was lost")
    mark_abandoned(row)
    session.flush()
    return WorkStatus(row.status)
