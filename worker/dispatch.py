"""Queue work: to Celery when a broker is configured, else to this process' job thread.

The embedded mode (no broker) runs the same task functions on ONE background thread, in
submission order: training never competes with itself for the CPU, SQLite sees one writer
besides the API, and the API stays responsive. Commit the job or network row before
enqueueing it: the task reads it from the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import torch
from celery import Celery

from atlas.config import Settings, get_settings
from atlas.store import (
    make_engine,
    session_factory,
    session_scope,
    unanalysed_network_ids,
    unfinished_job_ids,
    unfinished_study_ids,
)
from worker import tasks
from worker.app import ANALYSE_NETWORK, RUN_TWO_NEURON_STUDY, TRAIN_POPULATION, create_app
from worker.database import bound_to
from worker.two_neuron_study import run_two_neuron_study

logger = logging.getLogger("atlas.worker")


def enqueue_training(job_id: int, settings: Settings | None = None) -> None:
    """Train job `job_id`; its networks' analyses are queued as each one is saved."""
    settings = settings or get_settings()
    if settings.embedded:
        runner = _embedded_runner(settings)
        runner.submit(settings, run_training, job_id, settings, runner.stopping.is_set)
    else:
        _send(settings, TRAIN_POPULATION, job_id)


def enqueue_analysis(network_id: int, settings: Settings | None = None) -> None:
    """Run the analysis steps on network `network_id` (trained or imported)."""
    settings = settings or get_settings()
    if settings.embedded:
        _embedded_runner(settings).submit(settings, tasks.analyse_network, network_id)
    else:
        _send(settings, ANALYSE_NETWORK, network_id)


def enqueue_two_neuron_study(study_id: int, settings: Settings | None = None) -> None:
    """Train, classify and map the two-neuron study `study_id` (created queued in the store)."""
    settings = settings or get_settings()
    if settings.embedded:
        runner = _embedded_runner(settings)
        runner.submit(settings, run_two_neuron_study, study_id, runner.stopping.is_set)
    else:
        _send(settings, RUN_TWO_NEURON_STUDY, study_id)


def run_training(
    job_id: int,
    settings: Settings | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """The training task as both modes run it: train, and queue each saved network's analysis."""
    settings = settings or get_settings()
    tasks.train_population(
        job_id,
        on_network_saved=lambda network_id: enqueue_analysis(network_id, settings),
        should_stop=should_stop,
    )


def resume_unfinished(settings: Settings | None = None) -> int:
    """Embedded mode, at start: queue again the jobs, analyses and two-neuron studies a previous
    run left unfinished (the in-process queue did not survive it). Returns how many were queued.
    With a broker the queue itself keeps them, and nothing is done."""
    settings = settings or get_settings()
    if not settings.embedded:
        return 0
    engine = make_engine(settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            jobs, networks = unfinished_job_ids(session), unanalysed_network_ids(session)
            studies = unfinished_study_ids(session)
    finally:
        engine.dispose()
    for job_id in jobs:
        enqueue_training(job_id, settings)
    for network_id in networks:
        enqueue_analysis(network_id, settings)
    for study_id in studies:
        enqueue_two_neuron_study(study_id, settings)
    return len(jobs) + len(networks) + len(studies)


def shutdown(wait: bool = True) -> None:
    """Stop the embedded job thread: queued work is dropped (resume_unfinished finds it next
    time) and a running training stops after its current epoch (or step, for a two-neuron
    study), queued again."""
    global _runner
    with _runner_lock:
        runner, _runner = _runner, None
    if runner is not None:
        runner.close(wait)


class _EmbeddedRunner:
    """One worker thread and the flag that asks its training to stop."""

    def __init__(self, settings: Settings):
        self.stopping = threading.Event()
        self.executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="atlas-jobs",
            initializer=_init_thread,
            initargs=(settings.torch_threads,),
        )

    def submit(self, settings: Settings, function: Callable[..., None], *args: object) -> None:
        self.executor.submit(_run_logged, settings, function, *args)

    def close(self, wait: bool) -> None:
        self.stopping.set()
        self.executor.shutdown(wait=wait, cancel_futures=True)


_runner_lock = threading.Lock()
_runner: _EmbeddedRunner | None = None


def _embedded_runner(settings: Settings) -> _EmbeddedRunner:
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = _EmbeddedRunner(settings)
        return _runner


def _init_thread(torch_threads: int | None) -> None:
    if torch_threads:
        torch.set_num_threads(torch_threads)


def _run_logged(settings: Settings, function: Callable[..., None], *args: object) -> None:
    """Run a task with the submitter's settings; a failure is logged (its state is in SQL)."""
    try:
        with bound_to(settings):
            function(*args)
    except Exception:
        logger.exception("in-process task %s%r failed", function.__name__, args)


def _send(settings: Settings, name: str, argument: int) -> None:
    _producer(settings.broker_url).send_task(name, args=[argument], queue=settings.queue)


@lru_cache(maxsize=4)
def _producer(broker_url: str) -> Celery:
    """A Celery client for sending to `broker_url` (worker processes have their own app)."""
    return create_app(get_settings().model_copy(update={"broker_url": broker_url}))
