"""`/jobs`: submit a population to train (API key, idempotent), follow its progress, list jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.auth import AUTH_RESPONSES, require_api_key
from api.cancelling import CANCEL_DESCRIPTION, CANCEL_RESPONSES
from api.deps import (
    PRINTABLE,
    AfterId,
    IdempotencyKey,
    JobId,
    PageLimit,
    SessionDep,
    SessionsDep,
    SettingsDep,
)
from api.queueing import enqueue_or_503, sends_work
from api.routes.tasks import task_argument
from api.schemas.jobs import JobIn, JobNetwork, JobOut, JobPage, JobProgress, JobSummaryOut
from atlas.store import (
    Budget,
    JobRecord,
    JobSpec,
    JobSummary,
    WorkStatus,
    cancel_job,
    fail_submitted_job,
    job_record,
    list_jobs,
)
from atlas.store import submit_job as submit_job_record
from worker.dispatch import enqueue_training

router = APIRouter(prefix="/jobs", tags=["jobs"])
_ERRORS = {
    **AUTH_RESPONSES,
    422: {
        "description": "Invalid request, an Idempotency-Key reused for another request, a GPU "
        "asked for where there is none, or a job over the server's memory or work budget "
        "(`over-budget`: the problem states the estimate and the limits)."
    },
    503: {"description": "The queue is unreachable; the job is recorded as failed."},
}


def job_summary_out(job: JobSummary) -> JobSummaryOut:
    return JobSummaryOut(
        id=job.id,
        status=job.status,
        task=job.task,
        task_parameters=job.task_parameters,
        architecture=job.architecture,
        units=job.units,
        count=job.count,
        seed=job.seed,
        training=job.training,
        attempts=job.attempts,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        progress=JobProgress(
            epoch=job.epoch,
            max_epochs=job.max_epochs,
            active=job.n_active,
            converged=job.n_converged,
            failed=job.n_failed,
            saved=job.saved,
            fraction=job.progress_fraction,
            eta=job.eta_at,
            run_seconds=job.run_seconds,
        ),
        links={"self": f"/jobs/{job.id}", "solutions": f"/solutions?job={job.id}"},
    )


def job_out(job: JobRecord) -> JobOut:
    return JobOut(
        **dict(job_summary_out(job)),
        networks=[
            JobNetwork(
                id=n.id,
                index=n.index,
                seed=n.seed,
                status=n.status,
                epochs=n.epochs,
                best_loss=n.best_loss,
                validation_loss=n.validation_loss,
                analysis_status=n.analysis_status,
                links={"self": f"/solutions/{n.id}", "weights": f"/solutions/{n.id}/weights"},
            )
            for n in job.networks
        ],
    )


@router.get(
    "",
    response_model=JobPage,
    summary="Jobs, newest first",
    description="Each job's request, lifecycle and progress (its networks are at `/jobs/{id}` "
    "and `links.solutions`). Filters combine with AND; pass `next_after` back as `after` for "
    "the next page.",
    responses={422: {"description": "Unknown task or status."}},
)
def list_jobs_route(
    sessions: SessionsDep,
    session: SessionDep,
    status: WorkStatus | None = None,
    task: Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern=PRINTABLE, description="Short name or alias."),
    ] = None,
    after: AfterId = None,
    limit: PageLimit = 50,
) -> JobPage:
    if task is not None:
        task = task_argument(task, session)
    records = list_jobs(sessions, status=status, task=task, after_id=after, limit=limit + 1)
    return JobPage.of(records, limit, job_summary_out)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    summary="Train a population of networks",
    description=(
        "Queues the job and returns it at once (202, `Location` header). Send an "
        "`Idempotency-Key` header to make retries safe: a repeated request with the same key "
        "returns the job the first one created (`Idempotent-Replayed: true`)."
    ),
    dependencies=[Depends(require_api_key)],
    responses=_ERRORS,
)
def submit_job(
    body: JobIn,
    response: Response,
    sessions: SessionsDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JobOut:
    spec = JobSpec(**body.model_dump())
    job, created = submit_job_record(sessions, spec, idempotency_key, Budget.of(settings))
    if sends_work(created, job.status == WorkStatus.QUEUED, settings):
        enqueue_or_503(
            lambda: enqueue_training(job.id, settings),
            lambda reason: fail_submitted_job(sessions, job.id, reason),
            f"job {job.id}",
            job=f"/jobs/{job.id}",
        )
    response.headers["Location"] = f"/jobs/{job.id}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return job_out(job)


@router.get(
    "/{job_id}",
    response_model=JobOut,
    summary="A job's status, progress and the networks it has stored",
    responses={404: {"description": "No such job."}},
)
def read_job(job_id: JobId, sessions: SessionsDep) -> JobOut:
    return job_out(job_record(sessions, job_id))


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    summary="Cancel a job",
    description=CANCEL_DESCRIPTION,
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **CANCEL_RESPONSES},
)
def cancel(job_id: JobId, sessions: SessionsDep) -> JobOut:
    return job_out(cancel_job(sessions, job_id))
