"""Databases for tests: a fresh PostgreSQL database per use (dropped after), an SQLite file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import POSTGRES_URL
from sqlalchemy import create_engine, text

# The backends a store-level test runs on: `-m "not postgresql"` leaves PostgreSQL out.
BACKENDS = [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgresql)]


@contextmanager
def postgres_database(prefix: str = "atlas_test") -> Iterator[str]:
    """Create `<prefix>_<random>` on the test server, yield its URL, drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{POSTGRES_URL}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"{POSTGRES_URL}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'atlas.db'}"


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """A fresh, empty database URL of `backend` ("sqlite" or "postgresql")."""
    if backend == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield sqlite_url(folder)
