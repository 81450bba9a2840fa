"""Nothing lost across a database outage and a SIGKILL, nothing half-done by a SIGTERM: the service as a real
process on the real PostgreSQL behind a TCP proxy the test closes (tests/support/tcp_proxy.py).

* Events scraped and pushed during an outage, then SIGKILL: the next process stores each exactly once.
* Errors pushed during an outage, then SIGKILL: the next process pages once.
* SIGTERM while a Slack post hangs: exit 0 within the grace, the post is handed back, and the next process
  settles it at once (not after the lease) without posting twice.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.integration.test_service_process import Target, period, write_config
from tests.support.fake_pagerduty import ROUTING_KEY, FakePagerDuty
from tests.support.fake_slack import TOKEN, FakeSlack
from tests.support.history import seed_history
from tests.support.process import ServiceProcess, run_service, start_local_server, wait_for
from tests.support.tcp_proxy import tcp_proxy

pytestmark = pytest.mark.postgres

PUSH_SOURCE = "  - {name: batch, type: push}\n"
PUSH_SLO = """  - service: checkout-model
    name: runs
    objective: 99
    period: 7d
    sli:
      ratio: {source: batch, good: 'runs_total{status!="failed"}', total: runs_total}
"""


def history_totals(svc: ServiceProcess, slo: str) -> tuple[float, float]:
    """(good, total) of an SLO as the database holds them (the history endpoint reads SQL)."""
    response = svc.get(f"/api/v1/slos/checkout-model/{slo}/history")
    assert response.status_code == 200, response.text
    points = response.json()["points"]
    return sum(p["good"] for p in points), sum(p["total"] for p in points)


def push_runs(svc: ServiceProcess, ok: int, failed: int, at: datetime | None = None, key: str | None = None) -> int:
    stamp = {"timestamp": at.isoformat()} if at is not None else {}
    samples = [
        {"metric": "runs_total", "labels": {"status": "ok"}, "value": ok, **stamp},
        {"metric": "runs_total", "labels": {"status": "failed"}, "value": failed, **stamp},
    ]
    headers = {"Idempotency-Key": key} if key else {}
    return svc.post("/api/v1/ingest", json={"source": "batch", "samples": samples}, headers=headers).status_code


def spill_files(spill: Path) -> list[Path]:
    return sorted(spill.glob("*.spill"))


def test_events_of_an_outage_survive_a_sigkill_and_are_stored_once(
    postgres_url: str, tmp_path: Path, httpserver: HTTPServer
) -> None:
    target = Target(httpserver)
    target.serve(ok=100, errors=0, le_01=100, le_025=100, inf=100)
    config = write_config(tmp_path / "slo.yaml", target.url, extra_slo=PUSH_SLO)
    config.write_text(config.read_text().replace("slos:\n", PUSH_SOURCE + "slos:\n", 1))
    spill = tmp_path / "spill"
    env = {"SLO_SERVICE_SPILL_DIR": str(spill)}
    with tcp_proxy(postgres_url) as proxy:
        url = proxy.url_for(postgres_url)
        with run_service([config], url, tmp_path, env=env) as svc:
            wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
            target.serve(ok=150, errors=10, le_01=160, le_025=160, inf=160)  # +50 good, +10 bad
            assert push_runs(svc, ok=5, failed=1) == 202
            wait_for(lambda: history_totals(svc, "availability") == (50, 60), what="60 events stored")

            proxy.close()
            target.serve(ok=230, errors=20, le_01=250, le_025=250, inf=250)  # +80 good, +10 bad in the outage
            assert push_runs(svc, ok=7, failed=2, key="k-1") == 503  # keyed: the producer retries it later
            assert push_runs(svc, ok=30, failed=4) == 202  # unkeyed: buffered like a scrape
            # counted in memory only after it is on disk (fsynced)
            wait_for(lambda: period(svc, "availability").get("total") == 150, what="150 events counted")
            assert period(svc, "runs").get("total") == 40
            assert spill_files(spill), "nothing was spilled"
            svc.signal(signal.SIGKILL)
            svc.proc.wait(timeout=10)

        proxy.open()
        with run_service([config], url, tmp_path, env=env) as svc:
            assert push_runs(svc, ok=7, failed=2, key="k-1") == 202  # the producer's retry
            # exactly what the target and the producer produced: the spill written once, and the counter
            # baselines written with it, so the first scrape of this process counts nothing again
            wait_for(lambda: history_totals(svc, "availability") == (130, 150), what="150 events stored")
            assert history_totals(svc, "runs") == (35 + 7, 40 + 9)
            wait_for(lambda: period(svc, "availability").get("total") == 150, what="the history loaded")
            time.sleep(3)  # three more scrapes of unchanged counters
            assert history_totals(svc, "availability") == (130, 150)
            log = svc.log()
    assert "wrote" in log and "increments a stopped process left" in log
    assert spill_files(spill) == []


def page_config(path: Path, receivers: str, route_receiver: str) -> Path:
    path.write_text(
        f"""apiVersion: slo-service/v1
services:
  - name: checkout-model
sources:
{PUSH_SOURCE}slos:
{PUSH_SLO}alerting:
  policies:
    default:
      no_data_after: null
      budget_exhausted: false
      tiers:
        - {{name: page-5m, severity: page, long_window: 5m, short_window: 5m, budget_share: 0.001}}
  receivers:
{receivers}
  route:
    receiver: {route_receiver}
    group_by: [service, slo]
    group_wait: 0s
    group_interval: 1s
"""
    )
    return path


def last_minute() -> datetime:
    """A time in the minute before this one: pushed there, events reach the 5m alert windows at once."""
    return datetime.now(UTC).replace(second=30, microsecond=0) - timedelta(minutes=1)


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    server = start_local_server()
    yield FakePagerDuty(server)
    server.stop()


def test_a_breach_during_an_outage_pages_once_after_a_sigkill_and_the_recovery(
    postgres_url: str, tmp_path: Path, pagerduty: FakePagerDuty
) -> None:
    receivers = f"    - {{name: pager, type: pagerduty, routing_key_env: TEST_PD_KEY, url: '{pagerduty.url}'}}"
    config = page_config(tmp_path / "slo.yaml", receivers, "pager")
    seed_history(postgres_url, "checkout-model", "runs")  # healthy minutes: the 5m page can be judged
    spill = tmp_path / "spill"
    env = {"SLO_SERVICE_SPILL_DIR": str(spill), "TEST_PD_KEY": ROUTING_KEY, "SLO_SERVICE_FLUSH_INTERVAL": "1"}
    with tcp_proxy(postgres_url) as proxy:
        url = proxy.url_for(postgres_url)
        with run_service([config], url, tmp_path, env=env) as svc:
            proxy.close()
            assert push_runs(svc, ok=50, failed=50, at=last_minute()) == 202  # half the runs fail

            def failed_in_5m() -> float:
                five = svc.get("/api/v1/slos/checkout-model/runs").json()["status"]["windows"]["5m"]
                return float(five["total"] - five["good"])

            # the seeded history alone already fills the period: wait for the next evaluation to see the push
            wait_for(lambda: failed_in_5m() >= 50, what="the failures counted")
            assert failed_in_5m() == 50
            time.sleep(2)  # evaluations during the outage: the alert cannot be saved, nothing is sent
            assert pagerduty.events == []
            svc.signal(signal.SIGKILL)
            svc.proc.wait(timeout=10)
        proxy.open()
        with run_service([config], url, tmp_path, env=env) as svc:
            wait_for(lambda: pagerduty.events, timeout=60, what="the page")
            time.sleep(4)  # more evaluations and flushes: no second page
            messages = svc.get("/api/v1/notifications", params={"receiver": "pager"}).json()
    assert [e["event_action"] for e in pagerduty.events] == ["trigger"]
    assert [(m["action"], m["status"]) for m in messages] == [("trigger", "delivered")]


def test_sigterm_during_a_hanging_delivery_exits_0_and_hands_the_message_back(
    postgres_url: str, tmp_path: Path
) -> None:
    server = start_local_server()
    slack = FakeSlack(server, channel_name="ml-alerts")
    slack.post_gate = threading.Event()  # Slack takes the post and holds the answer
    receivers = (
        f'    - {{name: chat, type: slack, channel: "#ml-alerts", token_env: TEST_SLACK_TOKEN, '
        f'base_url: "{slack.base_url}", timeout: 10s}}'
    )
    config = page_config(tmp_path / "slo.yaml", receivers, "chat")
    seed_history(postgres_url, "checkout-model", "runs")
    env: dict[str, Any] = {
        "TEST_SLACK_TOKEN": TOKEN,
        "SLO_SERVICE_FLUSH_INTERVAL": "1",
        "SLO_SERVICE_SHUTDOWN_GRACE": "3",
        # far longer than the test waits below: the next process gets the message only if it was handed back
        "SLO_SERVICE_DELIVERY_LEASE": "600",
    }
    try:
        with run_service([config], postgres_url, tmp_path, env=env) as svc:
            assert push_runs(svc, ok=50, failed=50, at=last_minute()) == 202
            assert slack.post_started.wait(60), "the service never posted to Slack"
            svc.signal(signal.SIGTERM)
            assert svc.proc.wait(timeout=30) == 0
            log = svc.log()
        assert "1 notifications in delivery handed back" in log, log[-3000:]
        slack.post_gate.set()  # the answer goes to a closed socket
        slack.post_gate = None
        with run_service([config], postgres_url, tmp_path, env=env) as svc:
            delivered = wait_for(
                lambda: [m for m in svc.get("/api/v1/notifications").json() if m["status"] == "delivered"],
                timeout=60,
                what="the handed-back page settled by the next process",
            )
            time.sleep(2)
            assert "already posted" in svc.log()  # it looked the interrupted post up instead of posting again
        assert [m["action"] for m in delivered] == ["trigger"]
        assert len(slack.messages) == 1 and slack.count("chat.postMessage") == 1
    finally:
        if slack.post_gate is not None:
            slack.post_gate.set()
        server.stop()
