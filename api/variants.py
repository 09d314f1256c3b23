"""Which task variant (parameter set) a request about solution types means."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlalchemy.orm import Session

from api.deps import PRINTABLE, TaskName
from api.routes.tasks import task_argument
from atlas.store import VariantSummary, chosen_variant, type_variants

TaskQuery = TaskName
VariantQuery = Annotated[
    str | None,
    Query(
        max_length=16,
        pattern=PRINTABLE,
        description="A parameter set of the task (see `/types`' `variants`). Default: the "
        "task's own parameters where they have types, else the variant with the most typed "
        "networks.",
    ),
]


def task_variant(
    session: Session, task: str, variant: str | None
) -> tuple[str, str, list[VariantSummary]]:
    """The task's short name, the variant meant (principal_variant when none is given) and
    every variant of the task with types; 422 problem for an unknown task, NotFoundError
    (`variant-not-found`) for a variant without types (see chosen_variant)."""
    name = task_argument(task, session)
    variants = type_variants(session, name)
    return name, chosen_variant(name, variants, variant), variants
