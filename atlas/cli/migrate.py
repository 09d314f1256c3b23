"""`atlas migrate`: bring the database schema to a revision (head by default) with Alembic."""

from __future__ import annotations

import argparse

from atlas.cli import CommandError
from atlas.config import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="upgrade (or downgrade) the database schema")
    parser.add_argument(
        "--revision",
        default="head",
        help="head (default), base (drop everything) or a revision id",
    )
    parser.add_argument(
        "--database-url",
        help="database to migrate (default: ATLAS_DATABASE_URL, else the SQLite file)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from atlas.store import migrate

    url = args.database_url or get_settings().database_url
    try:
        reached = migrate(url, args.revision)
    except (ValueError, SQLAlchemyError) as exc:
        raise CommandError(str(exc).strip().splitlines()[0]) from exc
    print(f"database {url} is at revision {reached or 'base (empty)'}")
    return 0
