"""Refuse request bodies larger than `[web] max_body_bytes` with a friendly 413 page.

A declared Content-Length over the limit is refused before a byte of the body is read; a chunked
body is counted as it arrives and refused the moment it crosses the limit, so an endless upload
cannot tie up memory or the form parser.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.web.errors import error_page


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_body_bytes
            except ValueError:
                too_large = False
            if too_large:
                response = error_page(Request(scope), 413, headers={"Connection": "close"})
                await response(scope, receive, send)
                return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # Raised inside the endpoint's `await request.form()`; the exception
                    # handlers turn it into the same 413 page.
                    raise BodyTooLarge()
            return message

        await self.app(scope, counting_receive, send)
