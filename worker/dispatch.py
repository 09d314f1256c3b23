"""Queue work: to Celery when a broker is configured, else to this process' threads.

One enqueue for every kind of work (`enqueue(kind, id)`: a training job, a two-neuron study,
a network's analysis); `enqueue_training` and friends name the kinds. Commit the work's row
before enqueueing it: the task reads it from the database.

The embedded mode (no broker) runs the same task functions on two lanes of threads, each a
first-in first-out queue: training (jobs and studies; `Settings.training_slots` at once,
default one per 4 cores) and analyses (imports' and trained networks'; one per 2 cores). An
import's analysis never waits behind a long training, and trainings do not crowd the cores.
Turns keep the training lane fair: a job that has trained for TRAINING_TURN_S while other
work waits snapshots at its epoch's end and goes to the back of the lane, to continue from
there (the same networks as without the pause: atlas.training.snapshot).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import torch
from celery import Celery

from atlas.config import Settings, get_settings
from atlas.store import (
    StopReason,
    make_engine,
    session_factory,
    session_scope,
    unanalysed_network_ids,
    unfinished_job_ids,
    unfinished_study_ids,
)
from worker import charts, tasks
from worker.app import ANALYSE_NETWORK, RUN_TWO_NEURON_STUDY, TRAIN_JOB, create_app
from worker.database import bound_to
from worker.two_neuron_study import run_two_neuron_study

logger = logging.getLogger("atlas.worker")


Kind = Literal["job", "study", "analysis"]
Lane = Literal["training", "analysis"]
TRAINING_TURN_S = 60.0
"""How long a training job runs before it yields the lane to waiting work (embedded mode)."""


class Turn:
    """A task's turn on its embedded lane: whether the runner is stopping, and whether the
    turn is over (it has run TRAINING_TURN_S and other work waits for the lane)."""

    def __init__(self, runner: _EmbeddedRunner, lane: Lane):
        self.runner, self.lane, self.started = runner, lane, time.monotonic()

    def stopping(self) -> bool:
        return self.runner.stopping.is_set()

    def over(self) -> bool:
        ran = time.monotonic() - self.started
        return ran >= TRAINING_TURN_S and self.runner.waiting(self.lane) > 0


Body = Callable[[int, Settings, Turn], None]


@dataclass(frozen=True)
class QueueTask:
    """How one kind of work is run: the Celery message's name, and in the embedded mode the
    body (work id, settings, its Turn) and its lane."""

    message: str
    body: Body
    lane: Lane


def enqueue(kind: Kind, work_id: int, settings: Settings | None = None) -> None:
    """Queue work item `work_id` of `kind` (its row committed) in either mode."""
    settings = settings or get_settings()
    queued = QUEUE_TASKS[kind]
    if settings.embedded:
        _embedded_runner(settings).submit(queued.lane, settings, queued.body, work_id)
    else:
        _send(settings, queued.message, work_id)


def enqueue_training(job_id: int, settings: Settings | None = None) -> None:
    """Train job `job_id`; its networks' analyses are queued as each one is saved."""
    enqueue("job", job_id, settings)


def enqueue_analysis(network_id: int, settings: Settings | None = None) -> None:
    """Run the analysis steps on network `network_id` (trained or imported)."""
    enqueue("analysis", network_id, settings)


def enqueue_two_neuron_study(study_id: int, settings: Settings | None = None) -> None:
    """Train, classify and map the two-neuron study `study_id` (created queued in the store)."""
    enqueue("study", study_id, settings)


def run_training(
    job_id: int,
    settings: Settings | None = None,
    should_stop: Callable[[], bool] | None = None,
    turn_over: Callable[[], bool] | None = None,
) -> None:
    """The training task as both modes run it: train, and queue each saved network's analysis
    (a job that yielded its turn is queued again, at the back); then, unless the runner is
    stopping, advance the chart the job is a chunk of (if any)."""
    settings = settings or get_settings()
    try:
        ended = tasks.train_job(
            job_id,
            on_network_saved=lambda network_id: enqueue_analysis(network_id, settings),
            should_stop=should_stop,
            turn_over=turn_over,
        )
        if ended is StopReason.YIELD and not (should_stop and should_stop()):
            enqueue_training(job_id, settings)
    finally:
        if not (should_stop and should_stop()):
            charts.chunk_ended(job_id, lambda chunk_id: enqueue_training(chunk_id, settings))


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
    with bound_to(settings):
        chunks = charts.resume_charts(lambda chunk_id: enqueue_training(chunk_id, settings))
    return len(jobs) + len(networks) + len(studies) + chunks


QUEUE_TASKS: dict[Kind, QueueTask] = {
    "job": QueueTask(
        TRAIN_JOB,
        lambda job_id, settings, turn: run_training(job_id, settings, turn.stopping, turn.over),
        "training",
    ),
    "study": QueueTask(
        RUN_TWO_NEURON_STUDY,
        lambda study_id, _settings, turn: run_two_neuron_study(study_id, turn.stopping),
        "training",
    ),
    "analysis": QueueTask(
        ANALYSE_NETWORK,
        lambda network_id, _settings, turn: tasks.analyse_network(network_id, turn.stopping),
        "analysis",
    ),
}


def shutdown(wait: bool = True) -> None:
    """Stop the embedded threads: queued work is dropped (resume_unfinished finds it next
    time), a running training stops before its next minibatch (or step, for a two-neuron
    study), queued again to continue from its last snapshot; a running analysis stops after
    its current step."""
    global _runner
    with _runner_lock:
        runner, _runner = _runner, None
    if runner is not None:
        runner.close(wait)


def lane_sizes(settings: Settings) -> dict[Lane, int]:
    """Threads per lane: training_slots (default one per 4 cores), analyses one per 2 cores;
    at least one each."""
    cores = os.cpu_count() or 1
    return {
        "training": settings.training_slots or max(1, cores // 4),
        "analysis": max(1, cores // 2),
    }


class _EmbeddedRunner:
    """A thread pool per lane, and the flag that asks running trainings to stop."""

    def __init__(self, settings: Settings):
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._waiting: dict[Lane, int] = dict.fromkeys(lane_sizes(settings), 0)
        self.lanes = {
            lane: ThreadPoolExecutor(
                max_workers=size,
                thread_name_prefix=f"atlas-{lane}",
                initializer=_init_thread,
                initargs=(settings.torch_threads,),
            )
            for lane, size in lane_sizes(settings).items()
        }

    def submit(self, lane: Lane, settings: Settings, body: Body, work_id: int) -> None:
        with self._lock:
            self._waiting[lane] += 1
        self.lanes[lane].submit(self._run, lane, settings, body, work_id)

    def waiting(self, lane: Lane) -> int:
        """Tasks queued on `lane` that have not started."""
        return self._waiting[lane]

    def _run(self, lane: Lane, settings: Settings, body: Body, work_id: int) -> None:
        with self._lock:
            self._waiting[lane] -= 1
        _run_logged(settings, body, work_id, settings, Turn(self, lane))

    def close(self, wait: bool) -> None:
        self.stopping.set()
        for executor in self.lanes.values():
            executor.shutdown(wait=False, cancel_futures=True)
        if wait:
            for executor in self.lanes.values():
                executor.shutdown(wait=True)


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
