"""The registry of analysis steps, run in this order on every network (trained or imported).

A step has three parts, so that no database transaction stays open while the science runs
(on SQLite an open write transaction would hold off every other writer):
- `load(session, network)`: read the inputs through atlas.store (default: the task and the
  network's final weights, `NetworkInputs`);
- `run(inputs)`: the science, with no database at hand;
- `save(session, network_id, result)`: write the results through atlas.store, replacing the
  rows an earlier run of the step left.
Later steps may load what earlier ones saved. Add a step by appending it to STEPS.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sqlalchemy.orm import Session

from atlas.networks import RNNPopulation
from atlas.store import load_population, save_validation_result
from atlas.store.models import Network
from atlas.tasks import TrialTask, get_task

# How far a recomputed validation loss may be from the recorded one (float32 vs float64,
# CPU vs GPU summation order) before the stored weights are deemed not to be the trained ones.
LOSS_RTOL, LOSS_ATOL = 1e-3, 1e-8


@dataclass(frozen=True)
class NetworkInputs:
    """What most steps start from: the task as the network was trained on it, and its weights."""

    network_id: int
    task: TrialTask
    population: RNNPopulation
    validation_loss: float | None


def load_network(session: Session, network: Network) -> NetworkInputs:
    task = get_task(network.task, **network.task_parameters)
    if not isinstance(task, TrialTask):
        raise TypeError(f"task {task.name!r} has no trials to analyse a network on")
    population = load_population(session, [network.id])
    return NetworkInputs(network.id, task, population, network.validation_loss)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Any], Any]
    save: Callable[[Session, int, Any], None]
    load: Callable[[Session, Network], Any] = load_network


class InconsistentNetworkError(RuntimeError):
    """Stored weights that do not reproduce the network's recorded numbers."""


@dataclass(frozen=True)
class Validation:
    loss: float
    trial_errors: np.ndarray
    conditions: dict[str, np.ndarray]


@torch.no_grad()
def validate(inputs: NetworkInputs) -> Validation:
    """The validation loss from the stored weights, per trial, checked against the loss
    recorded when the network was trained or imported."""
    trials = inputs.task.validation_set()
    outputs = inputs.population(trials.inputs).outputs[0]
    trial_errors = (outputs - trials.targets).pow(2).mean(dim=(1, 2)).double().numpy()
    loss = float(trial_errors.mean())
    recorded = inputs.validation_loss
    if recorded is not None and not math.isclose(
        loss, recorded, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL
    ):
        raise InconsistentNetworkError(
            f"stored weights give validation loss {loss:.6g}, the network recorded {recorded:.6g}"
        )
    return Validation(loss, trial_errors, trials.conditions)


def save_validation(session: Session, network_id: int, result: Validation) -> None:
    save_validation_result(
        session, network_id, result.loss, result.trial_errors, result.conditions
    )


STEPS: list[Step] = [Step("validation", validate, save_validation)]
