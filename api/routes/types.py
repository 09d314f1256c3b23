"""`/types`: a task's solution types (counts by architecture and size, coverage, graphs), one
type with a page of its members, and its graph as a picture.

Members of a type are also listed, with every other filter, by `/solutions?task=T&type=NAME`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from api.deps import SessionDep, TypeId
from api.pictures import SVG_MEDIA_TYPE, graph_svg_response, picture_responses
from api.schemas.types import TypeDetailOut, TypeMemberOut, TypeOut, TypeTableOut, VariantOut
from api.variants import TaskQuery, VariantQuery, task_variant
from atlas.store import TypeSummary, resolve_task, solution_type, type_members, type_table

router = APIRouter(prefix="/types", tags=["types"])
MAX_MEMBER_PAGE = 500
_NOT_FOUND = {404: {"description": "No such type."}}


def type_out(task: str, variant: str, summary: TypeSummary) -> TypeOut:
    """A type as `/types` answers it (the explorer's index of types lists the same)."""
    base = f"/types/{summary.id}"
    members = f"/solutions?{urlencode({'task': task, 'type': summary.name})}"
    return TypeOut(
        id=summary.id,
        task=task,
        variant=variant,
        name=summary.name,
        canonical_hash=summary.canonical_hash,
        members=summary.member_count,
        share=summary.share,
        by_architecture=summary.by_architecture,
        by_units=summary.by_units,
        by_architecture_units=summary.by_architecture_units,
        graph=summary.graph,
        links={"self": base, "graph_svg": f"{base}/graph.svg", "solutions": members},
    )


@router.get(
    "",
    response_model=TypeTableOut,
    summary="The solution types of a task variant, largest first, with counts and coverage",
    description=(
        "A type is a class of networks whose compact reduced-dynamics graphs are isomorphic "
        "(output labels, edge types and start state matched), across architectures and sizes. "
        "Types are per task variant (parameter set): networks trained on a shortened task "
        "solve another task. `variants` lists the task's variants that have types; the "
        "response's `variant` says which one is shown. "
        "Counts come from the networks themselves; `coverage` is the share of typed networks "
        "in types holding at least 2.5% of them."
    ),
    responses={
        422: {"description": "Unknown task."},
        404: {"description": "The task has no types under that variant."},
    },
)
def list_types(session: SessionDep, task: TaskQuery, variant: VariantQuery = None) -> TypeTableOut:
    name, variant, variants = task_variant(session, task, variant)
    table = type_table(session, name, variant)
    return TypeTableOut(
        task=name,
        variant=variant,
        task_parameters=table.task_parameters,
        networks=table.networks,
        coverage=table.coverage,
        coverage_threshold=table.threshold,
        types=[type_out(name, variant, summary) for summary in table.types],
        variants=[
            VariantOut(
                variant=v.variant,
                task_parameters=v.task_parameters,
                types=v.types,
                networks=v.networks,
                link=f"/types?{urlencode({'task': name, 'variant': v.variant})}",
            )
            for v in variants
        ],
    )


@router.get(
    "/{type_id}",
    response_model=TypeDetailOut,
    summary="One solution type with a page of its members",
    description="Members in id order; follow `next_cursor` (or `next`) for more.",
    responses={**_NOT_FOUND, 400: {"description": "Invalid cursor."}},
)
def read_type(
    type_id: TypeId,
    request: Request,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_MEMBER_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> TypeDetailOut:
    found = solution_type(session, type_id)
    table = type_table(session, found.task, found.variant)
    (summary,) = [s for s in table.types if s.id == type_id]
    signer, query = request.app.state.cursor_signer, {"type_members": type_id}
    after_id = signer.decode(cursor, query)["id"] if cursor is not None else 0
    rows = type_members(session, type_id, after_id=after_id, limit=limit + 1)
    members = [TypeMemberOut(**asdict(n), link=f"/solutions/{n.id}") for n in rows[:limit]]
    next_cursor = next_url = None
    if len(rows) > limit:
        next_cursor = signer.encode({"id": rows[limit - 1].id}, query)
        next_url = f"{request.url.path}?{urlencode({'limit': limit, 'cursor': next_cursor})}"
    return TypeDetailOut(
        **type_out(found.task, found.variant, summary).model_dump(),
        member_page=members,
        next_cursor=next_cursor,
        next=next_url,
    )


@router.get(
    "/{type_id}/graph.svg",
    response_class=Response,
    summary="The type's representative compact graph as a picture",
    description="Nodes coloured by output label, edges by input type, the start state ringed.",
    responses=picture_responses(SVG_MEDIA_TYPE, "An SVG image."),
)
def type_graph_svg(type_id: TypeId, session: SessionDep) -> Response:
    found = solution_type(session, type_id)
    task = resolve_task(session, found.task, **found.task_parameters)
    return graph_svg_response(found.graph, task, found.name)
