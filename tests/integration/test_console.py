"""The web console through the real app (build_service on SQLite): rendering, filters, sorting, pagination,
authorisation by header, cookie and anonymous reads, the CSRF check of its forms and its security headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from slo_service.adapters.drift.worker import DriftWorkerPool
from slo_service.api.console.overview import PAGE_SIZE
from slo_service.api.console.pages import CSP, CSRF_COOKIE
from slo_service.core.tokens import Scope
from tests.integration.test_auth import World, build_world
from tests.integration.test_drift_api import World as DriftWorld
from tests.support.auth import ADMIN_HEADERS, ADMIN_TOKEN
from tests.support.console import ingest_body, many_slos_config

TOKEN_COOKIE = "slo_console_token"


@contextmanager
def console(tmp_path: Path, n: int, errors: dict[int, float] | None = None, **settings: Any) -> Iterator[World]:
    """The real app over `n` push SLOs (and a token of each scope), with one push of data and one evaluation."""
    configs = many_slos_config(tmp_path, n)
    with build_world(
        f"sqlite:///{tmp_path}/console.sqlite", tmp_path, config=[str(c) for c in configs], **settings
    ) as world:
        pushed = world.call("POST", "/api/v1/ingest", ADMIN_TOKEN, json=ingest_body(n, errors))
        assert pushed.status_code == 202, pushed.text
        world.service.runtime.evaluate()
        yield world


class _Rows(HTMLParser):
    """data-slo of each overview row, the text of its budget cell, its class, and every link."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.links: list[str] = []
        self._budget = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-slo"):
            self.rows.append({"slo": a["data-slo"] or "", "class": a.get("class") or "", "budget": ""})
        if tag == "td" and a.get("class") == "budget":
            self._budget = True
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._budget = False

    def handle_data(self, data: str) -> None:
        if self._budget and self.rows:
            self.rows[-1]["budget"] += data.strip()


def parse(html: str) -> _Rows:
    parser = _Rows()
    parser.feed(html)
    return parser


def test_overview_lists_every_slo_with_the_apis_budget_and_security_headers(tmp_path: Path) -> None:
    with console(tmp_path, 12, errors={3: 900.0}) as world:
        svc = world.service
        client = TestClient(svc.app, headers=ADMIN_HEADERS)
        page = client.get("/")
        assert page.status_code == 200, page.text
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in CSP
        rows = parse(page.text).rows
        api = client.get("/api/v1/slos").json()
        assert sorted(r["slo"] for r in rows) == sorted(f"{s['service']}/{s['slo']}" for s in api)
        for item in api:
            remaining = item["status"]["budget"]["remaining_ratio"]
            [row] = [r for r in rows if r["slo"] == f"{item['service']}/{item['slo']}"]
            assert row["budget"] == f"{remaining * 100:.1f}%", (row, remaining)
        # 900 errors in 1,900 requests against a 99% objective: far beyond the budget, so the row is red,
        # and by default the worst budget comes first
        assert rows[0]["slo"] == "checkout/s3" and rows[0]["class"] == "row-critical"
        assert all(r["class"] == "row-ok" for r in rows[1:])
        # no asset from elsewhere: every script and style sheet is the service's own, and is served
        for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert not re.match(r"^(https?:)?//", url), url
        for asset in ("/static/console/htmx.min.js", "/static/console/console.css"):
            assert client.get(asset).status_code == 200


def test_filters_by_service_and_label_and_sort_links(tmp_path: Path) -> None:
    with console(tmp_path, 12) as world:
        svc = world.service
        client = TestClient(svc.app, headers=ADMIN_HEADERS)
        fraud = parse(client.get("/", params={"service": "fraud"}).text).rows
        assert {r["slo"] for r in fraud} == {f"fraud/s{i}" for i in range(1, 12, 3)}
        shard = parse(client.get("/", params={"service": "fraud", "label": "shard=1"}).text).rows
        assert {r["slo"] for r in shard} == {"fraud/s1", "fraud/s7"}
        team = parse(client.get("/", params={"label": "team=team-search, shard=0"}).text).rows
        assert {r["slo"] for r in team} == {"search/s2", "search/s8"}
        bad = client.get("/", params={"label": "shard"})
        assert bad.status_code == 422 and "label" in bad.json()["message"]
        by_name = parse(client.get("/", params={"sort": "name", "order": "desc"}).text)
        names = [r["slo"] for r in by_name.rows]
        assert names == sorted(names, reverse=True)
        # the sort links are real links that keep the filters and flip the order of the active column
        assert "?service=&label=&sort=name&order=asc" in by_name.links


def test_ten_thousand_slos_are_paginated(tmp_path: Path) -> None:
    n = PAGE_SIZE * 2 + 50
    with console(tmp_path, n) as world:
        svc = world.service
        client = TestClient(svc.app, headers=ADMIN_HEADERS)
        seen: list[str] = []
        for page in (1, 2, 3):
            html = client.get("/", params={"sort": "name", "page": page}).text
            seen += [r["slo"] for r in parse(html).rows]
            assert f"page {page} of 3" in html
        assert len(seen) == n and len(set(seen)) == n
        beyond = parse(client.get("/", params={"page": 99}).text).rows  # past the end: the last page
        assert len(beyond) == 50


def test_detail_page_shows_tiers_rules_and_charts(tmp_path: Path) -> None:
    with console(tmp_path, 3, errors={0: 50.0}, grafana_url="https://grafana.example.org/") as world:
        svc = world.service
        client = TestClient(svc.app, headers=ADMIN_HEADERS)
        page = client.get("/slos/checkout/s0")
        assert page.status_code == 200, page.text
        html = page.text
        # the default policy's fast page tier, its windows and threshold scaled to the 7-day period
        assert re.search(r"page-fast</th><td>page</td><td>15m</td><td>5m</td><td>13.44x", html)
        assert "slo:sli_error:ratio_rate5m" in html  # a generated recording rule's name
        assert "<polyline" in html and 'class="th th-critical"' in html  # charts with thresholds drawn
        assert "https://grafana.example.org/d/slo-service-detail/?var-service=checkout&amp;var-slo=s0" in html
        assert "objective: 99.0" in html  # the definition snippet
        missing = client.get("/slos/checkout/nope")
        assert missing.status_code == 404 and "nope" in missing.json()["message"]


def test_pages_need_read_like_the_api_and_browsers_are_sent_to_login(tmp_path: Path) -> None:
    with console(tmp_path, 2) as world:
        svc = world.service
        anonymous = TestClient(svc.app)
        for path in ("/", "/alerts", "/oncall", "/drift", "/sources", "/slos/checkout/s0"):
            refused = anonymous.get(path)
            assert refused.status_code == 401, path
            browser = anonymous.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
            assert browser.status_code == 303 and browser.headers["location"].startswith("/login?next=%2F"), path
        assert anonymous.get("/login").status_code == 200
    (tmp_path / "anon").mkdir()
    with console(tmp_path / "anon", 2, anonymous_read=True) as world:
        svc = world.service
        anonymous = TestClient(svc.app)
        assert anonymous.get("/").status_code == 200
        # anonymous reads never reach writes
        anonymous.cookies.set(CSRF_COOKIE, "c")
        ack = anonymous.post("/alerts/abc/ack", data={"csrf": "c"})
        assert ack.status_code == 401


def test_login_keeps_the_token_in_an_httponly_strict_cookie_that_the_api_ignores(tmp_path: Path) -> None:
    with console(tmp_path, 2) as world:
        svc = world.service
        read_token = world.tokens[Scope.READ]
        browser = TestClient(svc.app)
        form = browser.get("/login?next=/sources")
        csrf = browser.cookies[CSRF_COOKIE]
        assert 'name="csrf" value="' + csrf + '"' in form.text
        wrong = browser.post("/login", data={"csrf": csrf, "token": "slo_" + "A" * 43, "next": "/sources"})
        assert wrong.status_code == 422 and "token: unknown, revoked" in wrong.text
        ok = browser.post(
            "/login", data={"csrf": csrf, "token": read_token, "next": "/sources"}, follow_redirects=False
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/sources"
        cookie = ok.headers["set-cookie"]
        assert f"{TOKEN_COOKIE}={read_token}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert browser.get("/sources").status_code == 200
        # the cookie is not an API credential: a page elsewhere cannot use it against /api/v1
        assert browser.get("/api/v1/slos").status_code == 401
        # a read token sees the pages but may not act
        assert "Log in</a> with a write token" in browser.get("/alerts").text
        ack = browser.post("/alerts/abc/ack", data={"csrf": csrf})
        assert ack.status_code == 403 and "insufficient_scope" in ack.headers["www-authenticate"]
        # an open redirect is refused: next goes back to this site only
        away = browser.post(
            "/login", data={"csrf": csrf, "token": read_token, "next": "//evil.example"}, follow_redirects=False
        )
        assert away.headers["location"] == "/"
        out = browser.post("/logout", data={"csrf": csrf}, follow_redirects=False)
        assert out.status_code == 303
        assert browser.get("/sources").status_code == 401


@pytest.mark.parametrize(
    ("cookie", "sent"),
    [(None, None), ("right", None), ("right", "wrong"), (None, "right")],
    ids=["no-cookie-no-field", "no-field", "mismatch", "field-without-cookie"],
)
def test_console_forms_without_a_matching_csrf_token_are_refused(
    tmp_path: Path, cookie: str | None, sent: str | None
) -> None:
    with console(tmp_path, 2) as world:
        svc = world.service
        browser = TestClient(svc.app)
        browser.cookies.set(TOKEN_COOKIE, ADMIN_TOKEN)  # logged in as admin: only the CSRF check can refuse
        if cookie:
            browser.cookies.set(CSRF_COOKIE, cookie)
        data = {"matchers": 'service="checkout"', "duration": "1h"} | ({"csrf": sent} if sent else {})
        response = browser.post("/silences", data=data)
        assert response.status_code == 403 and "csrf" in response.json()["message"]
        assert svc.alerting is not None and svc.alerting.store.silences(include_expired_after=svc.alerting.now()) == []
        if cookie:  # the same form with the matching token goes through, and the silence exists
            done = browser.post("/silences", data={**data, "csrf": cookie}, follow_redirects=False)
            assert done.status_code == 303 and "silenced" in httpx.URL(done.headers["location"]).params["done"]
            [made] = svc.alerting.store.silences(include_expired_after=svc.alerting.now())
            assert [str(m) for m in made.matchers] == [
                'service="checkout"'
            ] and made.created_by == "admin-token-from-settings"


@pytest.fixture(scope="module")
def drift_pool() -> Iterator[DriftWorkerPool]:
    with DriftWorkerPool() as pool:
        yield pool


def test_drift_page_shows_column_verdicts_and_links_the_report(tmp_path: Path, drift_pool: DriftWorkerPool) -> None:
    drift = DriftWorld(tmp_path, drift_pool)  # test_drift_api's monitors: column x drifts, y does not
    run = drift.client.post("/api/v1/monitors/files/run").json()
    assert run["status"] == "ok", run["reason"]
    page = drift.client.get("/drift")
    assert page.status_code == 200
    html = re.sub(r"\s+", " ", page.text)
    # each column's method and score are the run's own
    x = next(c for c in drift.client.get(f"/api/v1/drift/runs/{run['id']}").json()["columns"] if c["column"] == "x")
    assert f'<th scope="row">x</th><td>{x["kind"]}</td><td>{x["method"]}</td><td>{x["score"]:,.4f}</td>' in html
    assert re.search(r'<th scope="row">x</th>.*?s-critical">drifted</span>', html)
    assert re.search(r'<th scope="row">y</th>.*?s-ok">stable</span>', html)
    assert f'<a href="/drift/runs/{run["id"]}/report">Evidently report</a>' in html
    browser = TestClient(drift.client.app)  # logged in by cookie, as a person following the link
    browser.cookies.set(TOKEN_COOKIE, ADMIN_TOKEN)
    report = browser.get(f"/drift/runs/{run['id']}/report")
    assert report.status_code == 200 and "<html" in report.text.lower()


def test_sources_page_shows_each_source(tmp_path: Path) -> None:
    with console(tmp_path, 3) as world:
        html = TestClient(world.service.app, headers=ADMIN_HEADERS).get("/sources").text
        assert '<th scope="row">p</th><td>push</td>' in html
        assert "<td>3</td>" in html  # the SLOs it feeds
