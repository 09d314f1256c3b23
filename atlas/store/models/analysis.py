"""What the analysis steps find per network: one table per kind of result.

Every table references its network with ON DELETE CASCADE, and a step re-run replaces its rows
(atlas.store.analysis_results), so results are never duplicated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atlas.analysis_status import RUN_STATUSES
from atlas.store.models.base import Base, utcnow

FIXED_POINT_KINDS = ("fixed", "slow")


def _network_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), index=True)


class AnalysisRun(Base):
    """The state of one analysis step on one network; (network, step) is unique.

    `skipped` marks a step that does not apply to the network (its reason in `summary`);
    `summary` holds what the step reports about its result, `duration_s` how long it computed.
    """

    __tablename__ = "analysis_runs"
    __table_args__ = (
        UniqueConstraint("network_id", "step"),
        CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    summary: Mapped[dict[str, Any] | None]
    duration_s: Mapped[float | None]


class ValidationResult(Base):
    """The validation loss recomputed from stored weights, with each trial's error."""

    __tablename__ = "validation_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), unique=True
    )
    loss: Mapped[float]
    trial_errors: Mapped[bytes]
    conditions: Mapped[bytes]


class FixedPoint(Base):
    """A fixed or slow point of the network under one constant input condition."""

    __tablename__ = "fixed_points"
    __table_args__ = (CheckConstraint(f"kind IN {FIXED_POINT_KINDS}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = _network_fk()
    condition: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[list[Any]]
    kind: Mapped[str] = mapped_column(String(8))
    q: Mapped[float]
    stable: Mapped[bool]
    state: Mapped[bytes]
    output: Mapped[bytes]
    jacobian: Mapped[bytes]
    eigenvalues: Mapped[bytes]


class LimitCycleRow(Base):
    """A periodic orbit found by a long autonomous run under one input condition.

    `period` in steps (interpolated: a discrete map's oscillation need not repeat exactly),
    one period of states and outputs (npy blobs), the orbit's diameter and its closing error.
    """

    __tablename__ = "limit_cycles"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = _network_fk()
    condition: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[list[Any]]
    period: Mapped[float]
    diameter: Mapped[float]
    closing_error: Mapped[float]
    states: Mapped[bytes]
    outputs: Mapped[bytes]


class ExtrapolationSignature(Base):
    """Behaviour beyond the training range on one probe: arrays (npz) and a JSON summary."""

    __tablename__ = "extrapolation_signatures"
    __table_args__ = (UniqueConstraint("network_id", "probe"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    probe: Mapped[str] = mapped_column(String(64))
    arrays: Mapped[bytes]
    summary: Mapped[dict[str, Any]]


class ReducedGraphRow(Base):
    """The reduced-dynamics graph, compact and full, as node-link JSON, with its canonical hash."""

    __tablename__ = "reduced_graphs"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), unique=True
    )
    compact: Mapped[dict[str, Any]]
    full: Mapped[dict[str, Any]]
    canonical_hash: Mapped[str] = mapped_column(String(128), index=True)
    n_nodes: Mapped[int]
    n_edges: Mapped[int]


class Features(Base):
    """Neural-activity features of a network: names (JSON) and values (float64 blob)."""

    __tablename__ = "features"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), unique=True
    )
    names: Mapped[list[Any]]
    values: Mapped[bytes]
