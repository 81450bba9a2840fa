"""The console's overview at 1,000 and 10,000 SLOs: server time (p50 / p99) and page weight.

    PYTHONPATH=. .venv/bin/python bench/bench_console.py [--slos 1000 10000] [--requests 200] [--runs 3]

In one process: the real app (build_service, SQLite in a temporary directory) over N push SLOs (the config of
tests/support/console.py), one push of data and one evaluation. Then, per run: the first GET / (it builds the
cached listing GET /api/v1/slos also serves, and reads 200 sparklines from the database), `--requests` more
GET / (the steady state between evaluations: what a page's 15 s refresh costs), and the first GET / after a
new evaluation (the listing is rebuilt). Times are wall-clock around TestClient calls in the same process, so
they hold the server's whole work (routing, auth, rendering) and no network; the process's CPU time per
request is printed too, as other load on a shared machine stretches wall time but not CPU time. Page weight:
body bytes, plain and gzip. Prints the median over --runs of each figure.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from slo_service.settings import Settings  # noqa: E402
from slo_service.wiring import build_service, building  # noqa: E402
from tests.support.auth import ADMIN_HEADERS, ADMIN_TOKEN  # noqa: E402
from tests.support.console import ingest_body, many_slos_config  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_run(n: int, requests: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        configs = many_slos_config(Path(tmp), n)
        with building():  # as `serve` builds the service: what start-up made is then frozen out of the GC's reach
            service = build_service(
                Settings(
                    database_url=f"sqlite:///{tmp}/bench.sqlite",
                    config=[str(c) for c in configs],
                    admin_token=ADMIN_TOKEN,
                    data_dir=str(Path(tmp) / "data"),
                )
            )
        try:
            client = TestClient(service.app, headers=ADMIN_HEADERS)
            assert client.post("/api/v1/ingest", json=ingest_body(n, {i: 5.0 for i in range(0, n, 7)})).is_success
            service.runtime.evaluate()
            t0 = time.perf_counter()
            first = client.get("/")
            cold = time.perf_counter() - t0
            assert first.status_code == 200 and first.text.count("data-slo=") == min(n, 200)
            times, cpu = [], []
            for _ in range(requests):
                t0, c0 = time.perf_counter(), time.process_time()
                page = client.get("/")
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                assert page.status_code == 200
            service.runtime.evaluate()
            t0 = time.perf_counter()
            client.get("/")
            after_eval = time.perf_counter() - t0
            body = page.content
            return {
                "cold_ms": cold * 1000,
                "p50_ms": pct(times, 0.5) * 1000,
                "p99_ms": pct(times, 0.99) * 1000,
                "cpu_p50_ms": pct(cpu, 0.5) * 1000,
                "cpu_p99_ms": pct(cpu, 0.99) * 1000,
                "after_evaluation_ms": after_eval * 1000,
                "bytes": len(body),
                "gzip_bytes": len(gzip.compress(body)),
            }
        finally:
            service.worker.close()
            service.drift_pool.close()
            service.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slos", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for n in args.slos:
        runs = [one_run(n, args.requests) for _ in range(args.runs)]
        median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{n} SLOs (page of {min(n, 200)} rows, median of {args.runs} runs): "
            f"p50 {median['p50_ms']:.1f} ms, p99 {median['p99_ms']:.1f} ms over {args.requests} requests "
            f"(CPU time p50 {median['cpu_p50_ms']:.1f} ms, p99 {median['cpu_p99_ms']:.1f} ms); "
            f"first request {median['cold_ms']:.0f} ms; "
            f"first after a new evaluation {median['after_evaluation_ms']:.0f} ms; "
            f"page {median['bytes'] / 1024:.0f} KiB ({median['gzip_bytes'] / 1024:.0f} KiB gzip)",
            flush=True,
        )


if __name__ == "__main__":
    main()
