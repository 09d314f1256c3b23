"""Training snapshots: the one blob per job or two-neuron study that a restarted or
redelivered run continues from (atlas.training.snapshot makes and reads the arrays; this
module only stores them as an .npz, read back without pickle). `kind` is "job" (keyed by the
job, stamped with an epoch) or "study" (keyed by the study, stamped with a step)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from sqlalchemy import delete
from sqlalchemy.orm import Session

from atlas.store.arrays import arrays_from_blob, arrays_to_blob
from atlas.store.models.base import utcnow
from atlas.store.models.job import TrainingSnapshot
from atlas.store.models.two_neuron import TwoNeuronSnapshot

Kind = Literal["job", "study"]
Snapshot = tuple[int, dict[str, np.ndarray]]
# The table of each kind, its key column and the column saying how far the run had got.
_TABLES: dict[str, tuple[Any, str, str]] = {
    "job": (TrainingSnapshot, "job_id", "epoch"),
    "study": (TwoNeuronSnapshot, "study_id", "step"),
}


def save_snapshot(
    session: Session, kind: Kind, work_id: int, at: int, arrays: Mapping[str, np.ndarray]
) -> int:
    """Keep `arrays` as the snapshot of work `work_id` after epoch or step `at`, replacing
    the one before; returns its size in bytes."""
    model, key, stamp = _TABLES[kind]
    payload = arrays_to_blob(arrays)
    row = session.get(model, work_id)
    if row is None:
        session.add(model(**{key: work_id, stamp: at}, payload=payload))
    else:
        setattr(row, stamp, at)
        row.payload, row.updated_at = payload, utcnow()
    session.flush()
    return len(payload)


def load_snapshot(session: Session, kind: Kind, work_id: int) -> Snapshot | None:
    """The last snapshot as (epoch or step, arrays), or None when there is none."""
    model, _, stamp = _TABLES[kind]
    row = session.get(model, work_id)
    return None if row is None else (getattr(row, stamp), arrays_from_blob(row.payload))


def delete_snapshot(session: Session, kind: Kind, work_id: int) -> None:
    """Forget the snapshot (the work has finished: nothing will continue from it)."""
    model, key, _ = _TABLES[kind]
    session.execute(delete(model).where(getattr(model, key) == work_id))


def save_training_snapshot(
    session: Session, job_id: int, epoch: int, arrays: Mapping[str, np.ndarray]
) -> int:
    return save_snapshot(session, "job", job_id, epoch, arrays)


def training_snapshot(session: Session, job_id: int) -> Snapshot | None:
    return load_snapshot(session, "job", job_id)


def delete_training_snapshot(session: Session, job_id: int) -> None:
    delete_snapshot(session, "job", job_id)
