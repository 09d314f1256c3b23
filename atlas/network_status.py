"""How a network's training ended: the one definition of the network statuses.

The trainer decides it (atlas.training); the store's CHECK constraint, the API's enum and the
CLI's choices derive from this one definition. A top-level module free of torch, so that the
CLI offers the choices without loading the science (any module inside atlas.training would
load the trainer first).
"""

from __future__ import annotations

from enum import StrEnum


class NetworkStatus(StrEnum):
    CONVERGED = "converged"
    FAILED = "failed"
    UNFINISHED = "unfinished"


STATUSES = tuple(status.value for status in NetworkStatus)
