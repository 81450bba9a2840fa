"""Start slo-service (or Prometheus) as a real process on a free port and wait until it answers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.support.auth import ADMIN_TOKEN

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_tool(name: str, packages: str = "prometheus prometheus-alertmanager") -> str:
    """Path of a binary; skip if missing, but fail when SLO_SERVICE_REQUIRE_ALL=1 (CI)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install {packages})"
        if os.environ.get("SLO_SERVICE_REQUIRE_ALL") == "1":
            pytest.fail(message + " and SLO_SERVICE_REQUIRE_ALL=1")
        pytest.skip(message)
    return path


class GiveUp(AssertionError):
    """Raised inside a wait_for check: stop waiting at once (e.g. the process under test exited)."""


def wait_for(check: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.2, what: str = "") -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except GiveUp:
            raise
        except Exception as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}: last error {last_error!r}")


@dataclass
class ServiceProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    token: str | None = ADMIN_TOKEN
    """Sent as `Authorization: Bearer` by get/post/request (None: no header); headers given win."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers = {**auth, **(kwargs.pop("headers", None) or {})}
        return httpx.request(method, self.url + path, **{"timeout": 10, "headers": headers, **kwargs})

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)


@contextmanager
def run_service(
    config_paths: Sequence[Path],
    database_url: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    ready: bool = True,
) -> Iterator[ServiceProcess]:
    """`python -m slo_service serve` on a free port; yields once /readyz answers 200 (`ready=False`: once
    /healthz does, e.g. while the service waits for its database). The service takes ADMIN_TOKEN as its
    bootstrap admin token (unless `env` sets one), and get/post send it."""
    port = free_port()
    log_path = tmp_path / f"service-{port}.log"
    full_env = {
        **os.environ,
        "SLO_SERVICE_EVALUATION_INTERVAL": "1",
        "SLO_SERVICE_LOG_LEVEL": "INFO",
        "SLO_SERVICE_ADMIN_TOKEN": ADMIN_TOKEN,
        # one spill directory per process (replicas may share tmp_path); a restart that must find the spill
        # of the process before it passes the same SLO_SERVICE_SPILL_DIR to both
        "SLO_SERVICE_SPILL_DIR": str(tmp_path / f"spill-{port}"),
        **(env or {}),
    }
    cmd = [sys.executable, "-m", "slo_service", "serve", "--port", str(port), "--database-url", database_url]
    for p in config_paths:
        cmd += ["--config", str(p)]
    cmd += list(args)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    svc = ServiceProcess(proc, port, log_path)
    try:

        def check() -> bool:
            if proc.poll() is not None:
                raise GiveUp(f"service exited with {proc.returncode}")
            return svc.get("/readyz" if ready else "/healthz").status_code == 200

        try:
            wait_for(check, timeout=60, what="service /readyz" if ready else "service /healthz")
        except AssertionError as exc:  # GiveUp included
            raise AssertionError(f"{exc}\n--- service log ---\n{svc.log()}") from None
        yield svc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process (only this one), SIGKILL it if it has not exited within 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def run_prometheus(
    tmp_path: Path,
    targets: Sequence[str],
    scrape_interval: str = "1s",
    rule_files: Sequence[Path] = (),
    evaluation_interval: str | None = None,
) -> Iterator[str]:
    """The real Prometheus (Debian package) on a free port scraping `targets` (host:port), evaluating
    `rule_files` (every `evaluation_interval`, default the scrape interval); yields its URL."""
    binary = require_tool("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    target_list = ", ".join(f'"{t}"' for t in targets)
    rules = "".join(f"\n  - {p}" for p in rule_files)
    config.write_text(
        f"""global:
  scrape_interval: {scrape_interval}
  evaluation_interval: {evaluation_interval or scrape_interval}
rule_files:{rules or " []"}
scrape_configs:
  - job_name: test
    static_configs:
      - targets: [{target_list}]
"""
    )
    log_path = tmp_path / "prometheus.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise GiveUp(f"prometheus exited:\n{log_path.read_text(errors='replace')[-3000:]}")
            return httpx.get(f"{base}/-/ready", timeout=2).status_code == 200

        wait_for(ready, timeout=60, what="prometheus /-/ready")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def prom_query(base: str, expr: str) -> list[dict[str, Any]]:
    """Instant query against a Prometheus; asserts success and returns the result vector."""
    body = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def start_local_server() -> HTTPServer:
    """A threaded pytest-httpserver on 127.0.0.1 and a free port, started (the caller stops it)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    return server
