"""A chart made of populations trained outside the atlas (run folders, atlas.training.run_folder).

The run folders of one setting (one per process where paper_settings.py split a population's
seeds) are joined, and each setting becomes one chunk of a new chart: a job owning the setting's
seeds, whose finished networks are stored as a training job stores them. The seeds must be the
very seeds the chart would have trained itself (setting p: `seed + p * seed_budget + i`), so that
the chart reads as if the atlas had trained it, and the same training config and task variant for
every run. Networks still training when the run stopped are counted as not trained: their chunk
ends at its time limit with the networks it has. The chart is complete at once: it spawns
nothing (`atlas chart from-runs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from atlas.store.charts import (
    ACCEPTANCE_LOSS,
    ChartSpec,
    ChartSpecError,
    SettingSpec,
    add_chunk,
    complete_chart,
    create_chart,
)
from atlas.store.jobs import finish_job, stop_job
from atlas.store.lifecycle import StopReason, mark_running
from atlas.store.models import Job
from atlas.store.networks import save_trained_network
from atlas.store.work_status import WorkStatus
from atlas.training.run_folder import PopulationRun, join_runs


@dataclass(frozen=True)
class ChartFromRuns:
    """The chart made, its status, every network stored and those the chart accepts."""

    chart_id: int
    status: WorkStatus
    network_ids: list[int]
    accepted_ids: list[int]


def chart_from_runs(
    session: Session,
    runs: Sequence[PopulationRun],
    networks_per_setting: int,
    *,
    seed_budget: int | None = None,
    acceptance_loss: float = ACCEPTANCE_LOSS,
) -> ChartFromRuns:
    """A finished chart with one setting per (architecture, units) of the runs, in the order
    first given; ChartSpecError when the runs do not make one chart (another task variant or
    config, foreign seeds), RunFolderError when runs of one setting are not one population."""
    if not runs:
        raise ChartSpecError("a chart needs at least one run")
    by_setting: dict[tuple[str, int], list[PopulationRun]] = {}
    for run in runs:
        by_setting.setdefault((run.architecture, run.units), []).append(run)
    runs = [join_runs(parts) for parts in by_setting.values()]
    first = runs[0]
    spec = ChartSpec(
        task=first.task,
        task_parameters=first.task_parameters,
        settings=tuple(SettingSpec(r.architecture, r.units) for r in runs),
        networks_per_setting=networks_per_setting,
        training=first.config,
        acceptance_loss=acceptance_loss,
        seed_budget=seed_budget,
        seed=min(first.seeds),
        chunk_size=max(len(r.seeds) for r in runs),
    )
    chart, _ = create_chart(session, spec)
    network_ids, accepted_ids = [], []
    for position, (setting, run) in enumerate(zip(chart.settings, runs, strict=True)):
        if (run.task, run.task_parameters, run.config) != (
            first.task,
            chart.task_parameters,
            chart.training_config,
        ):
            raise ChartSpecError(
                f"run {position} is of another task variant or training config than run 0"
            )
        base = chart.seed + position * chart.seed_budget
        if run.seeds != list(range(base, base + len(run.seeds))):
            raise ChartSpecError(
                f"run {position} ({run.architecture} {run.units}) must train seeds {base}.. "
                f"(the chart's seeds for its setting {position}), not {run.seeds[:3]}.."
            )
        if len(run.seeds) > chart.seed_budget:
            raise ChartSpecError(f"run {position} has more seeds than the seed budget")
        job = Job(
            task=chart.task,
            task_parameters=chart.task_parameters,
            architecture=run.architecture,
            units=run.units,
            count=len(run.seeds),
            seed=base,
            training_config=chart.training_config,
            attempts=0,
        )
        mark_running(job)
        add_chunk(session, chart, setting, job)
        for outcome in run.outcomes:
            network_ids.append(save_trained_network(session, job, outcome).id)
            if outcome.validation_loss < chart.acceptance_loss:
                accepted_ids.append(network_ids[-1])
        session.flush()
        if run.still_training:
            detail = (
                f"{len(run.still_training)} networks were still training when the run "
                f"stopped after {run.epochs_run} epochs"
            )
            stop_job(session, job.id, StopReason.TIME_LIMIT, detail)
        else:
            finish_job(session, job.id)
    session.flush()
    status = complete_chart(session, chart.id)
    return ChartFromRuns(chart.id, status, network_ids, accepted_ids)
