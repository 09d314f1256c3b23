"""Work items written in a transaction of their own: submitting and cancelling jobs,
two-neuron studies and charts, and marking one failed when it could not be queued.

Each function takes the sessionmaker, commits before it returns (or rolls back when it
raises) and returns the item's record (atlas.store.work_reads; a chart's ChartRecord, read in
the same transaction), so its caller holds no Session. Submission admits the work inside that
transaction (atlas.store.admission, when a Budget is given; a chart's every first chunk): a
refusal raises and nothing is written. Enqueue the work after the function returns: the worker
reads it from the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from atlas.errors import InvalidError
from atlas.store.admission import Budget, admit_job, admit_study
from atlas.store.charts import (
    ChartRecord,
    ChartSpec,
    advance_chart,
    chart_record,
    create_chart,
    fail_chart,
    queued_chunks,
    request_chart_cancel,
    same_request,
)
from atlas.store.database import session_scope
from atlas.store.jobs import JobSpec, create_job, fail_job, request_job_cancel, same_job_request
from atlas.store.models import Chart, Job, TwoNeuronStudyRow
from atlas.store.two_neuron import (
    DEFAULT_STUDY_SIZE,
    create_two_neuron_study,
    fail_study,
    request_study_cancel,
    same_study_request,
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


def _release_idempotency_key(
    session: Session, model: type[Job] | type[Chart] | type[TwoNeuronStudyRow], work_id: int
) -> None:
    """Work recorded but never queued keeps its record, not its key: the key names work a
    retry should find, and this one will never run."""
    row = session.get(model, work_id)
    if row is not None:
        row.idempotency_key = None
        session.flush()


def fail_submitted_job(sessions: sessionmaker[Session], job_id: int, error: str) -> None:
    """The job could not be queued: it is failed with `error`, and its idempotency key is
    free again, so that a retry of the request (which a 503 invites) creates the job."""
    with session_scope(sessions) as session:
        fail_job(session, job_id, error)
        _release_idempotency_key(session, Job, job_id)


def submit_study(
    sessions: sessionmaker[Session],
    count: int = DEFAULT_STUDY_SIZE,
    *,
    budget: Budget | None = None,
    seed: int = 0,
    task_parameters: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    name: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[StudyRecord, bool]:
    """A two-neuron study, created queued (create_two_neuron_study) and admitted against
    `budget`, and whether it was created now; with an idempotency key that names a study
    already, that study (False), or IdempotencyKeyReusedError when it was created for a
    different request. Raises StudySpecError, OverBudgetError."""
    request = {"seed": seed, "task_parameters": task_parameters, "training": training, "name": name}
    with session_scope(sessions) as session:
        study, created = create_two_neuron_study(
            session, count, idempotency_key=idempotency_key, **request
        )
        if created and budget is not None:
            admit_study(study, budget)
        if not created and not same_study_request(study, count, **request):
            raise IdempotencyKeyReusedError(
                f"Idempotency-Key {idempotency_key!r} was used for a different request "
                f"(study {study.id})"
            )
        study_id = study.id
    return study_record(sessions, study_id), created


def cancel_study(sessions: sessionmaker[Session], study_id: int) -> StudyRecord:
    """A client's cancel of a study (as cancel_job). Raises NotFoundError,
    AlreadyFinishedError."""
    with session_scope(sessions) as session:
        request_study_cancel(session, study_id)
    return study_record(sessions, study_id)


def fail_submitted_study(sessions: sessionmaker[Session], study_id: int, error: str) -> None:
    """The study could not be queued: it is failed with `error`, and its idempotency key is
    free again (as for a job)."""
    with session_scope(sessions) as session:
        fail_study(session, study_id, error)
        _release_idempotency_key(session, TwoNeuronStudyRow, study_id)


@dataclass(frozen=True)
class ChartSubmission:
    """A chart submitted: its record, whether it was created now, and its chunk jobs waiting
    for a worker, to enqueue once submit_chart has returned: the first chunks of a chart
    created now; those still queued for a replay (its first request may still be handing them
    over: api.queueing.sends_work)."""

    record: ChartRecord
    created: bool
    job_ids: tuple[int, ...]


def submit_chart(
    sessions: sessionmaker[Session],
    spec: ChartSpec,
    idempotency_key: str | None = None,
    budget: Budget | None = None,
) -> ChartSubmission:
    """The chart for `spec`, created with its first chunks (charts.create_chart and
    advance_chart), each chunk admitted against `budget`; with an idempotency key that names a
    chart already, that chart, or IdempotencyKeyReusedError when it was created for a
    different request. Raises ChartSpecError, OverBudgetError, DeviceUnavailableError."""
    with session_scope(sessions) as session:
        chart, created = create_chart(session, spec, idempotency_key)
        job_ids = advance_chart(session, chart.id) if created else queued_chunks(session, chart.id)
        if not created and not same_request(session, chart, spec):
            raise IdempotencyKeyReusedError(
                f"Idempotency-Key {idempotency_key!r} was used for a different request "
                f"(chart {chart.id})"
            )
        if created and budget is not None:
            for job_id in job_ids:
                admit_job(session, session.get_one(Job, job_id), budget)
        record = chart_record(session, chart.id)
    return ChartSubmission(record, created, tuple(job_ids))


def cancel_chart(sessions: sessionmaker[Session], chart_id: int) -> ChartRecord:
    """A client's cancel of a chart (charts.request_chart_cancel): its queued chunks are
    cancelled now, running ones asked to stop. Raises NotFoundError, AlreadyFinishedError."""
    with session_scope(sessions) as session:
        request_chart_cancel(session, chart_id)
        return chart_record(session, chart_id)


def fail_submitted_chart(sessions: sessionmaker[Session], chart_id: int, error: str) -> None:
    """The chart's chunks could not be queued: it and its unfinished chunks are failed, and
    its idempotency key is free again (as for a job)."""
    with session_scope(sessions) as session:
        fail_chart(session, chart_id, error)
        _release_idempotency_key(session, Chart, chart_id)
