"""What the analysis routes share: the solution looked up (404 when unknown), its task and
validation-set states, and its stored result of a step.

A missing analysis is atlas.store.analysis_runs' AnalysisNotAvailableError (404), carrying
`step` and `analysis_status` (`pending`, `running`, `failed` or `skipped`, as
`/solutions/{id}` lists them), so a client can tell "not yet" from "never".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

import numpy as np
from sqlalchemy.orm import Session

from atlas.analysis.fixed_point_conditions import ConditionPoints
from atlas.analysis.trial_runs import validation_states
from atlas.errors import NotFoundError
from atlas.store import SolutionRecord, analysis_unavailable, get_solution, load_population
from atlas.tasks import TrialTask

T = TypeVar("T")


class StoredAnalysis(NamedTuple, Generic[T]):
    """A solution's stored result of one analysis step, with the network it belongs to."""

    network: SolutionRecord
    solution_type: str | None
    result: T


def stored_analysis(
    session: Session, solution_id: int, step: str, load: Callable[[Session, int], T | None]
) -> StoredAnalysis[T]:
    """`load(session, solution_id)`, the stored result of `step`; NotFoundError when there is
    no such solution, AnalysisNotAvailableError when no result (saying what state the step
    is in)."""
    network = get_solution(session, solution_id)
    result = load(session, solution_id)
    if result is None:
        raise analysis_unavailable(session, solution_id, step)
    return StoredAnalysis(network, network.solution_type, result)


def solution_states(session: Session, network: SolutionRecord, task: TrialTask) -> np.ndarray:
    """The network's states on its task's validation set, (B, T, S), run in float64."""
    return validation_states(load_population(session, [network.id]), task)[0]


def select_conditions(
    conditions: list[ConditionPoints], label: str | None
) -> list[ConditionPoints]:
    """The fixed points of the condition labelled `label` (None: all); NotFoundError
    (`condition-not-found`) naming the known conditions when there is none by that label."""
    if label is None:
        return conditions
    chosen = [c for c in conditions if c.label == label]
    if not chosen:
        known = [c.label for c in conditions]
        raise NotFoundError(
            f"no input condition {label!r}; searched: {', '.join(known)}",
            slug="condition-not-found",
            available=known,
        )
    return chosen
