"""Several `slo-service serve` processes on one PostgreSQL, as real processes, with a local PagerDuty stand-in.

Two and three replicas: exactly one leads (/readyz, slo_service_leader); a push to a replica that does not lead
is counted once and every replica's /api/v1/slos shows it; the burn-rate page it causes is delivered exactly
once. Then the leader is SIGKILLed: another replica takes over and evaluates within two evaluation intervals
(read from the evaluations the leader stores every cycle), scrapes on from the stored counter values (an
increase across the failover is counted exactly once), and pages nobody again.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.models import EvaluationRow
from tests.integration.test_service_process import Target, metric_value
from tests.support.fake_pagerduty import ROUTING_KEY, FakePagerDuty
from tests.support.history import seed_history
from tests.support.process import ServiceProcess, run_service, start_local_server, wait_for

pytestmark = pytest.mark.postgres

INTERVAL = 3.0  # seconds between evaluations; a failover must be done within two of them
RUNS = "nightly-features/run-success"
SCRAPED = "checkout-model/availability"


def write_config(path: Path, target_url: str, pd_url: str) -> Path:
    path.write_text(
        f"""apiVersion: slo-service/v1
services:
  - name: nightly-features
  - name: checkout-model
sources:
  - {{name: batch, type: push}}
  - {{name: target, type: scrape, url: "{target_url}", interval: 1s, timeout: 900ms}}
slos:
  - service: nightly-features
    name: run-success
    objective: 99
    period: 7d
    sli:
      ratio: {{source: batch, good: 'runs_total{{status="success"}}', total: runs_total}}
  - service: checkout-model
    name: availability
    objective: 99
    period: 7d
    sli:
      ratio: {{source: target, good: 'requests_total{{code!~"5.."}}', total: requests_total}}
alerting:
  policies:
    default:
      no_data_after: null
      budget_exhausted: false
      tiers:
        - {{name: page-5m, severity: page, long_window: 5m, short_window: 5m, budget_share: 0.001}}
  receivers:
    - {{name: pager, type: pagerduty, routing_key_env: TEST_PD_KEY, url: "{pd_url}", timeout: 2s}}
  route:
    receiver: pager
    group_by: [service, slo]
    group_wait: 0s
    group_interval: 1s
"""
    )
    return path


def env(replica: str) -> dict[str, str]:
    return {
        "TEST_PD_KEY": ROUTING_KEY,
        "SLO_SERVICE_REPLICA_ID": replica,
        "SLO_SERVICE_EVALUATION_INTERVAL": str(INTERVAL),
        "SLO_SERVICE_SNAPSHOT_INTERVAL": "0",  # the leader stores its evaluations every cycle: the test reads them
        "SLO_SERVICE_FLUSH_INTERVAL": "1",
    }


def readyz(svc: ServiceProcess) -> dict[str, Any]:
    body: dict[str, Any] = svc.get("/readyz").json()
    return body


def the_leader(replicas: list[ServiceProcess]) -> ServiceProcess | None:
    """The one replica that says it leads, once exactly one does."""
    leaders = [r for r in replicas if readyz(r).get("leader")]
    return leaders[0] if len(leaders) == 1 else None


def period(svc: ServiceProcess, key: str) -> tuple[float, float] | None:
    status = svc.get(f"/api/v1/slos/{key}").json().get("status") or {}
    window = (status.get("windows") or {}).get("period") or {}
    return (window["good"], window["total"]) if "total" in window else None


def all_show(replicas: list[ServiceProcess], key: str, expected: tuple[float, float]) -> bool:
    return all(period(r, key) == expected for r in replicas)


def last_evaluation(db_url: str) -> datetime | None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            at = conn.execute(select(func.max(EvaluationRow.at))).scalar()
    finally:
        engine.dispose()
    return at if isinstance(at, datetime) else None


def triggers(pd: FakePagerDuty) -> list[dict[str, Any]]:
    with pd.lock:
        return [e for e in pd.events if e["event_action"] == "trigger"]


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    server = start_local_server()
    yield FakePagerDuty(server)
    server.stop()


@pytest.mark.parametrize("count", [2, 3])
def test_replicas_page_once_and_a_survivor_takes_over_within_two_intervals(
    count: int, postgres_url: str, tmp_path: Path, httpserver: HTTPServer, pagerduty: FakePagerDuty
) -> None:
    target = Target(httpserver)
    ok = 1000
    target.serve(ok=ok, errors=0, le_01=1, le_025=1, inf=1)  # the baseline: no increase counted
    config = write_config(tmp_path / "slo.yaml", target.url, pagerduty.url)
    seed_history(postgres_url, "nightly-features", "run-success", per_minute=100)  # the 5m page can be judged
    with ExitStack() as stack:
        replicas = [
            stack.enter_context(run_service([config], postgres_url, tmp_path, env=env(f"r{i}"))) for i in range(count)
        ]
        leader = wait_for(lambda: the_leader(replicas), what="exactly one leader")
        assert sorted(readyz(r)["replica"] for r in replicas) == [f"r{i}" for i in range(count)]
        for r in replicas:
            text = r.get("/metrics").text
            assert metric_value(text, "slo_service_leader", replica=readyz(r)["replica"]) == (
                1.0 if r is leader else 0.0
            )
        seeded = wait_for(lambda: period(leader, RUNS), what="the seeded history evaluated")

        # A push to a replica that does not lead: 100 failed runs in the minute that just closed.
        follower = next(r for r in replicas if r is not leader)
        minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        sample = {"metric": "runs_total", "labels": {"status": "failed"}, "value": 100, "timestamp": minute.isoformat()}
        pushed = follower.post("/api/v1/ingest", json={"source": "batch", "samples": [sample]})
        assert pushed.status_code == 202, pushed.text
        expected = (seeded[0], seeded[1] + 100)
        wait_for(lambda: all_show(replicas, RUNS, expected), timeout=30, what=f"every replica shows {expected}")
        wait_for(lambda: triggers(pagerduty), timeout=30, what="the page")

        # The leader scrapes: an increase of the target's counters is counted once, on every replica.
        ok += 100
        target.serve(ok=ok, errors=0, le_01=1, le_025=1, inf=1)
        wait_for(lambda: all_show(replicas, SCRAPED, (100, 100)), timeout=30, what="100 scraped events everywhere")

        leader.signal(signal.SIGKILL)
        killed_at = datetime.now(UTC)
        leader.proc.wait(timeout=10)
        survivors = [r for r in replicas if r is not leader]
        ok += 50  # while the leadership moves
        target.serve(ok=ok, errors=0, le_01=1, le_025=1, inf=1)
        new_leader = wait_for(lambda: the_leader(survivors), timeout=30, what="a new leader")
        first = wait_for(
            lambda: (at := last_evaluation(postgres_url)) is not None and at > killed_at and at,
            timeout=30,
            what="an evaluation by the new leader",
        )
        assert isinstance(first, datetime)
        took = (first - killed_at).total_seconds()
        assert took <= 2 * INTERVAL, f"the first evaluation after the leader died came {took:.1f}s later"
        assert "is the leader now" in new_leader.log()
        wait_for(lambda: all_show(survivors, SCRAPED, (150, 150)), timeout=30, what="the failover's 50 events")
        time.sleep(2 * INTERVAL)  # two more cycles of the new leader: the firing alert must not page again
        assert all_show(survivors, SCRAPED, (150, 150))  # and no scrape was counted twice
        assert all_show(survivors, RUNS, expected)
    assert len(triggers(pagerduty)) == 1, pagerduty.events
