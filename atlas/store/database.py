"""Engines and sessions. SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL psycopg2.

SQLite is the embedded default, shared by the API's threads and the in-process worker thread:
WAL lets readers proceed during a write and the busy timeout makes a second writer wait
instead of failing with "database is locked".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from atlas.errors import NotFoundError

SQLITE_BUSY_TIMEOUT_MS = 30_000
Row = TypeVar("Row")


def _sqlite_connect(dbapi_connection, _record) -> None:
    """Pragmas per connection; the driver's own transaction handling is switched off (below)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


READING = "atlas_reading"  # the execution option of a reading session's connections


def _sqlite_begin(connection) -> None:
    """BEGIN IMMEDIATE: take the write lock up front, so that a transaction which reads and
    then writes waits (busy timeout) for another writer instead of failing when it upgrades.
    A reading session's transaction never writes: a plain BEGIN reads its WAL snapshot while
    a writer works, instead of queueing behind it. Emitting BEGIN ourselves also makes
    SAVEPOINTs behave (the pysqlite driver's own transaction handling gets them wrong)."""
    reading_only = connection.get_execution_options().get(READING, False)
    connection.exec_driver_sql("BEGIN" if reading_only else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for an `sqlite:///path` or `postgresql+psycopg2://...` URL.

    The folder of an SQLite file is created if missing, so the default data folder just works.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        engine = create_engine(parsed, connect_args=connect_args)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (results are returned to callers)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class ReadOnlySessionError(RuntimeError):
    """A write through a reading session: a bug in the caller, which must write through a
    store function that owns its transaction."""


class ReadingSession(Session):
    """A session whose flushes refuse any change (the listener below holds for every one)."""


@event.listens_for(ReadingSession, "before_flush")
def _refuse_writes(session: Session, _context, _instances) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlySessionError("a reading session does not write; use a store writer")


def _reading_bind(engine: Engine) -> Engine:
    """`engine` with the options of a reading transaction: on SQLite a deferred BEGIN (above),
    on PostgreSQL a READ ONLY transaction, so that the database itself refuses a write. (A
    view of the engine sharing its pool; making one takes about 8 us.)"""
    options = {READING: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return engine.execution_options(**options)


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for the store's readers (they return records), configured as `factory`'s
    sessions: it never waits for a writer, its transaction is rolled back at the end, and a
    flush of any change raises ReadOnlySessionError."""
    session = ReadingSession(**{**factory.kw, "bind": _reading_bind(factory.kw["bind"])})
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def get_or_raise(
    session: Session, model: type[Row], key: int, what: str, slug: str, **options: Any
) -> Row:
    """The row of `model` whose id is `key` (`options` go to Session.get); NotFoundError
    `no {what} with id {key}` (the problem type `slug`) when there is none."""
    row = session.get(model, key, **options)
    if row is None:
        raise NotFoundError(f"no {what} with id {key}", slug=slug)
    return row
