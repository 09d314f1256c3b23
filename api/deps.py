"""Request-scoped dependencies (a reading session, the app's sessionmaker for the store's
functions that own their transaction, the app's settings) and the bounded parameter types every
route shares.

Ids are bounded to the store's integer columns: a path or query integer outside them is a 422
before any query runs (SQLite cannot even bind an integer of 2^63 or more, and used to answer
500 and drop the keep-alive connection). Free text is bounded in length and refused when it
carries control characters (PostgreSQL cannot store NUL), so no input reaches the database in
a shape it cannot take.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from sqlalchemy.orm import Session, sessionmaker

from api.problems import Problem
from atlas.config import Settings
from atlas.store import reading

#: The largest id a row can have: the store's ids are 32-bit integer columns.
MAX_ID = 2**31 - 1
#: No control characters, C0, DEL or C1 (NUL and NEL included): text that every backend
#: stores and every log shows.
PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]*$"
MAX_TEXT = 255


def refuse_repeated(values: list[str], where: str) -> None:
    """422 when a parameter that takes one value came more than once: Starlette keeps one of
    them (the first header, the last query value) and silently drops the rest."""
    if len(values) > 1:
        raise Problem(
            422,
            "repeated-parameter",
            f"{where} was given {len(values)} times; give it once",
        )


def _session(request: Request) -> Iterator[Session]:
    """The request's reading session (atlas.store.reading): routes read records through it
    and write only through store functions that own their transaction."""
    with reading(request.app.state.sessions) as session:
        yield session


def _sessions(request: Request) -> sessionmaker[Session]:
    """The app's sessionmaker: for store functions that open (and close) their own session."""
    return request.app.state.sessions


def _settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(_session)]
SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
SettingsDep = Annotated[Settings, Depends(_settings)]

SolutionId = Annotated[int, Path(ge=1, le=MAX_ID, description="A solution id.")]
CheckpointId = Annotated[int, Path(ge=1, le=MAX_ID, description="A checkpoint id.")]
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="A job id.")]
TypeId = Annotated[int, Path(ge=1, le=MAX_ID, description="A solution type id.")]
AfterId = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="The last id of the previous page.")
]
PageLimit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]
TaskName = Annotated[
    str,
    Query(
        min_length=1,
        max_length=64,
        pattern=PRINTABLE,
        description="Short name, long name or alias.",
        examples=["delayed"],
    ),
]
#: Printable ASCII (0x20-0x7E): for header values, which HTTP carries as bytes that Starlette
#: decodes as latin-1, so that any other character would be stored as mojibake.
PRINTABLE_ASCII = r"^[\x20-\x7e]*$"


def _idempotency_key(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=MAX_TEXT,
            pattern=PRINTABLE_ASCII,
            description="A client-chosen unique key: retries with it create the work once. "
            f"1 to {MAX_TEXT} printable ASCII characters (space to `~`), sent once.",
        ),
    ] = None,
) -> str | None:
    refuse_repeated(request.headers.getlist("idempotency-key"), "the Idempotency-Key header")
    return idempotency_key


IdempotencyKey = Annotated[str | None, Depends(_idempotency_key)]
