"""Answer HEAD as GET without the body (RFC 9110, 9.3.2).

FastAPI registers its GET routes for GET alone, so `curl -I`, link checkers and proxies that
probe with HEAD got 405 from every page and endpoint. The request runs as a GET and its
status and headers (Content-Length and Content-Type included) go out with an empty body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # a streamed body's parts are dropped; its end is sent empty
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
