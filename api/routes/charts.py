"""`/charts`: chart a task over settings (API key, idempotent), follow its progress per
setting, read its solution types and their shares, draw them, cancel it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api.auth import AUTH_RESPONSES, require_api_key
from api.deps import (
    MAX_ID,
    AfterId,
    IdempotencyKey,
    PageLimit,
    SessionDep,
    SessionsDep,
    SettingsDep,
)
from api.pictures import PNG_MEDIA_TYPE, SVG_MEDIA_TYPE
from api.queueing import enqueue_or_503, sends_work
from api.schemas.charts import (
    ChartIn,
    ChartOut,
    ChartPage,
    ChartProgressOut,
    KappaOut,
    SettingOut,
    TypeShareOut,
    TypesOut,
)
from atlas.analysis.chart_plot import figure_bytes, shares_figure
from atlas.analysis.chart_summary import KAPPA_SPLITS, KappaOutcome, TypeBreakdown
from atlas.store import (
    Budget,
    ChartRecord,
    ChartResult,
    ChartSpec,
    SettingSpec,
    WorkStatus,
    chart_record,
    chart_result,
    fail_submitted_chart,
    list_charts,
)
from atlas.store import cancel_chart as cancel_chart_record
from atlas.store import submit_chart as submit_chart_record
from worker.dispatch import enqueue_training

router = APIRouter(prefix="/charts", tags=["charts"])
ChartId = Annotated[int, Path(ge=1, le=MAX_ID, description="A chart id.")]
_NOT_FOUND = {404: {"description": "No such chart."}}


def _kappa_out(outcome: KappaOutcome | None) -> KappaOut | None:
    if outcome is None:
        return None
    kappa = outcome.kappa
    return KappaOut(
        networks=outcome.networks,
        types=outcome.types,
        splits=KAPPA_SPLITS,
        mean=None if kappa is None else kappa.mean,
        std=None if kappa is None else kappa.std,
        reason=outcome.reason,
    )


def _types_out(types: TypeBreakdown, kappa: KappaOutcome | None, link: str) -> TypesOut:
    return TypesOut(
        typed=types.typed,
        types=[
            TypeShareOut(
                name=t.name, count=t.count, share=t.share, rare=t.rare, link=f"{link}&type={t.name}"
            )
            for t in types.types
        ],
        rare_share=types.rare_share,
        coverage=types.coverage,
        top_coverage=types.top_coverage,
        major_types=types.major_types,
        kappa=_kappa_out(kappa),
    )


def _solutions_link(record: ChartRecord, setting: tuple[str, int] | None = None) -> str:
    """The chart's accepted networks (of one setting) at /solutions: its counts, listed."""
    narrowed = f"&architecture={setting[0]}&units={setting[1]}" if setting else ""
    return (
        f"/solutions?task={record.task}&chart={record.id}{narrowed}"
        f"&max_loss={record.acceptance_loss!r}"
    )


def chart_out(record: ChartRecord, result: ChartResult | None = None) -> ChartOut:
    """The chart as the API shows it; with its result, the types per setting and overall."""
    by_position = {s.progress.position: s for s in result.settings} if result else {}
    settings = []
    for s in record.settings:
        link = _solutions_link(record, (s.architecture, s.units))
        found = by_position.get(s.position)
        settings.append(
            SettingOut(
                architecture=s.architecture,
                units=s.units,
                state=s.state,
                note=s.note,
                first_seed=s.first_seed,
                seeds_used=s.seeds_used,
                seed_budget=s.seed_budget,
                trained=s.trained,
                accepted=s.accepted,
                failed=s.failed,
                analysed=s.analysed,
                typed=s.typed,
                pending=s.pending,
                chunks=s.chunks,
                types=_types_out(found.types, found.kappa, link) if found else None,
                links={"solutions": link},
            )
        )
    base = f"/charts/{record.id}"
    return ChartOut(
        id=record.id,
        status=record.status,
        task=record.task,
        task_parameters=record.task_parameters,
        variant=record.variant,
        networks_per_setting=record.networks_per_setting,
        seed_budget=record.seed_budget,
        seed=record.seed,
        chunk_size=record.chunk_size,
        acceptance={"max_validation_loss": record.acceptance_loss},
        training=record.training,
        error=record.error,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        progress=ChartProgressOut(
            fraction=record.progress_fraction,
            trained=sum(s.trained for s in record.settings),
            accepted=sum(s.accepted for s in record.settings),
            failed=sum(s.failed for s in record.settings),
            analysed=sum(s.analysed for s in record.settings),
        ),
        settings=settings,
        rare_threshold=result.rare_threshold if result else None,
        rare_types=result.rare_types if result else None,
        overall=(
            _types_out(result.overall, result.overall_kappa, _solutions_link(record))
            if result
            else None
        ),
        links={
            "self": base,
            "cancel": f"{base}/cancel",
            "solutions": _solutions_link(record),
            "shares_png": f"{base}/shares.png",
            "shares_svg": f"{base}/shares.svg",
            "types": f"/types?task={record.task}&variant={record.variant}",
        },
    )


# A chart's kappas take seconds (50 forests per setting); they depend only on its networks,
# so a result is reused while the chart's counts stay the same.
_RESULTS: OrderedDict[tuple, ChartResult] = OrderedDict()
_RESULTS_LOCK = threading.Lock()
_RESULTS_KEPT = 32


def _state_key(record: ChartRecord) -> tuple:
    return (
        record.id,
        record.status,
        tuple((s.trained, s.accepted, s.analysed, s.typed) for s in record.settings),
    )


def _result_with_kappa(session: Session, chart_id: int, record: ChartRecord) -> ChartResult:
    key = _state_key(record)
    with _RESULTS_LOCK:
        if key in _RESULTS:
            _RESULTS.move_to_end(key)
            return _RESULTS[key]
    result = chart_result(session, chart_id, kappa=True)
    with _RESULTS_LOCK:
        _RESULTS[key] = result
        while len(_RESULTS) > _RESULTS_KEPT:
            _RESULTS.popitem(last=False)
    return result


def _spec(body: ChartIn) -> ChartSpec:
    return ChartSpec(
        task=body.task,
        settings=tuple(SettingSpec(s.architecture, s.units) for s in body.settings),
        networks_per_setting=body.networks_per_setting,
        task_parameters=body.task_parameters,
        training=body.model_dump()["training"],
        acceptance_loss=body.acceptance.max_validation_loss,
        seed_budget=body.seed_budget,
        seed=body.seed,
        chunk_size=body.chunk_size,
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ChartOut,
    summary="Chart a task over settings",
    description=(
        "Creates the chart with its first population chunks (training jobs, one per "
        "`chunk_size` networks of a setting) and queues them; returns at once (202, `Location`). "
        "As chunks finish, the chart trains fresh seeds for settings short of "
        "`networks_per_setting` accepted networks, until a setting's `seed_budget` is spent. "
        "Each chunk must fit the server's job budget (422 `over-budget`). An "
        "`Idempotency-Key` makes retries create one chart (`Idempotent-Replayed: true`)."
    ),
    dependencies=[Depends(require_api_key)],
    responses={
        **AUTH_RESPONSES,
        422: {"description": "Invalid request, a reused Idempotency-Key, or over budget."},
        503: {"description": "The queue is unreachable; the chart is recorded as failed."},
    },
)
def submit_chart(
    body: ChartIn,
    response: Response,
    sessions: SessionsDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> ChartOut:
    submitted = submit_chart_record(sessions, _spec(body), idempotency_key, Budget.of(settings))
    chart_id = submitted.record.id

    def enqueue_all() -> None:
        for job_id in submitted.job_ids:
            enqueue_training(job_id, settings)

    if sends_work(submitted.created, bool(submitted.job_ids), settings):
        enqueue_or_503(
            enqueue_all,
            lambda reason: fail_submitted_chart(sessions, chart_id, reason),
            f"chart {chart_id}",
            chart=f"/charts/{chart_id}",
        )
    response.headers["Location"] = f"/charts/{chart_id}"
    if not submitted.created:
        response.headers["Idempotent-Replayed"] = "true"
    return chart_out(submitted.record)


@router.get("", response_model=ChartPage, summary="Charts, newest first")
def read_charts(
    session: SessionDep,
    status: WorkStatus | None = None,
    after: AfterId = None,
    limit: PageLimit = 50,
) -> ChartPage:
    records = list_charts(session, status=status, after_id=after, limit=limit + 1)
    return ChartPage.of(records, limit, chart_out)


@router.get(
    "/{chart_id}",
    response_model=ChartOut,
    summary="A chart's progress per setting and its solution types",
    description=(
        "Per setting: seeds used of the budget, networks trained, accepted, failed, analysed "
        "and typed, and the types of its accepted networks (count, share, rare over the whole "
        "chart, coverage of the largest k). Types belong to the task variant, so the same type "
        "is the same in every setting. `kappa=true` adds how well neural features predict "
        f"the types (the paper's protocol: {KAPPA_SPLITS} random forests per setting, seconds)."
    ),
    responses=_NOT_FOUND,
)
async def read_chart(
    chart_id: ChartId,
    session: SessionDep,
    kappa: Annotated[bool, Query(description="Also score the type predictor.")] = False,
) -> ChartOut:
    record = await run_in_threadpool(chart_record, session, chart_id)
    if kappa:
        result = await run_in_threadpool(_result_with_kappa, session, chart_id, record)
    else:
        result = await run_in_threadpool(chart_result, session, chart_id, kappa=False)
    return chart_out(result.record, result)


@router.post(
    "/{chart_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ChartOut,
    summary="Cancel a chart",
    description=(
        "Queued chunks are cancelled at once and running ones stop within an epoch, keeping "
        "the networks they finished; the chart reads `cancelling` until they have stopped, "
        "then `cancelled`. Asking again changes nothing; a finished chart answers 409."
    ),
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **_NOT_FOUND, 409: {"description": "The chart has finished."}},
)
def cancel_chart(chart_id: ChartId, sessions: SessionsDep) -> ChartOut:
    return chart_out(cancel_chart_record(sessions, chart_id))


def _shares(session: Session, chart_id: int, fmt: str) -> bytes:
    result = chart_result(session, chart_id, kappa=False)
    labels = [s.progress.label for s in result.settings]
    title = f"chart {chart_id}: {result.record.task} ({result.record.variant}), type shares"
    return figure_bytes(shares_figure(labels, [s.types for s in result.settings], title), fmt)


_MEDIA_TYPES = {"png": PNG_MEDIA_TYPE, "svg": SVG_MEDIA_TYPE}


@router.get(
    "/{chart_id}/shares.{fmt}",
    response_class=Response,
    summary="Type shares per setting as stacked bars (PNG or SVG)",
    description="The paper's figure: one bar per setting, its accepted typed networks split by "
    "type (one colour per type across the settings), the chart's rare types together in grey.",
    responses={
        200: {
            "content": {media: {} for media in _MEDIA_TYPES.values()},
            "description": "The chart's type shares per setting.",
        },
        **_NOT_FOUND,
    },
)
async def shares_picture(
    chart_id: ChartId, fmt: Literal["png", "svg"], session: SessionDep
) -> Response:
    picture = await run_in_threadpool(_shares, session, chart_id, fmt)
    return Response(picture, media_type=_MEDIA_TYPES[fmt])
