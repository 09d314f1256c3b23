"""`/solutions`: filtered, keyset-paginated listings; one solution; its weights and checkpoints."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

import torch
from fastapi import APIRouter, Query, Request, Response

from api.deps import MAX_ID, MAX_TEXT, PRINTABLE, CheckpointId, SessionDep, SolutionId
from api.routes.tasks import task_argument
from api.schemas.solutions import (
    AnalysisState,
    Architecture,
    CheckpointOut,
    NetworkSource,
    NetworkStatus,
    SolutionDetail,
    SolutionPage,
    SolutionSummary,
    SortKey,
    SortOrder,
)
from atlas.analysis_status import AnalysisStatus, RunStatus
from atlas.store import (
    SolutionFilters,
    checkpoint_summaries,
    checkpoint_weights,
    get_solution,
    list_solutions,
    network_state_dict,
    sort_value,
    state_dict_from_blob,
    step_runs,
)
from worker.steps import STEPS

router = APIRouter(prefix="/solutions", tags=["solutions"])
MAX_PAGE = 500
DEFAULT_ORDER: dict[str, SortOrder] = {
    "created_at": "desc",
    "validation_loss": "asc",
    "units": "asc",
}
_NOT_FOUND = {404: {"description": "No such solution."}}
_SUMMARY_COLUMNS = sorted(SolutionSummary.model_fields.keys() - {"solution_type", "links"})
_DETAIL_COLUMNS = sorted(
    SolutionDetail.model_fields.keys()
    - SolutionSummary.model_fields.keys()
    - {"loss_curve", "analyses"}
)


def _links(network_id: int) -> dict[str, str]:
    base = f"/solutions/{network_id}"
    return {"self": base, "weights": f"{base}/weights", "checkpoints": f"{base}/checkpoints"}


def _summary(fields: Mapping[str, Any], solution_type: str | None) -> SolutionSummary:
    data = {name: fields[name] for name in _SUMMARY_COLUMNS}
    return SolutionSummary(**data, solution_type=solution_type, links=_links(fields["id"]))


@router.get(
    "",
    response_model=SolutionPage,
    summary="Solutions, filtered and sorted, a page at a time",
    description=(
        "Filters combine with AND. Pages follow keyset order: pass `next_cursor` back as "
        "`cursor` with the same filters, sort and order (a cursor from another query, or an "
        "altered one, is refused with 400). Sorting by `validation_loss` lists only networks "
        "that have one; `created_at` is creation order."
    ),
    responses={400: {"description": "Invalid cursor."}, 422: {"description": "Unknown task."}},
)
def list_solutions_route(
    request: Request,
    session: SessionDep,
    task: Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern=PRINTABLE, description="Short name or alias."),
    ] = None,
    architecture: Architecture | None = None,
    units: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: NetworkStatus | None = None,
    source: NetworkSource | None = None,
    solution_type: Annotated[
        str | None,
        Query(alias="type", max_length=MAX_TEXT, pattern=PRINTABLE, description="A type's name."),
    ] = None,
    min_loss: Annotated[
        float | None, Query(ge=0, allow_inf_nan=False, description="Validation loss at least.")
    ] = None,
    max_loss: Annotated[
        float | None, Query(ge=0, allow_inf_nan=False, description="Validation loss at most.")
    ] = None,
    job: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Networks trained by this job.")
    ] = None,
    chart: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Networks trained for this chart.")
    ] = None,
    sort: SortKey = "created_at",
    order: Annotated[
        SortOrder | None, Query(description="Default: desc for created_at, else asc.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> SolutionPage:
    if task is not None:
        task = task_argument(task, session)
    filters = SolutionFilters(
        task=task,
        architecture=architecture,
        units=units,
        status=status,
        source=source,
        solution_type=solution_type,
        min_loss=min_loss,
        max_loss=max_loss,
        job_id=job,
        chart_id=chart,
    )
    order = order or DEFAULT_ORDER[sort]
    query = {**dataclasses.asdict(filters), "sort": sort, "order": order}
    signer = request.app.state.cursor_signer
    after = None
    if cursor is not None:
        position = signer.decode(cursor, query)
        after = (position["value"], position["id"])
    rows = list_solutions(
        session, filters, sort=sort, descending=order == "desc", after=after, limit=limit + 1
    )
    items = [_summary(dataclasses.asdict(listed), listed.solution_type) for listed in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        position = {"value": sort_value(last, sort), "id": last.id}
        next_cursor = signer.encode(position, query)
    return SolutionPage(items=items, next_cursor=next_cursor, next=_next_url(request, next_cursor))


def _next_url(request: Request, next_cursor: str | None) -> str | None:
    if next_cursor is None:
        return None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    return f"{request.url.path}?{urlencode([*params, ('cursor', next_cursor)])}"


def _analyses(session: SessionDep, network_id: int) -> list[AnalysisState]:
    """Every registered analysis step, `pending` where it has not run yet."""
    runs = {run.step: run for run in step_runs(session, network_id)}
    return [
        AnalysisState(
            step=step.name,
            status=RunStatus(run.status) if run else AnalysisStatus.PENDING,
            attempts=run.attempts if run else 0,
            error=run.error if run else None,
            finished_at=run.finished_at if run else None,
        )
        for step in STEPS
        for run in [runs.get(step.name)]
    ]


@router.get(
    "/{solution_id}",
    response_model=SolutionDetail,
    summary="One solution: metadata, losses, analysis state and links",
    responses=_NOT_FOUND,
)
def read_solution(solution_id: SolutionId, session: SessionDep) -> SolutionDetail:
    solution = get_solution(session, solution_id)
    fields = dataclasses.asdict(solution)
    return SolutionDetail(
        **_summary(fields, solution.solution_type).model_dump(),
        **{name: fields[name] for name in _DETAIL_COLUMNS},
        loss_curve=solution.loss_curve,
        analyses=_analyses(session, solution_id),
    )


def _torch_file(state_dict: Mapping[str, torch.Tensor], filename: str) -> Response:
    buffer = io.BytesIO()
    torch.save(dict(state_dict), buffer)
    return Response(
        buffer.getvalue(),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


_WEIGHTS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/octet-stream": {}},
        "description": "A PyTorch state dict (`torch.load(f, weights_only=True)` reads it).",
    },
    **_NOT_FOUND,
}


@router.get(
    "/{solution_id}/weights",
    summary="The final weights as a PyTorch state dict file",
    response_class=Response,
    responses=_WEIGHTS_RESPONSE,
)
def download_weights(solution_id: SolutionId, session: SessionDep) -> Response:
    get_solution(session, solution_id)
    state_dict = network_state_dict(session, solution_id)
    return _torch_file(state_dict, f"solution-{solution_id}.pt")


@router.get(
    "/{solution_id}/checkpoints",
    response_model=list[CheckpointOut],
    summary="Initial, intermediate and final weights recorded during training",
    responses=_NOT_FOUND,
)
def list_checkpoints(solution_id: SolutionId, session: SessionDep) -> list[CheckpointOut]:
    get_solution(session, solution_id)
    base = f"/solutions/{solution_id}/checkpoints"
    return [
        CheckpointOut(
            id=c.id, kind=c.kind, epoch=c.epoch, loss=c.loss, weights=f"{base}/{c.id}/weights"
        )
        for c in checkpoint_summaries(session, solution_id)
    ]


@router.get(
    "/{solution_id}/checkpoints/{checkpoint_id}/weights",
    summary="One checkpoint's weights as a PyTorch state dict file",
    response_class=Response,
    responses=_WEIGHTS_RESPONSE,
)
def download_checkpoint(
    solution_id: SolutionId, checkpoint_id: CheckpointId, session: SessionDep
) -> Response:
    blob = checkpoint_weights(session, solution_id, checkpoint_id)
    return _torch_file(
        state_dict_from_blob(blob), f"solution-{solution_id}-checkpoint-{checkpoint_id}.pt"
    )
