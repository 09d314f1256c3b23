"""The explorer's route class: problems raised while building a page are shown as pages."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.problems import domain_problem
from api.web.templating import render
from atlas.errors import AtlasError


class PageRoute(APIRoute):
    """A route answering HTML errors: a problem or domain error a page's data raises (an
    unknown id, a bad filter) is shown as a page with the same status, not as problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                detail = "; ".join(
                    f"{'.'.join(map(str, e.get('loc', ())[1:]))}: {e.get('msg', '')}"
                    for e in exc.errors()
                )
                return error_page(request, 422, detail or "invalid request")
            except StarletteHTTPException as exc:
                return error_page(request, exc.status_code, str(exc.detail))
            except AtlasError as exc:
                problem = domain_problem(exc)
                return error_page(request, problem.status, problem.detail)

        return page_handler


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status, status=status, detail=detail)


def page_router() -> APIRouter:
    """A router of pages: HTML errors, and out of the OpenAPI schema (it documents the API)."""
    return APIRouter(route_class=PageRoute, include_in_schema=False)
