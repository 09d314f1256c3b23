"""What clients upload, each written in a transaction of its own: a network, an exported
dataset, a task declaration.

Like atlas.store.work_writes for work, each function takes the sessionmaker, commits before it
returns (or rolls back when it raises: nothing of a refused upload is written) and returns a
record, so that the API's routes hold no write transaction of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from sqlalchemy.orm import Session, sessionmaker

from atlas.analysis_status import AnalysisStatus
from atlas.datasets import Dataset, Limits
from atlas.store.analysis_runs import set_analysis_status
from atlas.store.database import session_scope
from atlas.store.datasets.importer import DEFAULT_LIMITS, ImportReport, import_dataset
from atlas.store.networks import (
    imported_content_key,
    imported_network_with_key,
    save_imported_network,
)
from atlas.store.solution_types import lock_task
from atlas.store.task_records import StoredDeclaration, add_declaration, ensure_task
from atlas.tasks import Task
from atlas.tasks.declaration import TaskDeclaration

Sessions = sessionmaker[Session]


def import_network(
    sessions: Sessions,
    task: Task,
    state_dict: Mapping[str, torch.Tensor],
    validation_loss: float,
    *,
    name: str | None = None,
    info: dict[str, Any] | None = None,
) -> tuple[int, bool]:
    """Store a checked, evaluated network (save_imported_network); its id and whether it was
    stored now.

    Idempotent like a dataset import: a network the atlas already imported with the same
    content key (the same task variant and weights: imported_content_key) is returned as it
    is (False), its name and info unchanged, and nothing is written. The lookup runs under
    the task's lock (as dataset imports do), so two concurrent imports of one network store
    it once.
    """
    content_key = imported_content_key(task, state_dict)
    with session_scope(sessions) as session:
        ensure_task(session, task)
        lock_task(session, task.name)
        existing = imported_network_with_key(session, content_key)
        if existing is not None:
            return existing.id, False
        network = save_imported_network(
            session, task, state_dict, validation_loss, name=name, info=info
        )
        return network.id, True


def add_dataset(
    sessions: Sessions, dataset: Dataset, limits: Limits = DEFAULT_LIMITS
) -> ImportReport:
    """Import a parsed dataset (atlas.store.datasets.import_dataset): all of it, or nothing."""
    with session_scope(sessions) as session:
        return import_dataset(session, dataset, limits)


def declare_task(sessions: Sessions, declaration: TaskDeclaration) -> StoredDeclaration:
    """Store a checked declaration as the task's next version (add_declaration)."""
    with session_scope(sessions) as session:
        return add_declaration(session, declaration)


def fail_unqueued_analysis(sessions: Sessions, network_id: int) -> None:
    """A stored network whose analysis could not be queued is marked failed, not left pending."""
    with session_scope(sessions) as session:
        set_analysis_status(session, network_id, AnalysisStatus.FAILED)
