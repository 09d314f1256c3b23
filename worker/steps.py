"""The registry of analysis steps, run in this order on every network (trained or imported).

A step is `run(session, network) -> None`: it calls the science on the stored weights and
writes its results through atlas.store, replacing any rows an earlier run of it left. Later
steps may read what earlier ones wrote. Add a step by appending it to STEPS.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from sqlalchemy.orm import Session

from atlas.store import load_population, save_validation_result
from atlas.store.models import Network
from atlas.tasks import TrialTask, get_task

# How far a recomputed validation loss may be from the recorded one (float32 vs float64,
# CPU vs GPU summation order) before the stored weights are deemed not to be the trained ones.
LOSS_RTOL, LOSS_ATOL = 1e-3, 1e-8


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Session, Network], None]


class InconsistentNetworkError(RuntimeError):
    """Stored weights that do not reproduce the network's recorded numbers."""


@torch.no_grad()
def validate(session: Session, network: Network) -> None:
    """Recompute the validation loss from the stored final weights, per trial.

    Stores each validation trial's MSE with the trial conditions, and checks the mean against
    the loss recorded when the network was trained or imported.
    """
    task = get_task(network.task, **network.task_parameters)
    if not isinstance(task, TrialTask):
        raise TypeError(f"task {task.name!r} has no validation trials")
    population = load_population(session, [network.id])
    trials = task.validation_set()
    outputs = population(trials.inputs).outputs[0]
    trial_errors = (outputs - trials.targets).pow(2).mean(dim=(1, 2)).double().numpy()
    loss = float(trial_errors.mean())
    recorded = network.validation_loss
    if recorded is not None and not math.isclose(
        loss, recorded, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL
    ):
        raise InconsistentNetworkError(
            f"stored weights give validation loss {loss:.6g}, the network recorded {recorded:.6g}"
        )
    save_validation_result(session, network.id, loss, trial_errors, trials.conditions)


STEPS: list[Step] = [Step("validation", validate)]
