"""The task bodies: train a job's population into the atlas, analyse one network.

Celery runs them in worker processes (worker.celery_tasks); the embedded mode runs the same
functions on threads (worker.dispatch). Both are idempotent, so a redelivered task only
finishes what its first delivery did not:
- a training run snapshots its whole state every `resume_every` epochs (atlas.training.snapshot,
  stored per job); a redelivery or restart continues from the last snapshot and ends with the
  same networks as an uninterrupted run;
- a network is saved under (job, index); networks already stored are not saved twice (a
  network's weights and minibatches depend on its seed alone, so they come out the same);
- an analysis step that succeeded is skipped, one re-run replaces that step's rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from atlas.analysis_status import AnalysisStatus
from atlas.errors import NotFoundError
from atlas.store import (
    StopReason,
    begin_job_attempt,
    fail_job,
    fail_step,
    finish_job,
    finish_step,
    job_status,
    lock_network,
    record_progress,
    resolve_task,
    save_job_network,
    save_training_snapshot,
    set_analysis_status,
    skip_step,
    start_step,
    step_done,
    stop_job,
)
from atlas.tasks import TrialTask
from atlas.training import NetworkOutcome, TrainingConfig, train_population
from atlas.training.batched import PopulationTraining
from atlas.training.snapshot import SnapshotMismatchError, restore_training, take_snapshot
from worker.database import current_settings, transaction
from worker.leases import delivery_lease, heartbeat
from worker.steps import STEPS, read_subject
from worker.work import Pace, Stopped, Watch, finished_or_stopped, progress_writer

logger = logging.getLogger("atlas.worker")

MAX_ATTEMPTS = 3

NetworkSaved = Callable[[int], None]


def train_job(
    job_id: int,
    on_network_saved: NetworkSaved | None = None,
    should_stop: Callable[[], bool] | None = None,
    turn_over: Callable[[], bool] | None = None,
) -> StopReason | None:
    """Train the job's networks that are not stored yet, saving each as it finishes.

    `on_network_saved(network_id)` is called once a network is committed (dispatch passes
    "enqueue its analysis"); on a redelivery it is also called for the networks stored
    before whose analysis has not finished. A job delivered MAX_ATTEMPTS times without
    finishing (its worker keeps dying) is marked failed instead of being tried forever.
    Between minibatches the job stops (worker.work.Watch) when `should_stop()` says so (queued
    again, resumed from its snapshot), when a client cancelled it, or at the time limit. After
    an epoch where `turn_over()` says so (others wait for the embedded training lane), it
    snapshots and yields: queued again, to continue from there. Returns why it stopped early.
    """
    notify = on_network_saved or (lambda _network_id: None)
    with transaction() as session:
        attempt = begin_job_attempt(session, job_id, MAX_ATTEMPTS, delivery_lease())
        if attempt is None:
            logger.info("job %d is %s: nothing to train", job_id, job_status(session, job_id))
            return None
    seeds, shape, count = list(attempt.seeds), (attempt.architecture, attempt.units), attempt.count
    task_name = attempt.task
    watch = Watch(job_status, job_id, should_stop, attempt.run_seconds)
    logger.info(
        "job %d: training %d of %d %s networks of %d units on %s (attempt %d)",
        job_id, len(seeds), count, *shape, task_name, attempt.attempt,
    )  # fmt: skip
    for network_id in attempt.unanalysed:
        notify(network_id)
    with (
        heartbeat("job", job_id),
        finished_or_stopped(
            f"job {job_id}",
            stop=lambda session, stopped: stop_job(session, job_id, stopped.reason, stopped.detail),
            fail=lambda session, error: fail_job(session, job_id, error),
        ) as ending,
    ):
        with transaction() as session:  # users' declared tasks are stored
            task = resolve_task(session, task_name, **attempt.task_parameters)
        config = TrainingConfig.from_dict({**attempt.training, "device": _training_device()})
        start = _resumed(job_id, task, *shape, config, attempt.snapshot)
        if seeds:
            train_population(
                task,
                *shape,
                seeds,
                config,
                on_progress=progress_writer(
                    lambda session, progress, pace: record_progress(
                        session, job_id, progress, pace
                    ),
                    watch,
                    Pace(count, watch),
                    f"job {job_id}",
                ),
                on_network_done=lambda outcome: notify(_save(job_id, outcome)),
                start=start,
                on_epoch_end=_snapshotter(job_id, config.resume_every, turn_over),
                between_minibatches=watch.check,
            )
        with transaction() as session:
            status = finish_job(session, job_id)
        logger.info("job %d %s", job_id, status)
    return ending.reason


def _resumed(
    job_id: int,
    task: TrialTask,
    architecture: str,
    units: int,
    config: TrainingConfig,
    snapshot: tuple[int, dict] | None,
) -> PopulationTraining | None:
    """The run the job's snapshot holds, or None to start afresh (none, or one that does not
    fit: a snapshot from another code version is worth less than a clean start)."""
    if snapshot is None:
        return None
    epoch, arrays = snapshot
    try:
        run = restore_training(task, architecture, units, config, arrays)
    except (SnapshotMismatchError, KeyError, ValueError) as exc:
        logger.warning("job %d: snapshot after epoch %d not used: %s", job_id, epoch, exc)
        return None
    logger.info("job %d: resuming from its snapshot after epoch %d", job_id, epoch)
    return run


def _snapshotter(
    job_id: int, every: int, turn_over: Callable[[], bool] | None
) -> Callable[[PopulationTraining], None]:
    """Store the run's snapshot after every `every`-th epoch (0: never) while networks train;
    when `turn_over()` says so, snapshot now and yield (Stopped), unless snapshots are off."""

    def snapshot(run: PopulationTraining) -> None:
        if not every or not len(run.active):
            return
        yielding = turn_over is not None and turn_over()
        if run.epoch % every and not yielding:
            return
        arrays = take_snapshot(run)
        with transaction() as session:
            save_training_snapshot(session, job_id, run.epoch, arrays)
        if yielding:
            raise Stopped(StopReason.YIELD, f"yields its turn after epoch {run.epoch}")

    return snapshot


def _save(job_id: int, outcome: NetworkOutcome) -> int:
    with transaction() as session:
        network_id = save_job_network(session, job_id, outcome)
    logger.info(
        "job %d: network %d (seed %d) %s after %d epochs, validation loss %.3g",
        job_id, network_id, outcome.seed, outcome.status, outcome.epochs, outcome.validation_loss,
    )  # fmt: skip
    return network_id


def _training_device() -> str:
    """The device from Settings as TrainingConfig names it; cuda:N selects GPU N first."""
    device = current_settings().device
    if device.startswith("cuda:"):
        torch.cuda.set_device(int(device.split(":", 1)[1]))
        return "cuda"
    return device


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """One network's analysis is small matrix work: torch's intra-op threads only contend for
    the cores (on a busy 2-core machine the steps ran ten times slower with two threads)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def analyse_network(network_id: int, should_stop: Callable[[], bool] | None = None) -> None:
    """Run the registered analysis steps in order, skipping those already done.

    A step that does not apply to the network is recorded as skipped. Each other step loads
    its inputs in one short transaction, computes with none open, and saves its results with
    its "succeeded" mark, its summary and its compute time in another. A failing step is
    recorded (its error on the step, "failed" on the network) and ends the analysis: later
    steps may build on its results. When `should_stop()` says so (the embedded runner shuts
    down) it returns between steps; the network stays unanalysed and is picked up again.
    """
    for step in STEPS:
        if should_stop is not None and should_stop():
            logger.info("network %d: analysis stopped before step %s", network_id, step.name)
            return
        with transaction() as session:
            try:
                subject = read_subject(session, network_id)
            except NotFoundError:
                logger.warning("network %d is gone; nothing to analyse", network_id)
                return
            if step_done(session, network_id, step.name):
                continue
            reason = step.skip(subject)
            if reason is not None:
                skip_step(session, network_id, step.name, reason)
                logger.info("network %d: step %s skipped: %s", network_id, step.name, reason)
                continue
            start_step(session, network_id, step.name)
        try:
            with transaction() as session:
                inputs = step.load(session, subject)
            started = time.perf_counter()
            with one_torch_thread():
                result = step.run(inputs)
            seconds = time.perf_counter() - started
            with transaction() as session:
                # Two deliveries of one analysis save one at a time; the second finds the
                # step done and keeps the first one's rows.
                lock_network(session, network_id)
                if step_done(session, network_id, step.name):
                    continue
                summary = step.save(session, network_id, result)
                finish_step(session, network_id, step.name, summary, seconds)
        except Exception as exc:
            logger.exception("network %d: step %s failed", network_id, step.name)
            with transaction() as session:
                fail_step(session, network_id, step.name, f"{type(exc).__name__}: {exc}")
            return
        logger.info("network %d: step %s done in %.2f s", network_id, step.name, seconds)
    with transaction() as session:
        set_analysis_status(session, network_id, AnalysisStatus.DONE)
