"""Benchmark: from a breach being queued to the PagerDuty request, while Slack is throttled (or hanging).

    .venv/bin/python bench/bench_delivery_isolation.py [--breaches 30] [--gap 0.5] [--runs 3] [--slack throttled]

In one process, as `slo-service serve` runs it: the DeliveryWorker on a real SQLite database (the default
deployment), the real SlackReceiver (slack-sdk) and PagerDutyReceiver (httpx), and two local HTTP servers:
a Slack that answers every call with HTTP 429 ``ratelimited`` and ``Retry-After: 5`` (``--slack hanging``:
holds every request past the receiver's 10 s timeout), and a PagerDuty that accepts every event at once.
The scheduler's two jobs are emulated as `serve` runs them: the evaluation job calls ``run_once()`` right
after a breach is written (both receivers' messages in one transaction, Slack's first), and the flush job
calls it every 2 s; each job runs one call at a time (APScheduler ``max_instances=1``).

Latency: wall time from the outbox commit to the PagerDuty stand-in receiving the event, per breach.
Breaches come ``--gap`` seconds apart; ``--runs`` runs; p50, p99 and max per run, then the median over runs.

The same script measures the code on PYTHONPATH, so the behaviour before per-receiver lanes can be measured
from a checkout of it (``PYTHONPATH=<checkout> python bench/bench_delivery_isolation.py``): a DeliveryWorker
without ``wait`` is driven exactly the same way.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from slo_service.adapters.receivers.pagerduty import PagerDutyReceiver
from slo_service.adapters.receivers.slack import SlackReceiver
from slo_service.adapters.sql.alert_store import SqlAlertStore
from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.migrate import upgrade
from slo_service.core.notify import OutboxMessage
from slo_service.pipeline.delivery import DeliveryWorker

ROUTING_KEY = "R0UT1NGKEY0123456789012345678901"
WAIT_LIMIT = 60.0  # a page later than this is reported as missed


class Stand:
    """Shared state of the two stand-ins."""

    slack_mode = "throttled"
    pd_arrivals: dict[str, float] = {}
    slack_calls = 0
    lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            return dict(json.loads(raw or b"{}"))
        except ValueError:
            return {}

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        arrived = time.perf_counter()
        body = self._body()
        if self.path.startswith("/v2/enqueue"):
            with Stand.lock:
                Stand.pd_arrivals.setdefault(str(body.get("dedup_key")), arrived)
            self._answer(202, {"status": "success", "dedup_key": body.get("dedup_key")})
            return
        with Stand.lock:
            Stand.slack_calls += 1
        if Stand.slack_mode == "hanging":
            time.sleep(11)  # past the receiver's 10 s timeout
            self._answer(200, {"ok": True, "channel": "C0ALERTS", "ts": f"{time.time():.6f}"})
            return
        self._answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "5"})

    def log_message(self, *args: object) -> None:
        return None


def payload(i: int) -> dict[str, Any]:
    labels = {"alertname": "SLOBurnRateHigh", "service": f"svc-{i}", "slo": "availability", "severity": "page"}
    return {
        "version": "4",
        "status": "firing",
        "groupKey": f'{{}}:{{service="svc-{i}"}}',
        "groupLabels": {"service": f"svc-{i}"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": f"svc-{i} burns its error budget"},
        "alerts": [{"status": "firing", "labels": labels, "annotations": {}, "startsAt": "2026-12-06T00:00:00Z"}],
    }


class Job:
    """One APScheduler job: runs `fn` when triggered, skipping a trigger while the previous run is busy."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.busy = threading.Lock()

    def trigger(self) -> None:
        if self.busy.acquire(blocking=False):
            threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            self.fn()
        finally:
            self.busy.release()


def one_run(base: str, breaches: int, gap: float, tmp: Path, run: int) -> list[float]:
    url = f"sqlite:///{tmp}/bench-{run}.db"
    upgrade(url)
    engine = make_engine(url)
    store = SqlAlertStore(engine)
    receivers = {
        "chat": SlackReceiver("chat", "xoxb-bench", "C0ALERTS", base_url=f"{base}/api/"),
        "pager": PagerDutyReceiver("pager", ROUTING_KEY, url=f"{base}/v2/enqueue"),
    }
    kwargs = {"wait": False} if "wait" in inspect.signature(DeliveryWorker).parameters else {}
    worker = DeliveryWorker(store, receivers, lambda: datetime.now(UTC), **kwargs)
    evaluate, flush = Job(worker.run_once), Job(worker.run_once)
    stop = threading.Event()

    def flush_timer() -> None:
        while not stop.wait(2.0):
            flush.trigger()

    threading.Thread(target=flush_timer, daemon=True).start()
    queued: dict[str, float] = {}
    for i in range(breaches):
        key = f"run{run}-breach{i}"
        now = datetime.now(UTC)
        # As the alerting step writes them: every receiver's message of the group, in one transaction.
        store.enqueue(
            [
                OutboxMessage("chat", "trigger", key, payload(i), now),
                OutboxMessage("pager", "trigger", key, payload(i), now),
            ]
        )
        queued[key] = time.perf_counter()
        evaluate.trigger()  # Cycle.run delivers right after the alerting step
        time.sleep(gap)
    deadline = time.perf_counter() + WAIT_LIMIT
    while time.perf_counter() < deadline:
        with Stand.lock:
            if all(k in Stand.pd_arrivals for k in queued):
                break
        time.sleep(0.05)
    stop.set()
    with Stand.lock:
        latencies = [Stand.pd_arrivals.get(k, queued[k] + WAIT_LIMIT) - queued[k] for k in queued]
    close = getattr(worker, "close", None)
    if close is not None:
        close(0.1)
    engine.dispose()
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--breaches", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between breaches")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slack", choices=["throttled", "hanging"], default="throttled")
    args = parser.parse_args()
    Stand.slack_mode = args.slack

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    tmp = Path(tempfile.mkdtemp())

    lanes = "wait" in inspect.signature(DeliveryWorker).parameters
    print(f"code: {'per-receiver lanes' if lanes else 'one queue (before lanes)'}; Slack {args.slack}")
    print("| run | breaches | p50 (ms) | p99 (ms) | max (ms) | missed (> 60 s) |")
    print("|---:|---:|---:|---:|---:|---:|")
    p50s, p99s, maxes = [], [], []
    for run in range(args.runs):
        lat = one_run(base, args.breaches, args.gap, tmp, run)
        missed = sum(1 for x in lat if x >= WAIT_LIMIT)
        p50s.append(pct(lat, 0.5))
        p99s.append(pct(lat, 0.99))
        maxes.append(max(lat))
        row = [run + 1, len(lat), f"{p50s[-1] * 1e3:.1f}", f"{p99s[-1] * 1e3:.1f}", f"{maxes[-1] * 1e3:.1f}", missed]
        print("| " + " | ".join(str(x) for x in row) + " |")
    print(
        f"| median of {args.runs} | {args.breaches} | {statistics.median(p50s) * 1e3:.1f} | "
        f"{statistics.median(p99s) * 1e3:.1f} | {statistics.median(maxes) * 1e3:.1f} | |"
    )
    print(f"Slack calls: {Stand.slack_calls}")
    server.shutdown()


if __name__ == "__main__":
    main()
