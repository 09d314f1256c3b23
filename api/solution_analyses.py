"""What the analysis routes share: the solution looked up (404 when unknown), its task and
validation-set states, and the 404 problem for an analysis that has no result, saying what
state its step is in.

A missing analysis is a 404 whose problem carries `step` and `analysis_status` (`pending`,
`running`, `failed` or `skipped`, as `/solutions/{id}` lists them), so a client can tell
"not yet" from "never".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

import numpy as np
from sqlalchemy.orm import Session

from api.problems import Problem
from atlas.analysis.fixed_point_conditions import ConditionPoints
from atlas.analysis.trial_runs import validation_states
from atlas.analysis_status import AnalysisStatus, RunStatus
from atlas.store import load_population
from atlas.store.analysis_runs import analysis_run
from atlas.store.models import Network
from atlas.store.queries import get_solution
from atlas.tasks import TrialTask

T = TypeVar("T")


class StoredAnalysis(NamedTuple, Generic[T]):
    """A solution's stored result of one analysis step, with the network it belongs to."""

    network: Network
    solution_type: str | None
    result: T


def stored_analysis(
    session: Session, solution_id: int, step: str, load: Callable[[Session, int], T | None]
) -> StoredAnalysis[T]:
    """`load(session, solution_id)`, the stored result of `step`; 404 problem when there is no
    such solution, or no result (saying what state the step is in)."""
    network, solution_type = get_solution(session, solution_id)
    result = load(session, solution_id)
    if result is None:
        raise analysis_unavailable(session, solution_id, step)
    return StoredAnalysis(network, solution_type, result)


def solution_states(session: Session, network: Network, task: TrialTask) -> np.ndarray:
    """The network's states on its task's validation set, (B, T, S), run in float64."""
    return validation_states(load_population(session, [network.id]), task)[0]


def select_conditions(
    conditions: list[ConditionPoints], label: str | None
) -> list[ConditionPoints]:
    """The fixed points of the condition labelled `label` (None: all); 404 naming the known
    conditions when there is none by that label."""
    if label is None:
        return conditions
    chosen = [c for c in conditions if c.label == label]
    if not chosen:
        known = [c.label for c in conditions]
        raise Problem(
            404,
            "condition-not-found",
            f"no input condition {label!r}; searched: {', '.join(known)}",
            available=known,
        )
    return chosen


def analysis_unavailable(session: Session, network_id: int, step: str) -> Problem:
    """404: the step has produced nothing for this network; the problem says why."""
    run = analysis_run(session, network_id, step)
    status = AnalysisStatus.PENDING if run is None else RunStatus(run.status)
    skipped_reason = (run.summary or {}).get("reason", "") if run else ""
    reasons = {
        AnalysisStatus.PENDING: "has not run yet",
        RunStatus.RUNNING: "is running",
        RunStatus.FAILED: f"failed: {run.error if run else ''}",
        RunStatus.SKIPPED: f"does not apply: {skipped_reason}",
        RunStatus.SUCCEEDED: "found nothing to report",
    }
    return Problem(
        404,
        "analysis-not-available",
        f"the {step} analysis of solution {network_id} {reasons[status]}",
        step=step,
        analysis_status=status,
        solution=f"/solutions/{network_id}",
    )
