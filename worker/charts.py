"""Charts in the worker: when a chunk's training ends, its chart is advanced (the chunks it
still needs are spawned, or it finishes) and the new chunks are queued.

Both modes call this after every training task (worker.dispatch.run_training), also after a
redelivered one that found nothing left to train: a worker killed between a chunk's end and
this call leaves the message unacknowledged, and its redelivery advances the chart then.
The new chunks are committed before they are queued (a task reads its job from the database).
A process that dies between the two leaves them queued in the database only: the embedded
mode's next start runs them (worker.dispatch.resume_unfinished); with a broker the window is
the same as for `POST /jobs` between its commit and its send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from atlas.store import advance_chart, chart_of_job, unfinished_chart_ids
from worker.database import transaction

logger = logging.getLogger("atlas.worker")

Enqueue = Callable[[int], None]


def advance(chart_id: int, enqueue: Enqueue) -> list[int]:
    """Advance the chart in one transaction, then queue the chunk jobs it spawned."""
    with transaction() as session:
        job_ids = advance_chart(session, chart_id)
    for job_id in job_ids:
        enqueue(job_id)
    if job_ids:
        logger.info("chart %d: queued chunk jobs %s", chart_id, job_ids)
    return job_ids


def chunk_ended(job_id: int, enqueue: Enqueue) -> None:
    """A training task for job `job_id` ended (in any way): advance its chart, if it has one."""
    with transaction() as session:
        chart_id = chart_of_job(session, job_id)
    if chart_id is not None:
        advance(chart_id, enqueue)


def resume_charts(enqueue: Enqueue) -> int:
    """Advance every unfinished chart (a start after a crash between a chunk's end and its
    chart's advance); returns how many chunk jobs were queued."""
    with transaction() as session:
        chart_ids = unfinished_chart_ids(session)
    return sum(len(advance(chart_id, enqueue)) for chart_id in chart_ids)
