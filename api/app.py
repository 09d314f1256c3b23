"""The FastAPI application: routers per resource, problem+json errors, a body-size limit.

`create_app(settings)` builds it; the lifespan opens the database and refuses to start when the
schema is not at the code's migration head (the error says to run `atlas migrate`).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from threadpoolctl import threadpool_limits

import atlas
from api.body_limit import BodyLimitMiddleware
from api.cursor import CursorSigner
from api.head import HeadAsGetMiddleware
from api.problems import document_problems, install_problem_handlers
from api.routes import (
    analyses,
    charts,
    classify,
    compare,
    datasets,
    health,
    imports,
    jobs,
    plots,
    solutions,
    tasks,
    two_neuron,
    types,
)
from api.web import install_web
from atlas.config import Settings, get_settings
from atlas.store import check_schema_current, make_engine, session_factory
from worker import dispatch

MAX_BODY_BYTES = 17 * 1024 * 1024  # the largest import (16 MiB) plus its multipart framing

DESCRIPTION = """
A queryable atlas of the solutions recurrent networks find for neuroscience tasks.

* **Reads are public.** Writes (`POST`) need the server's API key in `X-API-Key` or
  `Authorization: Bearer`.
* **Errors** are RFC 9457 problem details (`application/problem+json`).
* **Listings** page by opaque cursors: follow `next_cursor` with the same filters.
"""


def _cursor_secret(settings: Settings) -> bytes:
    """A signing key stable across restarts and replicas sharing the configuration."""
    material = f"atlas-cursor\0{settings.api_key or ''}\0{settings.database_url}"
    return hashlib.sha256(material.encode()).digest()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the database (refusing an old schema); in the embedded mode also run the jobs an
    earlier process left unfinished, and stop the job thread on the way out.

    BLAS runs on one thread while the app serves: a request's products are small (states of a
    few thousand rows), and the threads BLAS keeps spinning beside the request threads cost
    up to 2-3x the CPU (a 20-network /compare/matrix: 3.4 -> 1.9 s of CPU idle, 5.3 -> 2.3
    s on a busy machine)."""
    settings: Settings = app.state.settings
    engine = make_engine(settings.database_url)
    try:
        check_schema_current(engine)
        app.state.sessions = session_factory(engine)
        dispatch.resume_unfinished(settings)
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        if settings.embedded:
            dispatch.shutdown(wait=True)
        engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="RNN Solution Atlas",
        version=atlas.__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        docs_url=None,  # /docs and /redoc come from local assets (api.web)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.cursor_signer = CursorSigner(_cursor_secret(settings))
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(HeadAsGetMiddleware)
    routers = (health, tasks, imports, datasets, solutions, jobs)
    analysis_routers = (analyses, plots, types, compare, classify, two_neuron, charts)
    for module in (*routers, *analysis_routers):
        app.include_router(module.router)
    install_web(app)
    document_problems(app)
    return app
