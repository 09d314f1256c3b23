"""Training snapshots: the one blob per job a restarted or redelivered job continues from
(atlas.training.snapshot makes and reads the arrays; this module only stores them)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sqlalchemy import delete
from sqlalchemy.orm import Session

from atlas.store.arrays import arrays_from_blob, arrays_to_blob
from atlas.store.models.base import utcnow
from atlas.store.models.job import TrainingSnapshot


def save_training_snapshot(
    session: Session, job_id: int, epoch: int, arrays: Mapping[str, np.ndarray]
) -> int:
    """Keep `arrays` as job `job_id`'s snapshot after `epoch`, replacing the one before;
    returns its size in bytes."""
    payload = arrays_to_blob(arrays)
    row = session.get(TrainingSnapshot, job_id)
    if row is None:
        session.add(TrainingSnapshot(job_id=job_id, epoch=epoch, payload=payload))
    else:
        row.epoch, row.payload, row.updated_at = epoch, payload, utcnow()
    session.flush()
    return len(payload)


def training_snapshot(session: Session, job_id: int) -> tuple[int, dict[str, np.ndarray]] | None:
    """The job's last snapshot as (epoch, arrays), or None when it has none."""
    row = session.get(TrainingSnapshot, job_id)
    if row is None:
        return None
    return row.epoch, arrays_from_blob(row.payload)


def delete_training_snapshot(session: Session, job_id: int) -> None:
    """Forget the job's snapshot (it has finished: nothing will continue from it)."""
    session.execute(delete(TrainingSnapshot).where(TrainingSnapshot.job_id == job_id))
