"""Work items written in a transaction of their own: submitting and cancelling jobs and
two-neuron studies, and marking one failed when it could not be queued.

Each function takes the sessionmaker, commits before it returns (or rolls back when it
raises) and returns the item's record (atlas.store.work_reads), so its caller holds no
Session. Submission admits the work inside that transaction (atlas.store.admission, when a
Budget is given): a refusal raises and nothing is written. Enqueue the work after the
function returns: the worker reads it from the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from atlas.errors import InvalidError
from atlas.store.admission import Budget, admit_job, admit_study
from atlas.store.database import session_scope
from atlas.store.jobs import JobSpec, create_job, fail_job, request_job_cancel, same_job_request
from atlas.store.two_neuron import (
    DEFAULT_STUDY_SIZE,
    create_two_neuron_study,
    fail_study,
    request_study_cancel,
)
from atlas.store.work_reads import JobRecord, StudyRecord, job_record, study_record


class IdempotencyKeyReusedError(InvalidError):
    """An idempotency key that already names work created for a different request."""

    slug = "idempotency-key-reused"


def submit_job(
    sessions: sessionmaker[Session],
    spec: JobSpec,
    idempotency_key: str | None = None,
    budget: Budget | None = None,
    *,
    check_replay: bool = True,
) -> tuple[JobRecord, bool]:
    """The job for `spec` (created queued, admitted against `budget`) and whether it was
    created now; with an idempotency key that names a job already, that job (False), or
    IdempotencyKeyReusedError when it was created for a different request (not checked with
    `check_replay=False`: the key names the one job, whatever it was asked as, like the demo
    job of `atlas serve`). Raises JobSpecError, OverBudgetError, DeviceUnavailableError."""
    with session_scope(sessions) as session:
        job, created = create_job(session, spec, idempotency_key)
        if created and budget is not None:
            admit_job(session, job, budget)
        if not created and check_replay and not same_job_request(session, job, spec):
            raise IdempotencyKeyReusedError(
                f"Idempotency-Key {idempotency_key!r} was used for a different request "
                f"(job {job.id})"
            )
        job_id = job.id
    return job_record(sessions, job_id), created


def cancel_job(sessions: sessionmaker[Session], job_id: int) -> JobRecord:
    """A client's cancel (lifecycle.request_cancel): a queued job is cancelled now, a running
    one is cancelling until its worker stops. Raises NotFoundError, AlreadyFinishedError."""
    with session_scope(sessions) as session:
        request_job_cancel(session, job_id)
    return job_record(sessions, job_id)


def fail_submitted_job(sessions: sessionmaker[Session], job_id: int, error: str) -> None:
    """The job could not be queued: it is failed with `error`."""
    with session_scope(sessions) as session:
        fail_job(session, job_id, error)


def submit_study(
    sessions: sessionmaker[Session],
    count: int = DEFAULT_STUDY_SIZE,
    *,
    budget: Budget | None = None,
    seed: int = 0,
    task_parameters: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> StudyRecord:
    """A two-neuron study, created queued (create_two_neuron_study) and admitted against
    `budget`. Raises StudySpecError, OverBudgetError."""
    with session_scope(sessions) as session:
        study = create_two_neuron_study(
            session, count, seed=seed, task_parameters=task_parameters, training=training, name=name
        )
        if budget is not None:
            admit_study(study, budget)
        study_id = study.id
    return study_record(sessions, study_id)


def cancel_study(sessions: sessionmaker[Session], study_id: int) -> StudyRecord:
    """A client's cancel of a study (as cancel_job). Raises NotFoundError,
    AlreadyFinishedError."""
    with session_scope(sessions) as session:
        request_study_cancel(session, study_id)
    return study_record(sessions, study_id)


def fail_submitted_study(sessions: sessionmaker[Session], study_id: int, error: str) -> None:
    """The study could not be queued: it is failed with `error`."""
    with session_scope(sessions) as session:
        fail_study(session, study_id, error)
