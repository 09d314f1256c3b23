"""Writing jobs: creation honouring an idempotency key, then running, progress, outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atlas.analysis_status import AnalysisStatus
from atlas.errors import InvalidError
from atlas.network_status import NetworkStatus
from atlas.networks import ARCHITECTURES
from atlas.store.database import get_or_raise
from atlas.store.lifecycle import (
    LOCKED,
    StopReason,
    held_elsewhere,
    mark_failed,
    mark_outcome,
    mark_stopped,
    record_pace,
    request_cancel,
    start_attempt,
    status_of,
)
from atlas.store.models import Job, Network
from atlas.store.snapshots import Snapshot, delete_training_snapshot, training_snapshot
from atlas.store.task_records import ensure_task, resolve_task
from atlas.store.work_status import FINISHED, UNFINISHED, WorkStatus
from atlas.tasks import ParameterError, TrialTask, UnknownTaskError, get_task
from atlas.training import TrainingConfig, TrainingProgress


class JobSpecError(InvalidError):
    """A population request that cannot be trained; the message says why."""

    slug = "invalid-job"


@dataclass(frozen=True)
class JobSpec:
    """What a client asks for: `count` networks of `architecture` x `units` on `task`."""

    task: str
    architecture: str
    units: int
    count: int
    seed: int = 0
    task_parameters: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)


def _resolved(spec: JobSpec, session: Session | None = None) -> tuple[TrialTask, TrainingConfig]:
    try:
        if session is None:
            task = get_task(spec.task, **spec.task_parameters)
        else:  # users' stored tasks too
            task = resolve_task(session, spec.task, **spec.task_parameters)
    except (UnknownTaskError, ParameterError) as exc:
        raise JobSpecError(str(exc)) from exc
    if spec.architecture not in ARCHITECTURES:
        raise JobSpecError(
            f"unknown architecture {spec.architecture!r}; known: {', '.join(ARCHITECTURES)}"
        )
    if spec.units < 1 or spec.count < 1:
        raise JobSpecError("units and count must be positive")
    try:
        config = TrainingConfig.from_dict(spec.training)
    except (TypeError, ValueError) as exc:
        raise JobSpecError(f"training options: {exc}") from exc
    return task, config


def create_job(
    session: Session, spec: JobSpec, idempotency_key: str | None = None
) -> tuple[Job, bool]:
    """The job for `spec` and whether it was created now.

    With an idempotency key that already names a job, that job is returned unchanged (False).
    Two concurrent requests with one key both end up with the same job: the loser of the
    insert race meets the unique constraint and reads the winner's row.
    """
    task, config = _resolved(spec, session)
    if idempotency_key is not None:
        existing = _job_by_key(session, idempotency_key)
        if existing is not None:
            return existing, False
    ensure_task(session, task)
    job = Job(
        task=task.name,
        task_parameters=task.parameters(),
        architecture=spec.architecture,
        units=spec.units,
        count=spec.count,
        seed=spec.seed,
        training_config=config.to_dict(),
        idempotency_key=idempotency_key,
        status=WorkStatus.QUEUED,
    )
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        existing = _job_by_key(session, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing, False
    return job, True


def same_job_request(session: Session, job: Job, spec: JobSpec) -> bool:
    """Whether `job`, found by an idempotency key, was created for this very `spec`."""
    task, config = _resolved(spec, session)
    asked = (
        task.name,
        spec.architecture,
        spec.units,
        spec.count,
        spec.seed,
        task.parameters(),
        config.to_dict(),
    )
    stored = (
        job.task,
        job.architecture,
        job.units,
        job.count,
        job.seed,
        job.task_parameters,
        job.training_config,
    )
    return asked == stored


def _job_by_key(session: Session, key: str) -> Job | None:
    return session.scalars(select(Job).where(Job.idempotency_key == key)).one_or_none()


def _job(session: Session, job_id: int, **options: Any) -> Job:
    return get_or_raise(session, Job, job_id, "job", "job-not-found", **options)


def start_job_attempt(
    session: Session, job_id: int, max_attempts: int, lease: timedelta | None = None
) -> bool:
    """A delivery of the job begins (see atlas.store.lifecycle.start_attempt); one that ends
    it instead leaves it as every end does (jobs._end); one that finds it held by a live
    worker (lifecycle.held_elsewhere) leaves it as it is. The row is locked: of two deliveries
    at once (a replay sends the work again), the second reads what the first made of it."""
    job = _job(session, job_id, **LOCKED)
    if held_elsewhere(job, lease):
        return False
    started = start_attempt(job, max_attempts)
    job.n_saved = count_saved_networks(session, job_id)
    if not started:
        _end(session, job)  # ended here (cancelled, out of attempts): nothing trains
    session.flush()
    return started


@dataclass(frozen=True)
class JobAttempt:
    """One delivery of a job as its worker begins it: what is left to train, and from where."""

    task: str
    task_parameters: dict[str, Any]
    training: dict[str, Any]
    architecture: str
    units: int
    count: int
    attempt: int
    run_seconds: float
    seeds: tuple[int, ...]
    """Seeds of the networks not stored yet."""
    unanalysed: tuple[int, ...]
    """Ids of the stored networks whose analysis has not finished."""
    snapshot: Snapshot | None


def begin_job_attempt(
    session: Session, job_id: int, max_attempts: int, lease: timedelta | None = None
) -> JobAttempt | None:
    """Start a delivery of the job (start_job_attempt) and say what it trains; None when there
    is nothing to train: the job has finished, was cancelled, gave up, or a live worker holds
    it (its heartbeat younger than `lease`)."""
    if not start_job_attempt(session, job_id, max_attempts, lease):
        return None
    job = _job(session, job_id)
    stored = {n.index_in_job: n for n in job.networks}
    seeds = tuple(job.network_seed(i) for i in range(job.count) if i not in stored)
    return JobAttempt(
        task=job.task,
        task_parameters=dict(job.task_parameters),
        training=dict(job.training_config),
        architecture=job.architecture,
        units=job.units,
        count=job.count,
        attempt=job.attempts,
        run_seconds=job.run_seconds,
        seeds=seeds,
        unanalysed=tuple(n.id for n in stored.values() if n.analysis_status != AnalysisStatus.DONE),
        snapshot=training_snapshot(session, job_id) if seeds else None,
    )


def job_status(session: Session, job_id: int) -> WorkStatus | None:
    """The job's status as stored now (None: no such job): how a worker notices a cancel."""
    return status_of(session, Job, job_id)


def record_progress(
    session: Session,
    job_id: int,
    progress: TrainingProgress,
    pace: tuple[float, datetime | None, float] | None = None,
) -> None:
    """The job's counts after an epoch and, when given, its pace: (share of the work done,
    expected end, seconds run over all attempts)."""
    job = _job(session, job_id)
    job.epoch = progress.epoch
    job.max_epochs = progress.max_epochs
    job.n_active = progress.active
    job.n_converged = progress.converged
    job.n_failed = progress.failed
    if pace is not None:
        record_pace(job, *pace)
    session.flush()


def count_saved_networks(session: Session, job_id: int) -> int:
    return session.scalar(select(func.count()).where(Network.job_id == job_id)) or 0


def _failed_networks(session: Session, job_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                Network.job_id == job_id, Network.status == NetworkStatus.FAILED
            )
        )
        or 0
    )


def _end(session: Session, job: Job) -> None:
    """Once the job has finished (not when it is only queued again): no network trains any
    more and its training snapshot goes."""
    if job.status in FINISHED:
        job.n_active = 0
        delete_training_snapshot(session, job.id)
    session.flush()


def finish_job(session: Session, job_id: int) -> WorkStatus:
    """Every network the job asked for is stored: succeeded, partially succeeded (some
    networks failed) or failed (all did). Its training snapshot goes."""
    job = _job(session, job_id)
    job.n_saved = count_saved_networks(session, job_id)
    if job.n_saved != job.count:
        raise RuntimeError(f"job {job_id} has {job.n_saved} of {job.count} networks stored")
    job.progress_fraction = 1.0
    mark_outcome(job, job.count, _failed_networks(session, job_id))
    _end(session, job)
    return WorkStatus(job.status)


def stop_job(session: Session, job_id: int, reason: StopReason, detail: str = "") -> WorkStatus:
    """The worker stopped the job before its end (lifecycle.mark_stopped): networks stored
    stay; the snapshot stays only for a job queued again."""
    job = _job(session, job_id)
    job.n_saved = count_saved_networks(session, job_id)
    failed = _failed_networks(session, job_id) + job.count - job.n_saved
    mark_stopped(job, reason, job.count, failed, detail)
    _end(session, job)
    return WorkStatus(job.status)


def request_job_cancel(session: Session, job_id: int) -> WorkStatus:
    """A client's cancel (lifecycle.request_cancel): a queued job is cancelled now, a running
    one is cancelling until its worker stops. Raises NotFoundError, AlreadyFinishedError."""
    job = _job(session, job_id)
    request_cancel(job, f"job {job_id}")
    _end(session, job)
    return WorkStatus(job.status)


def fail_job(session: Session, job_id: int, error: str) -> WorkStatus:
    """Mark the job failed with a readable reason; networks already stored stay."""
    job = _job(session, job_id)
    mark_failed(job, error)
    job.n_saved = count_saved_networks(session, job_id)
    _end(session, job)
    return WorkStatus(job.status)


def unfinished_job_ids(session: Session) -> list[int]:
    """Jobs queued, running or cancelling, oldest first: what a restarted embedded runner
    picks up again (a cancelling one is cancelled when its task starts)."""
    return list(session.scalars(select(Job.id).where(Job.status.in_(UNFINISHED)).order_by(Job.id)))
