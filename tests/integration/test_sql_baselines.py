"""Counter baselines on SQLite and PostgreSQL: stored with their minutes, and restarts that travel in time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.clock import ManualClock
from slo_service.core.model import SLO, Config, Period, RatioSLI, ScrapeSource, Service
from slo_service.core.ports import EVENTS, BaselineKey, CounterBaselines, CountIncrement, ScrapeHealth
from slo_service.core.samples import Sample
from slo_service.pipeline.evaluate import Evaluator
from slo_service.pipeline.history import LiveHistory
from slo_service.pipeline.runtime import Adapters, Runtime

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
OK = ("requests_total", (("code", "200"),))
ERR = ("requests_total", (("code", "500"),))
# a long series with labels outside ASCII
LONG = ("requests_total", (("path", "/" + "é" * 3000), ("zone", "eu-1")))


def baselines(at: datetime, values: dict[BaselineKey, float], slo: str = "svc/a") -> CounterBaselines:
    return CounterBaselines("src", slo, "http://t/metrics", "f1", at, values)


def test_baselines_round_trip_with_their_minutes(sql_store: SqlHistoryStore) -> None:
    assert sql_store.load_baselines("src") == []
    values = {("total", OK): 100.0, ("total", ERR): 5.0, ("bad", ERR): 5.0, ("total", LONG): 1e15 + 1}
    sql_store.add_counts([CountIncrement("svc/a", T0, 9, 10)], baselines=[baselines(T0, values)])
    assert sql_store.load_baselines("src") == [baselines(T0, values)]
    assert sql_store.load_baselines("other") == []

    # a later scrape replaces them; of several in one write, the last of each SLO counts
    later = T0 + timedelta(seconds=15)
    sql_store.add_counts(
        [],
        baselines=[
            baselines(later, {("total", OK): 1.0}),
            baselines(later, {("total", OK): 110.0}),
            baselines(T0, {}, "svc/b"),
        ],
    )
    assert sql_store.load_baselines("src") == [baselines(later, {("total", OK): 110.0}), baselines(T0, {}, "svc/b")]


def test_minutes_and_baselines_are_one_transaction(sql_store: SqlHistoryStore) -> None:
    sql_store.add_counts([], baselines=[baselines(T0, {("total", OK): 100.0})])
    naive = datetime(2026, 1, 5, 12, 1)  # refused by the column type inside the transaction, after the minutes
    with pytest.raises(Exception, match="naive datetime"):
        sql_store.add_counts([CountIncrement("svc/a", T0, 1, 1)], baselines=[baselines(naive, {("total", OK): 101.0})])
    assert sql_store.load_counts(None, T0 - MINUTE, T0 + MINUTE) == []
    assert sql_store.load_baselines("src") == [baselines(T0, {("total", OK): 100.0})]


def test_retention_deletes_old_baselines(sql_store: SqlHistoryStore) -> None:
    sql_store.add_counts(
        [], baselines=[baselines(T0, {("total", OK): 1.0}), baselines(T0 + timedelta(days=30), {}, "svc/b")]
    )
    result = sql_store.compact(T0 + timedelta(days=40), raw_retention=timedelta(days=8), retention=timedelta(days=20))
    assert result.deleted == 1
    assert [b.slo for b in sql_store.load_baselines("src")] == ["svc/b"]


# ------------------------------------------------------------------ restarts of the pipeline on SQL


SLI_A = RatioSLI("src", total="requests_total", bad='requests_total{code="500"}')
SLO_A = SLO("svc", "a", 0.99, Period.rolling(timedelta(days=7)), SLI_A)
SOURCE = ScrapeSource("src", "http://127.0.0.1:1/metrics", timedelta(seconds=15), timedelta(seconds=5))
CONFIG = Config({"svc": Service("svc")}, {"src": SOURCE}, (SLO_A,))


class Target:
    def __init__(self) -> None:
        self.ok, self.errors = 5000.0, 50.0

    def fetcher(self, source: ScrapeSource):  # type: ignore[no-untyped-def]
        async def fetch(now: datetime) -> tuple[list[Sample], ScrapeHealth]:
            samples = [
                Sample("requests_total", {"code": "200"}, self.ok),
                Sample("requests_total", {"code": "500"}, self.errors),
            ]
            return samples, ScrapeHealth(source.name, source.url, now, True, 0.01, 2)

        return fetch


def process(engine: Engine, clock: ManualClock, target: Target) -> Runtime:
    """What `serve` builds on start, with a clock the test moves: a new process on the same database."""
    store = SqlHistoryStore(engine, clock=clock)
    history = LiveHistory(store, clock.now())
    adapters = Adapters(scrape=target.fetcher, promql=lambda source, slos: None)  # type: ignore[arg-type,return-value]
    return Runtime(CONFIG, store, history, Evaluator(history), adapters, clock, lambda: CONFIG)


def test_restarts_keep_every_event_in_the_minutes_of_the_gap(db_engine: Engine) -> None:
    clock, target = ManualClock(T0 + timedelta(seconds=40)), Target()
    rt = process(db_engine, clock, target)
    truth = (0.0, 0.0)
    for i in range(4):  # a minute of scrapes; the first is the baseline
        if i:
            target.ok, target.errors = target.ok + 99, target.errors + 1
            truth = (truth[0] + 99, truth[1] + 100)
        asyncio.run(rt.collect("src"))
        clock.advance(timedelta(seconds=15))
    last = clock.now() - timedelta(seconds=15)  # 12:01:25, then the process is killed (nothing more is written)
    # down for 4 minutes: 4 x 600 requests, 4 x 6 errors
    clock.advance(timedelta(minutes=4) - timedelta(seconds=15))
    target.ok, target.errors = target.ok + 2376, target.errors + 24
    truth = (truth[0] + 2376, truth[1] + 2400)
    rt = process(db_engine, clock, target)
    asyncio.run(rt.collect("src"))  # 12:05:25

    rows = rt.store.load_counts([SLO_A.key], T0, T0 + timedelta(hours=1), EVENTS)
    assert (sum(r.good for r in rows), sum(r.total for r in rows)) == truth
    gap = {(r.start - T0) // MINUTE: (r.good, r.total) for r in rows if r.start > last - MINUTE}
    # (12:01:25, 12:05:25]: 35 s of 12:01, all of 12:02-12:04 (600 requests each), 25 s of 12:05
    assert [t for _, t in gap.values()] == [200 + 350, 600, 600, 600, 250]
    assert all(g == pytest.approx(0.99 * t, abs=1) for g, t in gap.values())
    status = rt.evaluate().statuses[SLO_A.key]
    assert (status.period.good, status.period.total) == truth  # the new process's windows see them too
