"""`atlas types --task T`: the solution types of a task in the atlas, largest first, with each
type's members, share, counts by architecture and size, and the task's coverage."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from atlas.cli import CommandError
from atlas.config import get_settings

if TYPE_CHECKING:
    from atlas.store import TypeTable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("types", help="print the solution types of a task in the atlas")
    parser.add_argument("--task", required=True, help="task name (delayed, interval, ...)")
    parser.add_argument(
        "--database-url",
        help="atlas database (default: ATLAS_DATABASE_URL, else the SQLite file)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from atlas.store import (
        SchemaOutOfDateError,
        check_schema_current,
        make_engine,
        session_factory,
        session_scope,
        type_table,
    )
    from atlas.tasks import UnknownTaskError, canonical_name

    try:
        task = canonical_name(args.task)
    except UnknownTaskError as exc:
        raise CommandError(str(exc)) from exc
    url = args.database_url or get_settings().database_url
    try:
        engine = make_engine(url)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    try:
        check_schema_current(engine)
        with session_scope(session_factory(engine)) as session:
            table = type_table(session, task)
    except SchemaOutOfDateError as exc:
        raise CommandError(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise CommandError(f"cannot read {url}: {str(exc).strip().splitlines()[0]}") from exc
    finally:
        engine.dispose()
    print("\n".join(format_table(table)))
    return 0


def format_table(table: TypeTable) -> list[str]:
    """The type table as lines of text: one row per type, then the coverage line."""
    if not table.types:
        return [f"no solution types for task {table.task!r} yet"]
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
        f"{table.networks} typed networks of {table.task!r} in {len(table.types)} types; "
        f"coverage {table.coverage:.1%} ({kept} types holding >= {table.threshold:.1%})"
    )
    return lines
