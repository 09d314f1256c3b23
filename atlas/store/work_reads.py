"""Work items read as records: a job with the networks it has stored, a two-neuron study, and
pages of either, newest first.

Each reader takes the sessionmaker, reads in a transaction of its own and returns frozen
records (plain values, no ORM row), so its caller holds no Session. NotFoundError
(`job-not-found`, `study-not-found`) when there is no such item. A page of jobs holds
JobSummary records (counts, not the networks themselves: a job may have thousands). Charts
have theirs in atlas.store.charts (ChartRecord).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from atlas.store.database import get_or_raise, session_scope
from atlas.store.models import Job, Network, TwoNeuronStudyRow


@dataclass(frozen=True)
class WorkRecord:
    """What every work item has: its lifecycle (atlas.store.work_status) and its pace."""

    id: int
    status: str
    count: int
    seed: int
    task_parameters: dict[str, Any]
    training: dict[str, Any]
    attempts: int
    error: str | None
    progress_fraction: float
    eta_at: datetime | None
    run_seconds: float
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _work_fields(row: Job | TwoNeuronStudyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "count": row.count,
        "seed": row.seed,
        "task_parameters": dict(row.task_parameters),
        "training": dict(row.training_config),
        "attempts": row.attempts,
        "error": row.error,
        "progress_fraction": row.progress_fraction,
        "eta_at": row.eta_at,
        "run_seconds": row.run_seconds,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
    }


@dataclass(frozen=True)
class JobNetwork:
    """One network a job has stored: its place in the job and how training ended."""

    id: int
    index: int
    seed: int
    status: str
    epochs: int
    best_loss: float | None
    validation_loss: float | None
    analysis_status: str


@dataclass(frozen=True)
class JobSummary(WorkRecord):
    """A job: what was asked (task, architecture, units, count, seed, training), where its
    training is (epoch of max_epochs; networks active, converged, failed) and how many
    networks it has stored so far (`saved`)."""

    task: str
    architecture: str
    units: int
    epoch: int
    max_epochs: int
    n_active: int
    n_converged: int
    n_failed: int
    saved: int


@dataclass(frozen=True)
class JobRecord(JobSummary):
    """A job's summary and the networks it has stored so far, in seed order."""

    networks: tuple[JobNetwork, ...]


@dataclass(frozen=True)
class StudyRecord(WorkRecord):
    """A two-neuron study: its name and the progress its worker reports (`step`,
    `max_steps`, `active`, `solved`; empty before it starts)."""

    name: str | None
    progress: dict[str, Any]


def _job_networks(session: Session, job_id: int) -> tuple[JobNetwork, ...]:
    rows = session.execute(
        select(
            Network.id,
            Network.index_in_job,
            Network.seed,
            Network.status,
            Network.epochs,
            Network.best_loss,
            Network.validation_loss,
            Network.analysis_status,
        )
        .where(Network.job_id == job_id)
        .order_by(Network.index_in_job)
    ).all()
    return tuple(JobNetwork(*row) for row in rows)


def _job_fields(job: Job) -> dict[str, Any]:
    return {
        **_work_fields(job),
        "task": job.task,
        "architecture": job.architecture,
        "units": job.units,
        "epoch": job.epoch,
        "max_epochs": job.max_epochs,
        "n_active": job.n_active,
        "n_converged": job.n_converged,
        "n_failed": job.n_failed,
    }


def job_record(sessions: sessionmaker[Session], job_id: int) -> JobRecord:
    """The job and the networks it has stored; NotFoundError when there is no such job."""
    with session_scope(sessions) as session:
        job = get_or_raise(session, Job, job_id, "job", "job-not-found")
        networks = _job_networks(session, job_id)
        return JobRecord(**_job_fields(job), saved=len(networks), networks=networks)


def _newest_first(
    model: type[Job] | type[TwoNeuronStudyRow], status: str | None, after_id: int | None, limit: int
) -> Select:
    """A page of work items, newest first (keyset on id: the next page starts below the last
    id seen), of one status or all."""
    query = select(model).order_by(model.id.desc()).limit(limit)
    if status is not None:
        query = query.where(model.status == status)
    if after_id is not None:
        query = query.where(model.id < after_id)
    return query


def list_jobs(
    sessions: sessionmaker[Session],
    *,
    status: str | None = None,
    task: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[JobSummary]:
    """Jobs newest first, of one status and one task (its short name) or all."""
    with session_scope(sessions) as session:
        query = _newest_first(Job, status, after_id, limit)
        if task is not None:
            query = query.where(Job.task == task)
        jobs = session.scalars(query).all()
        saved = dict(
            session.execute(
                select(Network.job_id, func.count())
                .where(Network.job_id.in_([job.id for job in jobs]))
                .group_by(Network.job_id)
            ).all()
        )
        return [JobSummary(**_job_fields(job), saved=saved.get(job.id, 0)) for job in jobs]


def _study(study: TwoNeuronStudyRow) -> StudyRecord:
    return StudyRecord(**_work_fields(study), name=study.name, progress=dict(study.progress or {}))


def study_record(sessions: sessionmaker[Session], study_id: int) -> StudyRecord:
    """The two-neuron study; NotFoundError when there is no such study."""
    with session_scope(sessions) as session:
        study = get_or_raise(session, TwoNeuronStudyRow, study_id, "study", "study-not-found")
        return _study(study)


def list_studies(
    sessions: sessionmaker[Session],
    *,
    status: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[StudyRecord]:
    """Two-neuron studies newest first, of one status or all."""
    with session_scope(sessions) as session:
        query = _newest_first(TwoNeuronStudyRow, status, after_id, limit)
        return [_study(study) for study in session.scalars(query)]
