"""Request body size limits, enforced while the body is read: a too large Content-Length is answered 413
before anything is read, and a chunked body is counted as it streams in (413 once over the limit)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MiB = 1 << 20
_BATCHES = re.compile(r"^/api/v1/monitors/[^/]+/batches/?$")


@dataclass(frozen=True)
class InputLimits:
    """What the API accepts; defaults documented in docs/api.md#input-limits and docs/configuration.md."""

    max_body_bytes: int = 1 * MiB
    """Every JSON API body (ingest, silences, webhooks, Slack)."""
    max_batch_body_bytes: int = 64 * MiB
    """POST /api/v1/monitors/{name}/batches: a drift batch as JSON records or Parquet."""
    ingest_max_age: timedelta = timedelta(days=8)
    """Pushed samples older than this are refused: the service's raw retention (1-minute slices)."""
    ingest_max_future: timedelta = timedelta(minutes=5)
    """Pushed samples further ahead than this are refused (clock skew allowance)."""

    def body_limit(self, path: str) -> int:
        return self.max_batch_body_bytes if _BATCHES.match(path) else self.max_body_bytes


def install_input_limits(app: FastAPI, limits: InputLimits | None = None) -> None:
    """Default limits on `app` and the body limit middleware; `set_input_limits` changes the limits later."""
    set_input_limits(app, limits or InputLimits())
    app.add_middleware(BodyLimit)


def set_input_limits(app: FastAPI, limits: InputLimits) -> None:
    app.state.input_limits = limits


def input_limits(app: object) -> InputLimits:
    """The limits in force for `app` (a FastAPI app, or the Starlette app of an ASGI scope)."""
    found = getattr(getattr(app, "state", None), "input_limits", None)
    return found if isinstance(found, InputLimits) else InputLimits()


def _too_large(limit: int) -> str:
    return f"body: larger than {limit} bytes, the limit of this route (docs/api.md#input-limits)"


class HttpMiddleware:
    """ASGI middleware base: `handle` sees HTTP requests; other scopes (lifespan, websocket) pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class BodyLimit(HttpMiddleware):
    """413 for bodies over the route's limit, by Content-Length and by counting."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = input_limits(scope.get("app")).body_limit(scope["path"])
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if declared:
            try:
                length = int(declared[0])
            except ValueError:
                length = -1
            if length < 0 or len(declared) > 1:
                response = JSONResponse({"message": "Content-Length: not one non-negative integer"}, status_code=400)
                await response(scope, receive, send)
                return
            if length > limit:
                # The body is not read: the connection closes so its bytes are not taken for a next request.
                body = {"message": _too_large(limit)}
                response = JSONResponse(body, status_code=413, headers={"Connection": "close"})
                await response(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the endpoint's body read: FastAPI's handlers turn it into the JSON 413.
                    raise HTTPException(413, _too_large(limit), headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)
