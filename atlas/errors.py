"""The atlas' domain errors, of three kinds: not found, invalid, conflict.

Every layer raises these (or a subclass naming the concept: `UnknownTaskError`,
`JobSpecError`, `AlreadyFinishedError`, ...) and maps them in one place each: the API answers
404, 422 and 409 problems (api.problems), the command line prints the message (atlas.cli).
An error carries `slug`, a short name of what went wrong (the problem's `type`), `detail`, its
message for a person, and `extra`, further facts a client can act on (the problem's members).

No imports: every package, the science included, may raise them.
"""

from __future__ import annotations

from typing import Any


class AtlasError(Exception):
    """A domain error. `slug` defaults to the class's; pass one to name the case."""

    slug: str = "error"

    def __init__(self, *args: Any, slug: str | None = None, **extra: Any):
        super().__init__(*args)
        if slug is not None:
            self.slug = slug
        self.extra: dict[str, Any] = extra

    @property
    def detail(self) -> str:
        """What went wrong, for a person."""
        return str(self)


class NotFoundError(AtlasError, LookupError):
    """There is no such thing (a job, solution, chart, task ... by that id or name)."""

    slug = "not-found"


class InvalidError(AtlasError, ValueError):
    """A request or a file that cannot be used as it is; the message says why."""

    slug = "invalid"


class ConflictError(AtlasError):
    """A request that the thing's state refuses (finished work, a name taken)."""

    slug = "conflict"
