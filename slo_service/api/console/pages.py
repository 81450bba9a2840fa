"""Rendering console pages: the Jinja2 environment, security headers, the CSRF double-submit token and login.

Reads and writes are authorised by api/auth.py as for the API; the console only adds where the token comes
from (the HttpOnly, SameSite=Strict login cookie, auth.TOKEN_COOKIE) and, for its POST forms, a CSRF token:
a random value kept in a cookie and repeated in a hidden form field, which another site can neither read
nor set.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from slo_service import __version__
from slo_service.api.auth import API, TOKEN_COOKIE
from slo_service.core.durations import format_duration
from slo_service.core.tokens import Principal, Scope

CSRF_COOKIE = "slo_console_csrf"
CSRF_FIELD = "csrf"
SESSION_SECONDS = 12 * 3600
REFRESH_SECONDS = 15
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
"""Every console page loads only from the service itself: no CDN, no inline script or style."""

NO_VALUE = "\u2013"  # an en dash: the cell has no value

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _pct(x: float | None, digits: int = 3) -> str:
    return NO_VALUE if x is None else f"{x * 100:.{digits}f}%"


def _num(x: float | None, digits: int = 2) -> str:
    return NO_VALUE if x is None else f"{x:,.{digits}f}"


def when(t: datetime | None) -> str:
    """An instant in UTC for a table cell (on-call shifts come in their schedule's time zone)."""
    if t is None:
        return NO_VALUE
    return (t.astimezone(UTC) if t.tzinfo else t).strftime("%Y-%m-%d %H:%M:%S UTC")


_ENV.filters.update(pct=_pct, num=_num, when=when, duration=format_duration)


def principal(request: Request) -> Principal | None:
    """Who is logged in (or sent a token); None when the page is read anonymously."""
    found: Principal | None = getattr(request.state, "principal", None)
    return found


def can_write(request: Request) -> bool:
    p = principal(request)
    return p is not None and p.allowed((Scope.WRITE, Scope.ADMIN))


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page: the template with the CSRF token and who is logged in, plus the security headers."""
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    body = _ENV.get_template(template).render(
        request=request,
        csrf=token,
        csrf_field=CSRF_FIELD,
        user=principal(request),
        can_write=can_write(request),
        version=__version__,
        refresh=REFRESH_SECONDS,
        **context,
    )
    response = HTMLResponse(body, status_code=status_code, headers=security_headers())
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/")
    return response


def security_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


MAX_FORM = 64 * 1024


async def read_form(request: Request) -> dict[str, list[str]]:
    """The console's POSTed form (application/x-www-form-urlencoded, what an HTML form sends), its CSRF
    field checked. Parsed with the standard library: the console's forms carry no files."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "content-type: send the form as application/x-www-form-urlencoded")
    raw = await request.body()
    if len(raw) > MAX_FORM:
        raise HTTPException(413, f"body: a console form is at most {MAX_FORM} bytes")
    try:
        fields = parse_qs(raw.decode(), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, f"body: not a form ({exc})") from None
    check_csrf(request, (fields.get(CSRF_FIELD) or [""])[0])
    return fields


def field(form: dict[str, list[str]], name: str, default: str = "", max_length: int = 500) -> str:
    """One form field's value, 422 naming it when it is too long."""
    value = (form.get(name) or [default])[0]
    if len(value) > max_length:
        raise HTTPException(422, f"{name}: at most {max_length} characters")
    return value


def check_csrf(request: Request, sent: str) -> None:
    """403 unless the form's CSRF field equals the CSRF cookie (double submit)."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise HTTPException(403, "csrf: the form's CSRF token does not match its cookie; reload the page and retry")


def safe_next(target: str | None) -> str:
    """A same-site path to go back to after login ("/" for anything else: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def log_in(request: Request, token: str, target: str) -> Response:
    """Redirect to `target` with the token stored in the HttpOnly, SameSite=Strict cookie."""
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    return response


def log_out() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


def console_error(request: Request, status_code: int) -> Response | None:
    """How a console page answers a refused read: a person in a browser is sent to the login form (None:
    the usual JSON error, for API routes and non-browser clients)."""
    if request.url.path.startswith(API + "/") or request.method != "GET" or status_code not in (401, 403):
        return None
    if "text/html" not in request.headers.get("accept", ""):
        return None
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
