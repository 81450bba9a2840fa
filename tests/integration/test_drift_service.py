"""Drift monitoring through the real service process: a run in the Evidently worker, stored, shown in the
API and on /metrics, and counted by a drift SLO."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.test_service_process import metric_value
from tests.support.process import run_service, wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "drift"


def write_current(path: Path, rows: int, income_factor: float) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    lines = ["request_id,ts,age,income,country,device,prediction"]
    for i in range(rows):
        ts = (now - timedelta(minutes=rng.randint(1, 120))).strftime("%Y-%m-%dT%H:%M:%SZ")
        income = int(rng.gauss(50_000, 15_000) * income_factor)
        country = rng.choice(["DE", "US", "FR", "GB"])
        device = rng.choice(["mobile", "desktop"])
        lines.append(f"c{i},{ts},{rng.randint(18, 80)},{income},{country},{device},{rng.randint(0, 1)}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def drift_config(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "drift")
    for f in (tmp_path / "drift" / "data").glob("current*.csv"):
        f.unlink()
    for f in (tmp_path / "drift" / "data").glob("labels*.csv"):
        f.unlink()
    return tmp_path / "drift" / "monitors.yaml"


def test_a_drift_run_is_stored_served_exported_and_counted_by_its_slo(
    drift_config: Path, sqlite_url: str, tmp_path: Path
) -> None:
    write_current(drift_config.parent / "data" / "current.csv", rows=300, income_factor=3.0)
    env = {"SLO_SERVICE_DATA_DIR": str(tmp_path / "data")}
    with run_service([drift_config], sqlite_url, tmp_path, env=env) as svc:
        response = svc.post("/api/v1/monitors/fraud-features/run", timeout=180)
        assert response.status_code == 200, response.text
        run = response.json()
        assert run["status"] == "ok", run
        drifted = {c["column"] for c in run["columns"] if c["drifted"]}
        assert "income" in drifted and "age" not in drifted

        runs = svc.get("/api/v1/drift/runs", params={"monitor": "fraud-features"}).json()
        assert [r["id"] for r in runs] == [run["id"]]
        report = svc.get(f"/api/v1/drift/runs/{run['id']}/report")
        assert report.status_code == 200 and "<html" in report.text.lower()

        metrics = svc.get("/metrics").text
        assert metric_value(metrics, "slo_drift_share", monitor="fraud-features") == pytest.approx(run["drifted_share"])
        assert metric_value(metrics, "slo_feature_drift_score", monitor="fraud-features", feature="income")

        # the income-stability SLO (occurrences would count it at once; this one uses 1h timeslices)
        # and the dataset SLO see the run as one event
        def dataset_slo_total() -> float:
            status = svc.get("/api/v1/slos/fraud-scoring/no-dataset-drift").json().get("status") or {}
            return float(((status.get("windows") or {}).get("period") or {}).get("total", 0))

        wait_for(lambda: dataset_slo_total() == 1, timeout=30, what="the drift run to count as an SLO event")

        # bad input: a monitor nobody configured, a push to a files monitor
        assert svc.post("/api/v1/monitors/nope/run").status_code == 404
        assert svc.post("/api/v1/monitors/fraud-features/batches", json={"records": [{}]}).status_code == 409


def test_an_empty_current_window_is_a_failed_run_that_alerts(
    drift_config: Path, sqlite_url: str, tmp_path: Path
) -> None:
    env = {"SLO_SERVICE_DATA_DIR": str(tmp_path / "data")}
    with run_service([drift_config], sqlite_url, tmp_path, env=env) as svc:
        run = svc.post("/api/v1/monitors/fraud-features/run", timeout=180).json()
        assert run["status"] == "failed"
        assert "empty current window" in run["reason"]
        metrics = svc.get("/metrics").text
        assert metric_value(metrics, "slo_drift_run_failed_total", monitor="fraud-features") == 1
        alerts = svc.get("/api/v1/alerts", params={"state": "firing"}).json()
        assert [a["labels"]["alertname"] for a in alerts] == ["DriftRunFailed"]
        assert svc.get("/healthz").status_code == 200
