"""What cancelling a work item (job, two-neuron study, chart) says in the API's documentation:
one answer for every kind. The store's cancel functions raise the errors (NotFoundError,
AlreadyFinishedError: 404, 409 `already-finished` with the `work_status` it finished in)."""

from __future__ import annotations

CANCEL_RESPONSES: dict[int | str, dict[str, str]] = {
    404: {"description": "No such work item."},
    409: {"description": "It has finished already (`already-finished`); nothing to cancel."},
}
CANCEL_DESCRIPTION = (
    "Queued work is cancelled at once; running work reads `cancelling` until its worker "
    "stops, within one epoch (before its next minibatch), then `cancelled`. Networks finished "
    "before stay in the atlas; nothing half-trained is stored. Asking again changes nothing."
)
