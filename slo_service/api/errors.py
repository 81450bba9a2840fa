"""JSON error bodies for every failure: a message a person can act on, never a stack trace."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from slo_service.api.inputs import PATTERN_HINTS
from slo_service.api.limits import HttpMiddleware
from slo_service.core.ports import StoreUnavailable
from slo_service.pipeline.alerting import ActionQueued

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
"""What a 503 asks the client to wait: the jobs notice a returning database within a few seconds."""


class ErrorBody(BaseModel):
    message: str
    problems: list[str] = []


def unavailable_response(message: str) -> JSONResponse:
    """503 with an ErrorBody and Retry-After: the database is unreachable or the service is still starting."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse(status_code=503, content={"message": message, "problems": []}, headers=headers)


def _field(loc: tuple[object, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "request"


def _problem(error: Any) -> str:
    message = error.get("msg", "invalid")
    if error.get("type") == "string_pattern_mismatch":
        message = PATTERN_HINTS.get((error.get("ctx") or {}).get("pattern", ""), message)
    return f"{_field(tuple(error.get('loc', ())))}: {message}"


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path: Starlette's 405 names only the first route's."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def unparsable_body(cause: BaseException) -> str | None:
    """Say why FastAPI could not read a JSON body (its own message is only "There was an error parsing the
    body"): the two causes a client can fix."""
    if isinstance(cause, UnicodeDecodeError):
        return f"body: not UTF-8 (byte {cause.start} is {cause.object[cause.start : cause.start + 1]!r})"
    if isinstance(cause, RecursionError):
        return "body: JSON nested too deeply"
    return None


def _one_line(exc: BaseException) -> str:
    """`Type: message (at file:line in function)`: the innermost frame, no traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    text = " ".join(str(exc).split())[:500]
    return f"{type(exc).__name__}: {text}{where}"


class CatchAll(HttpMiddleware):
    """The last resort inside the app: an exception no handler took becomes one log line and a JSON 500.
    Starlette's own ServerErrorMiddleware re-raises it after answering, and the server then drops the
    keep-alive connection; here the connection stays usable."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.error("unhandled error on %s %s: %s", scope.get("method"), scope.get("path"), _one_line(exc))
            if started:  # half a response was sent: only closing the connection can end it
                raise
            if isinstance(exc, HTTPException):  # raised where no exception handler sees it (e.g. a body read)
                body = {"message": str(exc.detail)}
                response = JSONResponse(status_code=exc.status_code, content=body, headers=exc.headers)
            else:
                response = JSONResponse(status_code=500, content={"message": f"internal error: {type(exc).__name__}"})
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(e) for e in exc.errors()]
        return JSONResponse(
            status_code=422,
            content={"message": "invalid request: " + "; ".join(problems), "problems": problems},
        )

    # Starlette's HTTPException: also the router's own 404 / 405 for unknown paths and methods.
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        page_error = getattr(request.app.state, "page_error", None)  # the console's login redirect
        page: Response | None = page_error(request, exc.status_code) if page_error is not None else None
        if page is not None:
            return page
        detail = exc.detail
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        if exc.status_code == 400 and exc.__cause__ is not None:
            detail = unparsable_body(exc.__cause__) or detail
        if isinstance(detail, dict):
            return JSONResponse(status_code=exc.status_code, content=detail, headers=headers)
        return JSONResponse(status_code=exc.status_code, content={"message": str(detail)}, headers=headers)

    # Any store's connection-level error (adapters/sql/availability.py): no log line here, the outage is
    # logged once when it starts and once when it ends.
    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return unavailable_response(f"{exc}; retry in {RETRY_AFTER_SECONDS}s")

    # A replica that does not lead stored an operator action and the leader did not apply it within the wait
    # (a failover): it is kept and applied once, so the caller must not send it again.
    @app.exception_handler(ActionQueued)
    async def action_queued(_: Request, exc: ActionQueued) -> JSONResponse:
        return JSONResponse(
            status_code=202,
            content={"message": f"{exc}; do not send it again", "action_id": exc.action_id},
        )

    # Reached only by exceptions outside CatchAll (another middleware): still one line and JSON.
    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s: %s", request.method, request.url.path, _one_line(exc))
        return JSONResponse(status_code=500, content={"message": f"internal error: {type(exc).__name__}"})

    app.add_middleware(CatchAll)
    app.openapi = _with_error_responses(app, app.openapi)  # type: ignore[method-assign]


def _own_body(documented: dict[str, Any]) -> bool:
    """Whether a documented response names its own schema (not FastAPI's validation error)."""
    schema = documented.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema) and "ValidationError" not in str(schema.get("$ref", ""))


def _with_error_responses(app: FastAPI, build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document says what the handlers above really answer: every 4xx (422 included) is an
    ErrorBody, not FastAPI's default {detail} validation schema."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorBody"] = ErrorBody.model_json_schema()
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        error = {
            "description": "refused: {message, problems} naming the field",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
        unavailable = {
            **error,
            "description": "the database is unreachable, or the service is still starting: retry after Retry-After",
            "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for code, documented in list(responses.items()):
                    # a 4xx a route documents with its own body (423 frozen, 412 gate failed) keeps it
                    if code.startswith("4") and not _own_body(documented):
                        described = documented.get("description") or error["description"]
                        responses[code] = {**error, "description": described}
                responses["4XX"] = error
                responses.setdefault("503", unavailable)
        app.openapi_schema = schema
        return schema

    return openapi
