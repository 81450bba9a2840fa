"""PostgreSQL outages, simulated by closing a TCP proxy between the service and the real server: reads answer
503 with Retry-After, the log gets one line when the outage starts and one when it ends, no event is lost,
and a service started while the database is down waits for it, answering /healthz meanwhile."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.migrate import upgrade
from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.ports import CountIncrement, StoreUnavailable
from tests.integration.test_service_process import Target, metric_value, period, write_config
from tests.support.process import ServiceProcess, run_service, wait_for
from tests.support.sql import execute_sql
from tests.support.tcp_proxy import tcp_proxy

pytestmark = pytest.mark.postgres

HISTORY = "/api/v1/slos/checkout-model/availability/history"
ALERTS = "/api/v1/alerts"


def outage_lines(log: str) -> list[str]:
    """Log lines an outage could cause: errors, tracebacks, warnings about the database (not, say, a scrape
    that timed out on a busy machine), never the access log."""
    return [
        line
        for line in log.splitlines()
        if re.search(r" (ERROR|CRITICAL) |Traceback|WARNING .*(database|[Ss]tore)", line)
    ]


def assert_unavailable(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    body: dict[str, Any] = response.json()
    assert set(body) == {"message", "problems"}
    return body


def stored_events(svc: ServiceProcess) -> tuple[float, float]:
    """(good, total) of the availability SLO as the database holds them (the history endpoint reads SQL)."""
    response = svc.get(HISTORY)
    assert response.status_code == 200, response.text
    points = response.json()["points"]
    return sum(p["good"] for p in points), sum(p["total"] for p in points)


def test_connection_errors_become_store_unavailable_and_bugs_stay_bugs(postgres_url: str, sqlite_url: str) -> None:
    upgrade(postgres_url)
    with tcp_proxy(postgres_url) as proxy:
        engine = make_engine(proxy.url_for(postgres_url))
        store = SqlHistoryStore(engine)
        try:
            at = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
            store.add_counts([CountIncrement("s/a", at, 9, 10)])  # a pooled connection exists now
            proxy.close()  # drops it and refuses new ones
            with pytest.raises(StoreUnavailable, match=f"at 127.0.0.1:{proxy.port}: .*refused"):
                store.load_counts(None, at, at.replace(hour=13))
            with pytest.raises(StoreUnavailable):
                store.ping()
            proxy.open()
            assert [s.total for s in store.load_counts(None, at, at.replace(hour=13))] == [10]
            # A connection dropped in the middle of a transaction.
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                proxy.close()
                with pytest.raises(StoreUnavailable, match=r"closed|lost|terminated"):
                    conn.execute(text("SELECT 1"))
            proxy.open()
            # A bug is not an outage: bad SQL keeps its own exception (a 500 with a traceback in the API).
            with engine.connect() as conn, pytest.raises(ProgrammingError):
                conn.execute(text("SELECT * FROM no_such_table"))
        finally:
            engine.dispose()
    sqlite = make_engine(sqlite_url)
    try:  # SQLite's missing table is an OperationalError: still a bug, not an outage
        with sqlite.connect() as conn, pytest.raises(OperationalError, match="no such table"):
            conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        sqlite.dispose()


@pytest.fixture
def scraped(tmp_path: Path, httpserver: HTTPServer) -> tuple[Target, Path]:
    """A local target at its baseline (100 good requests, counted as no increase) and a config scraping it."""
    target = Target(httpserver)
    target.serve(ok=100, errors=0, le_01=100, le_025=100, inf=100)
    return target, write_config(tmp_path / "slo.yaml", target.url)


def test_outage_answers_503_logs_once_and_loses_no_events(
    postgres_url: str, tmp_path: Path, scraped: tuple[Target, Path]
) -> None:
    target, config = scraped
    with tcp_proxy(postgres_url) as proxy, run_service([config], proxy.url_for(postgres_url), tmp_path) as svc:
        wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
        target.serve(ok=150, errors=10, le_01=160, le_025=160, inf=160)  # +50 good, +10 bad
        wait_for(lambda: stored_events(svc) == (50, 60), what="60 events stored")
        mark = len(svc.log())

        proxy.close()
        target.serve(ok=230, errors=20, le_01=250, le_025=250, inf=250)  # +80 good, +10 bad during the outage
        for path in (HISTORY, ALERTS):
            body = assert_unavailable(svc.get(path))
            assert body["message"].startswith(f"database unavailable at 127.0.0.1:{proxy.port}: "), body
        assert svc.get("/healthz").status_code == 200
        ready = svc.get("/readyz")
        assert ready.status_code == 503
        assert "refused" in ready.json()["checks"]["database"]
        # These need no database: the in-memory window keeps counting what is scraped.
        for path in ("/api/v1/slos", "/api/v1/sources", "/api/v1/config", "/metrics"):
            assert svc.get(path).status_code == 200, path
        wait_for(lambda: period(svc, "availability").get("total") == 150, what="150 events counted in memory")
        wait_for(
            lambda: (metric_value(svc.get("/metrics").text, "slo_service_store_pending_writes") or 0) > 0,
            what="buffered increments",
        )
        for path in (HISTORY, ALERTS, "/api/v1/silences", "/api/v1/notifications"):
            assert_unavailable(svc.get(path))
        during = svc.log()[mark:]

        proxy.open()
        wait_for(lambda: svc.get(HISTORY).status_code == 200, timeout=10, what="reads answer again")
        assert svc.get(ALERTS).status_code == 200
        assert svc.get("/readyz").status_code == 200
        # No event lost: what was scraped during the outage reached the database.
        wait_for(lambda: stored_events(svc) == (130, 150), timeout=10, what="150 events stored")
        assert metric_value(svc.get("/metrics").text, "slo_service_store_pending_writes") == 0
        wait_for(lambda: "buffered increments to the database" in svc.log()[mark:], what="buffer written")
        log = svc.log()[mark:]
        lines = outage_lines(log)
        assert len([line for line in lines if "database unreachable at" in line]) == 1, lines
        assert len([line for line in lines if "database reachable again" in line]) == 1, lines
        assert len(lines) == 2, lines  # nothing else: no traceback, no line per request or per job
        assert len(outage_lines(during)) == 1, during

        # A bug is still a 500, not a 503: the table the history reads is gone.
        execute_sql(postgres_url, "DROP TABLE slo_evaluations")
        response = svc.get(HISTORY)
        assert response.status_code == 500, response.text
        assert response.json()["message"] == "internal error: ProgrammingError"


def test_service_started_while_the_database_is_down_waits_and_then_serves(
    postgres_url: str, tmp_path: Path, scraped: tuple[Target, Path]
) -> None:
    target, config = scraped
    # trust authentication ignores the password: it is only there to be masked in the log
    url = make_url(postgres_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    with (
        tcp_proxy(url, start_open=False) as proxy,
        run_service([config], proxy.url_for(url), tmp_path, ready=False) as svc,
    ):
        ready = svc.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False
        assert ready.json()["checks"]["database"].startswith("unreachable: "), ready.json()
        body = assert_unavailable(svc.get(ALERTS))
        assert "starting" in body["message"]
        assert_unavailable(svc.get("/metrics"))
        wait_for(lambda: "database unreachable" in svc.log(), what="the outage line")
        time.sleep(3.5)  # two more attempts (backoff 1 s, 2 s): still one line
        assert svc.get("/healthz").status_code == 200
        log = svc.log()
        lines = outage_lines(log)
        assert len(lines) == 1, lines
        assert (
            f"database unreachable at 127.0.0.1:{proxy.port} (postgresql+psycopg://postgres:***@127.0.0.1:"
            in (lines[0])
        )
        assert "s3cret-pw" not in log

        proxy.open()
        wait_for(lambda: svc.get("/readyz").status_code == 200, timeout=40, what="ready once the database is up")
        assert svc.get(ALERTS).status_code == 200
        wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
        target.serve(ok=130, errors=10, le_01=140, le_025=140, inf=140)
        wait_for(lambda: stored_events(svc) == (30, 40), what="40 events stored")
        log = svc.log()
        lines = outage_lines(log)
        assert len(lines) == 2 and "database reachable again" in lines[1], lines
        assert "service ready" in log
        assert "Traceback" not in log and "s3cret-pw" not in log
