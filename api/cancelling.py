"""Cancelling a work item (job, two-neuron study, chart), with one answer for every kind."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from api.problems import Problem
from atlas.store import AlreadyFinishedError

CANCEL_RESPONSES: dict[int | str, dict[str, str]] = {
    404: {"description": "No such work item."},
    409: {"description": "It has finished already (`already-finished`); nothing to cancel."},
}
CANCEL_DESCRIPTION = (
    "Queued work is cancelled at once; running work reads `cancelling` until its worker "
    "stops, within one epoch (before its next minibatch), then `cancelled`. Networks finished "
    "before stay in the atlas; nothing half-trained is stored. Asking again changes nothing."
)


def cancel_or_problem(session: Session, cancel: Callable[[], object], what: str) -> None:
    """Run `cancel()` (a store cancel_* call) and commit; 404 when there is no such item,
    409 when it has finished."""
    try:
        cancel()
    except LookupError as exc:
        session.rollback()
        raise Problem(404, "not-found", f"no {what}") from exc
    except AlreadyFinishedError as exc:
        session.rollback()
        raise Problem(409, "already-finished", f"{what} {exc}", work_status=exc.status) from exc
    session.commit()
