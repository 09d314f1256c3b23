"""The atlas database for commands that read or write it: one session, or the sessionmaker, schema
checked."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from atlas.cli import CommandError
from atlas.config import get_settings

SQLITE_PREFIX = "sqlite:///"

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


@contextmanager
def atlas_sessions(url: str | None) -> Iterator[sessionmaker[Session]]:
    """Sessions on the atlas database (its schema current), for the store's functions that own
    their transaction; database problems become CommandErrors."""
    from sqlalchemy.exc import SQLAlchemyError

    from atlas.store import (
        SchemaOutOfDateError,
        check_schema_current,
        make_engine,
        session_factory,
    )

    url = url or get_settings().database_url
    missing = sqlite_file_missing(url)
    if missing is not None:
        raise CommandError(
            f"no atlas database at {missing} (set ATLAS_DATA_DIR or ATLAS_DATABASE_URL, or "
            "create it with `atlas migrate`)"
        )
    print(f"atlas database: {url}", file=sys.stderr)
    try:
        engine = make_engine(url)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    try:
        check_schema_current(engine)
        yield session_factory(engine)
    except SchemaOutOfDateError as exc:
        raise CommandError(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise CommandError(f"database {url}: {str(exc).strip().splitlines()[0]}") from exc
    finally:
        engine.dispose()


@contextmanager
def atlas_session(url: str | None) -> Iterator[Session]:
    """A session on the atlas database (its schema current) that commits at the end; database
    problems become CommandErrors."""
    from atlas.store import session_scope

    with atlas_sessions(url) as sessions, session_scope(sessions) as session:
        yield session


def sqlite_file_missing(url: str) -> Path | None:
    """The SQLite file `url` names when it does not exist (connecting would create it)."""
    if not url.startswith(SQLITE_PREFIX) or url == SQLITE_PREFIX + ":memory:":
        return None
    path = Path(url.removeprefix(SQLITE_PREFIX).split("?", 1)[0])
    return None if path.exists() else path
