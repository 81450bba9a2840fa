"""Benchmark: large drift batch bodies against a real service -- memory growth of the API process and /healthz
latency while the body is sent, parsed and stored.

    PYTHONPATH=. .venv/bin/python bench/bench_batch_bodies.py [--runs 3] [--json-mb 100] [--parquet-mb 60]

Starts `slo-service serve` on SQLite with one push monitor (20 numerical columns), then, per scenario and run:
records VmRSS of the service process, sends the body while a thread GETs /healthz back to back, and reports the
status, the growth of the process's peak RSS (VmHWM after minus VmRSS before: an upper bound of what the body
cost) and the /healthz p50 / p99 / max. Scenarios: a JSON body of --json-mb with Content-Length (refused 413
before it is read), the same body chunked (counted as it streams, 413 past the limit), and a Parquet body of
--parquet-mb (under the 64 MiB limit: accepted, checked and stored). Prints medians over --runs and the load.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.process import ServiceProcess, run_service

COLUMNS = [f"f{i}" for i in range(20)]


def config(tmp: Path) -> Path:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({c: rng.normal(0, 1, 1000) for c in COLUMNS})
    ref.to_parquet(tmp / "reference.parquet")
    path = tmp / "bench.yaml"
    path.write_text(
        "apiVersion: slo-service/v1\nkind: Config\nservices: [{name: bench}]\nmonitors:\n"
        "  - name: wide\n    current: {push: true}\n    reference: {file: reference.parquet}\n"
        f"    columns: {{numerical: [{', '.join(COLUMNS)}]}}\n"
    )
    return path


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs); needs the same user."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def json_body(mb: int) -> bytes:
    row = b'{"f0": 0.123456789, "f1": 1.23456789, "f2": 2.3456789, "f3": 3.456789, "f4": 4.56789},'
    n = mb * 1_000_000 // len(row)
    return b'{"records": [' + row * (n - 1) + row[:-1] + b"]}"


def parquet_body(mb: int) -> bytes:
    rng = np.random.default_rng(2)
    n = mb * 1_000_000 // (8 * len(COLUMNS))
    buf = io.BytesIO()
    pd.DataFrame({c: rng.normal(0, 1, n) for c in COLUMNS}).to_parquet(buf, compression=None)
    return buf.getvalue()


def chunks(body: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def probe(url: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            client.get(url)
            out.append((time.perf_counter() - t0) * 1000)


def one(svc: ServiceProcess, body: bytes | Iterator[bytes], ctype: str) -> tuple[int, float, list[float]]:
    pid = svc.proc.pid
    reset_peak(pid)
    before = rss_kib(pid, "VmRSS")
    stop, lat = threading.Event(), []
    t = threading.Thread(target=probe, args=(svc.url + "/healthz", stop, lat))
    t.start()
    time.sleep(0.2)
    try:
        r = svc.post("/api/v1/monitors/wide/batches", content=body, headers={"content-type": ctype}, timeout=600)
        status = r.status_code
    except httpx.HTTPError:
        status = 413  # the server answered 413 and closed the connection while the client still sent
    time.sleep(0.2)
    stop.set()
    t.join()
    growth_mb = (rss_kib(pid, "VmHWM") - before) / 1024
    return status, growth_mb, lat


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json-mb", type=int, default=100)
    ap.add_argument("--parquet-mb", type=int, default=60)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cfg = config(tmp)
        big_json = json_body(args.json_mb)
        pq_body = parquet_body(args.parquet_mb)
        scenarios = [
            (f"JSON {len(big_json) / 1e6:.0f} MB, Content-Length", lambda: big_json, "application/json"),
            (f"JSON {len(big_json) / 1e6:.0f} MB, chunked", lambda: chunks(big_json), "application/json"),
            (f"Parquet {len(pq_body) / 1e6:.0f} MB", lambda: pq_body, "application/vnd.apache.parquet"),
        ]
        env = {"SLO_SERVICE_DATA_DIR": str(tmp / "data"), "SLO_SERVICE_LOG_LEVEL": "WARNING"}
        with run_service([cfg], f"sqlite:///{tmp}/slo.db", tmp, env=env) as svc:
            for name, body, ctype in scenarios:
                results = [one(svc, body(), ctype) for _ in range(args.runs)]
                statuses = sorted({r[0] for r in results})
                growth = statistics.median(r[1] for r in results)
                p50 = statistics.median(pct(r[2], 0.5) for r in results)
                p99 = statistics.median(pct(r[2], 0.99) for r in results)
                worst = max(max(r[2]) for r in results)
                n = statistics.median(len(r[2]) for r in results)
                print(
                    f"{name:34s} status {statuses}  peak RSS growth {growth:6.1f} MB  "
                    f"/healthz p50 {p50:5.1f} ms p99 {p99:5.1f} ms max {worst:6.1f} ms ({n:.0f} probes)"
                )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
