"""Pages of solutions: browse (the `/solutions` filters as a form, sortable, paged by cursor),
one solution (metadata, losses, analyses, pictures), and two or more compared."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar, get_args

import numpy as np
from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.deps import SessionDep, SolutionId
from api.pictures import graph_picture
from api.problems import Problem, as_problem
from api.routes.compare import compare, compare_matrix
from api.routes.solutions import DEFAULT_ORDER, list_solutions_route, read_solution
from api.schemas.solutions import Architecture, NetworkSource, NetworkStatus, SortKey, SortOrder
from api.web.forms import form_choice, form_number, task_names
from api.web.page_route import page_router
from api.web.svg import loss_curve_svg
from api.web.templating import render
from atlas.analysis.fixed_point_conditions import ConditionPoints
from atlas.analysis_status import RunStatus
from atlas.errors import AtlasError
from atlas.store import (
    SolutionFilters,
    extrapolation_signature,
    fixed_point_analysis,
    get_solution,
    limit_cycles,
    list_solutions,
    reduced_graph,
    solution_task,
)

router = page_router()
T = TypeVar("T")
Text = Annotated[str | None, Query(max_length=255)]
CHOICES = {
    "architecture": get_args(Architecture),
    "status": get_args(NetworkStatus),
    "source": get_args(NetworkSource),
    "sort": get_args(SortKey),
    "order": get_args(SortOrder),
}
COMPARE_SUGGESTIONS = 8
LIMIT = COMPARE_SUGGESTIONS + 1


def _choice(name: str, value: str | None) -> str | None:
    return form_choice(name, value, CHOICES[name])


def _number(name: str, value: str | None, kind: type[int] | type[float]) -> int | float | None:
    """A form field as a number; blank is None (a form sends every field, empty or not)."""
    if value is None or not value.strip():
        return None
    number = form_number(name, value, kind)
    if (isinstance(number, float) and not math.isfinite(number)) or number < 0:
        raise Problem(422, "invalid-filter", f"{name} must be a finite number >= 0")
    return number


@router.get("/atlas/solutions", response_class=HTMLResponse)
def browse(
    request: Request,
    session: SessionDep,
    task: Text = None,
    architecture: Text = None,
    units: Text = None,
    status: Text = None,
    source: Text = None,
    solution_type: Annotated[str | None, Query(alias="type", max_length=255)] = None,
    min_loss: Text = None,
    max_loss: Text = None,
    job: Text = None,
    chart: Text = None,
    sort: Text = None,
    order: Text = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> HTMLResponse:
    sort = _choice("sort", sort) or "created_at"
    order = _choice("order", order) or DEFAULT_ORDER[sort]
    page = list_solutions_route(
        request=request,
        session=session,
        task=task or None,
        architecture=_choice("architecture", architecture),
        units=_number("units", units, int),
        status=_choice("status", status),
        source=_choice("source", source),
        solution_type=solution_type or None,
        min_loss=_number("min_loss", min_loss, float),
        max_loss=_number("max_loss", max_loss, float),
        job=_number("job", job, int),
        chart=_number("chart", chart, int),
        sort=sort,
        order=order,
        limit=limit,
        cursor=cursor or None,
    )
    form = dict(request.query_params)
    return render(
        request,
        "browse.html",
        title="Browse solutions",
        page=page,
        form=form,
        tasks=task_names(session),
        choices=CHOICES,
        sort=sort,
        order=order,
        json_url="/solutions" + (f"?{request.url.query}" if request.url.query else ""),
    )


@router.get("/atlas/solutions/{solution_id}", response_class=HTMLResponse)
def solution_page(
    request: Request,
    session: SessionDep,
    solution_id: SolutionId,
    condition: Annotated[str, Query(max_length=64)] = "zero",
    already: Annotated[bool, Query(description="An import found it in the atlas.")] = False,
) -> HTMLResponse:
    detail = read_solution(solution_id=solution_id, session=session)
    done = {a.step for a in detail.analyses if a.status == RunStatus.SUCCEEDED}

    def stored(step: str, load: Callable[[Session, int], T | None]) -> T | None:
        """A step's result, read only once the step has succeeded (no query while pending)."""
        return load(session, solution_id) if step in done else None

    fixed = stored("fixed_points", fixed_point_analysis)
    cycles = stored("limit_cycles", limit_cycles)
    signature = stored("extrapolation", extrapolation_signature)
    graph = stored("graph", reduced_graph)
    title = f"solution {solution_id}" + (
        f" ({detail.solution_type})" if detail.solution_type else ""
    )
    others = _suggestions(session, detail.task, detail.solution_type, solution_id)
    conditions = [c.label for c in fixed.conditions] if fixed else []
    fixed_rows = [_condition_row(c) for c in fixed.conditions] if fixed else []
    return render(
        request,
        "solution.html",
        title=f"Solution {solution_id}",
        s=detail,
        loss_svg=loss_curve_svg(
            detail.loss_curve or [], f"Training loss of solution {solution_id}"
        ),
        fixed=fixed,
        fixed_rows=fixed_rows,
        cycles=cycles,
        signature=signature,
        graph_svg=_graph_svg(session, solution_id, graph.compact, title) if graph else None,
        condition=condition if condition in conditions or condition == "all" else "zero",
        conditions=conditions,
        others=others,
        already=already,
    )


def _graph_svg(session: Session, solution_id: int, compact: dict, title: str) -> str:
    """The compact graph inlined, its edges named by the task the network was trained on."""
    solution = get_solution(session, solution_id)
    return graph_picture(compact, solution_task(session, solution), title, "sol")


def _suggestions(session: Session, task: str, kind: str | None, exclude: int) -> list:
    """Solutions to compare with: of the same type (lowest loss first), else of the task."""
    choices = [SolutionFilters(task=task, solution_type=kind)] if kind else []
    for filters in [*choices, SolutionFilters(task=task)]:
        rows = list_solutions(
            session, filters, sort="validation_loss", descending=False, limit=LIMIT
        )
        found = [listed for listed in rows if listed.id != exclude][:COMPARE_SUGGESTIONS]
        if found:
            return found
    return []


@dataclass(frozen=True)
class ConditionRow:
    """Counts of one input condition's points, as the solution page lists them."""

    label: str
    inputs: str
    stable: int
    unstable: int
    slow: int


def _condition_row(condition: ConditionPoints) -> ConditionRow:
    points = condition.points
    fixed, stable = points.fixed, np.asarray(points.stable, dtype=bool)
    return ConditionRow(
        condition.label,
        ", ".join(f"{v:g}" for v in np.asarray(condition.inputs).ravel()),
        int((fixed & stable).sum()),
        int((fixed & ~stable).sum()),
        int((~fixed).sum()),
    )


def _parse_ids(text: str | None) -> list[int]:
    parts = [p for p in (text or "").replace(" ", ",").split(",") if p]
    try:
        return [int(p) for p in parts]
    except ValueError as exc:
        raise Problem(422, "invalid-ids", f"ids must be solution ids, got {text!r}") from exc


@router.get("/atlas/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    session: SessionDep,
    ids: Annotated[str | None, Query(max_length=512)] = None,
    other: Annotated[str | None, Query(max_length=32)] = None,
    more: Annotated[str | None, Query(max_length=512)] = None,
) -> HTMLResponse:
    """`ids` (comma-separated), plus `other` and `more` from a solution page's form."""
    given = _parse_ids(ids) + _parse_ids(other) + _parse_ids(more)
    wanted = list(dict.fromkeys(given))
    pair = matrix = error = None
    graphs = {}
    try:
        if len(wanted) == 2:
            pair = compare(session=session, a=wanted[0], b=wanted[1])
        elif len(wanted) > 2:
            matrix = compare_matrix(session=session, ids=",".join(map(str, wanted)))
    except (Problem, AtlasError) as refused:  # the form again, its ids kept, with the reason
        error = as_problem(refused)
    if len(wanted) == 1:
        error = Problem(422, "too-few-ids", "give two or more different solution ids")
    if pair is not None or matrix is not None:
        for solution_id in wanted:
            solution = get_solution(session, solution_id)
            type_name = solution.solution_type
            stored = reduced_graph(session, solution_id)
            if stored is not None:
                title = f"solution {solution_id}" + (f" ({type_name})" if type_name else "")
                graphs[solution_id] = graph_picture(
                    stored.compact, solution_task(session, solution), title, f"cmp{solution_id}"
                )
    return render(
        request,
        "compare.html",
        status_code=error.status if error else 200,
        title="Compare solutions",
        ids=wanted,
        pair=pair,
        matrix=matrix,
        graphs=graphs,
        error=error.detail if error else None,
    )
