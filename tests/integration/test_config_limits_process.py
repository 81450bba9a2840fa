"""Hostile config files against the real process: `validate` and a live reload refuse them quickly.

Before the YAML limits, a 369-byte billion-laughs file ran `validate` past 120 s at 9.8 GB and an API
reload pushed the service to 1.1 GB. Here the refusal names file:line, the old SLOs stay served and the
process stays small (VmRSS from /proc).
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.process import run_service, wait_for
from tests.unit.test_specs_yaml_bombs import laughs

pytestmark = pytest.mark.timeout(120)

CONFIG = """\
apiVersion: slo-service/v1
services: [{name: checkout-model}]
sources: [{name: events, type: push}]
slos:
  - service: checkout-model
    name: availability
    objective: 99
    period: 7d
    sli: {ratio: {source: events, good: good_total, total: requests_total}}
"""

RSS_LIMIT_MB = 300


def rss_mb(pid: int) -> float:
    """Resident set size of a live process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def bomb_problem(path: Path) -> str:
    return (
        f"{path}:7: (yaml): alias *e (anchor &e at line 6) expands to 66,430 nodes, taking the file to "
        "141,172 nodes, past the limit of 100,000 (an alias bomb?); write the data out or use fewer aliases"
    )


def _cap_memory() -> None:  # in the child: a regression fails with MemoryError instead of eating the machine
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))


def test_validate_refuses_the_billion_laughs_file_in_seconds(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs())
    assert bomb.stat().st_size == 369
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "slo_service", "validate", str(bomb)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_cap_memory,
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [bomb_problem(bomb)]
    assert "Traceback" not in result.stderr
    assert elapsed < 10, f"validate took {elapsed:.1f}s"


def test_reload_refuses_hostile_files_and_keeps_the_old_config(sqlite_url: str, tmp_path: Path) -> None:
    config = tmp_path / "slo.yaml"
    config.write_text(CONFIG)
    with run_service([config], sqlite_url, tmp_path) as svc:
        slos = [(s["service"], s["slo"]) for s in svc.get("/api/v1/slos").json()]
        assert slos == [("checkout-model", "availability")]
        started_rss = rss_mb(svc.proc.pid)

        config.write_text(laughs())
        start = time.monotonic()
        response = svc.post("/api/v1/config/reload", timeout=60)
        elapsed = time.monotonic() - start
        assert response.status_code == 422, response.text
        assert response.json() == {
            "message": "config refused, the previous config stays active",
            "problems": [bomb_problem(config)],
        }
        assert elapsed < 10, f"reload took {elapsed:.1f}s"
        rss = rss_mb(svc.proc.pid)
        assert rss < RSS_LIMIT_MB, f"RSS {rss:.0f} MB after the reload (started at {started_rss:.0f} MB)"
        assert rss - started_rss < 50, f"RSS grew from {started_rss:.0f} to {rss:.0f} MB"
        assert [(s["service"], s["slo"]) for s in svc.get("/api/v1/slos").json()] == slos
        assert svc.get("/api/v1/slos/checkout-model/availability").json()["objective"] == pytest.approx(0.99)

        # The SIGHUP reload goes the same way: 10,000 nested lists are refused with their line.
        config.write_text("[" * 10_000 + "]" * 10_000 + "\n")
        svc.signal(signal.SIGHUP)
        depth_problem = f"{config}:1: (yaml): lists and mappings are nested deeper than 100 levels here"
        last = wait_for(
            lambda: (r := svc.get("/api/v1/config").json()["last_reload"])["problems"] == [depth_problem] and r,
            timeout=30,
            what="the SIGHUP reload refusing the deep file",
        )
        assert last["ok"] is False
        assert svc.get("/api/v1/config").json()["slos"] == ["checkout-model/availability"]
        assert rss_mb(svc.proc.pid) < RSS_LIMIT_MB

        # The service is still healthy and takes a good config again.
        config.write_text(CONFIG.replace("objective: 99\n", "objective: 99.5\n"))
        response = svc.post("/api/v1/config/reload")
        assert response.status_code == 200, response.text
        assert svc.get("/api/v1/slos/checkout-model/availability").json()["objective"] == pytest.approx(0.995)
