"""Where a network's analysis stands: the one definition of the analysis and run statuses.

A network's analysis status summarises its steps; each step's run (atlas.store.analysis_runs)
has a run status. The store's CHECK constraints, the API's enums and the dataset format's
column descriptions derive from these. A top-level module free of torch and SQLAlchemy, like
atlas.network_status, so that the dataset format (which never imports the store) reads it too.

The stored strings are the values: renaming a member is free, changing a value needs a
migration.
"""

from __future__ import annotations

from enum import StrEnum


class AnalysisStatus(StrEnum):
    """A network's analysis: `pending` (no step has started, or it waits to be resumed),
    `running`, `done` (every step succeeded or was skipped), `failed` (a step failed; the
    later steps did not run)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RunStatus(StrEnum):
    """One step's run on one network: `running`, then `succeeded` or `failed`; `skipped`
    where the step does not apply to the network (its reason in the run's summary)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


ANALYSIS_STATUSES: tuple[str, ...] = tuple(status.value for status in AnalysisStatus)
RUN_STATUSES: tuple[str, ...] = tuple(status.value for status in RunStatus)

STEP_DONE: tuple[RunStatus, ...] = (RunStatus.SUCCEEDED, RunStatus.SKIPPED)
"""A step with nothing left to do on the network."""

FINISHED_RUNS: tuple[RunStatus, ...] = (*STEP_DONE, RunStatus.FAILED)
"""Runs that have ended (what a dataset records: a running step is not exported)."""
