"""Counting across a gap in scraping: the split over minutes, the extractor's baselines, restarts on a store."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.core.clock import ManualClock
from slo_service.core.extract import Observation, SLIExtractor, sli_fingerprint
from slo_service.core.gaps import gap_slots, spread
from slo_service.core.model import SLO, Config, LatencySLI, Period, RatioSLI, ScrapeSource, Service
from slo_service.core.ports import EVENTS, ScrapeHealth
from slo_service.core.samples import Sample
from slo_service.pipeline.evaluate import Evaluator
from slo_service.pipeline.history import LiveHistory
from slo_service.pipeline.runtime import Adapters, Runtime
from tests.support.stores import FlakyStore

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
URL = "http://127.0.0.1:1/metrics"
SLI_A = RatioSLI("src", total="requests_total", bad='requests_total{code="500"}')
SLO_A = SLO("svc", "availability", 0.99, Period.rolling(timedelta(days=7)), SLI_A)


def sec(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# ------------------------------------------------------------------------------------------- the split


def test_an_ordinary_interval_is_no_gap() -> None:
    assert gap_slots(sec(10), sec(25)) == []  # same minute
    assert gap_slots(sec(50), sec(65)) == []  # next minute
    assert gap_slots(sec(30), sec(119)) == []  # adjacent minutes, however long the interval
    assert spread(5, 10, sec(50), sec(65)) == []


def test_whole_missing_minutes_get_equal_shares_and_the_edges_their_seconds() -> None:
    # (12:00:30, 12:04:30]: 30 s of 12:00, all of 12:01-12:03, 30 s of 12:04
    slots = gap_slots(sec(30), sec(270))
    assert [(s - T0) // MINUTE for s, _ in slots] == [0, 1, 2, 3, 4]
    assert [w / 1e6 for _, w in slots] == [30, 60, 60, 60, 30]
    shares = spread(40, 240, sec(30), sec(270))
    assert [(s - T0) // MINUTE for s, _, _ in shares] == [0, 1, 2, 3, 4]
    assert [t for _, _, t in shares] == [30, 60, 60, 60, 30]
    assert [g for _, g, _ in shares] == [5, 10, 10, 10, 5]


def test_whole_counts_stay_whole_and_add_up_exactly() -> None:
    shares = spread(3, 7, sec(0), sec(180))  # 12:00, 12:01, 12:02 whole; 0 s of 12:03
    totals = [t for _, _, t in shares]
    goods = [g for _, g, _ in shares]
    assert sum(totals) == 7 and sum(goods) == 3
    assert all(float(x).is_integer() for x in totals + goods)
    assert max(totals[:3]) - min(totals[:3]) <= 1  # as even as whole numbers allow
    assert totals[3] == 0  # the scrape came at the very start of 12:03: no share of the gap


@given(
    total=st.integers(0, 10**7),
    good_share=st.floats(0, 1),
    since=st.integers(0, 600_000_000),
    length=st.integers(120_000_000, 3 * 3600 * 1_000_000),
)
@settings(max_examples=300, deadline=None)
def test_shares_add_up_to_the_increase_and_never_have_good_above_total(
    total: int, good_share: float, since: int, length: int
) -> None:
    good = int(total * good_share)
    start = T0 + timedelta(microseconds=since)
    shares = spread(good, total, start, start + timedelta(microseconds=length))
    assert shares  # two minutes or more always hold a whole one
    assert sum(t for _, _, t in shares) == total
    assert sum(g for _, g, _ in shares) == good
    assert all(0 <= g <= t and float(t).is_integer() and float(g).is_integer() for _, g, t in shares)
    starts = [s for s, _, _ in shares]
    assert starts == sorted(starts) and all(b - a == MINUTE for a, b in itertools.pairwise(starts))


@given(total=st.floats(0, 1e9), good_share=st.floats(0, 1), length=st.integers(120, 7200))
@settings(max_examples=200, deadline=None)
def test_fractional_counts_add_up_within_rounding(total: float, good_share: float, length: int) -> None:
    good = total * good_share
    shares = spread(good, total, sec(7.5), sec(7.5 + length))
    assert sum(t for _, _, t in shares) == pytest.approx(total, rel=1e-9, abs=1e-9)
    assert sum(g for _, g, _ in shares) == pytest.approx(good, rel=1e-9, abs=1e-9)
    assert all(0 <= g <= t for _, g, t in shares)


# ----------------------------------------------------------------------------------------- the extractor


def req(ok: float, errors: float) -> list[Sample]:
    return [Sample("requests_total", {"code": "200"}, ok), Sample("requests_total", {"code": "500"}, errors)]


def extractor(max_gap: timedelta = timedelta(hours=1)) -> SLIExtractor:
    return SLIExtractor([SLO_A], max_gap=max_gap, target=URL)


def by_minute(observations: Sequence[Observation]) -> dict[int, tuple[float, float]]:
    return {(o.at - T0) // MINUTE: (o.good, o.total) for o in observations}


def test_an_outage_of_the_target_is_counted_over_its_minutes() -> None:
    ex = extractor()
    ex.from_scrape(req(100, 0), sec(45))
    result = ex.from_scrape(req(100 + 162, 18), sec(45 + 180))  # 3 minutes without a scrape, 180 requests
    # (12:00:45, 12:03:45]: 15 s, 60 s, 60 s and 45 s of its minutes; good in proportion, in whole events
    assert by_minute(result.observations) == {0: (13, 15), 1: (54, 60), 2: (54, 60), 3: (41, 45)}
    assert result.gaps_spread == {SLO_A.key: timedelta(minutes=3)}


def test_a_restart_takes_up_the_stored_baselines() -> None:
    store = InMemoryHistoryStore()
    first = extractor()
    result = first.from_scrape(req(100, 5), sec(0))
    store.add_counts([], baselines=result.baselines)
    # the service is down for 5 minutes; 300 requests, 10 of them errors, happen meanwhile
    second = extractor()
    assert second.restore(store.load_baselines("src")) == [SLO_A.key]
    result = second.from_scrape(req(390, 15), sec(300))
    assert sum(o.total for o in result.observations) == 300
    assert sum(o.good for o in result.observations) == 290
    assert sorted(by_minute(result.observations)) == [0, 1, 2, 3, 4, 5]


def test_a_reset_across_the_gap_counts_from_zero_in_the_scrape_minute() -> None:
    ex = extractor()
    ex.from_scrape(req(1000, 10), sec(0))
    result = ex.from_scrape(req(40, 2), sec(300))  # the target restarted meanwhile
    assert by_minute(result.observations) == {5: (40, 42)}
    assert result.gaps_spread == {}


def test_a_gap_longer_than_max_gap_counts_nothing_and_starts_afresh() -> None:
    ex = extractor(max_gap=timedelta(minutes=10))
    ex.from_scrape(req(100, 0), sec(0))
    result = ex.from_scrape(req(5000, 50), sec(11 * 60))
    assert result.observations == []
    assert result.gaps_over_limit == {SLO_A.key: timedelta(minutes=11)}
    assert [b.at for b in result.baselines] == [sec(11 * 60)]  # the new baseline replaces the stored one
    after = ex.from_scrape(req(5010, 50), sec(11 * 60 + 15))  # counting goes on from the new baseline
    assert [(o.good, o.total) for o in after.observations] == [(10, 10)]


def test_baselines_of_another_sli_or_target_are_not_taken_up() -> None:
    store = InMemoryHistoryStore()
    ex = extractor()
    store.add_counts([], baselines=ex.from_scrape(req(100, 5), sec(0)).baselines)
    stored = store.load_baselines("src")
    changed = dataclasses.replace(SLO_A, sli=RatioSLI("src", total="requests_total", good='requests_total{code="200"}'))
    assert sli_fingerprint(changed.sli) != sli_fingerprint(SLO_A.sli)
    assert SLIExtractor([changed], target=URL).restore(stored) == []
    assert SLIExtractor([SLO_A], target="http://127.0.0.1:2/metrics").restore(stored) == []
    assert SLIExtractor([SLO_A], target=URL).restore(stored) == [SLO_A.key]


def test_the_baselines_are_the_series_of_the_last_counted_scrape() -> None:
    ex = SLIExtractor([SLO_A], target=URL)
    [first] = ex.from_scrape(req(100, 5), sec(0)).baselines
    assert (first.source, first.slo, first.target, first.sli, first.at) == (
        "src",
        SLO_A.key,
        URL,
        sli_fingerprint(SLO_A.sli),
        sec(0),
    )
    ok, err = ("requests_total", (("code", "200"),)), ("requests_total", (("code", "500"),))
    assert first.values == {("total", ok): 100, ("total", err): 5, ("bad", err): 5}
    [second] = ex.from_scrape([Sample("requests_total", {"code": "200"}, 120)], sec(15)).baselines
    assert second.values == {("total", ok): 120}  # the error series was not in this scrape
    broken = ex.from_scrape([Sample("requests_total", {"code": "200"}, -1)], sec(30))
    assert broken.baselines == [] and broken.errors  # an SLO that counts nothing keeps what was stored


def test_latency_baselines_round_trip() -> None:
    slo = SLO("svc", "latency", 0.95, Period.rolling(timedelta(days=7)), LatencySLI("src", "d", 0.25))
    buckets = [Sample("d_bucket", {"le": "0.25"}, 90), Sample("d_bucket", {"le": "+Inf"}, 100)]
    store = InMemoryHistoryStore()
    store.add_counts([], baselines=SLIExtractor([slo], target=URL).from_scrape(buckets, sec(0)).baselines)
    ex = SLIExtractor([slo], target=URL)
    assert ex.restore(store.load_baselines("src")) == [slo.key]
    later = [Sample("d_bucket", {"le": "0.25"}, 170), Sample("d_bucket", {"le": "+Inf"}, 200)]
    result = ex.from_scrape(later, sec(15))
    assert [(o.good, o.total) for o in result.observations] == [(80, 100)]


# ------------------------------------------------------------------------- restarts of the whole pipeline


class Target:
    def __init__(self) -> None:
        self.ok = 1000.0
        self.errors = 10.0

    def fetcher(self, source: ScrapeSource):  # type: ignore[no-untyped-def]
        async def fetch(now: datetime) -> tuple[list[Sample], ScrapeHealth]:
            return req(self.ok, self.errors), ScrapeHealth(source.name, source.url, now, True, 0.01, 2)

        return fetch


CONFIG = Config({"svc": Service("svc")}, {"src": ScrapeSource("src", URL, timedelta(seconds=15))}, (SLO_A,))


def start(store: InMemoryHistoryStore, clock: ManualClock, target: Target, config: Config = CONFIG) -> Runtime:
    """A new process on the same store: nothing of the previous one survives but what it stored."""
    history = LiveHistory(store, clock.now())
    adapters = Adapters(scrape=target.fetcher, promql=lambda source, slos: None)  # type: ignore[arg-type,return-value]
    return Runtime(config, store, history, Evaluator(history), adapters, clock, lambda: config)


def scrape(rt: Runtime, clock: ManualClock, target: Target, after: timedelta, ok: int = 0, errors: int = 0) -> None:
    clock.advance(after)
    target.ok += ok
    target.errors += errors
    asyncio.run(rt.collect("src"))


def stored(store: InMemoryHistoryStore) -> dict[int, tuple[float, float]]:
    rows = store.load_counts([SLO_A.key], T0 - timedelta(days=1), T0 + timedelta(days=1), EVENTS)
    return {(r.start - T0) // MINUTE: (r.good, r.total) for r in rows if r.total}


def totals(store: InMemoryHistoryStore) -> tuple[float, float]:
    rows = stored(store).values()
    return sum(g for g, _ in rows), sum(t for _, t in rows)


def test_two_restarts_count_every_event_once(caplog: pytest.LogCaptureFixture) -> None:
    clock, store, target = ManualClock(T0 + timedelta(seconds=50)), InMemoryHistoryStore(), Target()
    rt = start(store, clock, target)
    scrape(rt, clock, target, timedelta(0))  # baseline
    scrape(rt, clock, target, timedelta(seconds=15), ok=9, errors=1)  # 12:01:05
    # killed; 2 minutes later a new process, which scrapes once and is killed again
    rt = start(store, clock, target)
    scrape(rt, clock, target, timedelta(minutes=2), ok=190, errors=10)  # 12:03:05
    rt = start(store, clock, target)  # killed before its first scrape
    with caplog.at_level(logging.INFO, logger="slo_service"):
        rt = start(store, clock, target)
        scrape(rt, clock, target, timedelta(minutes=3), ok=285, errors=15)  # 12:06:05
    assert totals(store) == (9 + 190 + 285, 10 + 200 + 300)
    assert set(stored(store)) == {1, 2, 3, 4, 5, 6}  # every minute of both gaps holds its share
    assert stored(store)[4] == stored(store)[5] == (95, 100)  # whole minutes: 100 requests each
    assert "counting goes on from the stored counter values of 1 SLOs" in caplog.text
    assert "counted the counter increase across a gap of up to 3m" in caplog.text


def test_a_restart_longer_than_max_gap_counts_nothing_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    source = ScrapeSource("src", URL, timedelta(seconds=15), max_gap=timedelta(minutes=5))
    config = Config(CONFIG.services, {"src": source}, CONFIG.slos)
    clock, store, target = ManualClock(T0), InMemoryHistoryStore(), Target()
    rt = start(store, clock, target, config)
    scrape(rt, clock, target, timedelta(0))
    rt = start(store, clock, target, config)
    with caplog.at_level(logging.WARNING, logger="slo_service"):
        scrape(rt, clock, target, timedelta(minutes=6), ok=600)
    assert totals(store) == (0, 0)
    assert "were last counted 6m ago, longer than the source's max_gap 5m" in caplog.text
    scrape(rt, clock, target, timedelta(seconds=15), ok=10)
    assert totals(store) == (10, 10)


def test_a_crash_during_a_database_outage_recounts_from_what_was_stored() -> None:
    clock, store, target = ManualClock(T0), FlakyStore(), Target()
    rt = start(store, clock, target)
    scrape(rt, clock, target, timedelta(0))
    scrape(rt, clock, target, timedelta(seconds=15), ok=10)
    store.down = True
    scrape(rt, clock, target, timedelta(seconds=15), ok=20)  # buffered with its baselines, then killed
    store.down = False
    rt = start(store, clock, target)
    scrape(rt, clock, target, timedelta(minutes=3), ok=30)
    assert totals(store) == (60, 60)


@given(
    steps=st.lists(
        st.tuples(st.integers(1, 600), st.integers(0, 500), st.integers(0, 50), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
@settings(max_examples=60, deadline=None)
def test_any_schedule_of_restarts_stores_exactly_the_true_increase(steps: list[tuple[int, int, int, bool]]) -> None:
    clock, store, target = ManualClock(T0), InMemoryHistoryStore(), Target()
    rt = start(store, clock, target)
    scrape(rt, clock, target, timedelta(0))
    for seconds, ok, errors, restart in steps:  # every gap is within max_gap (1h)
        if restart:
            rt = start(store, clock, target)
        scrape(rt, clock, target, timedelta(seconds=seconds), ok=ok, errors=errors)
    assert totals(store) == (sum(s[1] for s in steps), sum(s[1] + s[2] for s in steps))
