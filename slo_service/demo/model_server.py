"""A simulated ML model server exposing Prometheus metrics, for the demo and for tests.

Each tick (about one second) it simulates the requests of that second for a fraud-detection model:
request counts by code, a latency histogram, prediction outcomes, feature freshness and GPU memory.
`trigger_incident()` (or `POST /incident?duration=900`) tells the demo's story of a bad incident:

* at once: 30% of requests fail and most are slow (the availability, latency and prediction-success
  SLOs burn);
* the feature refresh job fails: the server falls back to a snapshot `INCIDENT_FEATURE_AGE` (11 min)
  old and no refresh lands until the incident ends, so the feature age passes 900 s after 4 minutes;
* GPU memory leaks `GPU_LEAK_PER_SECOND`: from about 0.7 it passes 0.9 after about 3 minutes.

Healthy, the feature set is refreshed every 10 minutes (+-30 s jitter: the age never reaches 900 s)
and GPU memory stays in [0.6, 0.8]. Randomness is seeded and time is injectable, so tests drive
`tick()` by hand and get the same numbers every run.

    python -m slo_service.demo.model_server --port 9105 [--incident]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

MODEL = "fraud-detector"
VERSION = "v3"
ROUTE = "/predict"
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
FEATURE_REFRESH_SECONDS = 600.0
FEATURE_REFRESH_JITTER = 30.0
INCIDENT_FEATURE_AGE = 660.0
"""An incident serves features from a snapshot at least this old: past 900 s four minutes in."""
GPU_LEAK_PER_SECOND = 0.001
GPU_INCIDENT_CEILING = 0.97
INCIDENT_SECONDS = 900.0
"""Long enough for every page of the story (after an hour of healthy history): prediction-success
(~2 min), latency (~4 min), feature freshness (5-10 min, by the 5-minute slice), GPU memory (~13 min)."""
HEALTHY_ERROR_RATE = 0.0005
"""`slo-service demo`'s error rate: every example SLO burns at most 0.5x while healthy (0.1% would sit
exactly at prediction-success's 99.9% objective, and its budget would run out by chance after days)."""


@dataclass
class Incident:
    until: float
    error_rate: float
    slow: bool


class Simulation:
    """The traffic model; everything random comes from one seeded `random.Random`."""

    def __init__(
        self,
        registry: CollectorRegistry,
        seed: int = 42,
        rate: float = 20.0,
        error_rate: float = 0.005,
        time_source: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.error_rate = error_rate
        self.time_source = time_source
        self._lock = threading.Lock()
        self.incident: Incident | None = None
        self.ticks = 0
        self.requests = 0
        self.errors = 0
        self.slow = 0
        self.feature_age = self.rng.uniform(0, 120)
        self._next_refresh = self._refresh_interval()
        self.gpu = 0.7
        self.requests_total = Counter(
            "model_requests",
            "Inference requests served, by HTTP status code.",
            ["model", "version", "route", "code"],
            registry=registry,
        )
        self.duration = Histogram(
            "model_request_duration_seconds",
            "Inference request latency in seconds.",
            ["route"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.predictions = Counter(
            "model_predictions", "Predictions made, by outcome.", ["model", "outcome"], registry=registry
        )
        self.freshness = Gauge(
            "model_feature_freshness_seconds",
            "Age of the newest feature snapshot in seconds.",
            ["feature_set"],
            registry=registry,
        )
        self.gpu_memory = Gauge(
            "model_gpu_memory_used_ratio", "Share of GPU memory in use.", ["gpu"], registry=registry
        )
        # every series exists from the start, so a scraper's first look is a complete baseline
        for code in ("200", "500", "503"):
            self.requests_total.labels(MODEL, VERSION, ROUTE, code)
        for outcome in ("success", "error"):
            self.predictions.labels(MODEL, outcome)
        self.duration.labels(ROUTE)
        self.freshness.labels("user_features").set(self.feature_age)
        self.gpu_memory.labels("0").set(self.gpu)

    def _refresh_interval(self) -> float:
        return FEATURE_REFRESH_SECONDS + self.rng.uniform(-FEATURE_REFRESH_JITTER, FEATURE_REFRESH_JITTER)

    def trigger_incident(
        self, duration_s: float = INCIDENT_SECONDS, error_rate: float = 0.3, slow: bool = True
    ) -> Incident:
        with self._lock:
            if self.incident is None:
                # the refresh job fails and the server falls back to an older snapshot
                self.feature_age = max(self.feature_age, INCIDENT_FEATURE_AGE)
            self.incident = Incident(self.time_source() + duration_s, error_rate, slow)
            return self.incident

    def active_incident(self) -> Incident | None:
        with self._lock:
            if self.incident is not None and self.time_source() >= self.incident.until:
                self.incident = None
            return self.incident

    def _poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 50:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def _latency(self, slow: bool) -> float:
        if slow and self.rng.random() < 0.7:
            return self.rng.lognormvariate(math.log(0.6), 0.6)  # mostly 0.25 s .. 2 s
        return self.rng.lognormvariate(math.log(0.06), 0.5)  # ~99.8% under 0.25 s: the latency SLO holds

    def tick(self, dt: float = 1.0) -> None:
        """Simulate `dt` seconds of traffic and update every metric."""
        incident = self.active_incident()
        error_rate = incident.error_rate if incident else self.error_rate
        slow = bool(incident and incident.slow)
        n = self._poisson(self.rate * dt)
        counts = {"200": 0, "500": 0, "503": 0}
        hist = self.duration.labels(ROUTE)
        for _ in range(n):
            failed = self.rng.random() < error_rate
            code = ("500" if self.rng.random() < 0.7 else "503") if failed else "200"
            counts[code] += 1
            latency = self._latency(slow)
            if latency > 0.25:
                self.slow += 1
            hist.observe(latency)
        for code, c in counts.items():
            if c:
                self.requests_total.labels(MODEL, VERSION, ROUTE, code).inc(c)
        ok = counts["200"]
        self.predictions.labels(MODEL, "success").inc(ok)
        self.predictions.labels(MODEL, "error").inc(n - ok)
        self.requests += n
        self.errors += n - ok
        # feature freshness: refreshed every ~10 minutes, except while an incident is going on
        self.feature_age += dt
        if self.feature_age >= self._next_refresh and incident is None:
            self.feature_age = self.rng.uniform(0, 5)
            self._next_refresh = self._refresh_interval()
        self.freshness.labels("user_features").set(round(self.feature_age, 3))
        # GPU memory: a bounded random walk around 0.7; during an incident it leaks up to a ceiling
        if incident is not None:
            self.gpu = min(GPU_INCIDENT_CEILING, self.gpu + GPU_LEAK_PER_SECOND * dt + self.rng.gauss(0, 0.002))
        else:
            target = 0.7 + self.rng.gauss(0, 0.02)
            self.gpu = min(0.8, max(0.6, self.gpu + 0.3 * (target - self.gpu)))
        self.gpu_memory.labels("0").set(round(self.gpu, 4))
        self.ticks += 1

    def status(self) -> dict[str, Any]:
        incident = self.active_incident()
        return {
            "model": MODEL,
            "version": VERSION,
            "ticks": self.ticks,
            "requests": self.requests,
            "errors": self.errors,
            "feature_age_seconds": round(self.feature_age, 1),
            "gpu_memory_used_ratio": round(self.gpu, 3),
            "incident": None
            if incident is None
            else {
                "remaining_seconds": round(incident.until - self.time_source(), 1),
                "error_rate": incident.error_rate,
                "slow": incident.slow,
            },
        }


class DemoModelServer:
    """Serves /metrics, POST /incident and GET / on `host:port` (port 0 picks a free one)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9105,
        seed: int = 42,
        rate: float = 20.0,
        error_rate: float = 0.005,
        *,
        tick_seconds: float = 1.0,
        time_source: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.port = port
        self.tick_seconds = tick_seconds
        self.registry = CollectorRegistry(auto_describe=True)
        self.sim = Simulation(self.registry, seed, rate, error_rate, time_source)
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def tick(self, dt: float = 1.0) -> None:
        self.sim.tick(dt)

    def trigger_incident(
        self, duration_s: float = INCIDENT_SECONDS, error_rate: float = 0.3, slow: bool = True
    ) -> None:
        self.sim.trigger_incident(duration_s, error_rate, slow)

    def start(self, simulate: bool = True) -> DemoModelServer:
        """Start serving; with `simulate`, a background thread ticks every `tick_seconds`."""
        if self._httpd is not None:
            raise RuntimeError("already started")
        self._httpd = ThreadingHTTPServer((self.host, self.port), _handler(self))
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._stop.clear()
        serve = threading.Thread(target=self._httpd.serve_forever, name="demo-http", daemon=True)
        serve.start()
        self._threads = [serve]
        if simulate:
            ticker = threading.Thread(target=self._run_ticks, name="demo-ticks", daemon=True)
            ticker.start()
            self._threads.append(ticker)
        return self

    def _run_ticks(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.tick_seconds):
            now = time.monotonic()
            self.sim.tick(now - last)
            last = now

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []

    def __enter__(self) -> DemoModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(server: DemoModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/metrics":
                self._send(200, generate_latest(server.registry), CONTENT_TYPE_LATEST)
            elif path == "/":
                self._json(200, server.sim.status())
            else:
                self._json(404, {"error": f"no such path {path}"})

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if parts.path != "/incident":
                self._json(404, {"error": f"no such path {parts.path}"})
                return
            query = parse_qs(parts.query)
            try:
                duration = float(query.get("duration", [str(INCIDENT_SECONDS)])[0])
                error_rate = float(query.get("error_rate", ["0.3"])[0])
                slow = query.get("slow", ["true"])[0].lower() not in ("0", "false", "no")
                if duration <= 0 or not 0 <= error_rate <= 1:
                    raise ValueError("duration must be > 0 and error_rate in [0, 1]")
            except ValueError as exc:
                self._json(400, {"error": str(exc)})
                return
            server.trigger_incident(duration, error_rate, slow)
            self._json(200, {"incident": True, "duration_seconds": duration, "error_rate": error_rate, "slow": slow})

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulated ML model server exposing Prometheus metrics.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9105)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--error-rate", type=float, default=0.005)
    parser.add_argument("--incident", action="store_true", help="start with an incident")
    parser.add_argument("--incident-duration", type=float, default=INCIDENT_SECONDS)
    args = parser.parse_args(argv)
    server = DemoModelServer(args.host, args.port, args.seed, args.rate, args.error_rate)
    if args.incident:
        server.trigger_incident(args.incident_duration)
    server.start()
    print(f"demo model server on {server.url}/metrics (POST {server.url}/incident?duration=900)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
