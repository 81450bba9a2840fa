"""The terminal commands that read a running service: status (80 columns, firing alerts), alerts, oncall, drift."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from slo_service.demo.drift_example import write_drift_example
from tests.support.auth import cli_env
from tests.support.process import ServiceProcess, run_service, wait_for

pytestmark = pytest.mark.timeout(300)

ONCALL = """apiVersion: slo-service/v1
alerting:
  users:
    alice: {email: alice@example.com}
    bob: {email: bob@example.com}
  schedules:
    - name: primary
      timezone: UTC
      layers:
        - name: daily
          rotation: {members: [alice, bob], length: 1d, start: "2026-01-05T00:00:00+00:00"}
"""
ROTATION_START = datetime(2026, 1, 5, tzinfo=UTC)


def cli(svc: ServiceProcess, *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slo_service", *args, "--url", svc.url],
        capture_output=True,
        text=True,
        timeout=300,
        env=cli_env(COLUMNS=str(columns)),
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The drift example without its current data (so its run fails and DriftRunFailed fires) and a schedule."""
    tmp = tmp_path_factory.mktemp("remote")
    monitors = write_drift_example(tmp / "drift", datetime.now(UTC))
    (tmp / "drift" / "current.csv").unlink()
    oncall = tmp / "oncall.yaml"
    oncall.write_text(ONCALL)
    env = {"SLO_SERVICE_DATA_DIR": str(tmp / "data")}
    with run_service([monitors, oncall], f"sqlite:///{tmp}/s.db", tmp, env=env) as svc:
        yield svc


def test_drift_run_says_why_a_run_failed_and_drift_runs_lists_it(service: ServiceProcess) -> None:
    run = cli(service, "drift", "run", "fraud-features")
    assert run.returncode == 1
    assert "of fraud-features failed:" in run.stderr and "current.csv" in run.stderr
    runs = cli(service, "drift", "runs", "--monitor", "fraud-features")
    assert runs.returncode == 0, runs.stderr
    assert "fraud-features" in runs.stdout and "failed" in runs.stdout
    text = " ".join(runs.stdout.split())  # the note below the table wraps at 80 columns
    assert "run 1: could not read the current data: file not found:" in text and "current.csv" in text
    none = cli(service, "drift", "runs", "--monitor", "no-such-monitor")
    assert none.returncode == 0 and "no drift runs" in none.stdout


def test_status_fits_80_columns_and_lists_firing_alerts(service: ServiceProcess) -> None:
    service.post("/api/v1/monitors/fraud-features/run", timeout=120)
    wait_for(lambda: service.get("/api/v1/alerts", params={"state": "firing"}).json(), what="DriftRunFailed to fire")
    result = cli(service, "status")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    assert "fraud-scoring/no-dataset-drift" in result.stdout  # whole names, not folded
    assert "firing alert(s)" in result.stdout and "DriftRunFailed fraud-features" in result.stdout
    wide = cli(service, "status", "--wide", columns=80)
    assert "budget used" in wide.stdout and "burn 1d" in wide.stdout
    alerts = cli(service, "alerts", "--state", "firing", columns=200)
    assert alerts.returncode == 0 and "DriftRunFailed" in alerts.stdout


def test_oncall_shows_who_is_on_call_now_and_next(service: ServiceProcess) -> None:
    result = cli(service, "oncall")
    assert result.returncode == 0, result.stderr
    day = (datetime.now(UTC) - ROTATION_START).days
    now, following = ("alice", "bob") if day % 2 == 0 else ("bob", "alice")
    row = next(line for line in result.stdout.splitlines() if line.strip().startswith("primary"))
    assert row.split()[1] == now and following in row.split()[2:], result.stdout
    missing = cli(service, "oncall", "secondary")
    assert missing.returncode == 1 and "no on-call schedule 'secondary'" in missing.stderr
