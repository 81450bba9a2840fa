"""The web console: server-rendered pages over the same calls the JSON API makes (an edge adapter of api/).

Each page calls the API's own route functions or the cached SLO listing, so there is one way to read and to
act; api/auth.py authorises every console route as it does the API's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from slo_service.api.console import ops_pages, pages, slo_pages
from slo_service.api.console.overview import Sparklines
from slo_service.core.tokens import Scope, TokenExpired

STATIC = Path(__file__).resolve().parent.parent.parent / "static"

router = APIRouter(include_in_schema=False)


def install_console(app: FastAPI, grafana_url: str | None = None) -> None:
    """Add the console's pages, its static files and its login redirect to `app`."""
    app.state.grafana_url = grafana_url.rstrip("/") if grafana_url else None
    app.state.console_sparklines = Sparklines()
    app.state.console_thresholds = {}
    app.state.console_rows = {}
    app.state.page_error = pages.console_error
    app.include_router(slo_pages.router)
    app.include_router(ops_pages.router)
    app.include_router(router)
    app.mount("/static/console", StaticFiles(directory=STATIC), name="console-static")


# --- login -----------------------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str, Query(max_length=2000)] = "/") -> Response:
    return pages.render(request, "login.html", title="Log in", next=pages.safe_next(next), problem=None, poll=False)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await pages.read_form(request)
    token = pages.field(form, "token").strip()
    target = pages.safe_next(pages.field(form, "next", "/", 2000))
    problem = None
    try:  # the database being down is the app's 503, as for the API
        who = await asyncio.to_thread(request.app.state.auth.verifier.verify, token) if token else None
    except TokenExpired as exc:
        who, problem = None, str(exc)
    if who is None or not who.allowed((Scope.READ,)):
        problem = problem or "token: unknown, revoked or without the read scope"
        return pages.render(
            request, "login.html", status_code=422, title="Log in", next=target, problem=problem, poll=False
        )
    return pages.log_in(request, token, target)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await pages.read_form(request)
    return pages.log_out()
