"""What every work item (job, two-neuron study, chart) shows about its lifecycle and pace."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

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
