"""RFC 9457 problem details: every error the API returns is `application/problem+json`.

Routes raise `Problem` for what is wrong with the HTTP request itself (a key, a body, a
parameter's form); the domain's errors (atlas.errors: not found, invalid, conflict) pass
through routes untouched and are answered here, in one place: 404, 422 and 409, their `slug`
the problem's type. The handlers installed by `install_problem_handlers` turn these, FastAPI's
validation errors, Starlette's HTTP errors and anything unexpected into the same shape, so a
client needs one error parser. `document_problems` makes the OpenAPI say so: every error
response of every operation is `application/problem+json` with the `Problem` schema, and the
errors any operation can meet are listed (422 for its parameters, 400 malformed JSON and 413 for
a body), so that schemathesis finds no undocumented status or content type.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from atlas.errors import AtlasError, ConflictError, InvalidError, NotFoundError

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


#: Seconds a client is told to wait (`Retry-After`) before it retries a 503: long enough for
#: a restarted broker or database to answer, short enough that a retrying script stays lively.
RETRY_AFTER_S = 5


def unavailable(slug: str, detail: str, **extensions: Any) -> Problem:
    """A 503 problem (a dependency is unreachable) that says when to try again."""
    return Problem(503, slug, detail, headers={"Retry-After": str(RETRY_AFTER_S)}, **extensions)


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


#: The HTTP status of each kind of domain error.
DOMAIN_STATUS: dict[type[AtlasError], int] = {
    NotFoundError: 404,
    InvalidError: 422,
    ConflictError: 409,
}


def domain_problem(exc: AtlasError) -> Problem:
    """The problem a domain error is answered with (500 for an AtlasError of no kind)."""
    status = next((s for kind, s in DOMAIN_STATUS.items() if isinstance(exc, kind)), 500)
    return Problem(status, exc.slug, exc.detail, **exc.extra)


def as_problem(error: Problem | AtlasError) -> Problem:
    """The problem an error is answered with: a Problem itself, a domain error's own."""
    return error if isinstance(error, Problem) else domain_problem(error)


#: A step of pydantic's error location that names a schema, not a field: a union's member
#: (`constrained-int`, `list[union[...]]`) or a validator (`function-after[...]`); not a
#: hyphenated header such as `idempotency-key`.
_SCHEMA_TAG = re.compile(r"constrained-[a-z]+|[a-z]+(-[a-z]+)*\[.*\]")
#: What a value of the wrong type should have been, by pydantic's error type.
_EXPECTED = {
    "int_type": "a number",
    "int_parsing": "a number",
    "int_from_float": "a number",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "a list",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "an object",
}


def _where(loc: Iterable[Any]) -> str:
    """A location as a field path: `task_parameters.t_final`, without schema tags."""
    return ".".join(
        str(step) for step in loc if not (isinstance(step, str) and _SCHEMA_TAG.fullmatch(step))
    )


def _what(errors: list[Mapping[str, Any]]) -> str:
    """One field's mistakes as one message: a union's members each say the value has the
    wrong type, which reads as the types it may have; otherwise the first that is not such."""
    if len(errors) > 1:
        expected = [_EXPECTED.get(e.get("type", "")) for e in errors]
        if all(expected):
            return "should be " + " or ".join(dict.fromkeys(expected))  # type: ignore[arg-type]
        errors = [e for e, kind in zip(errors, expected, strict=True) if kind is None]
    message = str(errors[0].get("msg", ""))
    return "is required" if message == "Field required" else message


def summarise_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    """Pydantic's errors as one line, one `where: what` per field (no schema tags in `where`,
    no links to its documentation)."""
    by_field: dict[str, list[Mapping[str, Any]]] = {}
    for error in errors:
        by_field.setdefault(_where(error.get("loc", ())), []).append(error)
    return "; ".join(
        f"{where}: {_what(found)}"
        for where, found in by_field.items()
        if not _beside_the_point(where, found, by_field)
    )


def _beside_the_point(
    where: str, found: list[Mapping[str, Any]], by_field: Mapping[str, Any]
) -> bool:
    """Whether a field's errors only say that its value is not of the union's other types,
    while the member it is (a list) has mistakes inside it: those are the ones to read."""
    inside = any(other.startswith(f"{where}.") for other in by_field)
    return inside and all(e.get("type") in _EXPECTED for e in found)


def _validation_problem(exc: RequestValidationError) -> Problem:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return Problem(400, "malformed-json", "the request body is not valid JSON", errors=errors)
    return Problem(
        422, "validation-error", summarise_errors(errors) or "invalid request", errors=errors
    )


_WHOLE_BODY_NOT_AN_OBJECT = ("model_attributes_type", "dict_type")


def _not_json(request: Request, exc: RequestValidationError) -> Problem | None:
    """415 for a JSON route's body sent as another media type (FastAPI reads it as a string
    and answers that it is no object, which says nothing of the cause)."""
    content_type = request.headers.get("content-type", "")
    whole_body = any(
        tuple(e.get("loc", ())) == ("body",) and e.get("type") in _WHOLE_BODY_NOT_AN_OBJECT
        for e in exc.errors()
    )
    if not whole_body or "json" in content_type:
        return None
    return Problem(
        415,
        "unsupported-media-type",
        "the body must be JSON sent with Content-Type: application/json, not "
        + (repr(content_type) if content_type else "no Content-Type"),
    )


def _http_problem(exc: StarletteHTTPException) -> Problem:
    slug = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return Problem(exc.status_code, slug, detail, headers=getattr(exc, "headers", None))


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc)

    async def on_domain(request: Request, exc: AtlasError) -> JSONResponse:
        return problem_response(request, domain_problem(exc))

    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problem = _not_json(request, exc) or _validation_problem(exc)
        return problem_response(request, problem)

    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(request, _http_problem(exc))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem(500, "internal-error", "an unexpected error occurred; see the server log")
        return problem_response(request, problem)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(AtlasError, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; some problems add members of their own.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "instance": {"type": "string", "description": "The request path."},
        "errors": {
            "type": "array",
            "description": "Each mistake found (for a validation error: where (`loc`), what "
            "(`msg`) and its `type`).",
        },
    },
    "additionalProperties": True,
}
_REF = {"$ref": "#/components/schemas/Problem"}
_BODY_ERRORS = {
    "400": "The body is not valid JSON, or not a valid multipart form.",
    "413": "The body is larger than the server accepts.",
}
_RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 1},
}
_PARAMETER_ERROR = "A parameter or the body does not satisfy the schema."
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _document_operation(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    if operation.get("parameters") or operation.get("requestBody"):
        responses.setdefault("422", {"description": _PARAMETER_ERROR})
    if operation.get("requestBody"):
        for status, description in _BODY_ERRORS.items():
            responses.setdefault(status, {"description": description})
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _REF}}
            if response.get("description") == "Validation Error":
                response["description"] = _PARAMETER_ERROR
        if status == "503":
            response["description"] += f" `Retry-After`: try again in {RETRY_AFTER_S} s."
            response["headers"] = {"Retry-After": _RETRY_AFTER}


def problem_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with every error response documented as a problem."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                _document_operation(operation)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in _FASTAPI_VALIDATION_SCHEMAS:
            components.pop(name, None)
        components["Problem"] = PROBLEM_SCHEMA
        app.openapi_schema = schema
    return app.openapi_schema


def document_problems(app: FastAPI) -> None:
    """Serve `problem_openapi(app)` as the app's OpenAPI document."""
    app.openapi = lambda: problem_openapi(app)  # type: ignore[method-assign]
