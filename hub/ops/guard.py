"""The ops app's front door (ASGI middleware): body size and authentication before anything else.

Before the app sees a request, and so before any body is read or parsed:

1. a `Content-Length` above `ops.max_body_bytes` is answered 413 at once (a malformed one 400);
   the body is never read, so a client announcing a gigabyte costs the server nothing;
2. `/api/…` needs a valid ops token and `/metrics` an ops token or a metrics-only token: 401
   otherwise, again without reading the body. The caller found is kept in the request's state
   (`PRINCIPAL`), where the routes' role checks read it;
3. a body sent without a length (chunked) is counted as the app reads it: past the limit the
   read fails and the answer is 413.

The routes then check the role before they read and parse the JSON body (`hub.ops.api`), so a
caller whose role is too low gets 403 without the server reading what they sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.ops.auth import Principal, bearer_token, may_scrape, resolve
from hub.settings import OpsSettings

__all__ = ["PRINCIPAL", "BodyTooLarge", "Guard"]

PRINCIPAL: Final = "principal"


class BodyTooLarge(Exception):
    """The request body streamed past the limit."""


def _protected(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class Guard:
    """Refuses oversized and unauthenticated requests before the app reads them (see above)."""

    def __init__(self, app: ASGIApp, settings: Callable[[], OpsSettings]) -> None:
        self.app = app
        self._settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call (HTTP only; anything else passes through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ops = self._settings()
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers, ops)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        await self._counted(scope, receive, send, ops.max_body_bytes)

    def _refusal(
        self, scope: Scope, headers: Headers, ops: OpsSettings
    ) -> tuple[int, str, dict[str, str]] | None:
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return 400, "Content-Length is not a number", {}
            if int(declared) > ops.max_body_bytes:
                limit = ops.max_body_bytes
                return 413, f"the request body may hold at most {limit} bytes", {}
        path: str = scope["path"]
        token = bearer_token(headers.get("authorization"))
        challenge = {"WWW-Authenticate": "Bearer"}
        if path == "/metrics" and not may_scrape(ops.tokens, ops.metrics_tokens, token):
            return 401, "a bearer token is required", challenge
        if _protected(path):
            who: Principal | None = resolve(ops.tokens, token)
            if who is None:
                return 401, "a bearer token is required", challenge
            scope.setdefault("state", {})[PRINCIPAL] = who
        return None

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        seen = 0
        started = False

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(seen)
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting, sending)
        except BodyTooLarge:
            if started:
                raise
            await _answer(send, 413, f"the request body may hold at most {limit} bytes", {})


async def _answer(send: Send, status: int, detail: str, extra: dict[str, str]) -> None:
    """A JSON error answer like the app's own (`{"detail": …}`); the connection closes after it,
    so an unread body is never waited for."""
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *((k.lower().encode(), v.encode()) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
