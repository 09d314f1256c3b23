"""Admission control at the door: work whose estimated memory or work exceeds the server's
budget (atlas.config: max_job_memory_bytes, max_job_work) is refused with a 422 problem that
states the estimate and the limits, and so is work asking for a GPU this server lacks.

The check runs on the row just created, before it is committed: the estimate is of exactly the
task variant and training configuration that would run, and a refusal rolls the row back, so
nothing is written or queued.
"""

from __future__ import annotations

import torch
from sqlalchemy.orm import Session

from api.problems import Problem
from atlas.config import Settings
from atlas.store import study_setup
from atlas.store.models import Job, TwoNeuronStudyRow
from atlas.store.task_records import resolve_task
from atlas.training import TrainingConfig
from atlas.training.admission import (
    WorkEstimate,
    estimate_population,
    estimate_two_neuron,
    population_shape,
)


def _device_problem(device: str) -> Problem | None:
    if device == "cuda" and not torch.cuda.is_available():
        return Problem(
            422,
            "device-unavailable",
            "training.device 'cuda' was asked for, but this server has no CUDA device; "
            "use 'cpu' or 'auto'",
        )
    return None


def _budget_problem(estimate: WorkEstimate, settings: Settings, what: str) -> Problem | None:
    reasons = estimate.over(settings.max_job_memory_bytes, settings.max_job_work)
    if not reasons:
        return None
    hours = estimate.seconds(settings.work_rate) / 3600
    return Problem(
        422,
        "over-budget",
        f"{what} is refused: {'; '.join(reasons)} (about {hours:.3g} h of one core). "
        "Ask for fewer or smaller networks, fewer epochs or a smaller task.",
        estimate={**estimate.to_dict(), "hours_of_one_core": hours},
        limit={"memory_bytes": settings.max_job_memory_bytes, "work": settings.max_job_work},
    )


def _refuse(session: Session, problem: Problem | None) -> None:
    if problem is not None:
        session.rollback()
        raise problem


def admit_job(session: Session, job: Job, settings: Settings) -> None:
    """Keep the job just created in `session` only if its device exists and it fits the
    budget; otherwise roll it back and raise the 422 problem."""
    task = resolve_task(session, job.task, **job.task_parameters)
    config = TrainingConfig.from_dict(job.training_config)
    _refuse(session, _device_problem(config.device))
    estimate = estimate_population(
        population_shape(task, job.architecture, job.units, job.count, config)
    )
    what = f"a population of {job.count} {job.architecture} networks of {job.units} units"
    _refuse(session, _budget_problem(estimate, settings, what))


def admit_study(session: Session, study: TwoNeuronStudyRow, settings: Settings) -> None:
    """The same for a two-neuron study just created."""
    model, config = study_setup(study.task_parameters, study.training_config)
    estimate = estimate_two_neuron(model, study.count, config)
    what = f"a two-neuron study of {study.count} networks"
    _refuse(session, _budget_problem(estimate, settings, what))
