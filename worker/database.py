"""The settings and database sessions task code runs with.

Celery processes use the process' Settings (environment). The embedded runner binds the
serving app's Settings for the duration of a task (`bound_to`), so that an API built with its
own Settings has its jobs written to its own database. Engines are made on first use, per
process and URL, so a Celery pool process opens its own connections after the fork.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from atlas.config import Settings, get_settings
from atlas.store import make_engine, session_factory, session_scope

_bound: ContextVar[Settings | None] = ContextVar("atlas_worker_settings", default=None)


def current_settings() -> Settings:
    return _bound.get() or get_settings()


@contextmanager
def bound_to(settings: Settings) -> Iterator[None]:
    token = _bound.set(settings)
    try:
        yield
    finally:
        _bound.reset(token)


@lru_cache(maxsize=4)
def _factory(database_url: str) -> sessionmaker[Session]:
    return session_factory(make_engine(database_url))


def transaction() -> AbstractContextManager[Session]:
    """A session on the current database that commits at the end of the block."""
    return session_scope(_factory(current_settings().database_url))
