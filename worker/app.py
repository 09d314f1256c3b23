"""The Celery app: Redis broker from Settings, task state in SQL (no result backend).

Reliability settings: a task is acknowledged only after it ran (`acks_late`), a worker takes
one task at a time (prefetch 1), and a task whose worker process died is put back on the
queue (`reject_on_worker_lost`). Messages are JSON only, never pickle.

A worker asked to stop (SIGTERM to its main process or a first Ctrl+C: Celery's warm shutdown,
which would wait for the running queue task: hours of training) gives its work back within
seconds: the signal reaches only the main process, which sets a flag its pool processes share
(`worker_stopping`); the running job or study stops at its next check (worker.work.Watch),
queued again to resume from its last snapshot, and its message goes back on the queue
(worker.celery_tasks). A SIGTERM to the pool processes themselves (systemd's default
KillMode=control-group) kills them, as Celery intends: their messages are requeued by
`reject_on_worker_lost` and the work resumes, an attempt counted. Every worker also sweeps
for work whose worker was killed outright (worker.leases): Celery would leave it
unacknowledged until the broker's visibility timeout.

Start a worker with `atlas worker` (one process per GPU) or `celery -A worker.app worker`.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading

import torch
from billiard.process import current_process
from celery import Celery
from celery.signals import (
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)

from atlas.config import Settings, get_settings
from atlas.store import SchemaOutOfDateError, check_database_current

logger = logging.getLogger("atlas.worker")

TRAIN_JOB = "atlas.train_population"
"""The job-training message keeps its first name: messages already queued under it still find
their queue task after an upgrade."""
ANALYSE_NETWORK = "atlas.analyse_network"
RUN_TWO_NEURON_STUDY = "atlas.run_two_neuron_study"


def create_app(settings: Settings) -> Celery:
    app = Celery("atlas", broker=settings.broker_url, include=["worker.celery_tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_default_queue=settings.queue,
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


celery_app = create_app(get_settings())
_sweep_stop = threading.Event()
_stopping = mmap.mmap(-1, 1)
"""1 once the worker is shutting down. Anonymous shared memory, so the pool processes forked
from the main process (`worker_pool_start_method`, "fork" by default) see what it writes;
a solo or threads pool reads it in place."""


def worker_stopping() -> bool:
    """Whether this worker is shutting down: its running queue task should give its work back."""
    return _stopping[0] == 1


@worker_init.connect
def _refuse_old_schema(**_: object) -> None:
    """Stop a worker at start when the database needs `atlas migrate`.

    SystemExit, because Celery logs and ignores ordinary exceptions raised by signal handlers.
    """
    try:
        check_database_current(get_settings().database_url)
    except SchemaOutOfDateError as exc:
        logger.critical("%s", exc)
        raise SystemExit(f"atlas worker: {exc}") from exc


@worker_process_init.connect
def _bind_process_to_device(**_: object) -> None:
    """Give pool process i GPU i (mod the GPU count), and apply the torch thread setting."""
    settings = get_settings()
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    gpus = torch.cuda.device_count()
    if gpus and settings.device in ("auto", "cuda"):
        index = (current_process().index or 0) % gpus
        os.environ["ATLAS_DEVICE"] = f"cuda:{index}"
        get_settings.cache_clear()
        logger.info("pool process %s uses cuda:%d", current_process().name, index)


@worker_ready.connect
def _sweep_for_lost_work(**_: object) -> None:
    """Start this worker's sweep for work whose worker died unheard (worker.leases)."""
    from worker.leases import sweep_forever

    settings = get_settings()
    thread = threading.Thread(
        target=sweep_forever, args=(settings, _sweep_stop), name="lost-work-sweep", daemon=True
    )
    thread.start()
    logger.info("sweeping for lost work every %g s", settings.work_lease_s / 2)


@worker_shutting_down.connect
def _ask_tasks_to_give_work_back(**_: object) -> None:
    """Main process, in its signal handler: tell the pool processes (worker_stopping)."""
    _stopping[0] = 1


@worker_shutdown.connect
def _stop_sweeping(**_: object) -> None:
    _sweep_stop.set()
