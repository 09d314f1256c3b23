"""`/compare`: two solutions of one task side by side, or every pair of a list of them.

Across architectures and sizes: graphs and fixed points compare by structure, signatures by
behaviour on the probes, and validation-state geometry on principal components both networks
share. The graphs, fixed points and signatures are read from the atlas (a view is null while
one of the two lacks its analysis); the states are computed from the stored weights.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from api.deps import MAX_ID, MAX_TEXT, SessionDep, refuse_repeated
from api.problems import Problem
from api.schemas.compare import ComparedSolution, ComparisonMatrixOut, ComparisonOut
from api.solution_analyses import solution_states
from atlas.analysis.compare import SolutionSummary, compare_solutions, comparison_matrix
from atlas.store import (
    extrapolation_signature,
    fixed_point_analysis,
    get_solution,
    reduced_graph,
    require_solutions,
    solution_task,
)

router = APIRouter(prefix="/compare", tags=["compare"])
MAX_MATRIX_IDS = 20
#: One id of `ids`: ASCII digits only (int() also reads `1_0` as 10 and full-width digits).
_ID = re.compile(r"[0-9]+")


def _stored_summary(session: Session, solution_id: int) -> tuple[ComparedSolution, SolutionSummary]:
    network = get_solution(session, solution_id)
    type_name = network.solution_type
    task = solution_task(session, network)
    graph = reduced_graph(session, solution_id)
    points = fixed_point_analysis(session, solution_id)
    summary = SolutionSummary(
        task=task,
        architecture=network.architecture,
        units=network.units,
        states=solution_states(session, network, task),
        graph=graph.compact if graph else None,
        fixed_points=points.to_dict() if points else None,
        signature=extrapolation_signature(session, solution_id),
        name=f"solution {solution_id}",
    )
    described = ComparedSolution(
        id=solution_id,
        task=network.task,
        architecture=network.architecture,
        units=network.units,
        solution_type=type_name,
        link=f"/solutions/{solution_id}",
    )
    return described, summary


def _one_task(summaries: list[SolutionSummary], ids: list[int]) -> None:
    """422 unless every solution was trained on the same task with the same parameters."""
    first = summaries[0].task
    for solution_id, summary in zip(ids, summaries, strict=True):
        if summary.task.name != first.name:
            raise Problem(
                422,
                "different-tasks",
                f"solution {solution_id} solves {summary.task.name!r}, solution {ids[0]} "
                f"{first.name!r}: only solutions of one task compare",
            )
        if summary.task.parameters() != first.parameters():
            raise Problem(
                422,
                "different-task-parameters",
                f"solutions {ids[0]} and {solution_id} were trained on {first.name!r} with "
                "different parameters: their trials and probes differ",
            )


_ERRORS = {
    404: {"description": "No such solution."},
    422: {"description": "Solutions of different tasks (or task parameters), or bad ids."},
}


@router.get(
    "",
    response_model=ComparisonOut,
    summary="Compare two solutions of one task",
    description=(
        "Same type or not, graph edit distance, fixed-point structure difference, "
        "extrapolation-signature distance, and Procrustes and CCA similarity of the "
        "validation-set states; works across architectures and sizes."
    ),
    responses=_ERRORS,
)
def compare(
    session: SessionDep,
    a: Annotated[int, Query(ge=1, le=MAX_ID, description="A solution id.", examples=[4])],
    b: Annotated[int, Query(ge=1, le=MAX_ID, description="Another solution id.", examples=[9])],
) -> ComparisonOut:
    (described_a, summary_a), (described_b, summary_b) = (
        _stored_summary(session, a),
        _stored_summary(session, b),
    )
    _one_task([summary_a, summary_b], [a, b])
    comparison = compare_solutions(summary_a, summary_b)
    return ComparisonOut(a=described_a, b=described_b, **comparison.to_json())


def _parse_ids(text: str) -> list[int]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    bad = next((part for part in parts if not _ID.fullmatch(part)), None)
    if bad is not None:
        raise Problem(422, "invalid-ids", f"ids must be comma-separated whole numbers, got {bad!r}")
    ids = [int(part) for part in parts]
    if len(ids) < 2:
        raise Problem(422, "invalid-ids", "a comparison matrix needs at least two ids")
    if not all(1 <= i <= MAX_ID for i in ids):
        raise Problem(422, "invalid-ids", f"solution ids lie between 1 and {MAX_ID}")
    if len(ids) > MAX_MATRIX_IDS:
        raise Problem(
            422,
            "too-many-ids",
            f"{len(ids)} ids given; a comparison matrix takes at most {MAX_MATRIX_IDS}",
            max_ids=MAX_MATRIX_IDS,
        )
    if len(set(ids)) != len(ids):
        raise Problem(422, "invalid-ids", "each id may appear once")
    return ids


@router.get(
    "/matrix",
    response_model=ComparisonMatrixOut,
    summary="Compare every pair of a list of solutions of one task",
    description=(
        f"`ids`: 2 to {MAX_MATRIX_IDS} distinct solution ids, comma-separated, given once (a "
        "repeated `ids` is a 422, not a longer list). One symmetric matrix per view of "
        "`/compare`, rows and columns in the order given."
    ),
    responses={**_ERRORS, 404: {"description": "No such solution: the problem names each."}},
)
def compare_matrix(
    request: Request,
    session: SessionDep,
    ids: Annotated[
        str,
        Query(
            max_length=MAX_TEXT,
            description="Comma-separated solution ids (ASCII digits).",
            examples=["4,9,12"],
        ),
    ],
) -> ComparisonMatrixOut:
    refuse_repeated(request.query_params.getlist("ids"), "the query parameter ids")
    wanted = _parse_ids(ids)
    require_solutions(session, wanted)
    pairs = [_stored_summary(session, solution_id) for solution_id in wanted]
    summaries = [summary for _, summary in pairs]
    _one_task(summaries, wanted)
    matrices = comparison_matrix(summaries)
    return ComparisonMatrixOut(
        solutions=[described for described, _ in pairs],
        matrices={
            name: [[None if math.isnan(v) else float(v) for v in row] for row in matrix]
            for name, matrix in matrices.items()
        },
    )
