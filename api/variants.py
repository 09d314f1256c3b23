"""Which task variant (parameter set) a request about solution types means."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlalchemy.orm import Session

from api.deps import PRINTABLE, TaskName
from api.problems import Problem
from api.routes.tasks import task_argument
from atlas.store import VariantSummary, principal_variant, type_variants
from atlas.tasks import DEFAULT_VARIANT

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
    every variant of the task with types; 422 problem for an unknown task, 404 for a variant
    without types (the default always answers, with no types)."""
    name = task_argument(task, session)
    variants = type_variants(session, name)
    if variant is None:
        variant = principal_variant(variants)
    if variant != DEFAULT_VARIANT and variant not in {v.variant for v in variants}:
        raise Problem(
            404,
            "variant-not-found",
            f"task {name!r} has no types under variant {variant!r}",
            variants=[v.variant for v in variants],
        )
    return name, variant, variants
