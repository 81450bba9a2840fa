"""Authorisation of every route of the real app (build_service) over a real database, SQLite and PostgreSQL.

The expectations are written here from the policy (reads need read, changes write, pushes write or ci,
reload / dead-letter retry / tokens admin), not read from slo_service/api/auth.py, so a wrong rule
fails as surely as a missing one. Every route of the app is iterated: a new endpoint that this file
does not know fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr

from slo_service.adapters.sql.token_store import SqlTokenStore
from slo_service.api.auth import ROUTES, check_routes
from slo_service.core.clock import Clock, ManualClock
from slo_service.core.tokens import KNOWN_FOR, NAME_RULE, Scope, issue, revoke
from slo_service.settings import Settings, SettingsError
from slo_service.wiring import Service, build_service
from tests.support.auth import ADMIN_TOKEN
from tests.support.process import wait_for
from tests.support.tcp_proxy import tcp_proxy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "slo-service.yaml"
SLACK_SECRET = "slack-signing-secret-for-tests-0001"

OPEN = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),  # open by default for Prometheus; SLO_SERVICE_METRICS_AUTH closes it
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/login"),  # the console's login form, and the form's POST that checks the token itself
    ("POST", "/login"),
    ("POST", "/logout"),
}
SLACK_SIGNED = {("POST", "/api/v1/slack/interactions")}
ADMIN_ONLY = {
    ("POST", "/api/v1/config/reload"),
    ("POST", "/api/v1/notifications/{message_id}/retry"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{name}"),
}
PUSHED_IN = {
    ("POST", "/api/v1/ingest"),
    ("POST", "/api/v1/monitors/{name}/batches"),
    ("POST", "/api/v1/alertmanager/webhook"),
}
# CI's routes also take a signed request without a token (tests/integration/test_deployments_process.py)
CI_PUSH = {
    ("POST", "/api/v1/deployments"),
    ("POST", "/api/v1/gates"),
    ("POST", "/api/v1/actions/{run_id}/status"),  # CI reports how an action run went
}
CI_READ = {("GET", "/api/v1/gates/{gate_id}"), ("GET", "/api/v1/services/{service}/deploy-allowed")}
# what a token of each scope may do: admin includes write, write includes read; ci is push only
GRANTS = {
    Scope.READ: {Scope.READ},
    Scope.WRITE: {Scope.WRITE, Scope.READ},
    Scope.CI: {Scope.CI},
    Scope.ADMIN: {Scope.ADMIN, Scope.WRITE, Scope.READ},
}


def accepted(method: str, path: str) -> set[Scope] | None:
    """The scopes of which a token needs one; None for routes that take no token."""
    key = (method, path)
    if key in OPEN or key in SLACK_SIGNED:
        return None
    if key in ADMIN_ONLY:
        return {Scope.ADMIN}
    if key in PUSHED_IN or key in CI_PUSH:
        return {Scope.WRITE, Scope.CI}
    if key in CI_READ:
        return {Scope.READ, Scope.CI}
    return {Scope.READ} if method == "GET" else {Scope.WRITE}


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves: iter_route_contexts expands included routers (FastAPI >= 0.137)."""
    out = set()
    for context in iter_route_contexts(app.routes):
        for method in context.methods or ():
            out.add(("GET" if method == "HEAD" else method, context.path or ""))
    assert len(out) > 40, out  # a walk that silently finds nothing would check nothing
    return sorted(out)


def concrete(path: str) -> str:
    """A request path for a route: every path parameter becomes a value nothing has."""
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1) in ("message_id", "run_id") else "nothing-here", path)


@dataclass
class World:
    service: Service
    store: SqlTokenStore
    tokens: dict[Scope, str]
    revoked: str
    client: TestClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = TestClient(self.service.app)  # a server error raises here instead of passing as a 500

    @property
    def app(self) -> FastAPI:
        return self.service.app

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if method == "POST" and not path.startswith("/api/"):  # a console form: its CSRF token matches
            self.client.cookies.set("slo_console_csrf", "csrf-token")
            kwargs.setdefault("data", {"csrf": "csrf-token"})
        response: httpx.Response = self.client.request(
            method, path, headers={**headers, **kwargs.pop("headers", {})}, **kwargs
        )
        return response


@contextmanager
def build_world(db_url: str, tmp_path: Path, clock: Clock | None = None, **settings: Any) -> Iterator[World]:
    options: dict[str, Any] = {
        "database_url": db_url,
        "config": [str(EXAMPLE)],
        "admin_token": ADMIN_TOKEN,
        "slack_signing_secret": SLACK_SECRET,
        "data_dir": str(tmp_path / "data"),
        **settings,
    }
    service = build_service(Settings(**options), clock=clock)
    store = SqlTokenStore(service.engine)
    now = service.runtime.clock.now()
    tokens = {scope: issue(store, f"only-{scope}", [scope], now)[1] for scope in Scope}
    revoked = issue(store, "revoked-admin", ["admin"], now)[1]
    revoke(store, "revoked-admin", now)
    try:
        yield World(service, store, tokens, revoked)
    finally:
        service.worker.close()
        service.drift_pool.close()
        service.engine.dispose()


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    with build_world(db_url, tmp_path) as w:
        yield w


def test_every_route_refuses_missing_wrong_and_revoked_tokens_and_takes_the_right_ones(world: World) -> None:
    routes = app_routes(world.app)
    assert set(routes) == set(ROUTES), "the rule table names exactly the app's routes"
    problems: list[str] = []

    def expect(ok: bool, what: str, response: httpx.Response) -> None:
        if not ok:
            problems.append(f"{what}: {response.status_code} {response.text[:160]}")

    for method, path in routes:
        url = concrete(path)
        needed = accepted(method, path)
        anonymous = world.call(method, url)
        revoked = world.call(method, url, world.revoked)
        if (method, path) in SLACK_SIGNED:  # Slack's signature is checked, and no token replaces it
            admin = world.call(method, url, ADMIN_TOKEN)
            for r in (anonymous, admin):
                unsigned = r.status_code == 401 and "WWW-Authenticate" not in r.headers
                expect(unsigned and "slack" in r.json()["message"].lower(), f"{path} unsigned", r)
            continue
        if needed is None:
            expect(anonymous.status_code not in (401, 403), f"{method} {path} open without a token", anonymous)
            continue
        challenge = anonymous.headers.get("WWW-Authenticate", "")
        expect(anonymous.status_code == 401 and challenge.startswith("Bearer"), f"{method} {path} no token", anonymous)
        expect(
            revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers.get("WWW-Authenticate", ""),
            f"{method} {path} revoked token",
            revoked,
        )
        unknown = world.call(method, url, "slo_" + "A" * 43)
        expect(unknown.status_code == 401, f"{method} {path} unknown token", unknown)
        for scope, token in world.tokens.items():
            response = world.call(method, url, token)
            if GRANTS[scope] & needed:
                expect(response.status_code not in (401, 403), f"{method} {path} with {scope}", response)
            else:
                ok = response.status_code == 403 and "insufficient_scope" in response.headers["WWW-Authenticate"]
                expect(ok, f"{method} {path} with {scope} must be 403", response)
        bootstrap = world.call(method, url, ADMIN_TOKEN)
        expect(bootstrap.status_code not in (401, 403), f"{method} {path} with the bootstrap admin token", bootstrap)
    assert not problems, "\n".join(problems)


def test_api_tokens_are_created_once_listed_without_secrets_and_revoked(world: World) -> None:
    created = world.call("POST", "/api/v1/tokens", ADMIN_TOKEN, json={"name": "deploy-bot", "scopes": ["ci", "read"]})
    assert created.status_code == 201, created.text
    body = created.json()
    token = body["token"]
    assert token.startswith("slo_") and len(token) == 4 + 43
    assert body["scopes"] == ["read", "ci"] and body["revoked_at"] is None
    listed = world.call("GET", "/api/v1/tokens", world.tokens[Scope.ADMIN])
    assert token not in listed.text and "token_hash" not in listed.text and "hash" not in listed.text
    bot = next(t for t in listed.json() if t["name"] == "deploy-bot")
    assert bot["last_used_at"] is None
    assert world.call("GET", "/api/v1/slos", token).status_code == 200
    assert world.call("POST", "/api/v1/ingest", token, json={"source": "demo", "samples": []}).status_code == 422
    assert world.call("POST", "/api/v1/silences", token, json={}).status_code == 403
    used = next(t for t in world.call("GET", "/api/v1/tokens", ADMIN_TOKEN).json() if t["name"] == "deploy-bot")
    assert used["last_used_at"] is not None

    again = world.call("POST", "/api/v1/tokens", ADMIN_TOKEN, json={"name": "deploy-bot", "scopes": ["read"]})
    assert again.status_code == 409 and "deploy-bot" in again.json()["message"]
    bad = world.call("POST", "/api/v1/tokens", ADMIN_TOKEN, json={"name": "x", "scopes": ["root"]})
    assert bad.status_code == 422 and bad.json()["problems"][0].startswith("scopes[0]: Input should be 'read'")
    bad = world.call("POST", "/api/v1/tokens", ADMIN_TOKEN, json={"name": "x", "scopes": []})
    assert bad.status_code == 422 and bad.json()["problems"][0].startswith("scopes:")
    bad = world.call("POST", "/api/v1/tokens", ADMIN_TOKEN, json={"name": "no spaces", "scopes": ["read"]})
    assert bad.status_code == 422 and bad.json()["problems"] == [f"name: must be {NAME_RULE}"]

    gone = world.call("DELETE", "/api/v1/tokens/deploy-bot", ADMIN_TOKEN)
    assert gone.status_code == 200 and gone.json()["revoked_at"] is not None
    refused = world.call("GET", "/api/v1/slos", token)
    assert refused.status_code == 401 and token not in refused.text
    assert world.call("DELETE", "/api/v1/tokens/deploy-bot", ADMIN_TOKEN).status_code == 409
    assert world.call("DELETE", "/api/v1/tokens/never-was", ADMIN_TOKEN).status_code == 404


def test_during_a_database_outage_tokens_accepted_lately_still_count_and_others_are_503(
    postgres_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(datetime.now(UTC))
    with tcp_proxy(postgres_url) as proxy, build_world(proxy.url_for(postgres_url), tmp_path, clock) as w:
        reader, writer = w.tokens[Scope.READ], w.tokens[Scope.WRITE]
        assert w.call("GET", "/api/v1/config", reader).status_code == 200
        proxy.close()
        # GET /api/v1/config needs no database: with a token accepted minutes ago it keeps answering
        clock.advance(KNOWN_FOR - timedelta(seconds=1))
        assert w.call("GET", "/api/v1/config", reader).status_code == 200
        assert w.call("GET", "/api/v1/config", ADMIN_TOKEN).status_code == 200  # checked in memory
        for token in (writer, w.revoked):  # never accepted by this process: not guessed at
            unknown = w.call("GET", "/api/v1/config", token)
            assert unknown.status_code == 503 and unknown.headers["Retry-After"] == "5"
            assert "database unavailable" in unknown.json()["message"] and token not in unknown.text
        clock.advance(timedelta(seconds=1))
        assert w.call("GET", "/api/v1/config", reader).status_code == 503
        proxy.open()
        wait_for(lambda: w.call("GET", "/api/v1/config", writer).status_code == 200, what="database back")
        w.store.revoke(f"only-{Scope.READ}", clock.now())
        assert w.call("GET", "/api/v1/config", reader).status_code == 401
        proxy.close()  # a refused token is forgotten at once: an outage does not bring it back
        assert w.call("GET", "/api/v1/config", reader).status_code == 503
        proxy.open()


@pytest.fixture
def open_world(tmp_path: Path) -> Iterator[World]:
    """Anonymous reads, /metrics behind read, CORS for one origin; a SQLite file of its own."""
    origins = ["https://grafana.example"]
    url = f"sqlite:///{tmp_path}/open.db"
    with build_world(url, tmp_path / "open", anonymous_read=True, metrics_auth=True, cors_origins=origins) as w:
        yield w


def test_anonymous_reads_open_reads_only_and_a_bad_token_is_still_refused(open_world: World) -> None:
    w = open_world
    assert w.call("GET", "/api/v1/slos").status_code == 200
    assert w.call("GET", "/metrics").status_code == 200  # metrics_auth needs read, which anyone has here
    assert w.call("GET", "/api/v1/slos", w.tokens[Scope.CI]).status_code == 200
    assert w.call("GET", "/api/v1/tokens").status_code == 401
    assert w.call("POST", "/api/v1/silences", json={}).status_code == 401
    assert w.call("POST", "/api/v1/ingest", json={}).status_code == 401
    assert w.call("GET", "/api/v1/slos", w.revoked).status_code == 401


def test_metrics_can_require_a_read_token(db_url: str, tmp_path: Path) -> None:
    with build_world(db_url, tmp_path, metrics_auth=True) as w:
        assert w.call("GET", "/metrics").status_code == 401
        assert w.call("GET", "/metrics", w.tokens[Scope.CI]).status_code == 403
        metrics = w.call("GET", "/metrics", w.tokens[Scope.READ])
        assert metrics.status_code == 200 and "slo_service_" in metrics.text
        assert w.call("GET", "/healthz").status_code == 200
        assert w.call("GET", "/openapi.json").json()["paths"]["/metrics"]["get"]["security"] == [{"HTTPBearer": []}]


def test_cors_is_off_unless_origins_are_configured(world: World, open_world: World) -> None:
    preflight = {
        "Origin": "https://grafana.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    closed = world.call("OPTIONS", "/api/v1/slos", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    assert "access-control-allow-origin" not in world.call("GET", "/healthz", headers=preflight).headers
    opened = open_world.call("OPTIONS", "/api/v1/slos", headers=preflight)
    assert opened.status_code == 200
    assert opened.headers["access-control-allow-origin"] == "https://grafana.example"
    assert "authorization" in opened.headers["access-control-allow-headers"].lower()
    other = open_world.call("OPTIONS", "/api/v1/slos", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_an_app_with_a_route_the_table_does_not_name_is_refused(world: World) -> None:
    app = world.app

    @app.post("/api/v1/brand-new")
    def brand_new() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="POST /api/v1/brand-new has no rule"):
        check_routes(app)


def test_the_openapi_document_names_each_rule_and_the_bearer_scheme(world: World) -> None:
    doc = world.call("GET", "/openapi.json").json()
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert doc["paths"]["/api/v1/silences"]["post"]["x-required-scope"] == "write"
    assert doc["paths"]["/api/v1/ingest"]["post"]["x-required-scope"] == "write or ci"
    assert doc["paths"]["/api/v1/alerts"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in doc["paths"]["/healthz"]["get"]
    assert "security" not in doc["paths"]["/metrics"]["get"]  # open unless SLO_SERVICE_METRICS_AUTH
    assert "security" not in doc["paths"]["/api/v1/slack/interactions"]["post"]


def test_docs_api_md_lists_every_rule() -> None:
    """The route table of docs/api.md's Authentication section is the rule table, row for row."""
    doc = (ROOT / "docs" / "api.md").read_text()
    section = doc.split("\n## Authentication\n", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `(GET|POST|DELETE) ([^`]+)` \| ([^|]+) \|", section, re.M)
    documented = {(method, path): need.strip() for method, path, need in rows}
    assert documented == {k: str(v) for k, v in ROUTES.items()}


def test_the_bootstrap_admin_token_is_given_once_and_read_from_a_file(tmp_path: Path) -> None:
    secret, empty = tmp_path / "admin-token", tmp_path / "empty"
    secret.write_text(ADMIN_TOKEN + "\n")
    empty.write_text("\n")
    assert Settings(admin_token_file=secret).admin_token_value() == ADMIN_TOKEN
    assert Settings(admin_token=SecretStr(""), admin_token_file=secret).admin_token_value() == ADMIN_TOKEN
    assert Settings().admin_token_value() is None
    refusals: dict[str, dict[str, Any]] = {
        "SLO_SERVICE_ADMIN_TOKEN and SLO_SERVICE_ADMIN_TOKEN_FILE are both set": {
            "admin_token": SecretStr(ADMIN_TOKEN),
            "admin_token_file": secret,
        },
        "SLO_SERVICE_ADMIN_TOKEN_FILE: cannot read": {"admin_token_file": tmp_path / "nope"},
        "SLO_SERVICE_ADMIN_TOKEN_FILE: .* is empty": {"admin_token_file": empty},
    }
    for message, options in refusals.items():
        with pytest.raises(SettingsError, match=message) as refused:
            Settings(**options).admin_token_value()
        assert ADMIN_TOKEN not in str(refused.value)
    shown = repr(Settings(admin_token=SecretStr(ADMIN_TOKEN)))
    assert "admin_token=SecretStr('**********')" in shown and ADMIN_TOKEN not in shown
