"""Charts: a study over settings (architecture, units) of one task variant that keeps training
fresh seeds until each setting has `networks_per_setting` accepted networks, within a seed
budget per setting.

A chart spawns population chunks: ordinary training jobs, each linked (chart_chunks) to its
setting and the start of the piece of the setting's seed range it trains. Separate workers take
chunks in parallel. When a chunk finishes, `advance_chart` counts what the chart has and spawns
the chunks still needed, all under a lock on the chart's row and in one transaction: a
redelivered or repeated call finds the chunks the first one made and makes none twice. Seeds
are deterministic and never reused: setting p trains seeds `seed + p * seed_budget + i`,
i = 0 .. seed_budget - 1, handed out in order (`seeds_used`). The chart's result is a query over
its chunks' networks, never a copy of them.

Public functions (a Session from the caller, who commits; records out, not ORM rows):

    create_chart(session, spec: ChartSpec, idempotency_key=None) -> (Chart, created: bool)
        ChartSpecError for a request that cannot be charted. The chart is running; call
        advance_chart in the same transaction to spawn its first chunks.
    same_request(session, chart, spec) -> bool    whether an idempotent replay asks for this chart
    add_chunk(session, chart, setting, job)   link a new job to the setting's next seeds
    attach_networks(session, chart_id, position, network_ids, *, seeds=None, trained=None)
        -> int (the chunk's job id)   stored networks (e.g. imported ones) become a finished
        chunk of setting `position`: a succeeded job owns them, the setting's next seeds are
        marked used (`seeds` of them; `trained`: networks the chunk trained where it ran).
    complete_chart(session, chart_id) -> WorkStatus
        finish a chart from the networks it has, spawning nothing (an imported chart:
        create_chart, attach_networks per setting, complete_chart).
    advance_chart(session, chart_id) -> list[int]   new chunk jobs to enqueue after commit
    request_chart_cancel(session, chart_id) -> WorkStatus   (AlreadyFinishedError)
    fail_chart(session, chart_id, error)    the chart and its unfinished chunks failed
    chart_record(session, chart_id) -> ChartRecord   progress per setting
    list_charts(session, *, after_id=0, limit=50) -> list[ChartRecord]   newest first
    chart_networks(session, chart_id, *, accepted_only=True) -> list[ChartNetwork]
    chart_result(session, chart_id, *, kappa=True) -> ChartResult
    chart_of_job(session, job_id) -> int | None
    unfinished_chart_ids(session) -> list[int]
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atlas.analysis.chart_summary import (
    KappaOutcome,
    TypeBreakdown,
    breakdown,
    predictor_kappa,
    rare_types,
)
from atlas.analysis.solution_types import COVERAGE_THRESHOLD
from atlas.analysis_status import AnalysisStatus
from atlas.errors import InvalidError
from atlas.network_status import SOLUTION_LOSS
from atlas.store.arrays import from_blob
from atlas.store.database import get_or_raise
from atlas.store.jobs import JobSpec, JobSpecError, create_job
from atlas.store.lifecycle import (
    LOCKED,
    mark_cancelled,
    mark_failed,
    mark_outcome,
    mark_running,
    mark_succeeded,
    request_cancel,
)
from atlas.store.models import Chart, ChartChunk, ChartSetting, Features, Job, Network, SolutionType
from atlas.store.models.base import utcnow
from atlas.store.task_records import ensure_task, resolve_task
from atlas.store.work_status import FINISHED, UNFINISHED, WorkStatus
from atlas.tasks import ParameterError, TrialTask, UnknownTaskError, variant_key
from atlas.training import TrainingConfig

ACCEPTANCE_LOSS = SOLUTION_LOSS
"""A chart accepts, by default, the networks that solve the task (atlas.network_status)."""
BUDGET_FACTOR = 3
DEFAULT_CHUNK_SIZE = 16
MIN_ACCEPTANCE_RATE = 0.1
"""The lowest acceptance rate a setting's next chunks are sized by (see advance_chart)."""
MAX_SEED = 2**31 - 1


class ChartSpecError(InvalidError):
    """A chart request that cannot be run; the message says why."""

    slug = "invalid-chart"


@dataclass(frozen=True)
class SettingSpec:
    architecture: str
    units: int


@dataclass(frozen=True)
class ChartSpec:
    """What a client asks for. `seed_budget`: seeds a setting may use (None: 3x the count)."""

    task: str
    settings: tuple[SettingSpec, ...]
    networks_per_setting: int
    task_parameters: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    acceptance_loss: float = ACCEPTANCE_LOSS
    seed_budget: int | None = None
    seed: int = 0
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def budget(self) -> int:
        return self.seed_budget or BUDGET_FACTOR * self.networks_per_setting


def _checked(session: Session, spec: ChartSpec) -> tuple[TrialTask, TrainingConfig]:
    try:
        task = resolve_task(session, spec.task, **spec.task_parameters)
    except (UnknownTaskError, ParameterError) as exc:
        raise ChartSpecError(str(exc)) from exc
    if not spec.settings:
        raise ChartSpecError("a chart needs at least one setting")
    if len(set(spec.settings)) != len(spec.settings):
        raise ChartSpecError("each setting (architecture, units) may appear once")
    if spec.networks_per_setting < 1 or spec.chunk_size < 1:
        raise ChartSpecError("networks_per_setting and chunk_size must be positive")
    if spec.budget() < spec.networks_per_setting:
        raise ChartSpecError(
            f"seed_budget {spec.budget()} is below networks_per_setting {spec.networks_per_setting}"
        )
    if spec.seed < 0 or spec.seed + len(spec.settings) * spec.budget() > MAX_SEED:
        raise ChartSpecError(f"the chart's seeds must lie in 0..{MAX_SEED}")
    if not (math.isfinite(spec.acceptance_loss) and spec.acceptance_loss > 0):
        raise ChartSpecError("acceptance loss must be a positive number")
    try:
        config = TrainingConfig.from_dict(spec.training)
    except (TypeError, ValueError) as exc:
        raise ChartSpecError(f"training options: {exc}") from exc
    return task, config


def create_chart(
    session: Session,
    spec: ChartSpec,
    idempotency_key: str | None = None,
) -> tuple[Chart, bool]:
    """The chart for `spec` and whether it was created now (an idempotency key that names a
    chart already returns it, False). A new chart is running: call advance_chart to spawn its
    first chunks in the same transaction."""
    task, config = _checked(session, spec)
    if idempotency_key is not None:
        existing = _chart_by_key(session, idempotency_key)
        if existing is not None:
            return existing, False
    ensure_task(session, task)
    chart = Chart(
        created_at=utcnow(),  # before mark_running's started_at, not at the later INSERT
        task=task.name,
        task_parameters=task.parameters(),
        variant=variant_key(task),
        networks_per_setting=spec.networks_per_setting,
        seed_budget=spec.budget(),
        seed=spec.seed,
        chunk_size=spec.chunk_size,
        acceptance_loss=float(spec.acceptance_loss),
        training_config=config.to_dict(),
        idempotency_key=idempotency_key,
        attempts=0,
        settings=[
            ChartSetting(position=p, architecture=s.architecture, units=s.units, seeds_used=0)
            for p, s in enumerate(spec.settings)
        ],
    )
    mark_running(chart)
    try:
        with session.begin_nested():
            session.add(chart)
    except IntegrityError:
        existing = _chart_by_key(session, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing, False
    return chart, True


def same_request(session: Session, chart: Chart, spec: ChartSpec) -> bool:
    """Whether `chart` (found by an idempotency key) was created for this very request."""
    task, config = _checked(session, spec)
    asked = (
        task.name,
        task.parameters(),
        [(s.architecture, s.units) for s in spec.settings],
        spec.networks_per_setting,
        spec.budget(),
        spec.seed,
        spec.chunk_size,
        float(spec.acceptance_loss),
        config.to_dict(),
    )
    stored = (
        chart.task,
        chart.task_parameters,
        [(s.architecture, s.units) for s in chart.settings],
        chart.networks_per_setting,
        chart.seed_budget,
        chart.seed,
        chart.chunk_size,
        chart.acceptance_loss,
        chart.training_config,
    )
    return asked == stored


def _chart_by_key(session: Session, key: str) -> Chart | None:
    return session.scalars(select(Chart).where(Chart.idempotency_key == key)).one_or_none()


def _locked_chart(session: Session, chart_id: int) -> Chart:
    return get_or_raise(session, Chart, chart_id, "chart", "chart-not-found", **LOCKED)


# --------------------------------------------------------------------------- counting


@dataclass
class _Counts:
    """What one setting has: networks trained, accepted, accepted and analysed or typed, seeds
    in unfinished chunks, seeds of chunks that ended without ever running (failed to queue,
    cancelled while queued: handed out, never trained), chunks, and errors of chunks that ended
    with networks missing.
    `trained` counts the networks stored here and, for a chunk imported with a chart's dataset
    (`ChartChunk.trained_elsewhere`), the ones it trained where it ran and did not bring."""

    trained: int = 0
    accepted: int = 0
    analysed: int = 0
    typed: int = 0
    pending: int = 0
    never_ran: int = 0
    chunks: int = 0
    unfinished_chunks: int = 0
    errors: list[str] = field(default_factory=list)


def _counts(session: Session, chart: Chart) -> dict[int, _Counts]:
    """Per setting id, counted from the chunks' jobs and networks."""
    accepted = Network.validation_loss < chart.acceptance_loss
    analysed = Network.analysis_status == AnalysisStatus.DONE
    counts: dict[int, _Counts] = defaultdict(_Counts)
    stored = session.execute(
        select(
            ChartChunk.setting_id,
            func.count(Network.id),
            func.sum(case((accepted, 1), else_=0)),
            func.sum(case((accepted & analysed, 1), else_=0)),
            func.sum(case((accepted & Network.solution_type_id.is_not(None), 1), else_=0)),
        )
        .join(Network, Network.job_id == ChartChunk.job_id)
        .where(ChartChunk.chart_id == chart.id)
        .group_by(ChartChunk.setting_id)
    ).all()
    for setting_id, trained, n_accepted, analysed, typed in stored:
        c = counts[setting_id]
        c.trained, c.accepted = trained, int(n_accepted or 0)
        c.analysed, c.typed = int(analysed or 0), int(typed or 0)
    saved = (
        select(func.count(Network.id))
        .where(Network.job_id == Job.id)
        .correlate(Job)
        .scalar_subquery()
    )
    chunks = session.execute(
        select(
            ChartChunk.setting_id,
            Job.id,
            Job.status,
            Job.count,
            Job.error,
            ChartChunk.trained_elsewhere,
            saved,
            Job.started_at.is_(None),
        )
        .join(Job, Job.id == ChartChunk.job_id)
        .where(ChartChunk.chart_id == chart.id)
    ).all()
    for setting_id, job_id, status, count, error, elsewhere, stored, unstarted in chunks:
        c = counts[setting_id]
        c.chunks += 1
        if status in UNFINISHED:
            c.unfinished_chunks += 1
            c.pending += count - stored
            continue
        if unstarted:
            c.never_ran += count
        trained = stored if elsewhere is None else max(stored, elsewhere)
        c.trained += trained - stored
        if trained < count and status != WorkStatus.CANCELLED:
            c.errors.append(
                f"chunk job {job_id} ended {status} with {trained} of {count} "
                f"networks trained: {error or 'no error recorded'}"
            )
    return counts


def _setting_state(chart: Chart, setting: ChartSetting, c: _Counts) -> tuple[str, str | None]:
    """`reached`, `training`, `short` (the seed budget is spent) or `cancelled`, and a note."""
    n = chart.networks_per_setting
    if c.accepted >= n:
        return "reached", None
    if c.unfinished_chunks:
        return "training", None
    if chart.status in (WorkStatus.CANCELLED, WorkStatus.CANCELLING):
        return "cancelled", f"cancelled with {c.accepted} of {n} accepted"
    if setting.seeds_used >= chart.seed_budget:
        return "short", (
            f"seed budget of {chart.seed_budget} spent: {c.accepted} of {n} networks accepted "
            f"(validation loss below {chart.acceptance_loss:g})"
        )
    if chart.status in FINISHED:
        return "stopped", f"the chart ended {chart.status} with {c.accepted} of {n} accepted"
    return "training", None


# --------------------------------------------------------------------------- advancing


def _seeds_wanted(chart: Chart, setting: ChartSetting, c: _Counts) -> int:
    """How many more seeds to train now: enough that the networks already pending and these
    are expected to fill the shortfall at the setting's acceptance rate so far (1 before any
    network is stored, never below MIN_ACCEPTANCE_RATE), within the seed budget."""
    short = chart.networks_per_setting - c.accepted
    if short <= 0:
        return 0
    rate = max(c.accepted / c.trained, MIN_ACCEPTANCE_RATE) if c.trained else 1.0
    wanted = math.ceil(short / rate - 1e-9) - c.pending
    return max(0, min(wanted, chart.seed_budget - setting.seeds_used))


def add_chunk(
    session: Session,
    chart: Chart,
    setting: ChartSetting,
    job: Job,
    trained_elsewhere: int | None = None,
) -> None:
    """Link `job` to the setting as the chunk of its next `job.count` seeds."""
    session.add(job)
    session.flush()
    session.add(
        ChartChunk(
            chart_id=chart.id,
            setting_id=setting.id,
            job_id=job.id,
            first_seed_index=setting.seeds_used,
            trained_elsewhere=trained_elsewhere,
        )
    )
    setting.seeds_used += job.count


def _spawn(session: Session, chart: Chart, setting: ChartSetting, count: int) -> list[int]:
    """Chunks of up to chunk_size for the setting's next `count` seeds; their job ids."""
    job_ids = []
    base = chart.seed + setting.position * chart.seed_budget
    while count > 0:
        size = min(count, chart.chunk_size)
        spec = JobSpec(
            task=chart.task,
            architecture=setting.architecture,
            units=setting.units,
            count=size,
            seed=base + setting.seeds_used,
            task_parameters=chart.task_parameters,
            training=chart.training_config,
        )
        try:
            job, _ = create_job(session, spec)
        except JobSpecError as exc:
            raise ChartSpecError(str(exc)) from exc
        add_chunk(session, chart, setting, job)
        count -= size
        job_ids.append(job.id)
    session.flush()
    return job_ids


def advance_chart(session: Session, chart_id: int) -> list[int]:
    """Bring the chart up to date with its chunks: spawn the chunks its settings still need
    (their job ids are returned, to enqueue once committed), or finish it.

    Holds the chart's row lock for the transaction, so concurrent calls (two chunks finishing
    at once, a redelivered message) run one after the other and the second sees the first's
    chunks. A chunk that ended with networks missing (an error, not a cancel) fails the chart:
    training more seeds would only burn them the same way.
    """
    chart = _locked_chart(session, chart_id)
    if chart.status in FINISHED:
        return []
    counts = _counts(session, chart)
    errors = [e for s in chart.settings for e in counts[s.id].errors]
    unfinished = sum(counts[s.id].unfinished_chunks for s in chart.settings)
    if chart.status == WorkStatus.CANCELLING:
        if not unfinished:
            mark_cancelled(chart)
        return []
    if errors:
        mark_failed(chart, "; ".join(errors))
        return []
    n = chart.networks_per_setting
    accepted = sum(min(counts[s.id].accepted, n) for s in chart.settings)
    chart.progress_fraction = accepted / (n * len(chart.settings))
    spawned = []
    for setting in chart.settings:
        wanted = _seeds_wanted(chart, setting, counts[setting.id])
        if wanted:
            spawned += _spawn(session, chart, setting, wanted)
    if not spawned and not unfinished:
        _finish(chart, [counts[s.id] for s in chart.settings])
    session.flush()
    return spawned


def _finish(chart: Chart, counts: Sequence[_Counts]) -> None:
    """Every setting reached its count or spent its budget: succeeded when all reached it,
    failed when none accepted a network, else partially succeeded."""
    n = chart.networks_per_setting
    missing = sum(max(0, n - c.accepted) for c in counts)
    if missing == 0:
        mark_succeeded(chart)
        return
    short = sum(c.accepted < n for c in counts)
    chart.error = (
        f"{short} of {len(counts)} settings ended short of {n} accepted networks "
        "(their seed budget is spent)"
    )
    mark_outcome(chart, n * len(counts), missing)


def queued_chunks(session: Session, chart_id: int) -> list[int]:
    """The ids of the chart's chunk jobs still waiting for a worker."""
    return list(
        session.scalars(
            select(Job.id)
            .join(ChartChunk, ChartChunk.job_id == Job.id)
            .where(ChartChunk.chart_id == chart_id, Job.status == WorkStatus.QUEUED)
            .order_by(Job.id)
        )
    )


def fail_chart(session: Session, chart_id: int, error: str) -> None:
    """Mark the chart and its unfinished chunks failed with a readable reason (e.g. its chunks
    could not be queued); networks stored stay."""
    chart = _locked_chart(session, chart_id)
    jobs = session.scalars(
        select(Job)
        .join(ChartChunk, ChartChunk.job_id == Job.id)
        .where(ChartChunk.chart_id == chart_id, Job.status.in_([s.value for s in UNFINISHED]))
    ).all()
    for job in jobs:
        mark_failed(job, error)
    mark_failed(chart, error)
    session.flush()


def complete_chart(session: Session, chart_id: int) -> WorkStatus:
    """Finish the chart from the networks it has, spawning nothing: succeeded when every
    setting has its count, else partially succeeded (or failed with none accepted)."""
    chart = _locked_chart(session, chart_id)
    if chart.status not in FINISHED:
        counts = _counts(session, chart)
        _finish(chart, [counts[s.id] for s in chart.settings])
        session.flush()
    return WorkStatus(chart.status)


def request_chart_cancel(session: Session, chart_id: int) -> WorkStatus:
    """Stop the chart: its queued chunks are cancelled at once, running ones asked to stop
    (they keep the networks they finished); the chart reads cancelling until they have
    stopped, then cancelled. Raises NotFoundError, or AlreadyFinishedError for a finished
    chart."""
    chart = _locked_chart(session, chart_id)
    status = request_cancel(chart, f"chart {chart_id}")
    jobs = session.scalars(
        select(Job)
        .join(ChartChunk, ChartChunk.job_id == Job.id)
        .where(ChartChunk.chart_id == chart_id, Job.status.in_([s.value for s in UNFINISHED]))
        .with_for_update()
    ).all()
    for job in jobs:
        request_cancel(job)
    session.flush()
    if status == WorkStatus.CANCELLING and all(job.status in FINISHED for job in jobs):
        mark_cancelled(chart)
        session.flush()
    return WorkStatus(chart.status)


def attach_networks(
    session: Session,
    chart_id: int,
    position: int,
    network_ids: Sequence[int],
    *,
    seeds: int | None = None,
    trained: int | None = None,
) -> int:
    """Make stored networks (e.g. imported with a chart's dataset) a finished chunk of the
    chart's setting `position`: a succeeded job of the setting's next `seeds` seeds (default:
    one per network) owns them. `trained` (default: the networks given) is how many networks
    the chunk trained where it ran, of which only `network_ids` are stored here (a chart's
    dataset carries its accepted networks): the setting counts them as trained, and those not
    stored as failed. A network sits at its seed's place in the job where every seed is one
    of the job's, else in the order given; its own seed and records stay as they are. Returns
    the job's id."""
    chart = _locked_chart(session, chart_id)
    setting = next((s for s in chart.settings if s.position == position), None)
    if setting is None:
        raise LookupError(f"chart {chart_id} has no setting {position}")
    seeds = len(network_ids) if seeds is None else seeds
    trained = len(network_ids) if trained is None else trained
    if not 0 < seeds <= chart.seed_budget - setting.seeds_used:
        raise ValueError(f"{seeds} seeds do not fit the setting's budget; no networks to attach?")
    if not len(network_ids) <= trained <= seeds:
        raise ValueError(f"{len(network_ids)} networks of {trained} trained on {seeds} seeds")
    networks = session.scalars(select(Network).where(Network.id.in_(network_ids))).all()
    wrong = [
        n.id
        for n in networks
        if (n.task, n.task_parameters, n.architecture, n.units)
        != (chart.task, chart.task_parameters, setting.architecture, setting.units)
    ]
    if wrong or len(networks) != len(set(network_ids)):
        raise ValueError(
            f"networks {wrong or sorted(set(network_ids) - {n.id for n in networks})} are "
            f"missing or not {setting.architecture} {setting.units} networks of the chart's task"
        )
    job = Job(
        task=chart.task,
        task_parameters=chart.task_parameters,
        architecture=setting.architecture,
        units=setting.units,
        count=seeds,
        seed=chart.seed + setting.position * chart.seed_budget + setting.seeds_used,
        training_config=chart.training_config,
        n_saved=len(network_ids),
        attempts=0,
    )
    mark_running(job)
    mark_succeeded(job)
    elsewhere = trained if trained > len(network_ids) else None
    add_chunk(session, chart, setting, job, trained_elsewhere=elsewhere)
    by_id = {n.id: n for n in networks}
    places = [None if by_id[i].seed is None else by_id[i].seed - job.seed for i in network_ids]
    if len(set(places)) != len(places) or not all(p is not None and 0 <= p < seeds for p in places):
        places = list(range(len(network_ids)))
    for index, network_id in zip(places, network_ids, strict=True):
        done = session.execute(
            update(Network)
            .where(Network.id == network_id, Network.job_id.is_(None))
            .values(job_id=job.id, index_in_job=index)
        )
        if done.rowcount != 1:
            raise ValueError(f"network {network_id} does not exist or belongs to a job already")
    session.flush()
    return job.id


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class SettingProgress:
    """One setting: seeds given to training out of its budget (not those of chunks that never
    ran), networks trained (stored), accepted, failed (stored, not accepted), analysed and
    typed (of the accepted), seeds still training, its chunks, and its state: training,
    reached, short, cancelled or stopped (with a note)."""

    position: int
    architecture: str
    units: int
    first_seed: int
    seeds_used: int
    seed_budget: int
    trained: int
    accepted: int
    failed: int
    analysed: int
    typed: int
    pending: int
    chunks: int
    state: str
    note: str | None

    @property
    def label(self) -> str:
        return f"{self.architecture} {self.units}"


@dataclass(frozen=True)
class ChartRecord:
    id: int
    status: str
    task: str
    task_parameters: dict[str, Any]
    variant: str
    networks_per_setting: int
    seed_budget: int
    seed: int
    chunk_size: int
    acceptance_loss: float
    training: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    settings: list[SettingProgress]

    @property
    def progress_fraction(self) -> float:
        """Accepted networks over those asked for; a setting that reached its count or spent
        its seed budget counts as done, a cancelled or stopped one by what it accepted."""
        n = self.networks_per_setting
        done = [n if s.state in ("reached", "short") else min(s.accepted, n) for s in self.settings]
        return sum(done) / (n * len(self.settings))


def _record(session: Session, chart: Chart) -> ChartRecord:
    counts = _counts(session, chart)
    settings = []
    for s in chart.settings:
        c = counts[s.id]
        state, note = _setting_state(chart, s, c)
        settings.append(
            SettingProgress(
                position=s.position,
                architecture=s.architecture,
                units=s.units,
                first_seed=chart.seed + s.position * chart.seed_budget,
                seeds_used=s.seeds_used - c.never_ran,
                seed_budget=chart.seed_budget,
                trained=c.trained,
                accepted=c.accepted,
                failed=c.trained - c.accepted,
                analysed=c.analysed,
                typed=c.typed,
                pending=c.pending,
                chunks=c.chunks,
                state=state,
                note=note,
            )
        )
    return ChartRecord(
        id=chart.id,
        status=chart.status,
        task=chart.task,
        task_parameters=chart.task_parameters,
        variant=chart.variant,
        networks_per_setting=chart.networks_per_setting,
        seed_budget=chart.seed_budget,
        seed=chart.seed,
        chunk_size=chart.chunk_size,
        acceptance_loss=chart.acceptance_loss,
        training=chart.training_config,
        error=chart.error,
        created_at=chart.created_at,
        started_at=chart.started_at,
        finished_at=chart.finished_at,
        settings=settings,
    )


def _chart(session: Session, chart_id: int) -> Chart:
    return get_or_raise(session, Chart, chart_id, "chart", "chart-not-found")


def chart_record(session: Session, chart_id: int) -> ChartRecord:
    """The chart's progress per setting; NotFoundError when there is no such chart."""
    return _record(session, _chart(session, chart_id))


def list_charts(
    session: Session, *, status: str | None = None, after_id: int | None = None, limit: int = 50
) -> list[ChartRecord]:
    """Charts newest first, of one status or all; the next page starts after the last id
    seen."""
    query = select(Chart).order_by(Chart.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Chart.status == status)
    if after_id is not None:
        query = query.where(Chart.id < after_id)
    return [_record(session, chart) for chart in session.scalars(query)]


@dataclass(frozen=True)
class ChartNetwork:
    """One network of a chart: its setting, seed, loss, whether accepted, analysis and type."""

    network_id: int
    position: int
    architecture: str
    units: int
    seed: int | None
    validation_loss: float | None
    accepted: bool
    analysis_status: str
    solution_type: str | None


def chart_networks(
    session: Session, chart_id: int, *, accepted_only: bool = True
) -> list[ChartNetwork]:
    """The networks the chart's chunks stored, by setting and seed (accepted ones only unless
    asked otherwise)."""
    chart = _chart(session, chart_id)
    query = (
        select(
            Network.id,
            ChartSetting.position,
            Network.architecture,
            Network.units,
            Network.seed,
            Network.validation_loss,
            Network.analysis_status,
            SolutionType.name,
        )
        .join(ChartChunk, ChartChunk.job_id == Network.job_id)
        .join(ChartSetting, ChartSetting.id == ChartChunk.setting_id)
        .outerjoin(SolutionType, SolutionType.id == Network.solution_type_id)
        .where(ChartChunk.chart_id == chart_id)
        .order_by(ChartSetting.position, Network.seed, Network.id)
    )
    if accepted_only:
        query = query.where(Network.validation_loss < chart.acceptance_loss)
    return [
        ChartNetwork(
            network_id=row[0],
            position=row[1],
            architecture=row[2],
            units=row[3],
            seed=row[4],
            validation_loss=row[5],
            accepted=row[5] is not None and row[5] < chart.acceptance_loss,
            analysis_status=row[6],
            solution_type=row[7],
        )
        for row in session.execute(query)
    ]


@dataclass(frozen=True)
class SettingResult:
    progress: SettingProgress
    types: TypeBreakdown
    kappa: KappaOutcome | None


@dataclass(frozen=True)
class ChartResult:
    """The chart's types: per setting and over the whole chart, rare types decided over the
    whole chart (below `rare_threshold` of its typed networks)."""

    record: ChartRecord
    rare_threshold: float
    rare_types: list[str]
    settings: list[SettingResult]
    overall: TypeBreakdown
    overall_kappa: KappaOutcome | None


def _features(session: Session, network_ids: Sequence[int]) -> dict[int, np.ndarray]:
    rows = session.execute(
        select(Features.network_id, Features.values).where(Features.network_id.in_(network_ids))
    ).all()
    return {network_id: from_blob(values) for network_id, values in rows}


def chart_result(
    session: Session,
    chart_id: int,
    *,
    kappa: bool = True,
    rare_threshold: float = COVERAGE_THRESHOLD,
) -> ChartResult:
    """Progress and types of the chart's accepted, typed networks; with `kappa`, how well
    their neural features predict the type (the paper's protocol: 50 forests per group, seconds
    of CPU). NotFoundError when there is no such chart."""
    chart = _chart(session, chart_id)
    record = _record(session, chart)
    typed = [n for n in chart_networks(session, chart_id) if n.solution_type is not None]
    labels = [[n.solution_type for n in typed if n.position == s.position] for s in record.settings]
    rare = rare_types(labels, rare_threshold)
    features = _features(session, [n.network_id for n in typed]) if kappa else {}

    def kappa_of(group: list[ChartNetwork]) -> KappaOutcome | None:
        if not kappa:
            return None
        with_features = [n for n in group if n.network_id in features]
        if not with_features:
            return KappaOutcome(0, 0, None, "no accepted network has neural features yet")
        matrix = np.stack([features[n.network_id] for n in with_features])
        return predictor_kappa(matrix, [n.solution_type for n in with_features], rare)

    settings = [
        SettingResult(
            progress,
            breakdown(group_labels, rare),
            kappa_of([n for n in typed if n.position == progress.position]),
        )
        for progress, group_labels in zip(record.settings, labels, strict=True)
    ]
    return ChartResult(
        record=record,
        rare_threshold=rare_threshold,
        rare_types=sorted(rare),
        settings=settings,
        overall=breakdown([label for group in labels for label in group], rare),
        overall_kappa=kappa_of(typed),
    )


def chart_of_job(session: Session, job_id: int) -> int | None:
    """The chart whose chunk job `job_id` is, if any."""
    return session.scalar(select(ChartChunk.chart_id).where(ChartChunk.job_id == job_id))


def unfinished_chart_ids(session: Session) -> list[int]:
    """Charts queued, running or cancelling, oldest first."""
    return list(
        session.scalars(
            select(Chart.id)
            .where(Chart.status.in_([s.value for s in UNFINISHED]))
            .order_by(Chart.id)
        )
    )
