"""The tasks the atlas knows, as rows, so that networks and types can reference them; and the
versions of the tasks users declared."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atlas.store.models.base import Base, utcnow


class TaskRecord(Base):
    """A task declaration (atlas.tasks) as it was when first used: name and default parameters.

    Each network keeps its own task parameters, so overriding them never rewrites this row.
    """

    __tablename__ = "tasks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    long_name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]]


class TaskDeclarationRow(Base):
    """One version of a task a user declared (atlas.tasks.TaskDeclaration as JSON).

    Versions are never changed or removed: networks record the version they were trained on
    (their task parameter `version`), so their trials can always be made again.
    """

    __tablename__ = "task_declarations"
    __table_args__ = (
        UniqueConstraint("task", "version"),
        CheckConstraint("version > 0", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.name"))
    version: Mapped[int]
    declaration: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
