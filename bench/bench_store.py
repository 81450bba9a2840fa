"""Time SqlHistoryStore.add_counts for one scrape round of 100 targets x 2,000 series.

200,000 increments collapse to 20,000 distinct slice rows (each row receives 10 increments). "insert"
writes a new minute (fresh rows); "update" writes the same minute again (upsert-add into existing rows).
Median of N runs per backend, each on a fresh migrated database (SQLite file / PostgreSQL schema).

    .venv/bin/python bench/bench_store.py [--runs 5] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.migrate import upgrade
from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.ports import CountIncrement

TARGETS, SERIES, DISTINCT = 100, 2_000, 20_000
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def increments(start: datetime) -> list[CountIncrement]:
    return [
        CountIncrement(f"slo-{(t * SERIES + s) % DISTINCT:05d}", start, 9.0, 10.0)
        for t in range(TARGETS)
        for s in range(SERIES)
    ]


@contextmanager
def sqlite_db() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/bench.db"


@contextmanager
def postgres_db(base: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bench(db: Callable[[], Iterator[str]] | object, runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"insert": [], "update": []}
    for i in range(runs):
        with db() as url:  # type: ignore[operator]
            upgrade(url)
            engine = make_engine(url)
            try:
                store = SqlHistoryStore(engine)
                incs = increments(T0 + timedelta(minutes=i))
                for mode in ("insert", "update"):
                    began = time.perf_counter()
                    store.add_counts(incs, idempotency_key=f"{mode}-{i}")
                    times[mode].append(time.perf_counter() - began)
                rows = store.load_counts(None, T0, T0 + timedelta(days=1))
                assert len(rows) == DISTINCT and sum(r.total for r in rows) == 2 * 10.0 * TARGETS * SERIES
            finally:
                engine.dispose()
    return {mode: statistics.median(ts) for mode, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    default_pg = os.environ.get("SLO_SERVICE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--postgres", default=default_pg)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    backends: list[tuple[str, object]] = [("sqlite", sqlite_db)]
    if not args.no_postgres:
        backends.append(("postgresql", lambda: postgres_db(args.postgres)))
    n = TARGETS * SERIES
    print(f"add_counts: {TARGETS} targets x {SERIES} series = {n:,} increments -> {DISTINCT:,} rows")
    print(f"median of {args.runs} runs\n")
    print(f"{'backend':<12}{'mode':<8}{'seconds':>9}{'increments/s':>15}")
    for name, db in backends:
        for mode, seconds in bench(db, args.runs).items():
            print(f"{name:<12}{mode:<8}{seconds:>9.3f}{n / seconds:>15,.0f}")


if __name__ == "__main__":
    main()
