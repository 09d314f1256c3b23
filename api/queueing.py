"""Queueing work the API has just recorded, with one answer when the queue is unreachable."""

from __future__ import annotations

from collections.abc import Callable

from api.problems import unavailable


def enqueue_or_503(
    enqueue: Callable[[], None],
    record_failure: Callable[[str], None],
    what: str,
    **links: str,
) -> None:
    """Run `enqueue()` for work already committed. When the broker is unreachable, say so
    rather than leave work nobody will do: `record_failure(reason)` notes it in the atlas (in a
    transaction of its own), and the client gets a 503 problem carrying `links` to the
    recorded work, and a `Retry-After`."""
    try:
        enqueue()
    except Exception as exc:  # any broker or connection error
        reason = f"could not be queued: {exc}"
        record_failure(reason)
        raise unavailable(
            "queue-unavailable", f"{what} {reason} (recorded as failed)", **links
        ) from exc
