"""Admission control: work whose estimated memory or work exceeds the server's budget
(atlas.config: max_job_memory_bytes, max_job_work) is refused with an OverBudgetError that
states the estimate and the limits, and so is work asking for a GPU this server lacks
(DeviceUnavailableError). Both are InvalidErrors (the API answers 422).

The check runs on the row just created, inside the transaction that creates it: the estimate
is of exactly the task variant and training configuration that would run, and a refusal
raises, so the transaction rolls back and nothing is written or queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from sqlalchemy.orm import Session

from atlas.errors import InvalidError
from atlas.store.models import Job, TwoNeuronStudyRow
from atlas.store.task_records import resolve_task
from atlas.store.two_neuron import study_setup
from atlas.training import TrainingConfig
from atlas.training.admission import (
    WorkEstimate,
    estimate_population,
    estimate_two_neuron,
    population_shape,
)
from atlas.wording import counted


class DeviceUnavailableError(InvalidError):
    """Work asks for a device (a CUDA GPU) this server does not have."""

    slug = "device-unavailable"


class OverBudgetError(InvalidError):
    """Work estimated to exceed the server's memory or work budget; `extra` carries the
    `estimate` and the `limit`."""

    slug = "over-budget"


class _BudgetSettings(Protocol):
    max_job_memory_bytes: int
    max_job_work: int
    work_rate: float


@dataclass(frozen=True)
class Budget:
    """What one piece of work may cost: peak memory (bytes), work (multiply-adds), and the
    rate (multiply-adds per second of one core) its time is stated in."""

    memory_bytes: int
    work: int
    work_rate: float

    @classmethod
    def of(cls, settings: _BudgetSettings) -> Budget:
        """The budget atlas.config.Settings sets."""
        return cls(settings.max_job_memory_bytes, settings.max_job_work, settings.work_rate)


def check_device(device: str) -> None:
    """DeviceUnavailableError when `device` is 'cuda' and this server has none."""
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            "training.device 'cuda' was asked for, but this server has no CUDA device; "
            "use 'cpu' or 'auto'"
        )


def check_budget(estimate: WorkEstimate, budget: Budget, what: str) -> None:
    """OverBudgetError, stating the estimate and the limits, when `estimate` exceeds them."""
    reasons = estimate.over(budget.memory_bytes, budget.work)
    if not reasons:
        return
    hours = estimate.seconds(budget.work_rate) / 3600
    extra: dict[str, Any] = {
        "estimate": {**estimate.to_dict(), "hours_of_one_core": hours},
        "limit": {"memory_bytes": budget.memory_bytes, "work": budget.work},
    }
    raise OverBudgetError(
        f"{what} is refused: {'; '.join(reasons)} (about {hours:.3g} h of one core). "
        "Ask for fewer or smaller networks, fewer epochs or a smaller task.",
        **extra,
    )


def admit_job(session: Session, job: Job, budget: Budget) -> None:
    """Raise unless the job just created in `session` has its device and fits the budget
    (its caller's transaction then rolls back)."""
    task = resolve_task(session, job.task, **job.task_parameters)
    config = TrainingConfig.from_dict(job.training_config)
    check_device(config.device)
    estimate = estimate_population(
        population_shape(task, job.architecture, job.units, job.count, config)
    )
    what = (
        f"a population of {counted(job.count, f'{job.architecture} network')} of {job.units} units"
    )
    check_budget(estimate, budget, what)


def admit_study(study: TwoNeuronStudyRow, budget: Budget) -> None:
    """The same for a two-neuron study just created."""
    model, config = study_setup(study.task_parameters, study.training_config)
    estimate = estimate_two_neuron(model, study.count, config)
    check_budget(estimate, budget, f"a two-neuron study of {counted(study.count, 'network')}")
