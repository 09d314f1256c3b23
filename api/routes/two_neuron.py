"""Two-neuron studies: `/studies` (start one with the API key, idempotently; follow, list and
cancel them as work items, like `/jobs`), and `/tasks/two_neuron/regimes`: which regime its
networks end in, counted by the eigenvalue rule and by the dynamics, with the regime maps drawn
against the initial W. `POST /tasks/two_neuron/studies` (the older way to start one) still
works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Response, status

from api.auth import AUTH_RESPONSES, require_api_key
from api.cancelling import CANCEL_DESCRIPTION, CANCEL_RESPONSES
from api.deps import (
    MAX_ID,
    AfterId,
    IdempotencyKey,
    PageLimit,
    SessionDep,
    SessionsDep,
    SettingsDep,
)
from api.pictures import PNG_MEDIA_TYPE, picture_responses, png_response
from api.queueing import enqueue_or_503, sends_work
from api.schemas.two_neuron import (
    RegimeMapOut,
    RegimesOut,
    StudyIn,
    StudyOut,
    StudyPage,
    StudyProgress,
)
from atlas.store import (
    Budget,
    RegimeSummary,
    StudyRecord,
    WorkStatus,
    cancel_study,
    fail_submitted_study,
    list_studies,
    study_record,
    two_neuron_regime_summary,
)
from atlas.store import submit_study as submit_study_record
from worker.dispatch import enqueue_two_neuron_study

Answer = TypeVar("Answer")

PREFIX = "/tasks/two_neuron"
router = APIRouter(tags=["two-neuron"])
StudyId = Annotated[int, Path(ge=1, le=MAX_ID, description="A two-neuron study id.")]
REPLAY = (
    "Send an `Idempotency-Key` header to make retries safe: a repeated request with the same "
    "key returns the study the first one created (`Idempotent-Replayed: true`)."
)
StudyQuery = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="A study id; default: the latest finished study."),
]


def _regimes_out(summary: RegimeSummary) -> RegimesOut:
    data = summary.to_dict()
    data["maps"] = [
        RegimeMapOut(
            name=name,
            url=f"{PREFIX}/regimes/maps/{quote(name)}.png?study={summary.study_id}",
        )
        for name in data["maps"]
    ]
    return RegimesOut(**data)


_START_RESPONSES = {
    **AUTH_RESPONSES,
    422: {
        "description": "Bad count, model parameters or training options, an Idempotency-Key "
        "reused for another request (`idempotency-key-reused`), or a study over the server's "
        "memory or work budget (`over-budget`)."
    },
    503: {
        "description": "The queue is unreachable: the study is recorded as failed and its "
        "Idempotency-Key freed, so a retry with it creates the study."
    },
}


def _created_study(
    body: StudyIn,
    response: Response,
    sessions: SessionsDep,
    settings: SettingsDep,
    idempotency_key: str | None,
    answer: Callable[[StudyRecord], Answer],
) -> Answer:
    """Create, admit and enqueue a study (both ways of starting one), or answer the study an
    idempotency key names already (`Idempotent-Replayed`; sent again while it is queued,
    api.queueing.sends_work). The answer is
    read before the study is enqueued: an in-process worker may start it at once, and a new
    study answers "queued"."""
    study, created = submit_study_record(
        sessions, budget=Budget.of(settings), idempotency_key=idempotency_key, **body.model_dump()
    )
    answered = answer(study)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    if sends_work(created, study.status == WorkStatus.QUEUED, settings):
        enqueue_or_503(
            lambda: enqueue_two_neuron_study(study.id, settings),
            lambda reason: fail_submitted_study(sessions, study.id, reason),
            f"study {study.id}",
            study=f"/studies/{study.id}",
        )
    return answered


@router.post(
    PREFIX + "/studies",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegimesOut,
    summary="Start a two-neuron study (returning its regimes)",
    description=(
        "Queues the study and returns it at once (202; `Location` is its regimes URL, which "
        "shows `status` until it has finished, then the counts and maps). `POST /studies` "
        "does the same and returns the study as a work item. " + REPLAY
    ),
    dependencies=[Depends(require_api_key)],
    responses=_START_RESPONSES,
)
def start_study(
    body: StudyIn,
    response: Response,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RegimesOut:
    regimes = _created_study(
        body,
        response,
        sessions,
        settings,
        idempotency_key,
        lambda study: _regimes_out(two_neuron_regime_summary(session, study.id)),
    )
    response.headers["Location"] = f"{PREFIX}/regimes?study={regimes.study_id}"
    return regimes


def _finished(study: StudyRecord) -> int:
    """Networks done training: those stored once the study has ended (the store counts
    them), else those out of the batch in the last counts; none before the first."""
    if not study.progress:
        return 0
    return study.progress.get("finished", study.count - study.progress["active"])


def study_out(study: StudyRecord) -> StudyOut:
    progress = study.progress
    return StudyOut(
        id=study.id,
        name=study.name,
        status=study.status,
        count=study.count,
        seed=study.seed,
        task_parameters=study.task_parameters,
        training=study.training,
        attempts=study.attempts,
        error=study.error,
        created_at=study.created_at,
        started_at=study.started_at,
        finished_at=study.finished_at,
        progress=StudyProgress(
            step=progress.get("step", 0),
            max_steps=progress.get("max_steps", study.training.get("max_steps", 0)),
            active=progress.get("active", 0),
            finished=_finished(study),
            solved=progress.get("solved", 0),
            fraction=study.progress_fraction,
            eta=study.eta_at,
            run_seconds=study.run_seconds,
        ),
        links={
            "self": f"/studies/{study.id}",
            "cancel": f"/studies/{study.id}/cancel",
            "regimes": f"{PREFIX}/regimes?study={study.id}",
        },
    )


@router.post(
    "/studies",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=StudyOut,
    summary="Start a two-neuron study",
    description="Queues the study and returns it at once (202, `Location: /studies/{id}`). "
    + REPLAY,
    dependencies=[Depends(require_api_key)],
    responses=_START_RESPONSES,
)
def submit_study(
    body: StudyIn,
    response: Response,
    sessions: SessionsDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> StudyOut:
    study = _created_study(body, response, sessions, settings, idempotency_key, study_out)
    response.headers["Location"] = f"/studies/{study.id}"
    return study


@router.get(
    "/studies",
    response_model=StudyPage,
    summary="Two-neuron studies, newest first",
    description="Pass `next_after` back as `after` for the next page.",
)
def list_studies_route(
    sessions: SessionsDep,
    status: WorkStatus | None = None,
    after: AfterId = None,
    limit: PageLimit = 50,
) -> StudyPage:
    records = list_studies(sessions, status=status, after_id=after, limit=limit + 1)
    return StudyPage.of(records, limit, study_out)


@router.get(
    "/studies/{study_id}",
    response_model=StudyOut,
    summary="A two-neuron study's status and progress",
    responses={404: {"description": "No such study."}},
)
def read_study(study_id: StudyId, sessions: SessionsDep) -> StudyOut:
    return study_out(study_record(sessions, study_id))


@router.post(
    "/studies/{study_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=StudyOut,
    summary="Cancel a two-neuron study",
    description=CANCEL_DESCRIPTION,
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **CANCEL_RESPONSES},
)
def cancel(study_id: StudyId, sessions: SessionsDep) -> StudyOut:
    return study_out(cancel_study(sessions, study_id))


@router.get(
    PREFIX + "/regimes",
    response_model=RegimesOut,
    summary="Regime counts of a two-neuron study (solved and all) and its regime maps",
    responses={404: {"description": "No such study (or none at all)."}},
)
def read_regimes(session: SessionDep, study: StudyQuery = None) -> RegimesOut:
    return _regimes_out(two_neuron_regime_summary(session, study))


@router.get(
    PREFIX + "/regimes/maps/{name}.png",
    response_class=Response,
    summary="One regime map of a two-neuron study",
    responses=picture_responses(PNG_MEDIA_TYPE, "A PNG image."),
)
def read_regime_map(name: str, session: SessionDep, study: StudyQuery = None) -> Response:
    return png_response(two_neuron_regime_summary(session, study).regime_map(name))
