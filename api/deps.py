"""Request-scoped dependencies: a database session and the app's settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from atlas.config import Settings


def _session(request: Request) -> Iterator[Session]:
    """A session for one request, closed after it; writes commit explicitly."""
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.close()


def _settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(_session)]
SettingsDep = Annotated[Settings, Depends(_settings)]
