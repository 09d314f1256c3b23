"""Wiring the explorer into the app: page routers, static files, local API docs."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.web import pages_charts, pages_overview, pages_solutions, pages_work
from api.web.templating import HERE

STATIC = "/static"
DOCS_ASSETS = "/static/docs"
REDOC_JS = "/static/redoc/redoc.standalone.js"
REDOC_REMOTE_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def docs_assets() -> Path:
    """The folder of Swagger UI's and ReDoc's bundles shipped by `fastapi-offline`."""
    return Path(str(files("fastapi_offline") / "static"))


@lru_cache(maxsize=1)
def redoc_bundle() -> bytes:
    """ReDoc's bundle with the one remote URL it loads by itself (the attribution logo in its
    sidebar) pointed at a local image, so that /redoc makes no request to another host."""
    bundle = (docs_assets() / "redoc.standalone.js").read_bytes()
    return bundle.replace(REDOC_REMOTE_LOGO, f"{STATIC}/favicon.svg".encode())


def install_docs(app: FastAPI) -> None:
    """/docs and /redoc from local assets (the app is built with docs_url=None)."""

    @app.get(REDOC_JS, include_in_schema=False)
    def redoc_js() -> Response:
        return Response(redoc_bundle(), media_type="text/javascript")

    app.mount(DOCS_ASSETS, StaticFiles(directory=docs_assets()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API reference",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=f"{STATIC}/favicon.svg",
            with_google_fonts=False,
        )


def install_web(app: FastAPI) -> None:
    """The explorer's pages, its static files and the local API docs."""
    install_docs(app)  # before /static: its mount would take /static/docs otherwise
    app.mount(STATIC, StaticFiles(directory=HERE / "static"), name="static")
    for module in (pages_overview, pages_solutions, pages_work, pages_charts):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/atlas", status_code=307)
