"""Benchmark: scrape + parse + extract + store for many targets within one scrape interval.

    .venv/bin/python bench/bench_scrape.py [--targets 100] [--series 2000] [--runs 5] [--database-url URL]

A child process (stdlib http.server on 127.0.0.1, keep-alive) serves the targets' static exposition files,
so its CPU is not counted. Each round scrapes every target concurrently with one httpx.AsyncClient,
parses the bodies (slo_service.adapters.scrape) and runs one SLIExtractor per target (one ratio SLO
matching all of that target's series). Round 0 is the counter baseline; rounds 1..runs are timed,
every round serving higher counter values. CPU is this process's user+system time (getrusage).
The round ends when the per-SLO increments and the counter baselines they were counted from are written
through LiveHistory to the SQL store in one transaction per target (a fresh
SQLite file by default; --database-url for PostgreSQL), as the service does after each scrape.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from slo_service.adapters import scrape as scrape_module
from slo_service.adapters.scrape import scrape
from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.migrate import upgrade
from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.extract import SLIExtractor
from slo_service.core.model import SLO, Period, RatioSLI, ScrapeSource
from slo_service.pipeline.history import LiveHistory, to_increments

INTERVAL = 15.0

# http.server with HTTP/1.1 keep-alive and a listen backlog large enough for 100 simultaneous connects
SERVER = """
import functools, http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True
handler = functools.partial(Handler, directory=sys.argv[2])
Server(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


def write_targets(root: Path, targets: int, series: int, rounds: int) -> None:
    for r in range(rounds):
        d = root / f"r{r}"
        d.mkdir()
        for t in range(targets):
            lines = ["# HELP bench_requests_total Requests.", "# TYPE bench_requests_total counter"]
            for i in range(series):
                code = "500" if i % 50 == 0 else "200"
                value = (i + 1) * 10 + r * (i % 7 + 1)
                lines.append(f'bench_requests_total{{target="t{t}",handler="/h{i}",code="{code}"}} {value}')
            (d / f"t{t}.prom").write_text("\n".join(lines) + "\n")


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


@dataclass
class Round:
    wall: float
    cpu: float
    samples: int
    observations: int
    down: int


async def one_round(
    client: httpx.AsyncClient, sources: list[ScrapeSource], extractors: list[SLIExtractor], history: LiveHistory
) -> Round:
    now = datetime.now(UTC)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()

    async def target(i: int) -> tuple[int, int, bool]:
        out = await scrape(client, sources[i], now)
        if not out.health.up:
            print(f"  {sources[i].url}: {out.health.error}", file=sys.stderr)
        result = extractors[i].from_scrape(out.samples, now) if out.health.up else None
        if result is not None:
            history.record(to_increments(result.observations), baselines=result.baselines)
        return len(out.samples), len(result.observations) if result else 0, out.health.up

    results = await asyncio.gather(*(target(i) for i in range(len(sources))))
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    return Round(
        wall,
        cpu,
        sum(r[0] for r in results),
        sum(r[1] for r in results),
        sum(1 for r in results if not r[2]),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def bench(targets: int, series: int, runs: int, root: Path, port: int, database_url: str) -> list[Round]:
    period = Period.rolling(timedelta(days=28))
    slos = [
        SLO(
            "bench",
            f"t{t}",
            0.99,
            period,
            RatioSLI(f"t{t}", total=f'bench_requests_total{{target="t{t}"}}', bad='bench_requests_total{code="500"}'),
        )
        for t in range(targets)
    ]
    extractors = [SLIExtractor([s]) for s in slos]
    upgrade(database_url)
    history = LiveHistory(SqlHistoryStore(make_engine(database_url)), datetime.now(UTC))
    history.rebuild(slos, datetime.now(UTC))
    limits = httpx.Limits(max_connections=targets, max_keepalive_connections=targets)
    rounds: list[Round] = []
    async with httpx.AsyncClient(limits=limits) as client:
        for r in range(runs + 1):
            sources = [
                ScrapeSource(f"t{t}", f"http://127.0.0.1:{port}/r{r}/t{t}.prom", timeout=timedelta(seconds=10))
                for t in range(targets)
            ]
            result = await one_round(client, sources, extractors, history)
            if result.down:
                raise SystemExit(f"round {r}: {result.down} targets down")
            if r > 0:
                if result.observations != targets:
                    raise SystemExit(f"round {r}: {result.observations} observations, expected {targets}")
                rounds.append(result)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--reference-parser", action="store_true", help="parse with prometheus_client only (no fast path)"
    )
    parser.add_argument("--database-url", default=None, help="SQL store (default: a fresh SQLite file)")
    args = parser.parse_args()
    if args.reference_parser:
        scrape_module.parse_text = scrape_module.parse_text_reference
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_targets(root, args.targets, args.series, args.runs + 1)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port), tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            database_url = args.database_url or f"sqlite:///{root}/bench.db"
            rounds = asyncio.run(bench(args.targets, args.series, args.runs, root, port, database_url))
        finally:
            server.terminate()
            server.wait(timeout=10)

    parser_name = "prometheus_client parser" if args.reference_parser else "fast-path parser"
    print(
        f"{args.targets} targets x {args.series} series, {args.runs} timed rounds "
        f"(after a baseline round), {parser_name}"
    )
    print(f"{'round':>5} {'wall s':>8} {'cpu s':>8} {'cpu/wall':>9} {'cpu/15s':>8} {'samples':>9} {'k samples/s':>12}")
    for i, r in enumerate(rounds, 1):
        print(
            f"{i:>5} {r.wall:>8.3f} {r.cpu:>8.3f} {r.cpu / r.wall:>9.0%} {r.cpu / INTERVAL:>8.1%} "
            f"{r.samples:>9} {r.samples / r.wall / 1000:>12.1f}"
        )
    wall = statistics.median(r.wall for r in rounds)
    cpu = statistics.median(r.cpu for r in rounds)
    share = statistics.median(r.cpu / r.wall for r in rounds)
    print(
        f"{'med':>5} {wall:>8.3f} {cpu:>8.3f} {share:>9.0%} {cpu / INTERVAL:>8.1%} "
        f"{rounds[0].samples:>9} {rounds[0].samples / wall / 1000:>12.1f}"
    )
    verdict = "fits" if wall < INTERVAL else "does NOT fit"
    print(f"median wall {wall:.2f}s {verdict} in a {INTERVAL:.0f}s interval")


if __name__ == "__main__":
    main()
