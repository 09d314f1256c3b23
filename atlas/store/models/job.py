"""Jobs: one request to train a population, its progress and its outcome."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from atlas.store.models.base import Base, Blob, utcnow
from atlas.store.models.work import WorkColumns, work_status_check
from atlas.store.work_status import WORK_STATUSES

if TYPE_CHECKING:
    from atlas.store.models.network import Network

JOB_STATUSES = WORK_STATUSES


class Job(WorkColumns, Base):
    """A population request: `count` networks seeded `seed, seed + 1, ...` trained together.

    Progress fields are written by the worker while it trains (throttled), so that a client
    polling the job sees epochs advance and networks converge.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        work_status_check(),
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
    epoch: Mapped[int] = mapped_column(default=0)
    max_epochs: Mapped[int] = mapped_column(default=0)
    n_active: Mapped[int] = mapped_column(default=0)
    n_converged: Mapped[int] = mapped_column(default=0)
    n_failed: Mapped[int] = mapped_column(default=0)
    n_saved: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    networks: Mapped[list[Network]] = relationship(
        back_populates="job", order_by="Network.index_in_job", passive_deletes=True
    )

    def network_seed(self, index: int) -> int:
        """The seed of the job's network `index`: the same job always trains the same networks."""
        return self.seed + index


class TrainingSnapshot(Base):
    """The whole state of a job's training run at the end of an epoch (atlas.training.snapshot
    as an .npz blob): what a restarted or redelivered job continues from. One per job,
    replaced every `resume_every` epochs, deleted when the job finishes."""

    __tablename__ = "training_snapshots"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int]
    payload: Mapped[bytes] = mapped_column(Blob)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
