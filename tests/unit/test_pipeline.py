"""The pipeline on a ManualClock and the in-memory store: days of history in milliseconds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.core.clock import ManualClock
from slo_service.core.model import (
    SLO,
    Budgeting,
    BudgetingMethod,
    Comparison,
    Config,
    Period,
    RatioSLI,
    ScrapeSource,
    Service,
    ThresholdSLI,
)
from slo_service.core.ports import EVENTS, SLICES, CountIncrement, ScrapeHealth
from slo_service.core.samples import Sample
from slo_service.pipeline.evaluate import Evaluator
from slo_service.pipeline.history import LiveHistory
from slo_service.pipeline.runtime import Adapters, Runtime
from tests.support.stores import FlakyStore

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
SOURCE = ScrapeSource("model", "http://127.0.0.1:1/metrics")


def ratio_slo(name: str = "availability", objective: float = 0.99) -> SLO:
    return SLO(
        "fraud",
        name,
        objective,
        Period.rolling(timedelta(days=7)),
        RatioSLI("model", total="requests_total", bad='requests_total{code="500"}'),
    )


def freshness_slo() -> SLO:
    return SLO(
        "fraud",
        "freshness",
        0.9,
        Period.rolling(timedelta(days=7)),
        ThresholdSLI("model", "freshness_seconds", Comparison.LT, 3600),
        Budgeting(BudgetingMethod.TIMESLICES, timedelta(minutes=5), 1.0),
    )


def config_of(*slos: SLO) -> Config:
    return Config({"fraud": Service("fraud")}, {"model": SOURCE}, tuple(slos))


class FakeTarget:
    """Counters a model server would expose; the test moves them between scrapes."""

    def __init__(self) -> None:
        self.ok = 0.0
        self.errors = 0.0
        self.freshness = 10.0
        self.up = True

    def samples(self) -> list[Sample]:
        return [
            Sample("requests_total", {"code": "200"}, self.ok),
            Sample("requests_total", {"code": "500"}, self.errors),
            Sample("freshness_seconds", {}, self.freshness),
        ]

    def fetcher(self, source: ScrapeSource):  # type: ignore[no-untyped-def]
        async def fetch(now: datetime) -> tuple[list[Sample], ScrapeHealth]:
            if not self.up:
                return [], ScrapeHealth(source.name, source.url, now, False, 0.1, 0, "HTTP 500")
            samples = self.samples()
            return samples, ScrapeHealth(source.name, source.url, now, True, 0.01, len(samples))

        return fetch


def make_runtime(config: Config, store: InMemoryHistoryStore, clock: ManualClock, target: FakeTarget) -> Runtime:
    history = LiveHistory(store, clock.now())
    adapters = Adapters(scrape=target.fetcher, promql=lambda source, slos: None)  # type: ignore[arg-type,return-value]
    return Runtime(config, store, history, Evaluator(history), adapters, clock, lambda: config)


def run_minutes(rt: Runtime, clock: ManualClock, target: FakeTarget, minutes: int, ok: int, errors: int) -> None:
    for _ in range(minutes):
        clock.advance(timedelta(minutes=1))
        target.ok += ok
        target.errors += errors
        asyncio.run(rt.collect("model"))


def stored_totals(store: InMemoryHistoryStore, key: str, series: str = EVENTS) -> tuple[float, float]:
    rows = store.load_counts([key], START - timedelta(days=1), START + timedelta(days=30), series)
    return sum(r.good for r in rows), sum(r.total for r in rows)


def test_two_days_of_scrapes_give_the_hand_computed_sli_and_burn_rates() -> None:
    clock, store, target = ManualClock(START), InMemoryHistoryStore(), FakeTarget()
    rt = make_runtime(config_of(ratio_slo()), store, clock, target)
    asyncio.run(rt.collect("model"))  # baseline scrape: counts nothing
    run_minutes(rt, clock, target, 2 * 1440 - 60, ok=99, errors=1)  # 1% errors
    run_minutes(rt, clock, target, 60, ok=95, errors=5)  # last hour: 5% errors
    clock.advance(timedelta(seconds=30))
    status = rt.evaluate().statuses["fraud/availability"]

    assert status.period.total == pytest.approx(2 * 1440 * 100)
    assert status.period.good == pytest.approx((2 * 1440 - 60) * 99 + 60 * 95)
    # alert windows are the last whole minutes [M - w, M): the newest scrape (at M, in the still-open
    # minute) is not in them yet, the one from M - 60m (1% errors) is
    assert status.windows["1h"].total == pytest.approx(6000)
    assert status.windows["1h"].burn_rate == pytest.approx((59 * 5 + 1 * 1) / 6000 / 0.01)
    assert status.windows["6h"].burn_rate == pytest.approx((301 * 1 + 59 * 5) / 36000 / 0.01)
    bad_share = (2 * 1440 * 100 - status.period.good) / (2 * 1440 * 100)
    assert status.budget.remaining_ratio == pytest.approx(1 - bad_share / 0.01)
    assert stored_totals(store, "fraud/availability") == (status.period.good, status.period.total)


def test_database_outage_buffers_increments_and_writes_them_on_recovery() -> None:
    clock, store, target = ManualClock(START), FlakyStore(), FakeTarget()
    rt = make_runtime(config_of(ratio_slo()), store, clock, target)
    asyncio.run(rt.collect("model"))
    run_minutes(rt, clock, target, 10, ok=10, errors=0)
    store.down = True
    run_minutes(rt, clock, target, 30, ok=9, errors=1)
    assert rt.history.pending_writes == 30
    clock.advance(timedelta(seconds=30))
    # The evaluation still sees everything while the database is down.
    assert rt.evaluate().statuses["fraud/availability"].period.total == pytest.approx(400)
    assert stored_totals(store, "fraud/availability") == (100.0, 100.0)
    store.down = False
    rt.evaluate()
    assert rt.history.pending_writes == 0
    assert stored_totals(store, "fraud/availability") == (370.0, 400.0)


def test_failed_scrapes_are_missing_data_not_good_events() -> None:
    clock, store, target = ManualClock(START), InMemoryHistoryStore(), FakeTarget()
    rt = make_runtime(config_of(ratio_slo()), store, clock, target)
    asyncio.run(rt.collect("model"))
    target.up = False
    run_minutes(rt, clock, target, 90, ok=100, errors=0)
    clock.advance(timedelta(seconds=30))
    status = rt.evaluate().statuses["fraud/availability"]
    assert status.windows["1h"].sli is None
    assert status.windows["1h"].data_coverage == 0
    assert rt.sources["model"].health is not None and rt.sources["model"].health.up is False
    assert "source down" in rt.sources["model"].slo_errors["fraud/availability"]


def test_threshold_sli_settles_five_minute_timeslices() -> None:
    clock, store, target = ManualClock(START), InMemoryHistoryStore(), FakeTarget()
    rt = make_runtime(config_of(freshness_slo()), store, clock, target)
    target.freshness = 100
    run_minutes(rt, clock, target, 50, ok=0, errors=0)  # fresh at minutes 1..50: slices [0, 50m) good
    target.freshness = 7200
    run_minutes(rt, clock, target, 10, ok=0, errors=0)  # stale at minutes 51..60: 3 bad slices
    clock.advance(timedelta(minutes=5, seconds=30))
    status = rt.evaluate().statuses["fraud/freshness"]
    good, total = stored_totals(store, "fraud/freshness", SLICES)
    assert (good, total) == (10.0, 13.0)
    assert status.period.good == 10 and status.period.total == 13
    assert status.period.sli == pytest.approx(10 / 13)
    # settled slices are not settled twice
    clock.advance(timedelta(minutes=1))
    rt.evaluate()
    assert stored_totals(store, "fraud/freshness", SLICES) == (10.0, 13.0)


def test_reload_failure_keeps_the_active_config() -> None:
    clock, store, target = ManualClock(START), InMemoryHistoryStore(), FakeTarget()
    config = config_of(ratio_slo())
    rt = make_runtime(config, store, clock, target)

    def broken() -> Config:
        raise ValueError("slo.yaml:3: slos[0].objective: must be below 100")

    rt._load_config = broken
    outcome = rt.reload()
    assert not outcome.ok
    assert outcome.problems == ("slo.yaml:3: slos[0].objective: must be below 100",)
    assert rt.config is config
    assert rt.last_reload == outcome


def test_reload_keeps_counter_baselines_and_history_of_unchanged_slos() -> None:
    clock, store, target = ManualClock(START), InMemoryHistoryStore(), FakeTarget()
    rt = make_runtime(config_of(ratio_slo()), store, clock, target)
    asyncio.run(rt.collect("model"))
    run_minutes(rt, clock, target, 5, ok=10, errors=0)
    rt._load_config = lambda: config_of(ratio_slo(), ratio_slo("second"))
    assert rt.reload().added == ("fraud/second",)
    run_minutes(rt, clock, target, 5, ok=10, errors=0)
    clock.advance(timedelta(seconds=30))
    statuses = rt.evaluate().statuses
    assert statuses["fraud/availability"].period.total == pytest.approx(100)
    # the new SLO's first scrape is only its baseline (counting from zero would invent events)
    assert statuses["fraud/second"].period.total == pytest.approx(40)


def test_a_counter_going_negative_stores_no_negative_minute_and_is_reported() -> None:
    clock, store, target = ManualClock(START), InMemoryHistoryStore(), FakeTarget()
    rt = make_runtime(config_of(ratio_slo()), store, clock, target)
    target.ok, target.errors = 1000, 10
    asyncio.run(rt.collect("model"))
    run_minutes(rt, clock, target, 2, ok=100, errors=0)
    target.ok = -50.0  # a broken exporter; before, stored as a minute of -50 events, then +1250 after it
    run_minutes(rt, clock, target, 1, ok=0, errors=0)
    assert rt.sources["model"].invalid_counters == {'requests_total{code="200"}': -50}
    assert rt.invalid_counter_samples == {("model", "negative"): 1}
    target.ok = 1250.0
    run_minutes(rt, clock, target, 1, ok=0, errors=1)
    rows = store.load_counts(["fraud/availability"], START, START + timedelta(days=1))
    assert rows and all(r.good >= 0 and r.total >= 0 for r in rows)
    assert stored_totals(store, "fraud/availability") == (250.0, 251.0)  # 1000 -> 1250 and 10 -> 11
    assert rt.sources["model"].invalid_counters == {}


def test_history_refuses_increments_that_are_no_counts() -> None:
    store = InMemoryHistoryStore()
    history = LiveHistory(store, START)
    history.rebuild([ratio_slo()], START)
    key = "fraud/availability"
    history.record(
        [
            CountIncrement(key, START, 5, 10),
            CountIncrement(key, START + timedelta(minutes=1), -1, 3),
            CountIncrement(key, START + timedelta(minutes=2), 0, -3),
            CountIncrement(key, START + timedelta(minutes=3), float("nan"), 1),
            CountIncrement(key, START + timedelta(minutes=4), 1, float("inf")),
            CountIncrement(key, START + timedelta(minutes=5), 4, 3),
        ]
    )
    assert stored_totals(store, key) == (5, 10)
    assert history.refused_increments == 5
    assert history.event_counts[key] == (5, 10)
