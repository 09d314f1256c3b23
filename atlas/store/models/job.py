"""Jobs: one request to train a population, its progress and its outcome."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from atlas.store.models.base import Base, utcnow

if TYPE_CHECKING:
    from atlas.store.models.network import Network

JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class Job(Base):
    """A population request: `count` networks seeded `seed, seed + 1, ...` trained together.

    Progress fields are written by the worker while it trains (throttled), so that a client
    polling the job sees epochs advance and networks converge.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"status IN {JOB_STATUSES}", name="status"),
        CheckConstraint("units > 0 AND count > 0", name="sizes"),
        Index(None, "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.name"))
    task_parameters: Mapped[dict[str, Any]]
    architecture: Mapped[str] = mapped_column(String(16))
    units: Mapped[int]
    count: Mapped[int]
    seed: Mapped[int]
    training_config: Mapped[dict[str, Any]]
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    epoch: Mapped[int] = mapped_column(default=0)
    max_epochs: Mapped[int] = mapped_column(default=0)
    n_active: Mapped[int] = mapped_column(default=0)
    n_converged: Mapped[int] = mapped_column(default=0)
    n_failed: Mapped[int] = mapped_column(default=0)
    n_saved: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    networks: Mapped[list[Network]] = relationship(
        back_populates="job", order_by="Network.index_in_job", passive_deletes=True
    )

    def network_seed(self, index: int) -> int:
        """The seed of the job's network `index`: the same job always trains the same networks."""
        return self.seed + index
