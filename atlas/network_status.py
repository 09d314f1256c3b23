"""How a network's training ended: the one definition of the network statuses.

The trainer decides it (atlas.training); the store's CHECK constraint, the API's enum and the
CLI's choices derive from this one definition. A top-level module free of torch, so that the
CLI offers the choices without loading the science (any module inside atlas.training would
load the trainer first).
"""

from __future__ import annotations

from enum import StrEnum


class NetworkStatus(StrEnum):
    CONVERGED = "converged"
    FAILED = "failed"
    UNFINISHED = "unfinished"


STATUSES = tuple(status.value for status in NetworkStatus)

SOLUTION_LOSS = 2e-4
"""A network whose validation loss is below this solves its task (science.md: the paper
retrains a network whose loss stays above 2e-4; one that ends between 2e-5 and 2e-4 is a
solution, as are all 81 networks it released, whose losses are 1e-5..1.6e-4)."""


def solves_task(validation_loss: float | None) -> bool:
    """Whether a network with this validation loss is a solution, whatever its training's
    status: a network that reached the recipe's 2e-5 training loss is one, but so is one whose
    training ended (by the epoch limit or an exhausted second phase) between 2e-5 and 2e-4."""
    return validation_loss is not None and validation_loss < SOLUTION_LOSS


def no_solution_reason(validation_loss: float | None) -> str | None:
    """Why a network with this validation loss has no solution to reduce or type, or None
    when it solves its task (the analysis' graph step and the API's classification say the
    same)."""
    if solves_task(validation_loss):
        return None
    return (
        f"validation loss {validation_loss!r} is not below {SOLUTION_LOSS:g}: "
        "the network is no solution"
    )
