"""Schema version: run the Alembic migrations, and refuse to serve an out-of-date database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
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


def migrate(database_url: str, revision: str = "head") -> str | None:
    """Upgrade or downgrade to `revision` (head, base or a revision id); returns where it ends.

    The direction follows from where the database is: a target below the current revision is
    a downgrade, anything else an upgrade.
    """
    config = alembic_config(database_url)
    script = ScriptDirectory.from_config(config)
    engine = make_engine(database_url)
    try:
        current = current_revision(engine)
        if revision == "base" or _is_below(script, revision, current):
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)
        return current_revision(engine)
    finally:
        engine.dispose()


def _is_below(script: ScriptDirectory, revision: str, current: str | None) -> bool:
    """True when `revision` is an ancestor of `current` (so reaching it means going down)."""
    if current is None or revision == "head":
        return False
    try:
        target = script.get_revision(revision)
    except RevisionError as exc:
        raise ValueError(f"unknown revision {revision!r}: {exc}") from exc
    if target is None:
        raise ValueError(f"unknown revision {revision!r}")
    if target.revision == current:
        return False
    return any(rev.revision == target.revision for rev in script.iterate_revisions(current, "base"))
