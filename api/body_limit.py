"""Refuse request bodies over a size limit with 413 before the app holds them in memory.

A declared Content-Length over the limit is refused at once; a chunked body is counted as it
streams and cut off when it passes the limit (raised as an HTTP 413, which FastAPI lets through
its body parsing to the problem handlers).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import Problem, problem_response


def _too_large(max_bytes: int) -> str:
    return f"request bodies are limited to {max_bytes} bytes"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            problem = Problem(413, "body-too-large", _too_large(self.max_bytes))
            await problem_response(Request(scope), problem)(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise Problem(413, "body-too-large", _too_large(self.max_bytes))
            return message

        await self.app(scope, counting_receive, send)
