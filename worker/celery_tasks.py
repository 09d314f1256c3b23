"""The Celery tasks: thin wrappers that run the task bodies in a worker process.

When the worker begins to shut down (worker.app.worker_stopping), the running body stops early:
a job or study at its next check, queued again to resume from its snapshot; an analysis after
its current step. Its message then goes back on the queue (Reject with requeue: kombu moves it
from the unacknowledged to the queue in one Redis transaction). Acknowledged, it would lose the
work; a message sent anew would leave two should this process die before acknowledging the
first. The redelivery, to whichever worker, finishes what the body left (the bodies are
idempotent) and advances the chart of a chunk job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from celery.exceptions import Reject

from worker import tasks
from worker.app import (
    ANALYSE_NETWORK,
    RUN_TWO_NEURON_STUDY,
    TRAIN_JOB,
    celery_app,
    logger,
    worker_stopping,
)
from worker.dispatch import run_training
from worker.two_neuron_study import run_two_neuron_study as run_study


class _HandBack(Reject):
    """A message going back on the queue at a shutdown: expected, so logged as one INFO line
    (by `_given_back_at_shutdown`), not as Celery logs any Reject (a WARNING with the
    traceback, whatever the reason: celery.app.trace's `log_policy_reject`)."""


class _WithoutHandBacks(logging.Filter):
    """Drops Celery's record of a hand-back (celery.app.trace logs it in the pool process)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _HandBack))


logging.getLogger("celery.app.trace").addFilter(_WithoutHandBacks())


@contextmanager
def _given_back_at_shutdown(work: str) -> Iterator[None]:
    """Put the message of `work` ("job 3") back on the queue when the body ends, however,
    during a shutdown (an error is already recorded on the work; the redelivery sees the work
    as it was left)."""
    try:
        yield
    finally:
        if worker_stopping():
            logger.info("%s: the worker is shutting down, its message goes back on the queue", work)
            raise _HandBack("the worker is shutting down: the message goes back", requeue=True)


@celery_app.task(name=TRAIN_JOB)
def train_job(job_id: int) -> None:
    with _given_back_at_shutdown(f"job {job_id}"):
        run_training(job_id, should_stop=worker_stopping)


@celery_app.task(name=ANALYSE_NETWORK)
def analyse_network(network_id: int) -> None:
    with _given_back_at_shutdown(f"network {network_id}'s analysis"):
        tasks.analyse_network(network_id, worker_stopping)


@celery_app.task(name=RUN_TWO_NEURON_STUDY)
def run_two_neuron_study(study_id: int) -> None:
    with _given_back_at_shutdown(f"study {study_id}"):
        run_study(study_id, worker_stopping)
