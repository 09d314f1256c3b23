"""Pages of the atlas' overview: home (tasks and recent work), a task's solution types by
setting (the paper's figure), every type of the atlas largest first, and one type (graph,
members, spread of their features)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Annotated, get_args
from urllib.parse import urlencode

import numpy as np
from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep, TypeId
from api.pictures import graph_picture
from api.problems import Problem, as_problem
from api.routes.solutions import MAX_PAGE
from api.routes.tasks import task_argument
from api.routes.types import list_types, read_type, type_out
from api.schemas.solutions import Architecture
from api.schemas.types import TypeOut, TypeTableOut
from api.variants import VariantQuery
from api.web.forms import form_choice, form_number, task_names
from api.web.page_route import page_router
from api.web.templating import query, render
from atlas.errors import AtlasError
from atlas.store import (
    SolutionFilters,
    TaskCounts,
    TypeFilters,
    VariantSummary,
    all_tasks,
    chosen_variant,
    list_solutions,
    member_spread,
    recent_work,
    resolve_task,
    solution_type,
    task_counts,
    type_index,
    type_variants,
)
from atlas.studies import TwoNeuronModel
from atlas.tasks import DEFAULT_VARIANT

router = page_router()
EXAMPLES_PER_TYPE = 3
RECENT_WORK = 10
COUNTS_TTL_S = 5.0
TYPES_PER_PAGE = 50
Text = Annotated[str | None, Query(max_length=255)]


_counted: dict[str, tuple[float, dict[str, TaskCounts]]] = {}


def _task_counts(request: Request, session: SessionDep) -> dict[str, TaskCounts]:
    """Counts per task, at most COUNTS_TTL_S old: counting 100,000 networks by task costs
    more than the rest of the home page, and a count a few seconds old reads the same."""
    key = str(request.app.state.settings.database_url)
    now = time.monotonic()
    cached = _counted.get(key)
    if cached is None or now - cached[0] > COUNTS_TTL_S:
        cached = _counted[key] = (now, task_counts(session))
    return cached[1]


@router.get("/atlas", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> HTMLResponse:
    counts = _task_counts(request, session)
    tasks = [(task, counts.get(task.name, TaskCounts())) for task in all_tasks(session)]
    return render(
        request,
        "home.html",
        title="Home",
        tasks=tasks,
        two_neuron=TwoNeuronModel(),
        work=recent_work(session, RECENT_WORK),
    )


@dataclass(frozen=True)
class Setting:
    """One (architecture, size) column of the type-share table."""

    architecture: str
    units: int

    @property
    def label(self) -> str:
        return f"{self.architecture} {self.units}"


@dataclass(frozen=True)
class TypeRow:
    """A type on the task page: its counts per shown setting, graph and example members."""

    type: TypeOut
    counts: list[int]
    members: int
    graph_svg: str
    examples: list


def _settings(table: TypeTableOut, architecture: str | None, units: int | None) -> list[Setting]:
    found = {
        Setting(arch, int(size))
        for kind in table.types
        for arch, sizes in kind.by_architecture_units.items()
        for size in sizes
    }
    chosen = [
        s
        for s in found
        if (architecture is None or s.architecture == architecture)
        and (units is None or s.units == units)
    ]
    return sorted(chosen, key=lambda s: (s.architecture, s.units))


def _count(kind: TypeOut, setting: Setting) -> int:
    return kind.by_architecture_units.get(setting.architecture, {}).get(setting.units, 0)


@router.get("/atlas/tasks/{name}", response_class=HTMLResponse)
def task_page(
    request: Request,
    session: SessionDep,
    name: str,
    variant: VariantQuery = None,
    architecture: Annotated[str | None, Query(max_length=16)] = None,
    units: Annotated[str | None, Query(max_length=8)] = None,
) -> HTMLResponse:
    architecture = architecture or None
    size = int(units) if units and units.isdigit() else None
    table = list_types(session, task=name, variant=variant or None)
    task = resolve_task(session, table.task, **table.task_parameters)
    every_setting = _settings(table, None, None)
    settings = _settings(table, architecture, size)
    totals = [sum(_count(t, s) for t in table.types) for s in settings]
    rows = []
    for kind in table.types:
        counts = [_count(kind, s) for s in settings]
        if not sum(counts) and (architecture or size):
            continue
        filters = SolutionFilters(
            task=table.task, solution_type=kind.name, architecture=architecture, units=size
        )
        examples = list_solutions(
            session, filters, sort="validation_loss", descending=False, limit=EXAMPLES_PER_TYPE
        )
        picture = graph_picture(kind.graph.model_dump(), task, kind.name, f"type{kind.id}")
        rows.append(TypeRow(kind, counts, sum(counts), picture, examples))
    return render(
        request,
        "task.html",
        title=f"Task {table.task}",
        task=task,
        table=table,
        settings=settings,
        totals=totals,
        rows=rows,
        architectures=sorted({s.architecture for s in every_setting}),
        sizes=sorted({s.units for s in every_setting}),
        architecture=architecture,
        size=size,
    )


def _page_size(text: str | None) -> int:
    """The index's `limit` field (blank: the default), or a 422 in words."""
    if text is None or not text.strip():
        return TYPES_PER_PAGE
    size = int(form_number("limit", text, int))
    if not 1 <= size <= MAX_PAGE:
        raise Problem(422, "invalid-filter", f"limit must be from 1 to {MAX_PAGE}, not {size}")
    return size


def _variant(task: str | None, variants: list[VariantSummary], variant: str | None) -> str | None:
    """The variant asked for, checked against the task's (404 naming them when it has no
    types there); without a task only `default` means anything: the others are one task's
    parameter sets."""
    if variant is None:
        return None
    if task is not None:
        return chosen_variant(task, variants, variant)
    if variant != DEFAULT_VARIANT:
        raise Problem(
            422, "invalid-filter", f"variant {variant!r} is one task's parameter set: choose a task"
        )
    return variant


def _types_page(
    request: Request, session: SessionDep, filters: TypeFilters, limit: int, cursor: str | None
) -> tuple[list[TypeOut], str | None]:
    """A page of the index and the next page's cursor (None on the last), signed for these
    filters as the browse page's cursors are for its own."""
    signer, scope = request.app.state.cursor_signer, {"type_index": asdict(filters), "by": "name"}
    after = None
    if cursor is not None:
        position = signer.decode(
            cursor, scope, 'the same filters when following the "next page" link'
        )
        after = (position["members"], position["name"], position["id"])
    rows = type_index(session, filters, after=after, limit=limit + 1)
    items = [type_out(row.task, row.variant, row.summary) for row in rows[:limit]]
    if len(rows) <= limit:
        return items, None
    last = rows[limit - 1].summary
    position = {"members": last.member_count, "name": last.name, "id": last.id}
    return items, signer.encode(position, scope)


@router.get("/atlas/types", response_class=HTMLResponse)
def types_index(
    request: Request,
    session: SessionDep,
    task: Text = None,
    variant: Text = None,
    architecture: Text = None,
    limit: Text = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> HTMLResponse:
    """Every solution type of the atlas, largest first: a filter the page cannot meet (an
    unknown task, a page size in letters) comes back on the form, its values kept."""
    variants: list[VariantSummary] = []
    items: list[TypeOut] = []
    name: str | None = None
    next_cursor: str | None = None
    error: Problem | None = None
    filters = TypeFilters()
    try:
        name = task_argument(task, session) if task else None
        variants = type_variants(session, name) if name else []
        filters = TypeFilters(
            task=name,
            variant=_variant(name, variants, variant or None),
            architecture=form_choice("architecture", architecture, get_args(Architecture)),
        )
        items, next_cursor = _types_page(
            request, session, filters, _page_size(limit), cursor or None
        )
    except (Problem, AtlasError) as refused:
        error = as_problem(refused)
    shown = {"task": name, "variant": variant} if variant else {"task": name}
    return render(
        request,
        "types.html",
        status_code=error.status if error else 200,
        title="Solution types",
        form={**request.query_params, **({"task": name} if name else {})},
        tasks=task_names(session),
        variants=[v.variant for v in variants] if name else [DEFAULT_VARIANT],
        architectures=get_args(Architecture),
        types=items,
        filtered=filters != TypeFilters(),
        next_url=next_cursor and request.url.path + query(request, cursor=next_cursor),
        json_url=f"/types?{urlencode(shown)}" if name else None,
        error=error.detail if error else None,
    )


@dataclass(frozen=True)
class Spread:
    """Quantiles of one feature or signature scalar over a type's members."""

    name: str
    count: int
    quantiles: list[float]


def _spreads(names: list[str], values: np.ndarray) -> list[Spread]:
    spreads = []
    for index, name in enumerate(names):
        column = values[:, index]
        column = column[np.isfinite(column)]
        if not len(column):
            spreads.append(Spread(name, 0, []))
            continue
        quantiles = np.quantile(column, [0, 0.25, 0.5, 0.75, 1])
        spreads.append(Spread(name, len(column), [float(q) for q in quantiles]))
    return spreads


@router.get("/atlas/types/{type_id}", response_class=HTMLResponse)
def type_page(
    request: Request,
    session: SessionDep,
    type_id: TypeId,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> HTMLResponse:
    detail = read_type(
        type_id=type_id, request=request, session=session, limit=limit, cursor=cursor
    )
    row = solution_type(session, type_id)
    task = resolve_task(session, row.task, **row.task_parameters)
    spread = member_spread(session, type_id)
    signature_names = sorted(spread.signatures)
    signature_values = (
        np.stack([spread.signatures[n] for n in signature_names], axis=1)
        if signature_names
        else np.zeros((0, 0))
    )
    return render(
        request,
        "type.html",
        title=f"Type {detail.name}",
        kind=detail,
        graph_svg=graph_picture(detail.graph.model_dump(), task, detail.name, "type"),
        sampled=spread.sampled,
        features=_spreads(spread.feature_names, spread.features),
        signatures=_spreads(signature_names, signature_values),
    )
