"""A stopped service leaves no drift worker behind: SIGTERM ends the Evidently worker processes even while a run
holds them, and a worker whose service was killed (SIGKILL) ends itself."""

from __future__ import annotations

import contextlib
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slo_service.demo.drift_example import write_drift_example
from tests.support.process import ServiceProcess, run_service, wait_for

pytestmark = pytest.mark.timeout(300)


def children(pid: int) -> list[int]:
    """The direct child processes of `pid` (Linux /proc; every thread's children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its new parent to reap it runs no more)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def drift_workers(svc: ServiceProcess) -> list[int]:
    """The service's multiprocessing children (the Evidently worker and its helpers)."""
    out = []
    for pid in children(svc.proc.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing" in cmdline:
            out.append(pid)
    return out


def start_run(svc: ServiceProcess) -> threading.Thread:
    """POST a run of the example monitor in the background (it blocks until the run ends or the service stops)."""

    def run() -> None:
        with contextlib.suppress(Exception):  # the service stops under it: expected
            svc.post("/api/v1/monitors/fraud-features/run", timeout=240)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_no_drift_worker_survives_its_service(sig: signal.Signals, tmp_path: Path) -> None:
    config = write_drift_example(tmp_path / "drift", datetime.now(UTC))
    env = {"SLO_SERVICE_DATA_DIR": str(tmp_path / "data")}
    with run_service([config], f"sqlite:///{tmp_path}/s.db", tmp_path, env=env) as svc:
        assert drift_workers(svc) == []  # started on first use only
        start_run(svc)
        workers = wait_for(lambda: drift_workers(svc), timeout=60, what="a drift worker process")
        # the worker is importing Evidently or running the job now: the run holds the pool's lock
        svc.signal(sig)
        svc.proc.wait(timeout=60)
        if sig == signal.SIGTERM:
            assert svc.proc.returncode == 0, svc.log()
            assert "stopped in" in svc.log()
            assert "drift run of fraud-features started" in svc.log()  # long work shows in the log
        wait_for(lambda: not any(alive(pid) for pid in workers), timeout=30, what=f"workers {workers} to end")
