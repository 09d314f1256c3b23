"""`/tasks/two_neuron/regimes`: which regime the two-neuron networks of a study end in, counted
by the eigenvalue rule and by the dynamics, and the regime maps drawn against the initial W."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Response

from api.deps import SessionDep
from api.pictures import PNG_MEDIA_TYPE, picture_responses, png_response
from api.problems import Problem
from api.schemas.two_neuron import RegimeMapOut, RegimesOut
from atlas.store import RegimeSummary, two_neuron_regime_summary

router = APIRouter(prefix="/tasks/two_neuron/regimes", tags=["two-neuron"])
StudyQuery = Annotated[
    int | None, Query(ge=1, description="A study id; default: the latest finished study.")
]


def _summary(session: SessionDep, study: int | None) -> RegimeSummary:
    summary = two_neuron_regime_summary(session, study)
    if summary is None:
        detail = "no two-neuron study in the atlas" if study is None else f"no study {study}"
        raise Problem(404, "study-not-found", detail)
    return summary


@router.get(
    "",
    response_model=RegimesOut,
    summary="Regime counts of a two-neuron study (solved and all) and its regime maps",
    responses={404: {"description": "No such study (or none at all)."}},
)
def read_regimes(session: SessionDep, study: StudyQuery = None) -> RegimesOut:
    summary = _summary(session, study)
    data = summary.to_dict()
    data["maps"] = [
        RegimeMapOut(
            name=name, url=f"{router.prefix}/maps/{quote(name)}.png?study={summary.study_id}"
        )
        for name in data["maps"]
    ]
    return RegimesOut(**data)


@router.get(
    "/maps/{name}.png",
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
