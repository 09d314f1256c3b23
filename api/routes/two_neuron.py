"""`/tasks/two_neuron`: start a two-neuron study (`POST /studies`), and read which regime its
networks end in (`/regimes`), counted by the eigenvalue rule and by the dynamics, with the
regime maps drawn against the initial W."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response, status

from api.admission import admit_study
from api.auth import AUTH_RESPONSES, require_api_key
from api.deps import MAX_ID, SessionDep, SettingsDep
from api.pictures import PNG_MEDIA_TYPE, picture_responses, png_response
from api.problems import Problem
from api.queueing import enqueue_or_503
from api.schemas.two_neuron import RegimeMapOut, RegimesOut, StudyIn
from atlas.store import (
    RegimeSummary,
    StudySpecError,
    create_two_neuron_study,
    fail_study,
    two_neuron_regime_summary,
)
from worker.dispatch import enqueue_two_neuron_study

router = APIRouter(prefix="/tasks/two_neuron", tags=["two-neuron"])
StudyQuery = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="A study id; default: the latest finished study."),
]


def _summary(session: SessionDep, study: int | None) -> RegimeSummary:
    summary = two_neuron_regime_summary(session, study)
    if summary is None:
        detail = "no two-neuron study in the atlas" if study is None else f"no study {study}"
        raise Problem(404, "study-not-found", detail)
    return summary


def _regimes_out(summary: RegimeSummary) -> RegimesOut:
    data = summary.to_dict()
    data["maps"] = [
        RegimeMapOut(
            name=name,
            url=f"{router.prefix}/regimes/maps/{quote(name)}.png?study={summary.study_id}",
        )
        for name in data["maps"]
    ]
    return RegimesOut(**data)


@router.post(
    "/studies",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegimesOut,
    summary="Start a two-neuron study",
    description=(
        "Queues the study and returns it at once (202; `Location` is its regimes URL, which "
        "shows `status` until it has succeeded, then the counts and maps)."
    ),
    dependencies=[Depends(require_api_key)],
    responses={
        **AUTH_RESPONSES,
        422: {
            "description": "Bad count, task parameters or training options, or a study over "
            "the server's memory or work budget (`over-budget`)."
        },
        503: {"description": "The queue is unreachable (the study is recorded as failed)."},
    },
)
def start_study(
    body: StudyIn, response: Response, session: SessionDep, settings: SettingsDep
) -> RegimesOut:
    try:
        study = create_two_neuron_study(session, **body.model_dump())
    except StudySpecError as exc:
        session.rollback()
        raise Problem(422, "invalid-study", str(exc)) from exc
    admit_study(session, study, settings)
    session.commit()
    enqueue_or_503(
        session,
        lambda: enqueue_two_neuron_study(study.id, settings),
        lambda reason: fail_study(session, study.id, reason),
        f"study {study.id}",
        study=f"{router.prefix}/regimes?study={study.id}",
    )
    response.headers["Location"] = f"{router.prefix}/regimes?study={study.id}"
    return _regimes_out(_summary(session, study.id))


@router.get(
    "/regimes",
    response_model=RegimesOut,
    summary="Regime counts of a two-neuron study (solved and all) and its regime maps",
    responses={404: {"description": "No such study (or none at all)."}},
)
def read_regimes(session: SessionDep, study: StudyQuery = None) -> RegimesOut:
    return _regimes_out(_summary(session, study))


@router.get(
    "/regimes/maps/{name}.png",
    response_class=Response,
    summary="One regime map of a two-neuron study",
    responses=picture_responses(PNG_MEDIA_TYPE, "A PNG image."),
)
def read_regime_map(name: str, session: SessionDep, study: StudyQuery = None) -> Response:
    summary = _summary(session, study)
    if name not in summary.maps:
        raise Problem(
            404,
            "map-not-found",
            f"study {summary.study_id} has no regime map {name!r}; it has: "
            f"{', '.join(sorted(summary.maps)) or 'none yet'}",
            available=sorted(summary.maps),
        )
    return png_response(summary.maps[name])
