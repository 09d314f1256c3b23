"""The two-neuron study: a population of 2x2 weight matrices and the regime each one ends in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atlas.store.models.base import Base, utcnow
from atlas.store.models.work import WorkColumns, work_status_check
from atlas.store.work_status import WORK_STATUSES

TWO_NEURON_REGIMES = ("limit_cycle", "fixed_point", "stable_origin")
DYNAMIC_REGIMES = (*TWO_NEURON_REGIMES, "undetermined")
STUDY_STATUSES = WORK_STATUSES


class TwoNeuronStudyRow(WorkColumns, Base):
    """One study run: `count` networks (seeds `seed`, `seed + 1`, ...) trained with one config
    on one task variant, then classified. A study is created queued and run by a worker, which
    records its status, attempts and progress here (like a job); `idempotency_key` is the
    client's, so that a retried request finds the study its first try made."""

    __tablename__ = "two_neuron_studies"
    __table_args__ = (work_status_check(),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    task_parameters: Mapped[dict[str, Any]]
    training_config: Mapped[dict[str, Any]]
    count: Mapped[int]
    seed: Mapped[int] = mapped_column(default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    progress: Mapped[dict[str, Any] | None]
    code_version: Mapped[str] = mapped_column(String(64))


class TwoNeuronNetwork(Base):
    """Initial and final W (2x2 blobs), loss curve and final loss; (study, index) is unique.

    Analysis results, empty until analysed: `regime` by the eigenvalue rule on the final W,
    `dynamic_regime` from the dynamics actually run from x0 (fixed points and cycles found).
    """

    __tablename__ = "two_neuron_networks"
    __table_args__ = (
        UniqueConstraint("study_id", "index_in_study"),
        CheckConstraint(f"regime IN {TWO_NEURON_REGIMES}", name="regime"),
        CheckConstraint(f"dynamic_regime IN {DYNAMIC_REGIMES}", name="dynamic_regime"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("two_neuron_studies.id", ondelete="CASCADE"))
    index_in_study: Mapped[int]
    seed: Mapped[int]
    initial_w: Mapped[bytes]
    final_w: Mapped[bytes]
    loss: Mapped[float]
    solved: Mapped[bool]
    loss_curve: Mapped[bytes]
    regime: Mapped[str | None] = mapped_column(String(16))
    dynamic_regime: Mapped[str | None] = mapped_column(String(16))


class TwoNeuronMap(Base):
    """One regime map of a study (final regime against the initial W) as PNG bytes."""

    __tablename__ = "two_neuron_maps"
    __table_args__ = (UniqueConstraint("study_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("two_neuron_studies.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    png: Mapped[bytes]


class TwoNeuronSnapshot(Base):
    """A study's training run after a step (atlas.training.snapshot, as an .npz blob): what a
    restarted or redelivered study continues from; deleted once its networks are stored."""

    __tablename__ = "two_neuron_snapshots"

    study_id: Mapped[int] = mapped_column(
        ForeignKey("two_neuron_studies.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int]
    payload: Mapped[bytes]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
