"""Networks (the atlas' solutions) and their weight checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from atlas.analysis_status import ANALYSIS_STATUSES, AnalysisStatus
from atlas.network_status import STATUSES
from atlas.store.models.base import Base, utcnow

if TYPE_CHECKING:
    from atlas.store.models.job import Job
    from atlas.store.models.solution_type import SolutionType

NETWORK_SOURCES = ("trained", "imported")
NETWORK_STATUSES = STATUSES  # atlas.training.NetworkStatus
CHECKPOINT_KINDS = ("initial", "intermediate", "final")


class Network(Base):
    """One trained or imported network: what it was trained on, how training went, its type.

    Losses: `best_loss` is the best epoch loss (TrainingConfig.epoch_loss), `final_loss` the
    epoch loss of the last epoch, `validation_loss` the validation-set MSE of the stored final
    weights.

    A trained network is identified by (job_id, index_in_job); the unique constraint makes
    saving it again (a redelivered job) a no-op instead of a duplicate. An imported network is
    identified by its `content_key` (atlas.datasets.network_key: task, parameters,
    architecture and final weights), which makes importing the same weights again return it;
    trained networks have none. The key is indexed, not unique: imports look it up under the
    task's lock, and an atlas migrated from before keys may hold duplicates imported then.
    """

    __tablename__ = "networks"
    __table_args__ = (
        UniqueConstraint("job_id", "index_in_job"),
        CheckConstraint(f"source IN {NETWORK_SOURCES}", name="source"),
        CheckConstraint(f"status IN {NETWORK_STATUSES}", name="status"),
        CheckConstraint(f"analysis_status IN {ANALYSIS_STATUSES}", name="analysis_status"),
        # The API's listings: filters on task, architecture, units; keyset order on id or loss.
        Index(None, "task", "id"),
        Index(None, "task", "architecture", "id"),
        Index(None, "task", "architecture", "units", "id"),
        Index(None, "task", "validation_loss", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.name"))
    task_parameters: Mapped[dict[str, Any]]
    architecture: Mapped[str] = mapped_column(String(16))
    units: Mapped[int]
    n_inputs: Mapped[int]
    n_outputs: Mapped[int]
    source: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(255))
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    index_in_job: Mapped[int | None]
    seed: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16))
    epochs: Mapped[int | None]
    steps: Mapped[int | None]
    best_loss: Mapped[float | None]
    final_loss: Mapped[float | None]
    validation_loss: Mapped[float | None]
    loss_curve: Mapped[bytes | None]
    code_version: Mapped[str] = mapped_column(String(64))
    analysis_status: Mapped[str] = mapped_column(String(16), default=AnalysisStatus.PENDING.value)
    solution_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("solution_types.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_key: Mapped[str | None] = mapped_column(String(64), index=True)

    job: Mapped[Job | None] = relationship(back_populates="networks")
    solution_type: Mapped[SolutionType | None] = relationship()
    checkpoints: Mapped[list[CheckpointRow]] = relationship(
        back_populates="network",
        order_by="(CheckpointRow.epoch, CheckpointRow.id)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class CheckpointRow(Base):
    """A network's weights at one epoch (state dict as an npz blob, see atlas.store.arrays)."""

    __tablename__ = "checkpoints"
    __table_args__ = (
        UniqueConstraint("network_id", "kind", "epoch"),
        CheckConstraint(f"kind IN {CHECKPOINT_KINDS}", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    epoch: Mapped[int]
    loss: Mapped[float | None]
    weights: Mapped[bytes]

    network: Mapped[Network] = relationship(back_populates="checkpoints")
