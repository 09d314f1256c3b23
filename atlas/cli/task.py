"""`atlas task check FILE` and `atlas task add FILE`: declare a task without writing Python.

`check` says whether a declaration (YAML or JSON, docs/tasks.md) is valid, listing every
mistake, and needs no database; `add` checks it and stores it in the atlas as the task's next
version, after which jobs, analyses and types work on it by name.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from atlas.cli import CommandError
from atlas.config import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("task", help="check or add a task declared as data")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="check a declaration (YAML or JSON) and say why not")
    check.add_argument("file", type=Path, help="the declaration, .yaml/.yml or .json")
    check.set_defaults(func=run_check)
    add = actions.add_parser("add", help="check a declaration and store it in the atlas")
    add.add_argument("file", type=Path, help="the declaration, .yaml/.yml or .json")
    add.add_argument(
        "--database-url",
        help="atlas database (default: ATLAS_DATABASE_URL, else the SQLite file)",
    )
    add.set_defaults(func=run_add)


def read_declaration(path: Path) -> Any:
    """The declaration file as data: JSON for .json, else YAML (safe loader: plain data)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CommandError(
            f"{path} is not a text file (UTF-8 YAML or JSON): byte {exc.start} cannot be read"
        ) from exc
    is_json = path.suffix.lower() == ".json"
    try:
        return json.loads(text) if is_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise CommandError(f"{path} is not valid {'JSON' if is_json else 'YAML'}: {exc}") from exc


def checked(path: Path):
    """The checked declaration; CommandError listing every mistake otherwise."""
    from atlas.tasks import DeclarationError, load_declaration

    try:
        return load_declaration(read_declaration(path))
    except DeclarationError as exc:
        raise CommandError(
            f"{path} has {len(exc.problems)} mistake(s):\n  " + "\n  ".join(exc.problems)
        ) from exc


def run_check(args: argparse.Namespace) -> int:
    declaration = checked(args.file)
    print(json.dumps({"task": declaration.name, "valid": True}))
    return 0


def run_add(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from atlas.store import (
        SchemaOutOfDateError,
        TaskNameTaken,
        check_schema_current,
        declare_task,
        make_engine,
        session_factory,
    )

    declaration = checked(args.file)
    url = args.database_url or get_settings().database_url
    try:
        engine = make_engine(url)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    try:
        check_schema_current(engine)
        stored = declare_task(session_factory(engine), declaration)
    except TaskNameTaken as exc:
        raise CommandError(str(exc)) from exc
    except SchemaOutOfDateError as exc:
        raise CommandError(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise CommandError(f"database error: {exc.__class__.__name__}: {exc}") from exc
    finally:
        engine.dispose()
    print(json.dumps({"task": stored.task, "version": stored.version, "created": stored.created}))
    return 0
