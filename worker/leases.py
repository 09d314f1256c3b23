"""The worker's side of the leases on running work (atlas.store.leases).

`heartbeat(kind, work_id)` wraps a task body: a thread beats the work's heartbeat every tenth
of the lease while the body runs. `sweep_forever()` runs in every Celery worker's main
process: every half lease it gives back the work whose heartbeat stopped (its worker was
killed outright) and sends what was queued again; a job cancelled so advances its chart.
The embedded mode needs neither: its queue is the process, and its next start resumes all
unfinished work (worker.dispatch.resume_unfinished).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from atlas.config import Settings
from atlas.store import LeasedKind, WorkStatus, beat, orphaned_work, reclaim
from worker.database import current_settings, transaction

logger = logging.getLogger("atlas.worker")

KINDS: tuple[LeasedKind, ...] = ("job", "study")


def delivery_lease() -> timedelta | None:
    """How long a holder's heartbeat keeps a delivery off its work (atlas.store.lifecycle.
    held_elsewhere): the lease with a broker, whose messages can come twice; none embedded."""
    settings = current_settings()
    return None if settings.broker_url is None else timedelta(seconds=settings.work_lease_s)


@contextmanager
def heartbeat(kind: LeasedKind, work_id: int) -> Iterator[None]:
    """Beat the work's heartbeat while the body runs (with a broker; a no-op embedded)."""
    settings = current_settings()
    if settings.broker_url is None:
        yield
        return
    stopped = threading.Event()

    def run() -> None:
        while not stopped.wait(settings.work_lease_s / 10):
            try:
                with transaction() as session:
                    beat(session, kind, work_id)
            except Exception:  # a missed beat is retried; only a long silence reclaims
                logger.warning("%s %d: heartbeat not written", kind, work_id, exc_info=True)

    thread = threading.Thread(target=run, name=f"heartbeat-{kind}-{work_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=10)


def reclaim_orphans(settings: Settings) -> int:
    """Give back every job and study whose heartbeat is older than the lease; returns how
    many. Work queued again is sent once its transaction has committed."""
    from worker import charts, dispatch  # dispatch runs tasks, which import this module

    requeued: list[tuple[LeasedKind, int]] = []
    cancelled_jobs: list[int] = []
    for kind in KINDS:
        with transaction() as session:
            for work_id in orphaned_work(session, kind, settings.work_lease_s):
                status = reclaim(session, kind, work_id)
                logger.warning("%s %d: its worker was lost; now %s", kind, work_id, status)
                if status == WorkStatus.QUEUED:
                    requeued.append((kind, work_id))
                elif kind == "job" and status is not None:
                    cancelled_jobs.append(work_id)
    for kind, work_id in requeued:
        dispatch.enqueue(kind, work_id, settings)
    for job_id in cancelled_jobs:
        charts.chunk_ended(job_id, lambda chunk: dispatch.enqueue_training(chunk, settings))
    return len(requeued) + len(cancelled_jobs)


def sweep_forever(settings: Settings, stop: threading.Event) -> None:
    """reclaim_orphans every half lease until `stop` is set (errors logged, then retried)."""
    while not stop.wait(settings.work_lease_s / 2):
        try:
            reclaim_orphans(settings)
        except Exception:
            logger.exception("the sweep for lost work failed; trying again")
