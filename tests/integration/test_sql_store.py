"""SqlHistoryStore against a real SQLite file and a real PostgreSQL schema (fixtures in conftest.py)."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.clock import ManualClock
from slo_service.core.ports import (
    EVENTS,
    SLICES,
    CountIncrement,
    EvaluationSnapshot,
    HistoryStore,
    ScrapeHealth,
    StoredSlice,
)

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def everything(store: SqlHistoryStore) -> list[StoredSlice]:
    return store.load_counts(None, FAR_PAST, FAR_FUTURE)


def totals(store: SqlHistoryStore) -> tuple[float, float]:
    rows = everything(store)
    return sum(r.good for r in rows), sum(r.total for r in rows)


def test_is_a_history_store(sql_store: SqlHistoryStore) -> None:
    store: HistoryStore = sql_store
    store.ping()


# ---- add_counts


def test_add_counts_adds(sql_store: SqlHistoryStore) -> None:
    incs = [CountIncrement("a", minute(0), 9, 10), CountIncrement("a", minute(1), 1, 2)]
    assert sql_store.add_counts(incs) is True
    assert sql_store.add_counts(incs) is True
    rows = everything(sql_store)
    assert [(r.start, r.good, r.total) for r in rows] == [(minute(0), 18, 20), (minute(1), 2, 4)]
    assert all(r.key == "a" and r.series == EVENTS and r.resolution == 60 for r in rows)


def test_add_counts_collapses_duplicates_and_aligns_starts(sql_store: SqlHistoryStore) -> None:
    incs = [
        CountIncrement("a", minute(0), 1, 1),
        CountIncrement("a", minute(0) + timedelta(seconds=30), 2, 2),
        CountIncrement("a", minute(0) + timedelta(seconds=59, microseconds=999), 3, 4),
    ]
    sql_store.add_counts(incs)
    assert [(r.start, r.good, r.total) for r in everything(sql_store)] == [(minute(0), 6, 7)]


def test_add_counts_accepts_other_timezones_and_resolutions(sql_store: SqlHistoryStore) -> None:
    plus2 = timezone(timedelta(hours=2))
    sql_store.add_counts(
        [
            CountIncrement("a", minute(0).astimezone(plus2), 1, 1),
            CountIncrement("a", minute(0), 5, 5, series=SLICES, resolution=300),
        ]
    )
    rows = everything(sql_store)
    assert {(r.series, r.resolution, r.start, r.good) for r in rows} == {
        (EVENTS, 60, minute(0), 1),
        (SLICES, 300, minute(0), 5),
    }
    assert all(r.start.tzinfo is UTC for r in rows)


def test_add_counts_refuses_naive_datetimes(sql_store: SqlHistoryStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        sql_store.add_counts([CountIncrement("a", datetime(2026, 1, 1), 1, 1)])


def test_add_counts_empty_is_fine(sql_store: SqlHistoryStore) -> None:
    assert sql_store.add_counts([]) is True
    assert sql_store.add_counts([], idempotency_key="k") is True
    assert sql_store.add_counts([], idempotency_key="k") is False


def test_add_counts_large_batch_spans_several_statements(sql_store: SqlHistoryStore) -> None:
    incs = [CountIncrement(f"k{i:05d}", minute(i % 3), 1, 2) for i in range(25_000)]
    sql_store.add_counts(incs + incs[:100])
    rows = everything(sql_store)
    assert len(rows) == 25_000
    assert totals(sql_store) == (25_100, 50_200)


def test_idempotency_key_prevents_double_counting(sql_store: SqlHistoryStore) -> None:
    incs = [CountIncrement("a", minute(0), 1, 2)]
    assert sql_store.add_counts(incs, idempotency_key="push-1") is True
    assert sql_store.add_counts(incs, idempotency_key="push-1") is False
    assert sql_store.add_counts(incs, idempotency_key="push-2") is True
    assert totals(sql_store) == (2, 4)


def test_failed_batch_does_not_burn_the_idempotency_key(sql_store: SqlHistoryStore) -> None:
    bad = [CountIncrement("a", minute(0), 1, 1, series="bogus")]  # violates the series check constraint
    with pytest.raises(Exception):  # noqa: B017 - IntegrityError on both backends
        sql_store.add_counts(bad, idempotency_key="push-1")
    assert sql_store.add_counts([CountIncrement("a", minute(0), 1, 1)], idempotency_key="push-1") is True
    assert totals(sql_store) == (1, 1)


def _race(n: int, work: object) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def test_racing_duplicate_pushes_count_once(sql_store: SqlHistoryStore) -> None:
    incs = [CountIncrement(f"k{i}", minute(0), 1, 1) for i in range(50)]
    for attempt in range(3):
        results = _race(8, lambda _i, a=attempt: sql_store.add_counts(incs, idempotency_key=f"push-{a}"))
        assert sorted(results) == [False] * 7 + [True]  # type: ignore[type-var]
    assert totals(sql_store) == (150, 150)


def test_concurrent_overlapping_pushes_all_count(sql_store: SqlHistoryStore) -> None:
    def push(i: int) -> bool:
        rng = random.Random(i)
        keys = rng.sample(range(40), 40)  # every thread touches the same rows, in a different order
        return sql_store.add_counts([CountIncrement(f"k{k}", minute(0), 1, 2) for k in keys])

    assert _race(6, push) == [True] * 6
    assert totals(sql_store) == (240, 480)


# ---- load_counts / latest_slice_start


@pytest.fixture
def loaded(sql_store: SqlHistoryStore) -> SqlHistoryStore:
    sql_store.add_counts(
        [
            CountIncrement("b", minute(0), 1, 1),
            CountIncrement("a", minute(2), 3, 3),
            CountIncrement("a", minute(0), 1, 1),
            CountIncrement("a", minute(1), 2, 2, series=SLICES),
            CountIncrement("a", T0 - timedelta(hours=1), 60, 60, resolution=3600),
            CountIncrement("c", minute(5), 5, 5),
        ]
    )
    return sql_store


def test_load_counts_orders_by_key_series_start(loaded: SqlHistoryStore) -> None:
    rows = everything(loaded)
    assert [(r.key, r.series, r.start) for r in rows] == [
        ("a", EVENTS, T0 - timedelta(hours=1)),
        ("a", EVENTS, minute(0)),
        ("a", EVENTS, minute(2)),
        ("a", SLICES, minute(1)),
        ("b", EVENTS, minute(0)),
        ("c", EVENTS, minute(5)),
    ]
    assert all(r.start.tzinfo is UTC and r.start.utcoffset() == timedelta(0) for r in rows)


def test_load_counts_filters(loaded: SqlHistoryStore) -> None:
    def keys_starts(rows: list[StoredSlice]) -> list[tuple[str, datetime]]:
        return [(r.key, r.start) for r in rows]

    assert keys_starts(loaded.load_counts(["a"], minute(0), minute(2))) == [
        ("a", minute(0)),
        ("a", minute(1)),
    ]
    assert keys_starts(loaded.load_counts({"a", "c"}, minute(0), minute(10), series=EVENTS)) == [
        ("a", minute(0)),
        ("a", minute(2)),
        ("c", minute(5)),
    ]
    assert keys_starts(loaded.load_counts(None, minute(0), minute(1), series=EVENTS)) == [
        ("a", minute(0)),
        ("b", minute(0)),
    ]
    assert loaded.load_counts([], FAR_PAST, FAR_FUTURE) == []
    assert loaded.load_counts(["zzz"], FAR_PAST, FAR_FUTURE) == []
    # start inclusive, end exclusive, sub-second bounds
    assert keys_starts(loaded.load_counts(["c"], minute(5), minute(5) + timedelta(microseconds=1))) == [
        ("c", minute(5))
    ]
    assert loaded.load_counts(["c"], minute(5) + timedelta(microseconds=1), minute(10)) == []
    hourly = loaded.load_counts(["a"], FAR_PAST, T0)
    assert [(r.resolution, r.good) for r in hourly] == [(3600, 60)]


def test_latest_slice_start(loaded: SqlHistoryStore) -> None:
    assert loaded.latest_slice_start("a", EVENTS) == minute(2)
    assert loaded.latest_slice_start("a", SLICES) == minute(1)
    assert loaded.latest_slice_start("b", SLICES) is None
    assert loaded.latest_slice_start("nope", EVENTS) is None
    latest = loaded.latest_slice_start("c", EVENTS)
    assert latest is not None and latest.tzinfo is UTC


# ---- compaction and retention


def test_compaction_rolls_whole_old_hours_and_loses_nothing(sql_store: SqlHistoryStore) -> None:
    rng = random.Random(7)
    incs = [
        CountIncrement(
            rng.choice("abc"),
            T0 + timedelta(minutes=rng.randrange(0, 6 * 60)),
            rng.randint(0, 5),
            rng.randint(5, 10),
            series=rng.choice([EVENTS, SLICES]),
        )
        for _ in range(2000)
    ]
    # pre-existing hourly rows the roll-up must add to
    incs += [
        CountIncrement("a", T0, 100, 1000, resolution=3600),
        CountIncrement("b", T0, 1, 1, resolution=3600),
    ]
    sql_store.add_counts(incs)
    before = totals(sql_store)
    per_key_before = {(r.key, r.series): 0.0 for r in everything(sql_store)}
    for r in everything(sql_store):
        per_key_before[(r.key, r.series)] += r.total

    now = T0 + timedelta(hours=6)
    result = sql_store.compact(now, raw_retention=timedelta(hours=2, minutes=30), retention=timedelta(days=30))
    # cutoff 03:30 -> hours 00, 01, 02 roll; 03:00-03:59 straddles the cutoff and stays minute-grained
    rows = everything(sql_store)
    assert totals(sql_store) == pytest.approx(before)
    per_key_after = dict.fromkeys(per_key_before, 0.0)
    for r in rows:
        per_key_after[(r.key, r.series)] += r.total
    assert per_key_after == pytest.approx(per_key_before)
    assert result.deleted == 0
    assert result.rolled_up > 0
    assert all(r.resolution == 3600 for r in rows if r.start < T0 + timedelta(hours=3))
    assert all(r.resolution == 60 for r in rows if r.start >= T0 + timedelta(hours=3))
    assert {r.start for r in rows if r.resolution == 3600} <= {T0 + timedelta(hours=h) for h in range(3)}
    assert len({(r.key, r.series, r.start) for r in rows}) == len(rows)

    # idempotent: nothing more to roll, nothing changes
    again = sql_store.compact(now, raw_retention=timedelta(hours=2, minutes=30), retention=timedelta(days=30))
    assert (again.rolled_up, again.deleted) == (0, 0)
    assert everything(sql_store) == rows


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.sampled_from([EVENTS, SLICES]),
            st.integers(0, 5 * 60 - 1),
            st.integers(0, 3),
            st.integers(0, 3),
        ),
        max_size=60,
    ),
    st.integers(0, 6 * 60),
)
def test_compaction_conserves_counts_property(
    db_engine: Engine, spec: list[tuple[str, str, int, int, int]], raw_minutes: int
) -> None:
    with db_engine.begin() as conn:
        conn.execute(text("DELETE FROM slo_slices"))
    store = SqlHistoryStore(db_engine)
    store.add_counts([CountIncrement(k, minute(m), g, g + b, series=s) for k, s, m, g, b in spec])
    before = everything(store)
    now = T0 + timedelta(hours=6)
    store.compact(now, timedelta(minutes=raw_minutes), timedelta(days=30))
    after = everything(store)
    for key in ("a", "b"):
        for ser in (EVENTS, SLICES):
            sel = [r for r in before if (r.key, r.series) == (key, ser)]
            got = [r for r in after if (r.key, r.series) == (key, ser)]
            assert (sum(r.good for r in got), sum(r.total for r in got)) == (
                sum(r.good for r in sel),
                sum(r.total for r in sel),
            )
    hour_cutoff = (now - timedelta(minutes=raw_minutes)).replace(minute=0)
    assert all(r.resolution == 60 for r in after if r.start >= hour_cutoff)
    assert all(r.resolution == 3600 for r in after if r.start < hour_cutoff)
    assert store.compact(now, timedelta(minutes=raw_minutes), timedelta(days=30)).rolled_up == 0
    assert everything(store) == after


def test_compaction_adds_late_minutes_into_existing_hour(sql_store: SqlHistoryStore) -> None:
    sql_store.add_counts([CountIncrement("a", minute(m), 1, 2) for m in range(60)])
    now = T0 + timedelta(hours=3)
    assert sql_store.compact(now, timedelta(hours=1), timedelta(days=1)).rolled_up == 60
    sql_store.add_counts([CountIncrement("a", minute(30), 1, 2)])  # a late push into the rolled hour
    assert sql_store.compact(now, timedelta(hours=1), timedelta(days=1)).rolled_up == 1
    assert [(r.resolution, r.start, r.good, r.total) for r in everything(sql_store)] == [(3600, T0, 61, 122)]


def test_retention_deletes_old_rows_everywhere(sql_store: SqlHistoryStore, sql_store_clock: ManualClock) -> None:
    old, recent = T0 - timedelta(days=40), T0 - timedelta(days=1)
    sql_store_clock.set(old)
    sql_store.add_counts([CountIncrement("a", old, 1, 1)], idempotency_key="old-push")
    sql_store_clock.set(recent)
    sql_store.add_counts([CountIncrement("a", recent, 2, 2)], idempotency_key="new-push")
    sql_store.add_counts([CountIncrement("a", old, 4, 4, resolution=3600)])
    sql_store.save_evaluations([EvaluationSnapshot("a", old, 0.9, 0.5), EvaluationSnapshot("a", recent, 0.9, 0.5)])
    sql_store.record_scrapes(
        [ScrapeHealth("prom", "gone", old, True, 0.1), ScrapeHealth("prom", "live", recent, True, 0.1)]
    )
    result = sql_store.compact(T0, raw_retention=timedelta(days=7), retention=timedelta(days=30))
    # old minute slice rolled into the old hourly one, which then expires; plus eval, key, scrape
    assert result.rolled_up == 1
    assert result.deleted == 4
    assert [(r.start, r.good) for r in everything(sql_store)] == [(recent, 2)]
    assert [e.at for e in sql_store.load_evaluations("a", FAR_PAST, FAR_FUTURE)] == [recent]
    assert [s.target for s in sql_store.latest_scrapes()] == ["live"]
    # the expired key can be reused; the recent one still blocks
    assert sql_store.add_counts([], idempotency_key="old-push") is True
    assert sql_store.add_counts([], idempotency_key="new-push") is False


def test_retention_keeps_a_slice_that_ends_after_the_cutoff(sql_store: SqlHistoryStore) -> None:
    sql_store.add_counts([CountIncrement("a", T0, 1, 1, resolution=3600)])
    sql_store.compact(T0 + timedelta(minutes=30), timedelta(0), retention=timedelta(0))
    assert len(everything(sql_store)) == 1
    sql_store.compact(T0 + timedelta(hours=1), timedelta(0), retention=timedelta(0))
    assert everything(sql_store) == []


# ---- scrape health


def test_scrape_health_latest_and_failure_streak(sql_store: SqlHistoryStore) -> None:
    def at(s: int) -> datetime:
        return T0 + timedelta(seconds=15 * s)

    sql_store.record_scrapes([ScrapeHealth("prom", "t1", at(0), True, 0.2, samples=10)])
    sql_store.record_scrapes([ScrapeHealth("prom", "t1", at(1), False, 5.0, error="timeout")])
    sql_store.record_scrapes(
        [
            ScrapeHealth("prom", "t1", at(3), False, 5.0, error="refused"),  # batch out of order on purpose
            ScrapeHealth("prom", "t1", at(2), False, 5.0, error="timeout"),
            ScrapeHealth("prom", "t2", at(3), True, 0.1, samples=3),
        ]
    )
    sql_store.record_scrapes([ScrapeHealth("prom", "t1", at(1), True, 0.1)])  # stale: ignored
    latest = sql_store.latest_scrapes()
    assert latest == [
        ScrapeHealth("prom", "t1", at(3), False, 5.0, 0, "refused"),
        ScrapeHealth("prom", "t2", at(3), True, 0.1, 3, None),
    ]
    t1 = sql_store.scrape_statuses()[0]
    assert (t1.consecutive_failures, t1.failing_since, t1.last_success_at, t1.last_error) == (
        3,
        at(1),
        at(0),
        "refused",
    )
    sql_store.record_scrapes([ScrapeHealth("prom", "t1", at(4), True, 0.1, samples=10)])
    t1 = sql_store.scrape_statuses()[0]
    assert (t1.consecutive_failures, t1.failing_since, t1.last_success_at, t1.last_error) == (
        0,
        None,
        at(4),
        "refused",
    )
    assert t1.latest.at.tzinfo is UTC


def test_scrape_health_first_result_is_a_failure(sql_store: SqlHistoryStore) -> None:
    sql_store.record_scrapes([ScrapeHealth("otel", "x", T0, False, 1.0, error="boom")])
    (s,) = sql_store.scrape_statuses()
    assert (s.consecutive_failures, s.failing_since, s.last_success_at, s.last_error) == (1, T0, None, "boom")
    sql_store.record_scrapes([])
    assert len(sql_store.latest_scrapes()) == 1


# ---- evaluations


def test_evaluations_round_trip(sql_store: SqlHistoryStore) -> None:
    plus5 = timezone(timedelta(hours=5))
    snaps = [
        EvaluationSnapshot("a", minute(1), 0.99, 0.5, {"1h": 2.0, "6h": None}, good=99, total=100),
        EvaluationSnapshot("a", minute(0).astimezone(plus5), None, None, {}, good=0, total=0),
        EvaluationSnapshot("b", minute(0), 1.0, 1.0),
    ]
    sql_store.save_evaluations(snaps)
    got = sql_store.load_evaluations("a", minute(0), minute(2))
    assert got == [
        EvaluationSnapshot("a", minute(0), None, None, {}, 0, 0),
        EvaluationSnapshot("a", minute(1), 0.99, 0.5, {"1h": 2.0, "6h": None}, 99, 100),
    ]
    assert all(e.at.tzinfo is UTC for e in got)
    assert sql_store.load_evaluations("a", minute(1), minute(1)) == []
    assert [e.at for e in sql_store.load_evaluations("a", minute(0), minute(1))] == [minute(0)]


def test_evaluation_at_same_instant_replaces_and_non_finite_become_none(sql_store: SqlHistoryStore) -> None:
    sql_store.save_evaluations([EvaluationSnapshot("a", minute(0), 0.5, 0.1, {"1h": 1.0})])
    sql_store.save_evaluations(
        [EvaluationSnapshot("a", minute(0), float("nan"), float("-inf"), {"1h": float("inf")}, 1, 2)]
    )
    assert sql_store.load_evaluations("a", FAR_PAST, FAR_FUTURE) == [
        EvaluationSnapshot("a", minute(0), None, None, {"1h": None}, 1, 2)
    ]


def test_ping_raises_when_unreachable() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    try:
        with pytest.raises(Exception):  # noqa: B017 - OperationalError
            SqlHistoryStore(engine).ping()
    finally:
        engine.dispose()


def test_engine_is_exposed(sql_store: SqlHistoryStore, db_engine: Engine) -> None:
    assert sql_store.engine is db_engine
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM slo_slices")).scalar() == 0
