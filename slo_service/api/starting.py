"""The ASGI app uvicorn serves from the first second: alive and not ready while the service waits for its
database and builds itself, then every request goes to the real app."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from slo_service import __version__
from slo_service.api.errors import RETRY_AFTER_SECONDS, unavailable_response


class StartingApp:
    """Until `serve(app)`: /healthz 200, /readyz 503 with the database's state from `database()`, any other
    path 503 with Retry-After. Then a pass-through to `app`."""

    def __init__(self, database: Callable[[], str]) -> None:
        self.database = database
        self.app: ASGIApp | None = None

    def serve(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app
        if app is not None:
            await app(scope, receive, send)
            return
        if scope["type"] != "http":  # uvicorn runs with lifespan off; nothing else is served
            return
        database = self.database()
        response: JSONResponse
        if scope["path"] == "/healthz":
            response = JSONResponse({"status": "ok", "version": __version__})
        elif scope["path"] == "/readyz":
            checks = {"database": database, "config": "ok", "scheduler": "stopped"}
            response = JSONResponse(status_code=503, content={"ready": False, "checks": checks})
        else:
            response = unavailable_response(f"service starting, database {database}; retry in {RETRY_AFTER_SECONDS}s")
        await response(scope, receive, send)
