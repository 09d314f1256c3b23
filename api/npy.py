"""Arrays as `.npy` downloads: content negotiation and the response.

A client asks for one named array as NumPy's `.npy` format with `?format=npy&array=NAME`, or
with `Accept: application/x-npy` and `?array=NAME`. Files are written without pickle, so
`numpy.load(f, allow_pickle=False)` reads every one of them (labels as fixed-width unicode).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Query, Request, Response

from api.problems import Problem

NPY_MEDIA_TYPE = "application/x-npy"

FormatQuery = Annotated[
    Literal["json", "npy"],
    Query(description="`npy` sends the array named by `array` as a `.npy` file."),
]
ArrayQuery = Annotated[
    str | None,
    Query(description="With `format=npy` (or `Accept: application/x-npy`): the array to send."),
]


def wants_npy(request: Request, format: str) -> bool:
    return format == "npy" or NPY_MEDIA_TYPE in request.headers.get("accept", "")


def npy_responses(description: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI for a route that answers JSON or, on request, one array as `.npy`."""
    return {
        200: {
            "content": {NPY_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": description,
        },
        404: {"description": "No such solution, analysis not available, or no such array."},
        422: {"description": "`.npy` asked for without naming an `array`."},
    }


def npy_response(arrays: Mapping[str, np.ndarray], name: str | None, filename: str) -> Response:
    """The array `name` of `arrays` as a `.npy` attachment; 422/404 problems listing the names
    when it is missing or unknown."""
    available = sorted(arrays)
    if name is None:
        raise Problem(
            422,
            "array-required",
            f"name the array to send as .npy with `array=`; available: {', '.join(available)}",
            available=available,
        )
    if name not in arrays:
        raise Problem(
            404,
            "array-not-found",
            f"no array {name!r} here; available: {', '.join(available)}",
            available=available,
        )
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(arrays[name]), allow_pickle=False)
    return Response(
        buffer.getvalue(),
        media_type=NPY_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}-{name}.npy"'},
    )
