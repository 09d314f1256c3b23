"""Bookkeeping of analysis steps per network, so that re-running a network is safe and cheap.

A step's row goes running -> succeeded | failed, or straight to skipped where the step does not
apply to the network; (network, step) is unique, so a redelivered analysis updates the same
row. The network's `analysis_status` summarises all its steps.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atlas.analysis_status import STEP_DONE, AnalysisStatus, RunStatus
from atlas.errors import NotFoundError
from atlas.store.lifecycle import ERROR_TEXT_LIMIT
from atlas.store.models import AnalysisRun, Network
from atlas.store.models.base import utcnow


def analysis_run(session: Session, network_id: int, step: str) -> AnalysisRun | None:
    return session.scalars(
        select(AnalysisRun).where(AnalysisRun.network_id == network_id, AnalysisRun.step == step)
    ).one_or_none()


class AnalysisNotAvailableError(NotFoundError):
    """A step has produced nothing for a network; the message says why, and `extra` carries
    `step`, `analysis_status` (pending, running, failed or skipped) and the `solution`'s
    link, so a client can tell "not yet" from "never"."""

    slug = "analysis-not-available"


def analysis_unavailable(session: Session, network_id: int, step: str) -> AnalysisNotAvailableError:
    """The error for `step` having no result for the network, saying what state it is in."""
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
    return AnalysisNotAvailableError(
        f"the {step} analysis of solution {network_id} {reasons[status]}",
        step=step,
        analysis_status=status,
        solution=f"/solutions/{network_id}",
    )


def step_done(session: Session, network_id: int, step: str) -> bool:
    """Whether the step has nothing left to do on the network: it succeeded or was skipped."""
    run = analysis_run(session, network_id, step)
    return run is not None and run.status in STEP_DONE


def start_step(session: Session, network_id: int, step: str) -> AnalysisRun:
    """Mark `step` running on the network (one more attempt) and the network as in analysis."""
    run = _open_run(session, network_id, step)
    run.status = RunStatus.RUNNING
    run.attempts += 1
    set_analysis_status(session, network_id, AnalysisStatus.RUNNING)
    return run


def skip_step(session: Session, network_id: int, step: str, reason: str) -> AnalysisRun:
    """Record that `step` does not apply to the network, and why (kept in its summary)."""
    run = _open_run(session, network_id, step)
    run.status = RunStatus.SKIPPED
    run.summary = {"reason": reason}
    run.finished_at = run.started_at
    session.flush()
    return run


def _open_run(session: Session, network_id: int, step: str) -> AnalysisRun:
    """The step's row, inserted (race-safe) if missing, cleared of an earlier outcome."""
    run = analysis_run(session, network_id, step)
    if run is None:
        run = AnalysisRun(network_id=network_id, step=step, status=RunStatus.RUNNING, attempts=0)
        try:
            with session.begin_nested():
                session.add(run)
        except IntegrityError:
            run = analysis_run(session, network_id, step)
            if run is None:
                raise
    run.error = None
    run.summary = None
    run.duration_s = None
    run.started_at = utcnow()
    run.finished_at = None
    return run


def finish_step(
    session: Session,
    network_id: int,
    step: str,
    summary: dict[str, Any] | None = None,
    duration_s: float | None = None,
) -> None:
    """Mark the step succeeded, with what it reports (JSON) and how long it computed."""
    run = _run(session, network_id, step)
    run.status = RunStatus.SUCCEEDED
    run.summary = summary
    run.duration_s = duration_s
    run.finished_at = utcnow()
    session.flush()


def fail_step(session: Session, network_id: int, step: str, error: str) -> None:
    """Record the failure on the step and on the network (its analysis stops here)."""
    run = _run(session, network_id, step)
    run.status = RunStatus.FAILED
    run.error = error[:ERROR_TEXT_LIMIT]
    run.finished_at = utcnow()
    set_analysis_status(session, network_id, AnalysisStatus.FAILED)


def set_analysis_status(session: Session, network_id: int, status: AnalysisStatus) -> None:
    network = session.get(Network, network_id)
    if network is None:
        raise LookupError(f"no network {network_id}")
    network.analysis_status = status
    session.flush()


def _run(session: Session, network_id: int, step: str) -> AnalysisRun:
    run = analysis_run(session, network_id, step)
    if run is None:
        raise LookupError(f"step {step!r} was never started on network {network_id}")
    return run
