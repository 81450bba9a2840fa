"""Benchmark: a quality gate over 50 SLOs and 5 drift monitors answers within 100 ms once its window has
passed (issue 10).

    .venv/bin/python bench/bench_gates.py [--gates 30] [--other-slos 200] [--hours 24] [--postgres URL | --no-postgres]

On a real database (SQLite file, and PostgreSQL unless --no-postgres): a day of 1-minute slices for the 50
gated SLOs and `--other-slos` more (the table a real install has), and a drift run every 5 minutes of each
monitor. Each gate is new and its 30-minute window has passed, so the timed `GateService.get` is the whole
first answer: read the gate, sum the window's and the baseline's counts of 50 SLOs from the in-memory counts
matrix (as the service does for windows in its 1-minute tier, the last 6 hours), read the monitors' runs,
score, store the result. A second read (the stored answer, what every later poll costs) is timed too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from bench_store import postgres_db, sqlite_db

from slo_service.adapters.sql.deployment_store import SqlDeploymentStore
from slo_service.adapters.sql.drift_store import SqlDriftStore
from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.migrate import upgrade
from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.clock import ManualClock
from slo_service.core.deployments import Deployment
from slo_service.core.drift.monitor import DriftRun, RunStatus
from slo_service.core.model import SLO, Config, Period, PushSource, RatioSLI, Service
from slo_service.core.ports import CountIncrement
from slo_service.pipeline.gates import GateRequest, GateService, live_counts
from slo_service.pipeline.history import LiveHistory

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
GATED = 50
MONITORS = 5
WINDOW = timedelta(minutes=30)


def _config(other: int) -> Config:
    period = Period.rolling(timedelta(days=30))
    slos = tuple(
        SLO(service, f"slo{i}", 0.99, period, RatioSLI("push", total=f'r{{s="{i}"}}', bad=f'r{{c="5",s="{i}"}}'))
        for service, n in (("api", GATED), ("other", other))
        for i in range(n)
    )
    return Config({"api": Service("api"), "other": Service("other")}, {"push": PushSource("push")}, slos)


def _fill(url: str, config: Config, hours: int) -> None:
    engine = make_engine(url)
    try:
        store = SqlHistoryStore(engine)
        start = NOW - timedelta(hours=hours)
        minutes = hours * 60
        for key in (s.key for s in config.slos):
            batch = [CountIncrement(key, start + timedelta(minutes=m), 995.0 + (m % 5), 1000.0) for m in range(minutes)]
            store.add_counts(batch)
        drift = SqlDriftStore(engine)
        for m in range(MONITORS):
            for k in range(hours * 12):
                at = start + timedelta(minutes=5 * k)
                drift.save_run(
                    DriftRun(
                        f"monitor{m}",
                        at,
                        at + timedelta(seconds=20),
                        RunStatus.OK,
                        drifted_share=0.1,
                        dataset_drifted=False,
                    )
                )
    finally:
        engine.dispose()


def bench(db: Callable[[], AbstractContextManager[str]], gates: int, other: int, hours: int) -> dict[str, list[float]]:
    config = _config(other)
    with db() as url:
        upgrade(url)
        began = time.perf_counter()
        _fill(url, config, hours)
        print(f"  filled {len(config.slos)} SLOs x {hours} h of slices in {time.perf_counter() - began:.0f} s")
        engine = make_engine(url)
        try:
            clock = ManualClock(NOW)
            store = SqlDeploymentStore(engine, clock)
            history = LiveHistory(SqlHistoryStore(engine), NOW)
            history.rebuild(config.slos, NOW)  # as the service starts: the matrix loaded from the slices
            counts = live_counts(history)
            service = GateService(store, counts, SqlDriftStore(engine), lambda: config, clock)
            checks = {
                "objectives": [f"slo{i}" for i in range(GATED)],
                "monitors": [f"monitor{m}" for m in range(MONITORS)],
            }
            times: dict[str, list[float]] = {"first answer": [], "stored answer": []}
            for g in range(gates):
                at = NOW - timedelta(hours=2) + timedelta(minutes=g)  # windows inside the filled day, passed
                store.record(Deployment(f"d{g}", "api", "prod", f"v{g}", None, None, None, at))
                gate = service.create(GateRequest(checks, WINDOW, deployment_id=f"d{g}"))
                began = time.perf_counter()
                answer = service.get(gate.id)
                times["first answer"].append(time.perf_counter() - began)
                assert answer is not None and answer.status == "pass", answer
                assert answer.result and len(answer.result["objectives"]) == GATED + MONITORS
                began = time.perf_counter()
                service.get(gate.id)
                times["stored answer"].append(time.perf_counter() - began)
            return times
        finally:
            engine.dispose()


def _report(name: str, times: dict[str, list[float]]) -> None:
    for what, ts in times.items():
        ms = sorted(t * 1000 for t in ts)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        print(f"  {name} {what}: median {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", type=int, default=30)
    parser.add_argument("--other-slos", type=int, default=200)
    parser.add_argument("--hours", type=int, default=24)
    default_pg = os.environ.get("SLO_SERVICE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--postgres", default=default_pg)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    databases: list[tuple[str, Callable[[], AbstractContextManager[str]]]] = [("sqlite", sqlite_db)]
    if not args.no_postgres:
        databases.append(("postgresql", lambda: postgres_db(args.postgres)))
    print(f"gate: {GATED} SLOs + {MONITORS} monitors, 30 min window; {args.gates} gates per database")
    for name, db in databases:
        _report(name, bench(db, args.gates, args.other_slos, args.hours))


if __name__ == "__main__":
    main()
