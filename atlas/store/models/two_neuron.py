"""The two-neuron study: a population of 2x2 weight matrices and the regime each one ends in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atlas.store.models.base import Base, utcnow

TWO_NEURON_REGIMES = ("limit_cycle", "fixed_point", "stable_origin")


class TwoNeuronStudy(Base):
    """One study run: `count` networks trained with one config on one task variant."""

    __tablename__ = "two_neuron_studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    task_parameters: Mapped[dict[str, Any]]
    training_config: Mapped[dict[str, Any]]
    count: Mapped[int]
    code_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TwoNeuronNetwork(Base):
    """Initial and final W (2x2 blobs), loss curve and final loss; (study, index) is unique.

    `regime` is an analysis result (from the final W's eigenvalues), empty until analysed.
    """

    __tablename__ = "two_neuron_networks"
    __table_args__ = (
        UniqueConstraint("study_id", "index_in_study"),
        CheckConstraint(f"regime IN {TWO_NEURON_REGIMES}", name="regime"),
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
