"""`atlas types --task T [--variant V]`: the solution types of a task variant in the atlas,
largest first, with each type's members, share, counts by architecture and size, and the
coverage; then the task's other variants (parameter sets) that have types."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from atlas.cli import CommandError
from atlas.cli.database import atlas_session
from atlas.errors import NotFoundError

if TYPE_CHECKING:
    from atlas.store import TypeTable, VariantSummary


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("types", help="print the solution types of a task in the atlas")
    parser.add_argument(
        "--task", required=True, help="task name or alias (delayed, ..., or a user's task)"
    )
    parser.add_argument(
        "--variant",
        help="parameter set of the task (default: its own parameters where they have types, "
        "else the variant with the most typed networks; the others are listed)",
    )
    parser.add_argument(
        "--database-url",
        help="atlas database (default: ATLAS_DATABASE_URL, else the SQLite file)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from atlas.store import chosen_variant, task_name, type_table, type_variants
    from atlas.tasks import UnknownTaskError

    with atlas_session(args.database_url) as session:
        try:  # a built-in task, or a user's stored in this atlas
            task = task_name(session, args.task)
        except UnknownTaskError as exc:
            raise CommandError(str(exc)) from exc
        variants = type_variants(session, task)
        try:  # as the API's 404 `variant-not-found`
            variant = chosen_variant(task, variants, args.variant)
        except NotFoundError as exc:
            known = ", ".join(exc.extra["variants"]) or "none"
            raise CommandError(f"{exc}; variants with types: {known}") from exc
        table = type_table(session, task, variant)
    print("\n".join(format_table(table) + format_variants(variants, table.variant)))
    return 0


def format_table(table: TypeTable) -> list[str]:
    """The type table as lines of text: one row per type, then the coverage line."""
    if not table.types:
        return [f"no solution types for task {table.task!r} (variant {table.variant}) yet"]
    name_width = max(len("type"), *(len(t.name) for t in table.types))
    lines = [f"{'type':<{name_width}}  {'members':>7}  {'share':>6}  by architecture (units: n)"]
    for t in table.types:
        counts = "; ".join(
            f"{arch} ({', '.join(f'{u}: {n}' for u, n in per_units.items())})"
            for arch, per_units in t.by_architecture_units.items()
        )
        lines.append(f"{t.name:<{name_width}}  {t.member_count:>7}  {t.share:>6.1%}  {counts}")
    kept = sum(t.share >= table.threshold for t in table.types)
    lines.append(
        f"{table.networks} typed networks of {table.task!r} (variant {table.variant}) in "
        f"{len(table.types)} types; "
        f"coverage {table.coverage:.1%} ({kept} types holding >= {table.threshold:.1%})"
    )
    return lines


def format_variants(variants: list[VariantSummary], shown: str) -> list[str]:
    """One line per other variant of the task: key, types, networks, parameters."""
    others = [v for v in variants if v.variant != shown]
    if not others:
        return []
    lines = ["other variants (--variant):"]
    for v in others:
        lines.append(f"  {v.variant}: {v.types} types, {v.networks} networks, {v.task_parameters}")
    return lines
