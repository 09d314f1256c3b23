"""Schema version: run the Alembic migrations, and refuse to serve an out-of-date database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Engine

from atlas.store.database import make_engine

ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = ROOT / "alembic.ini"


class SchemaOutOfDateError(RuntimeError):
    """The database is not at the code's migration head; the message says what to run."""


def alembic_config(database_url: str) -> Config:
    """The project's Alembic config aimed at `database_url`, leaving the caller's logging alone."""
    if not ALEMBIC_INI.is_file():
        raise FileNotFoundError(f"{ALEMBIC_INI} not found: migrations ship with the source tree")
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads {heads}; merge them")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database Alembic has never touched."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema_current(engine: Engine) -> None:
    """Raise SchemaOutOfDateError unless the database is at the head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDateError(
            f"database schema is at {current or 'nothing (empty database)'}, code needs {head}; "
            "run `atlas migrate`"
        )


def check_database_current(database_url: str) -> None:
    """check_schema_current on a short-lived engine: for processes checking once at start."""
    engine = make_engine(database_url)
    try:
        check_schema_current(engine)
    finally:
        engine.dispose()


def migrate(database_url: str, revision: str = "head") -> str | None:
    """Upgrade or downgrade to `revision` (head, base or a revision id); returns where it ends.

    The direction follows from where the database is: a target below the current revision is
    a downgrade, anything else an upgrade. An unknown revision is a ValueError.
    """
    config = alembic_config(database_url)
    script = ScriptDirectory.from_config(config)
    target = _resolve(script, revision)
    engine = make_engine(database_url)
    try:
        current = current_revision(engine)
        below = (
            current is not None
            and target != current
            and (
                target is None
                or any(rev.revision == target for rev in script.iterate_revisions(current, "base"))
            )
        )
        if below:
            command.downgrade(config, target or "base")
        else:
            command.upgrade(config, target or "base")
        return current_revision(engine)
    finally:
        engine.dispose()


def _resolve(script: ScriptDirectory, revision: str) -> str | None:
    """The full revision id `revision` names (None for base)."""
    if revision == "base":
        return None
    if revision == "head":
        return head_revision()
    try:
        found = script.get_revision(revision)
    except (RevisionError, CommandError) as exc:
        raise ValueError(f"unknown revision {revision!r}: {exc}") from exc
    if found is None:
        raise ValueError(f"unknown revision {revision!r}")
    return found.revision
