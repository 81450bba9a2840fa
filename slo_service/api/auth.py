"""Who may call what: one rule per route, checked by one app-wide dependency.

Clients send `Authorization: Bearer TOKEN`. A missing token is 401 with `WWW-Authenticate: Bearer`, an
unknown or revoked one 401 (`error="invalid_token"`), a token without the scope 403
(`error="insufficient_scope"`). Every route of the app must have a rule here: create_app refuses to
build an app with a route this table does not name, so a new endpoint cannot be open by accident.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from slo_service.core.ci_signature import SIGNATURE_HEADER
from slo_service.core.tokens import Scope, TokenExpired, TokenVerifier

log = logging.getLogger(__name__)

REALM = 'Bearer realm="slo-service"'


class Rule(StrEnum):
    """What a route needs."""

    OPEN = "open"  # health checks and the API's own documentation
    SIGNED = "slack-signature"  # no token (Slack cannot send one): the route checks Slack's signature
    METRICS = "open, or read with SLO_SERVICE_METRICS_AUTH"
    READ = "read"
    PUSH = "write or ci"  # data pushed in: samples, drift batches, Alertmanager's alerts
    WRITE = "write"
    ADMIN = "admin"
    # CI: a token, or no token and a signed request (X-Hub-Signature-256), which the route checks itself
    # (api/ci_auth.py): it needs the raw body
    CI = "ci or write, or a CI signature"
    CI_READ = "read or ci, or a CI signature"


# The scopes of which a token needs one, read from the rule's own name ("write or ci"), so the two
# cannot disagree; the other rules take no token.
_SCOPES = {
    r: frozenset(Scope(s) for s in r.split(", or ")[0].split(" or "))
    for r in (Rule.READ, Rule.PUSH, Rule.WRITE, Rule.ADMIN, Rule.CI, Rule.CI_READ)
}
CI_SIGNED_RULES = frozenset({Rule.CI, Rule.CI_READ})

API = "/api/v1"
ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule.OPEN,
    ("GET", "/readyz"): Rule.OPEN,
    ("GET", "/metrics"): Rule.METRICS,
    ("GET", "/openapi.json"): Rule.OPEN,
    ("GET", "/docs"): Rule.OPEN,
    ("GET", "/docs/oauth2-redirect"): Rule.OPEN,
    ("GET", "/redoc"): Rule.OPEN,
    # SLOs and operations
    ("GET", f"{API}/slos"): Rule.READ,
    ("GET", f"{API}/slos/{{service}}/{{slo}}"): Rule.READ,
    ("GET", f"{API}/slos/{{service}}/{{slo}}/history"): Rule.READ,
    ("GET", f"{API}/sources"): Rule.READ,
    ("POST", f"{API}/ingest"): Rule.PUSH,
    ("GET", f"{API}/config"): Rule.READ,
    ("POST", f"{API}/config/reload"): Rule.ADMIN,
    # alerting
    ("GET", f"{API}/alerts"): Rule.READ,
    ("GET", f"{API}/alerts/{{fingerprint}}"): Rule.READ,
    ("POST", f"{API}/alerts/{{fingerprint}}/ack"): Rule.WRITE,
    ("POST", f"{API}/alerts/{{fingerprint}}/resolve"): Rule.WRITE,
    ("GET", f"{API}/notifications/groups"): Rule.READ,
    ("POST", f"{API}/notifications/groups/ack"): Rule.WRITE,
    ("GET", f"{API}/notifications"): Rule.READ,
    ("POST", f"{API}/notifications/{{message_id}}/retry"): Rule.ADMIN,
    ("POST", f"{API}/silences"): Rule.WRITE,
    ("GET", f"{API}/silences"): Rule.READ,
    ("GET", f"{API}/silences/{{silence_id}}"): Rule.READ,
    ("DELETE", f"{API}/silences/{{silence_id}}"): Rule.WRITE,
    ("GET", f"{API}/oncall"): Rule.READ,
    ("GET", f"{API}/oncall/{{schedule}}/now"): Rule.READ,
    ("GET", f"{API}/oncall/{{schedule}}"): Rule.READ,
    ("POST", f"{API}/slack/interactions"): Rule.SIGNED,
    ("POST", f"{API}/alertmanager/webhook"): Rule.PUSH,
    # drift
    ("POST", f"{API}/monitors/{{name}}/batches"): Rule.PUSH,
    ("GET", f"{API}/monitors/{{name}}/batches"): Rule.READ,
    ("DELETE", f"{API}/monitors/{{name}}/batches/{{batch_id}}"): Rule.WRITE,
    ("GET", f"{API}/monitors"): Rule.READ,
    ("POST", f"{API}/monitors/{{name}}/run"): Rule.WRITE,
    ("GET", f"{API}/monitors/{{name}}/live"): Rule.READ,
    ("GET", f"{API}/drift/runs"): Rule.READ,
    ("GET", f"{API}/drift/runs/{{run_id}}"): Rule.READ,
    ("GET", f"{API}/drift/runs/{{run_id}}/report"): Rule.READ,
    # delivery pipeline: deployments, freezes, quality gates
    ("POST", f"{API}/deployments"): Rule.CI,
    ("GET", f"{API}/deployments"): Rule.READ,
    ("GET", f"{API}/annotations/deployments"): Rule.READ,
    ("GET", f"{API}/services/{{service}}/deploy-allowed"): Rule.CI_READ,
    ("POST", f"{API}/services/{{service}}/freeze"): Rule.WRITE,
    ("DELETE", f"{API}/services/{{service}}/freeze"): Rule.WRITE,
    ("POST", f"{API}/gates"): Rule.CI,
    ("GET", f"{API}/gates/{{gate_id}}"): Rule.CI_READ,
    # response actions
    ("GET", f"{API}/decisions"): Rule.READ,
    ("GET", f"{API}/actions"): Rule.READ,
    ("GET", f"{API}/actions/{{run_id}}"): Rule.READ,
    ("POST", f"{API}/actions/{{run_id}}/approve"): Rule.WRITE,
    ("POST", f"{API}/actions/{{run_id}}/deny"): Rule.WRITE,
    ("POST", f"{API}/actions/{{run_id}}/status"): Rule.CI,
    ("GET", f"{API}/audit"): Rule.READ,
    # tokens
    ("POST", f"{API}/tokens"): Rule.ADMIN,
    ("GET", f"{API}/tokens"): Rule.ADMIN,
    ("DELETE", f"{API}/tokens/{{name}}"): Rule.ADMIN,
    # the web console (api/console): pages read like the API; its forms also carry a CSRF token
    ("GET", "/"): Rule.READ,
    ("GET", "/slos/{service}/{slo}"): Rule.READ,
    ("GET", "/alerts"): Rule.READ,
    ("POST", "/alerts/{fingerprint}/ack"): Rule.WRITE,
    ("POST", "/silences"): Rule.WRITE,
    ("GET", "/oncall"): Rule.READ,
    ("GET", "/drift"): Rule.READ,
    ("GET", "/drift/runs/{run_id}/report"): Rule.READ,
    ("GET", "/sources"): Rule.READ,
    ("GET", "/login"): Rule.OPEN,
    ("POST", "/login"): Rule.OPEN,
    ("POST", "/logout"): Rule.OPEN,
}

TOKEN_COOKIE = "slo_console_token"
"""The console keeps the token a person logged in with in this HttpOnly, SameSite=Strict cookie. Only
routes outside /api/ read it: an API call is authorised by its Authorization header alone, so a page on
another site cannot make a browser act on the API with the cookie."""


@dataclass(frozen=True)
class ApiAuth:
    """The app's authorisation settings; `create_app` keeps it as `app.state.auth`."""

    verifier: TokenVerifier
    anonymous_read: bool = False
    metrics_auth: bool = False
    cors_origins: tuple[str, ...] = ()

    def needs(self, rule: Rule) -> frozenset[Scope] | None:
        """The scopes of which a token needs one; None when the route takes no token."""
        if rule is Rule.METRICS:
            return _SCOPES[Rule.READ] if self.metrics_auth else None
        return _SCOPES.get(rule)


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of a route (HEAD is GET's)."""
    return ROUTES.get(("GET" if method == "HEAD" else method, path))


RouteRules = dict[tuple[int, str], Rule]
"""(id of the APIRoute object, method) -> rule: how the dependency finds the rule of the matched route."""


def check_routes(app: FastAPI) -> RouteRules:
    """The rule of every route, by route object; RuntimeError naming every route without a rule, and every
    open-only route (Starlette's own, which the dependency cannot guard) that the table does not leave open.

    Routes come from iter_route_contexts: since FastAPI 0.137 app.routes holds included routers unexpanded,
    and the full path (prefix included) is known only there."""
    problems, rules = [], {}
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        for method in sorted({"GET" if m == "HEAD" else m for m in context.methods or ()}):
            rule = rule_for(method, path)
            if rule is None:
                problems.append(f"{method} {path} has no rule")
            elif isinstance(context.original_route, APIRoute):
                rules[(id(context.original_route), method)] = rule
            elif rule is not Rule.OPEN:
                problems.append(f"{method} {path} is not an API route, so it cannot be guarded")
    if problems:
        raise RuntimeError("authorisation table (slo_service/api/auth.py ROUTES): " + "; ".join(problems))
    return rules


bearer = HTTPBearer(auto_error=False, description="an API token (`slo-service token create`)")


def _unauthorised(message: str, error: str | None = None) -> HTTPException:
    challenge = REALM + (f', error="{error}"' if error else "")
    return HTTPException(401, message, headers={"WWW-Authenticate": challenge})


def request_credentials(
    request: Request, header: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> HTTPAuthorizationCredentials | None:
    """The Authorization header's token; outside /api/ (the console) the login cookie's when there is no header."""
    if header is not None or request.url.path.startswith(API + "/"):
        return header
    token = request.cookies.get(TOKEN_COOKIE)
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token) if token else None


def authorize(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(request_credentials)]
) -> None:
    """The app-wide dependency: refuse the request unless the route's rule lets it through."""
    auth: ApiAuth = request.app.state.auth
    rules: RouteRules = request.app.state.route_rules
    method = "GET" if request.method == "HEAD" else request.method
    rule = rules.get((id(request.scope.get("route")), method))
    if rule is None:  # check_routes makes this unreachable; refuse rather than guess
        raise HTTPException(403, "this route has no authorisation rule")
    needed = auth.needs(rule)
    if needed is None:
        return
    anonymous_ok = auth.anonymous_read and Scope.READ in needed and Scope.WRITE not in needed
    if credentials is None:
        if anonymous_ok or (rule in CI_SIGNED_RULES and SIGNATURE_HEADER in request.headers):
            return  # a signed CI request: the route verifies the signature (api/ci_auth.py)
        raise _unauthorised("missing token: send the header 'Authorization: Bearer TOKEN'")
    # StoreUnavailable (the database is down, and the token was not accepted lately) is the app's 503.
    try:
        principal = auth.verifier.verify(credentials.credentials)
    except TokenExpired as exc:
        raise _unauthorised(str(exc), "invalid_token") from None
    if principal is None:
        raise _unauthorised("invalid or revoked token", "invalid_token")
    request.state.principal = principal
    if anonymous_ok or principal.allowed(needed):
        # Who changed what, by token name: an audit trail that never needs the token itself.
        level = logging.INFO if rule in (Rule.WRITE, Rule.ADMIN) else logging.DEBUG
        log.log(level, "%s %s by token %r", request.method, request.url.path, principal.name)
        return
    scopes = " ".join(sorted(needed))
    raise HTTPException(
        403,
        f"token {principal.name!r} lacks the scope this needs: {' or '.join(sorted(needed))}",
        headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scopes}"'},
    )


def document_rules(app: FastAPI, auth: ApiAuth) -> None:
    """The OpenAPI document names each operation's rule, and those that take no token (as configured:
    /metrics may) carry no security requirement."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                rule = rule_for(method.upper(), path)
                if rule is None:
                    continue
                operation["x-required-scope"] = str(rule)
                if auth.needs(rule) is None:
                    operation.pop("security", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
