"""Solution types: classes of networks of one task whose reduced graphs are isomorphic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atlas.store.models.base import Base, utcnow
from atlas.tasks import DEFAULT_VARIANT


class SolutionType(Base):
    """A type of one task variant, shared across architectures; its name is stable once given.

    A variant is the task under one parameter set (atlas.tasks.variants): `default` for the
    task's own parameters. Types of different variants never meet: each variant has its own
    table, coverage and classifier; `task_parameters` are the variant's full parameters.

    The canonical hash indexes the types but does not identify one: different graphs may share
    a hash, so a bucket can hold several types (exact isomorphism tells them apart).
    `member_count` is recounted from the networks whenever one is assigned.
    """

    __tablename__ = "solution_types"
    __table_args__ = (
        UniqueConstraint("task", "name"),
        Index(None, "task", "variant", "canonical_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.name"))
    variant: Mapped[str] = mapped_column(String(16), default=DEFAULT_VARIANT)
    task_parameters: Mapped[dict[str, Any]]
    name: Mapped[str] = mapped_column(String(64))
    canonical_hash: Mapped[str] = mapped_column(String(128))
    graph: Mapped[dict[str, Any]]
    member_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
