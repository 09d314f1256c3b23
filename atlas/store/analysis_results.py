"""Writing analysis results. Each save replaces the network's earlier rows of that kind, which
is what makes a re-run analysis step idempotent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import delete
from sqlalchemy.orm import Session

from atlas.store.arrays import arrays_to_blob, to_blob
from atlas.store.models import ValidationResult

Row = TypeVar("Row", bound=Any)


def replace_rows(
    session: Session, model: type[Row], network_id: int, rows: Sequence[Row]
) -> list[Row]:
    """Delete the network's rows of `model`, then add `rows` (their network_id is set here)."""
    session.execute(delete(model).where(model.network_id == network_id))
    for row in rows:
        row.network_id = network_id
        session.add(row)
    session.flush()
    return list(rows)


def save_validation_result(
    session: Session,
    network_id: int,
    loss: float,
    trial_errors: np.ndarray,
    conditions: Mapping[str, np.ndarray],
) -> ValidationResult:
    """The validation loss recomputed from stored weights, with each trial's error and the
    trial conditions (f1, delay, ts, ...) that let a client see which trials go wrong."""
    (row,) = replace_rows(
        session,
        ValidationResult,
        network_id,
        [
            ValidationResult(
                loss=float(loss),
                trial_errors=to_blob(np.asarray(trial_errors)),
                conditions=arrays_to_blob(conditions),
            )
        ],
    )
    return row
