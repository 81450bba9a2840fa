"""Benchmark: API latency on a status endpoint while a 1M-row drift run is in progress, against idle.

    .venv/bin/python bench/bench_drift_api_latency.py [--rows 1000000] [--requests 400]

Starts `slo-service serve` as a real process on SQLite with one drift monitor over Parquet files of
--rows rows x 20 columns a side (bench_drift_evidently.make_frame, a 1 std shift), then times
GET /api/v1/slos/bench/drift sequentially: first idle, then while POST /api/v1/monitors/features/run
is in progress (the run happens in the Evidently worker process; the API awaits it in a thread).
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from bench_drift_evidently import CAT, NUM, make_frame


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_requests(client: httpx.Client, url: str, n: int, until: threading.Event | None = None) -> list[float]:
    out: list[float] = []
    while len(out) < n and not (until is not None and until.is_set()):
        t0 = time.perf_counter()
        assert client.get(url).status_code == 200
        out.append(time.perf_counter() - t0)
        time.sleep(0.01)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    make_frame(args.rows, 1).to_parquet(tmp / "reference.parquet", index=False)
    make_frame(args.rows, 2, "shift_1").to_parquet(tmp / "current.parquet", index=False)
    (tmp / "slo.yaml").write_text(
        f"""apiVersion: slo-service/v1
services: [{{name: bench}}]
monitors:
  - name: features
    current: {{files: current.parquet}}
    reference: {{file: reference.parquet, version: bench}}
    schedule: {{interval: 24h}}
    timeout: 10m
    columns:
      numerical: [{", ".join(NUM)}]
      categorical: [{", ".join(CAT)}]
slos:
  - service: bench
    name: drift
    objective: 99
    period: 30d
    sli: {{drift: {{monitor: features, check: dataset}}}}
"""
    )
    port = free_port()
    token = secrets.token_urlsafe(32)  # this run's bootstrap admin token: every API call needs one
    log = open(tmp / "service.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slo_service",
            "serve",
            "--port",
            str(port),
            "--config",
            str(tmp / "slo.yaml"),
            "--database-url",
            f"sqlite:///{tmp}/bench.db",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SLO_SERVICE_DATA_DIR": str(tmp), "SLO_SERVICE_ADMIN_TOKEN": token},
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(timeout=60, headers=auth) as client:
            for _ in range(300):
                try:
                    if client.get(base + "/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            status_url = base + "/api/v1/slos/bench/drift"
            time_requests(client, status_url, 20)  # warm-up
            idle = time_requests(client, status_url, args.requests)
            done = threading.Event()
            result: dict[str, object] = {}

            def run() -> None:
                t0 = time.perf_counter()
                response = httpx.post(base + "/api/v1/monitors/features/run", headers=auth, timeout=900)
                result["seconds"] = time.perf_counter() - t0
                result["status"] = response.json().get("status")
                done.set()

            runner = threading.Thread(target=run)
            runner.start()
            time.sleep(1.0)  # the run has started in the worker
            busy = time_requests(client, status_url, args.requests * 10, until=done)
            runner.join()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    print(f"{args.rows:,} rows x 20 columns a side; drift run {result['status']} in {result['seconds']:.1f} s")
    print(f"{'state':>8} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, values in (("idle", idle), ("drift run", busy)):
        print(
            f"{name:>8} {len(values):>9} {statistics.median(values) * 1000:>8.1f} "
            f"{percentile(values, 0.99) * 1000:>8.1f} {max(values) * 1000:>8.1f}"
        )


if __name__ == "__main__":
    main()
