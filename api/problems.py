"""RFC 9457 problem details: every error the API returns is `application/problem+json`.

Routes raise `Problem`; the handlers installed by `install_problem_handlers` turn it, FastAPI's
validation errors, Starlette's HTTP errors and anything unexpected into the same shape, so a
client needs one error parser.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://rnn-atlas.dev/problems/"
log = logging.getLogger(__name__)


class Problem(StarletteHTTPException):
    """An error to report to the client: status, a short slug for `type`, and a detail.

    An HTTPException subclass so that FastAPI lets it through body parsing untouched.
    """

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ):
        super().__init__(status, detail, headers)
        self.status = status
        self.slug = slug
        self.title = title or HTTPStatus(status).phrase
        self.extensions = extensions


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    body = {
        "type": PROBLEM_TYPE_BASE + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
        **problem.extensions,
    }
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _validation_problem(exc: RequestValidationError) -> Problem:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return Problem(400, "malformed-json", "the request body is not valid JSON", errors=errors)
    summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    return Problem(422, "validation-error", summary or "invalid request", errors=errors)


def _http_problem(exc: StarletteHTTPException) -> Problem:
    slug = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return Problem(exc.status_code, slug, detail, headers=getattr(exc, "headers", None))


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc)

    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(request, _validation_problem(exc))

    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(request, _http_problem(exc))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem(500, "internal-error", "an unexpected error occurred; see the server log")
        return problem_response(request, problem)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
