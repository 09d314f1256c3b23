"""Charts: a study over settings (architecture, units) of one task variant, trained as
population chunks (jobs) until each setting has its count of accepted networks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from atlas.store.models.base import Base, utcnow
from atlas.store.models.work import WorkColumns, work_status_check


class Chart(WorkColumns, Base):
    """The parent work item: what to chart and how far it has come.

    Setting `position` p draws its seeds from `seed + p * seed_budget` on, one range per
    setting, so no seed is used twice in a chart. A network counts as accepted when its
    validation loss is below `acceptance_loss`. The chart's result is a query over its chunks'
    networks (atlas.store.charts), never a copy of them.
    """

    __tablename__ = "charts"
    __table_args__ = (
        work_status_check(),
        CheckConstraint(
            "networks_per_setting > 0 AND seed_budget >= networks_per_setting "
            "AND chunk_size > 0 AND acceptance_loss > 0",
            name="sizes",
        ),
        Index(None, "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.name"))
    task_parameters: Mapped[dict[str, Any]]
    variant: Mapped[str] = mapped_column(String(16))
    networks_per_setting: Mapped[int]
    seed_budget: Mapped[int]
    seed: Mapped[int]
    chunk_size: Mapped[int]
    acceptance_loss: Mapped[float]
    training_config: Mapped[dict[str, Any]]
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    settings: Mapped[list[ChartSetting]] = relationship(
        back_populates="chart",
        order_by="ChartSetting.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class ChartSetting(Base):
    """One setting of a chart and how many seeds of its range have been handed to chunks."""

    __tablename__ = "chart_settings"
    __table_args__ = (
        UniqueConstraint("chart_id", "position"),
        CheckConstraint("units > 0 AND seeds_used >= 0", name="sizes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chart_id: Mapped[int] = mapped_column(ForeignKey("charts.id", ondelete="CASCADE"))
    position: Mapped[int]
    architecture: Mapped[str] = mapped_column(String(16))
    units: Mapped[int]
    seeds_used: Mapped[int] = mapped_column(default=0)

    chart: Mapped[Chart] = relationship(back_populates="settings")


class ChartChunk(Base):
    """A population chunk: the training job that trains seeds `first_seed_index ..` of a
    setting's range. One row per job, one job per range start: a chunk is never made twice.

    `trained_elsewhere`: for a chunk imported with a chart's dataset, how many networks it
    trained where it ran, when that is more than its job stores here (the dataset carries only
    the accepted ones); None when every network it trained is stored."""

    __tablename__ = "chart_chunks"
    __table_args__ = (UniqueConstraint("setting_id", "first_seed_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chart_id: Mapped[int] = mapped_column(ForeignKey("charts.id", ondelete="CASCADE"), index=True)
    setting_id: Mapped[int] = mapped_column(ForeignKey("chart_settings.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    first_seed_index: Mapped[int]
    trained_elsewhere: Mapped[int | None] = mapped_column(default=None)
