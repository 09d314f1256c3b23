"""Queueing work the API has just recorded, with one answer when the queue is unreachable."""

from __future__ import annotations

from collections.abc import Callable

from api.problems import unavailable
from atlas.config import Settings


def sends_work(created: bool, waiting: bool, settings: Settings) -> bool:
    """Whether a request sends its work to the queue: work it created and, with a broker,
    work an idempotent replay finds still `waiting` for a worker (queued). The first request
    may still be handing that work over, or failing to: the replay then answers the same 503
    rather than a 202 for work that will never run. A message too many is dropped by the
    worker it reaches (atlas.store.lifecycle.held_elsewhere); the embedded queue loses nothing
    and has no lease, so a replay there sends nothing."""
    return created or (waiting and not settings.embedded)


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
