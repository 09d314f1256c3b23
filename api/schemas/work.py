"""What every work item (job, two-neuron study, chart) shows about its lifecycle and pace, and
the page their listings return."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Generic, Self, TypeVar

from pydantic import BaseModel, Field

from api.schemas.solutions import UtcDatetime
from atlas.store import WorkStatus

StatusField = Annotated[
    WorkStatus,
    Field(
        description="queued, running, cancelling (a cancel was asked for; the worker stops "
        "within one epoch), cancelled, succeeded, partially_succeeded (some networks failed) "
        "or failed (an error, or every network failed)."
    ),
]
Fraction = Annotated[
    float,
    Field(
        ge=0,
        le=1,
        description="Share of the work done, 0..1: networks finished, plus each network in "
        "training counted by its epochs over max_epochs (networks often finish early).",
    ),
]
Eta = Annotated[
    UtcDatetime | None,
    Field(description="When the work is expected to end at its pace so far (an upper bound)."),
]
RunSeconds = Annotated[
    float, Field(ge=0, description="Seconds the work has run, over all its attempts.")
]


Item = TypeVar("Item")
Record = TypeVar("Record")


class WorkPage(BaseModel, Generic[Item]):
    """Work items newest first; `next_after` is null on the last page."""

    items: list[Item]
    next_after: int | None = Field(description="Pass as `after` for the next page.")

    @classmethod
    def of(cls, records: Sequence[Record], limit: int, out: Callable[[Record], Item]) -> Self:
        """The page of the first `limit` records, read with one more to know whether another
        page follows (so the last page never points at an empty one)."""
        items = [out(record) for record in records[:limit]]
        more = len(records) > limit
        return cls(items=items, next_after=items[-1].id if more else None)  # type: ignore[attr-defined]
