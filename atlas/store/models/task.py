"""The tasks the atlas knows, as rows, so that networks and types can reference them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from atlas.store.models.base import Base


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
