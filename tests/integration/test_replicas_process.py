"""Several `slo-service serve` processes on one PostgreSQL, as real processes, with a local PagerDuty stand-in.

Two and three replicas: exactly one leads (/readyz, slo_service_leader); a push to a replica that does not lead
is counted once and every replica's /api/v1/slos shows it; the burn-rate page it causes is delivered exactly
once. Then the leader is SIGKILLed: another replica takes over and evaluates within two evaluation intervals
(read from the evaluations the leader stores every cycle), scrapes on from the stored counter values (an
increase across the failover is counted exactly once), and pages nobody again. Drift batches (rows, then
labels) pushed to a replica that does not lead, with its own data directory, are stored once and read by the
leader's run from the database.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from slo_service.adapters.sql.drift_models import DriftBatchRow
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


def failed(svc: ServiceProcess, key: str) -> float | None:
    """Bad events in the period: unlike its totals, unchanged when a seeded future minute enters the period."""
    counts = period(svc, key)
    return None if counts is None else counts[1] - counts[0]


def all_failed(replicas: list[ServiceProcess], key: str, expected: float) -> bool:
    return all(failed(r, key) == expected for r in replicas)


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
        wait_for(lambda: period(leader, RUNS), what="the seeded history evaluated")

        # A push to a replica that does not lead: 100 failed runs in the minute that just closed.
        follower = next(r for r in replicas if r is not leader)
        minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        sample = {"metric": "runs_total", "labels": {"status": "failed"}, "value": 100, "timestamp": minute.isoformat()}
        pushed = follower.post("/api/v1/ingest", json={"source": "batch", "samples": [sample]})
        assert pushed.status_code == 202, pushed.text
        wait_for(lambda: all_failed(replicas, RUNS, 100), timeout=30, what="every replica shows the 100 failed runs")
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
        assert all_failed(survivors, RUNS, 100)
    assert len(triggers(pagerduty)) == 1, pagerduty.events


def events_for(pd: FakePagerDuty, action: str, key: str) -> list[dict[str, Any]]:
    with pd.lock:
        return [e for e in pd.events if e["event_action"] == action and e.get("dedup_key") == key]


def groups(svc: ServiceProcess) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = svc.get("/api/v1/notifications/groups").json()
    return body


def test_operator_actions_alert_state_and_reloads_on_a_replica_that_does_not_lead(
    postgres_url: str, tmp_path: Path, httpserver: HTTPServer, pagerduty: FakePagerDuty
) -> None:
    """One pair of replicas for every check: an Alertmanager alert, an acknowledgement and a resolve sent to the
    replica that does not lead take effect once, as on the leader; that replica's groups API and alert gauges
    follow the leader; a reload sent to it reaches both."""
    target = Target(httpserver)
    target.serve(ok=1000, errors=0, le_01=1, le_025=1, inf=1)
    config = write_config(tmp_path / "slo.yaml", target.url, pagerduty.url)
    with ExitStack() as stack:
        replicas = [
            stack.enter_context(run_service([config], postgres_url, tmp_path, env=env(f"r{i}"))) for i in (0, 1)
        ]
        leader = wait_for(lambda: the_leader(replicas), what="exactly one leader")
        follower = next(r for r in replicas if r is not leader)
        hashes = {readyz(r)["config_hash"] for r in replicas}
        assert len(hashes) == 1 and "" not in hashes

        # An Alertmanager alert posted to the follower: routed by the leader, paged once.
        alert = {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "service": "infra", "slo": "disk"},
            "annotations": {},
            "startsAt": datetime.now(UTC).isoformat(),
            "endsAt": "0001-01-01T00:00:00Z",
        }
        body = {"version": "4", "status": "firing", "receiver": "slo", "alerts": [alert]}
        received = follower.post("/api/v1/alertmanager/webhook", json=body)
        assert received.status_code == 200, received.text
        (transition,) = received.json()["transitions"]
        assert transition["current"] == "firing"
        fp = transition["fingerprint"]
        (group,) = [g for g in groups(follower) if g["group_labels"].get("service") == "infra"]  # at once
        key = group["dedup_key"]
        wait_for(lambda: events_for(pagerduty, "trigger", key), timeout=30, what="the page of the forwarded alert")
        again = follower.post("/api/v1/alertmanager/webhook", json=body)  # Alertmanager repeats: no new page
        assert again.status_code == 200 and again.json()["transitions"] == []

        # The follower's gauges come from the leader's stored state at its next evaluation.
        def follower_gauges() -> bool:
            text = follower.get("/metrics").text
            return (metric_value(text, "slo_service_notification_groups") or 0) >= 1 and (
                metric_value(text, "slo_service_alerts", state="firing") or 0
            ) >= 1

        wait_for(follower_gauges, timeout=3 * INTERVAL, what="the follower's alert gauges")

        # Acknowledged on the follower: the leader's groups say so and PagerDuty hears it once.
        acked = follower.post(f"/api/v1/alerts/{fp}/ack", json={"by": "alice"})
        assert acked.status_code == 200, acked.text
        assert group["group_key"] in acked.json()["acknowledged_groups"]
        for r in replicas:
            wait_for(
                lambda r=r: any(g.get("acknowledged_by") == "alice" for g in groups(r)),
                timeout=3 * INTERVAL,
                what="the acknowledgement on every replica",
            )
        wait_for(lambda: events_for(pagerduty, "acknowledge", key), timeout=30, what="PagerDuty acknowledge")

        # Resolved on the follower: the episode is resolved in the store, the incident closed once.
        resolved = follower.post(f"/api/v1/alerts/{fp}/resolve", json={"by": "alice"})
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["state"] == "resolved"
        assert follower.post(f"/api/v1/alerts/{fp}/resolve", json={"by": "bob"}).status_code == 409
        wait_for(lambda: events_for(pagerduty, "resolve", key), timeout=30, what="PagerDuty resolve")

        # A reload sent to the follower reaches the leader too (each reads its own files: here the same file).
        text = config.read_text().replace("  - name: checkout-model\n", "  - name: checkout-model\n  - name: extra\n")
        config.write_text(text)
        reloaded = follower.post("/api/v1/config/reload")
        assert reloaded.status_code == 200, reloaded.text
        wait_for(
            lambda: all(readyz(r)["config_hash"] not in hashes for r in replicas),
            timeout=3 * INTERVAL,
            what="the new config on every replica",
        )
        assert len({readyz(r)["config_hash"] for r in replicas}) == 1
        assert "a reload on another replica" in leader.log()
        time.sleep(INTERVAL)
        assert len(events_for(pagerduty, "trigger", key)) == 1
        assert len(events_for(pagerduty, "acknowledge", key)) == 1
        assert len(events_for(pagerduty, "resolve", key)) == 1


DRIFT_CONFIG = """apiVersion: slo-service/v1
services: [{name: model}]
monitors:
  - name: scored
    current: {push: true, timestamp_column: ts}
    reference: {file: reference.csv}
    window: 1h
    schedule: {interval: 1h}
    columns: {numerical: [x], categorical: [c], id: id, prediction: pred}
    ground_truth: {push: true, label_column: y, max_delay: 2h}
"""


def drift_rows(n: int, seed: int, at: datetime, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "ts": [(at - timedelta(seconds=i)).isoformat() for i in range(n)],
            "x": rng.normal(10.0, 2.0, n).round(3),
            "c": rng.choice(["a", "b", "c"], n).tolist(),
            "pred": rng.integers(0, 2, n),
        }
    )


def stored_batches(db_url: str) -> list[tuple[int, str, int]]:
    """(id, kind, bytes kept) of every drift batch in the database."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            b = DriftBatchRow.__table__.c
            rows = conn.execute(select(b.id, b.kind, func.length(b.content)).order_by(b.id)).all()
    finally:
        engine.dispose()
    return [(int(i), str(k), int(n or 0)) for i, k, n in rows]


def test_drift_batches_pushed_to_a_replica_that_does_not_lead_are_read_by_the_leaders_run(
    postgres_url: str, tmp_path: Path
) -> None:
    """Each replica has its own data directory (no shared disk): the rows and the labels pushed to the follower
    are stored once, with their bytes, and the leader's runs read them from the database."""
    now = datetime.now(UTC)
    drift_rows(300, 1, now - timedelta(days=30), "ref").to_csv(tmp_path / "reference.csv", index=False)
    config = tmp_path / "monitors.yaml"
    config.write_text(DRIFT_CONFIG)
    with ExitStack() as stack:
        replicas = [
            stack.enter_context(
                run_service(
                    [config],
                    postgres_url,
                    tmp_path,
                    env={**env(f"r{i}"), "SLO_SERVICE_DATA_DIR": str(tmp_path / f"data-r{i}")},
                )
            )
            for i in (0, 1)
        ]
        leader = wait_for(lambda: the_leader(replicas), what="exactly one leader")
        follower = next(r for r in replicas if r is not leader)
        leader_dir = tmp_path / f"data-r{replicas.index(leader)}"

        predictions = drift_rows(200, 2, now - timedelta(minutes=5), "p")
        pushed = follower.post("/api/v1/monitors/scored/batches", json={"records": predictions.to_dict("records")})
        assert pushed.status_code == 201, pushed.text
        rows_id = pushed.json()["id"]
        ((only_id, kind, size),) = stored_batches(postgres_url)  # stored once, with its bytes
        assert (only_id, kind) == (rows_id, "rows") and size > 0
        assert not list(leader_dir.rglob("*.parquet"))  # not on the leader's disk: it must read the database
        listed = leader.get("/api/v1/monitors/scored/batches").json()
        assert [(b["id"], b["kind"], b["rows"]) for b in listed] == [(rows_id, "rows", 200)]

        run = leader.post("/api/v1/monitors/scored/run", timeout=120).json()
        assert run["status"] == "ok", run["reason"]
        assert run["rows_current"] == 200
        assert run["quality"] == {"labelled_rows": 0.0}

        rng = np.random.default_rng(3)
        labelled = predictions.iloc[:150]
        y = np.where(rng.random(150) < 0.7, labelled["pred"], 1 - labelled["pred"])
        labels = pd.DataFrame({"id": labelled["id"], "y": y})
        pushed = follower.post("/api/v1/monitors/scored/batches", json={"records": labels.to_dict("records")})
        assert pushed.status_code == 201 and pushed.json()["kind"] == "labels", pushed.text
        labels_id = pushed.json()["id"]
        assert [(i, k) for i, k, n in stored_batches(postgres_url) if n > 0] == [
            (rows_id, "rows"),
            (labels_id, "labels"),
        ]

        run = leader.post("/api/v1/monitors/scored/run", timeout=120).json()
        assert run["status"] == "ok", run["reason"]
        assert run["rows_current"] == 200  # the labels batch is no current data
        assert run["quality"]["labelled_rows"] == 150
        expected = float(np.mean(labelled["pred"].to_numpy() == y))
        assert run["quality"]["accuracy"] == pytest.approx(expected, abs=1e-12)
        assert not list(leader_dir.rglob("*.parquet"))

        # Deleted on the leader, which does not have the file: the record and its bytes go; the next run is
        # without those labels.
        assert leader.request("DELETE", f"/api/v1/monitors/scored/batches/{labels_id}").status_code == 200
        assert [i for i, _, _ in stored_batches(postgres_url)] == [rows_id]
        run = leader.post("/api/v1/monitors/scored/run", timeout=120).json()
        assert run["status"] == "ok", run["reason"]
        assert run["quality"] == {"labelled_rows": 0.0}
