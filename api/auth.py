"""API-key check for writes: `X-API-Key: <key>` or `Authorization: Bearer <key>`.

Reads are public. A missing key is 401 (with a WWW-Authenticate challenge), a wrong one 403; the
comparison is constant-time so the key cannot be guessed byte by byte from response times.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem

#: OpenAPI responses of every write route, for its `responses=`.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key was sent."},
    403: {"description": "The API key is wrong (or the server has none: writes are off)."},
}

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The server's ATLAS_API_KEY."
)
_bearer = HTTPBearer(auto_error=False, description="The server's ATLAS_API_KEY as a bearer token.")


def require_api_key(
    request: Request,
    header_key: Annotated[str | None, Security(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """Dependency of every write route."""
    expected: str | None = request.app.state.settings.api_key
    given = header_key or (bearer.credentials if bearer else None)
    if not given:
        raise Problem(
            401,
            "missing-api-key",
            "writes need an API key: send `X-API-Key: <key>` or `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": 'Bearer realm="atlas"'},
        )
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Problem(403, "invalid-api-key", "the API key is not valid for this server")
