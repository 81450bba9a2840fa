"""CountsMatrix against the brute-force reference: windows weigh each slot by the share of its time
inside them (exact for slot-aligned bounds), so a window weighs exactly its length; counts are conserved
across tiers until older than the coarsest tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import Reference, grid

from slo_service.core.counts_matrix import DEFAULT_TIERS, CountsMatrix, Tier
from slo_service.core.windows import ALERT_WINDOWS, EPOCH, align

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEYS = ("a/1", "b/2", "c/3")
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def sums(m: CountsMatrix, key: str, start: datetime, end: datetime) -> tuple[float, float, float]:
    row = m.row(key)
    assert row is not None
    g, t, p = m.window_sums(start, end)
    return float(g[row]), float(t[row]), float(p[row])


def test_default_tiers_cover_a_calendar_month_and_fit_in_memory() -> None:
    span = sum(t.resolution * t.slots for t in DEFAULT_TIERS)
    assert span >= 31 * 86400 + 3 * 86400
    m = CountsMatrix([f"s/{i}" for i in range(10_000)], T0)
    assert m.memory_bytes() < 512 * 2**20  # well under 1 GiB
    assert m.resolution_at(T0) == 60
    assert m.resolution_at(T0 - timedelta(hours=6)) == 60
    assert m.resolution_at(T0 - timedelta(hours=6, minutes=1)) == 300
    assert m.resolution_at(T0 - timedelta(days=3, hours=6, minutes=1)) == 3600
    assert m.resolution_at(T0 - timedelta(days=40)) is None


def test_invalid_tiers_rejected() -> None:
    with pytest.raises(ValueError):
        CountsMatrix(["a"], T0, [])
    with pytest.raises(ValueError):
        CountsMatrix(["a"], T0, [Tier(60, 10), Tier(90, 10)])
    with pytest.raises(ValueError):
        CountsMatrix(["a", "a"], T0)


def test_add_and_window_sums_in_the_fine_tier() -> None:
    m = CountsMatrix(KEYS, T0 + timedelta(seconds=30))
    assert m.add("a/1", T0, 9, 10)
    assert m.add("a/1", T0 + timedelta(seconds=15), 10, 10)  # same minute: present counts once
    assert m.add("a/1", T0 - timedelta(minutes=3), 5, 5)
    assert m.add("b/2", T0, 1, 2)
    assert sums(m, "a/1", T0 - timedelta(minutes=5), T0 + timedelta(minutes=1)) == (24, 25, 2)
    assert sums(m, "a/1", T0, T0 + timedelta(minutes=1)) == (19, 20, 1)
    assert sums(m, "a/1", T0 - timedelta(minutes=2), T0) == (0, 0, 0)
    assert sums(m, "b/2", EPOCH, FAR_FUTURE) == (1, 2, 1)
    assert sums(m, "c/3", EPOCH, FAR_FUTURE) == (0, 0, 0)
    assert m.row("nope") is None
    with pytest.raises(KeyError):
        m.add("nope", T0, 1, 1)


def test_add_refuses_future_and_too_old() -> None:
    m = CountsMatrix(KEYS, T0 + timedelta(seconds=30))
    assert not m.add("a/1", T0 + timedelta(minutes=1), 1, 1)  # next minute is in the future
    assert m.add("a/1", T0 + timedelta(seconds=59), 1, 1)
    assert m.newest == T0 + timedelta(minutes=1)
    assert m.add("a/1", m.oldest, 1, 1)
    assert not m.add("a/1", m.oldest - timedelta(seconds=1), 1, 1)
    assert sums(m, "a/1", EPOCH, FAR_FUTURE)[1] == 2


def test_advance_rolls_up_without_loss_then_drops() -> None:
    m = CountsMatrix(KEYS, T0)
    for k in range(120):
        assert m.add("a/1", T0 - timedelta(minutes=k), 1, 2)
    m.advance(T0 + timedelta(hours=6))  # the 120 minutes left the 1-minute tier
    assert sums(m, "a/1", EPOCH, FAR_FUTURE) == (120, 240, 120)
    assert m.resolution_at(T0 - timedelta(minutes=1)) == 300
    m.advance(T0 + timedelta(days=5))  # now in the hourly tier
    assert sums(m, "a/1", EPOCH, FAR_FUTURE) == (120, 240, 120)
    assert sums(m, "a/1", T0 - timedelta(hours=2), T0 + timedelta(hours=1)) == (120, 240, 120)
    # the minute T0 now lives in the hour slot [T0, T0 + 1h): a window ending at T0 + 1m reads 1/60 of it
    assert sums(m, "a/1", T0 - timedelta(hours=2), T0 + timedelta(minutes=1))[:2] == (119 + 1 / 60, 238 + 2 / 60)
    m.advance(T0 + timedelta(days=40))  # older than the coarsest tier: gone
    assert sums(m, "a/1", EPOCH, FAR_FUTURE) == (0, 0, 0)
    m.advance(T0)  # never backwards
    assert m.newest == T0 + timedelta(days=40, minutes=1)


def test_coarse_slot_counts_pro_rata_and_effective_start() -> None:
    m = CountsMatrix(KEYS, T0)
    t = T0 - timedelta(days=10)  # hourly tier
    assert m.resolution_at(t) == 3600
    m.add("a/1", t + timedelta(minutes=10), 1, 1)
    m.add("a/1", t + timedelta(minutes=50), 1, 1)
    # a window starting half-way into the hour slot counts half of it, wherever inside it the data was
    assert sums(m, "a/1", t + timedelta(minutes=30), T0)[1] == 1
    assert sums(m, "a/1", t + timedelta(minutes=45), T0)[1] == 0.5
    assert sums(m, "a/1", t, T0)[1] == 2
    assert m.effective_start(t + timedelta(minutes=30)) == t + timedelta(minutes=30)
    assert m.effective_start(T0 - timedelta(minutes=7)) == T0 - timedelta(minutes=7)
    assert m.effective_start(EPOCH) == m.oldest


@pytest.mark.parametrize("seconds", [0, 7, 37], ids=["on-the-minute", "07s", "37s"])
def test_a_window_weighs_exactly_its_length(seconds: int) -> None:
    """One event per second for 35 days: every window holds exactly one event per second of its length,
    wherever its start falls (inside a 1-minute, 5-minute or hourly slot, or a tier's straddling top
    slot). Windows ending at `now` count the open minute as its elapsed data (here a whole minute's
    writes at its start)."""
    now = T0 + timedelta(seconds=seconds)
    m = CountsMatrix(KEYS, now)
    minute = align(now, 60)
    starts = np.arange(int(m.oldest.timestamp()), int(minute.timestamp()) + 60, 60)
    m.add_many(np.zeros(len(starts), dtype=np.int64), starts, np.full(len(starts), 60.0), np.full(len(starts), 60.0))
    m.advance(now)
    lengths = [timedelta(minutes=5), timedelta(minutes=14, seconds=23), timedelta(hours=6, seconds=1)]
    lengths += [timedelta(days=1, seconds=150), timedelta(days=3, minutes=7), timedelta(days=30, seconds=1234)]
    lengths += [minute - lo + timedelta(seconds=s) for lo, _ in m.tier_ranges()[:-1] for s in (30, 90, 1800)]
    _, t, p = m.window_sums_many([(minute - w, minute) for w in lengths])
    for k, w in enumerate(lengths):
        assert t[0, k] == pytest.approx(w.total_seconds(), rel=1e-12), w
        assert p[0, k] == pytest.approx(w / timedelta(minutes=1), rel=1e-6), w  # minutes with data
    # ending at `now`: the open minute's data counts whole (once a second of it has elapsed)
    _, t, p = m.window_sums(minute - timedelta(minutes=5), now)
    whole = 6 if seconds else 5
    assert t[0] == whole * 60 and p[0] == whole


def test_bulk_load_matches_single_adds_and_present_for_history() -> None:
    now = T0 + timedelta(seconds=17)
    rng = np.random.default_rng(7)
    n = 5000
    rows = rng.integers(0, len(KEYS), n)
    secs = int(now.timestamp()) - rng.integers(-100, 36 * 86400, n)  # some future, some too old
    good = rng.integers(0, 10, n).astype(float)
    total = good + rng.integers(0, 3, n)
    bulk = CountsMatrix(KEYS, now)
    single = CountsMatrix(KEYS, now)
    accepted = bulk.add_many(rows, secs, good, total)
    count = 0
    for r, s, g, t in zip(rows, secs, good, total, strict=True):
        count += single.add(KEYS[r], datetime.fromtimestamp(int(s), UTC), float(g), float(t))
    assert accepted == count
    for start in [EPOCH, now - timedelta(days=3), now - timedelta(hours=1)]:
        b, s_ = bulk.window_sums(start, FAR_FUTURE), single.window_sums(start, FAR_FUTURE)
        for x, y in zip(b, s_, strict=True):
            np.testing.assert_array_equal(x, y)
    # an hourly roll-up from storage counts as 60 present minutes (capped at the slot's minutes)
    m = CountsMatrix(KEYS, now)
    hour = T0 - timedelta(days=10)
    m.add_many(np.array([0, 0]), np.array([hour.timestamp()] * 2), np.ones(2), np.ones(2), np.array([60.0, 60.0]))
    assert sums(m, "a/1", hour, now)[2] == 60


def test_with_keys_keeps_remaining_rows() -> None:
    m = CountsMatrix(KEYS, T0)
    m.add("a/1", T0, 1, 2)
    m.add("b/2", T0 - timedelta(days=5), 3, 4)
    m.add("c/3", T0, 5, 6)
    n = m.with_keys(["c/3", "b/2", "new/1"])
    assert n.keys == ("c/3", "b/2", "new/1")
    assert sums(n, "b/2", EPOCH, FAR_FUTURE)[:2] == (3, 4)
    assert sums(n, "c/3", EPOCH, FAR_FUTURE)[:2] == (5, 6)
    assert sums(n, "new/1", EPOCH, FAR_FUTURE) == (0, 0, 0)
    assert n.row("a/1") is None
    assert n.newest == m.newest and n.oldest == m.oldest
    # the copy is independent
    n.add("c/3", T0, 1, 1)
    assert sums(m, "c/3", EPOCH, FAR_FUTURE)[:2] == (5, 6)
    empty = CountsMatrix([], T0)
    assert empty.window_sums(EPOCH, FAR_FUTURE)[0].shape == (0,)
    assert empty.with_keys(["x"]).keys == ("x",)


def test_binned_sums_match_window_sums_on_slot_aligned_bins() -> None:
    """Bins on slot boundaries (timeslices over the 1- and 5-minute tiers) read what windows read;
    binned_sums judges a coarser slot by its start, windows weigh it pro rata."""
    m = CountsMatrix(KEYS, T0)
    rng = np.random.default_rng(3)
    secs = int(T0.timestamp()) - rng.integers(0, 5 * 86400, 3000)
    m.add_many(rng.integers(0, 3, 3000), secs, np.ones(3000), np.full(3000, 2.0))
    start = align(T0 - timedelta(days=3), 600)
    assert m.resolution_at(start) == 300
    g, t, p = m.binned_sums(start, 600, 600, np.array([2, 0]))
    for k in range(0, 600, 37):
        wg, wt, wp = m.window_sums(
            start + timedelta(seconds=600 * k), start + timedelta(seconds=600 * (k + 1)), np.array([2, 0])
        )
        np.testing.assert_array_equal(g[:, k], wg)
        np.testing.assert_array_equal(t[:, k], wt)
        np.testing.assert_array_equal(p[:, k], wp)


# ----------------------------------------------------------------------------- property test

STEP = st.tuples(
    # how far the clock moves: mostly seconds to hours, sometimes days (gaps)
    st.one_of(st.integers(0, 3 * 3600), st.integers(0, 4 * 86400)),
    # events: (key, seconds before now (negative = future), good, bad)
    st.lists(
        st.tuples(
            st.integers(0, len(KEYS) - 1),
            st.one_of(st.integers(-120, 3600), st.integers(0, 36 * 86400)),
            st.integers(0, 50),
            st.integers(0, 5),
        ),
        max_size=12,
    ),
)


def check_against_reference(m: CountsMatrix, ref: Reference, now: datetime) -> None:
    windows = [(name, now - w) for name, w in ALERT_WINDOWS.items()]
    windows += [("period30d", now - timedelta(days=30)), ("month", now - timedelta(days=31))]
    # windows starting just before a tier boundary, inside the coarser tier's straddling top slot
    for lo, _ in m.tier_ranges()[:-1]:
        windows += [(f"edge-{s}s", lo - timedelta(seconds=s)) for s in (30, 90, 150, 270, 1800)]
    minute = align(now, 60)
    spans = [(name, start, now) for name, start in windows]
    # the engine's alert windows: whole minutes, ending where the open minute begins
    spans += [(f"{name}@minute", minute - w, minute) for name, w in ALERT_WINDOWS.items()]
    g, t, p = m.window_sums_many([(start, end) for _, start, end in spans])
    fine_start = m.tier_ranges()[0][0]
    cells = grid(m)
    for key in KEYS:
        row = m.row(key)
        assert row is not None
        for k, (name, start, end) in enumerate(spans):
            rg, rt = ref.weighted_sums(key, start, end, cells)
            assert (g[row, k], t[row, k]) == (pytest.approx(rg, rel=1e-12), pytest.approx(rt, rel=1e-12)), name
            minutes = ref.weighted_minutes(key, start, end, cells)
            if start >= fine_start:  # the 1-minute tier: presents are distinct minutes
                assert p[row, k] == pytest.approx(minutes, rel=1e-6, abs=1e-6), (key, name)
                if start == align(start, 60):  # whole minutes: nothing interpolated
                    stop = m.newest if end == now and minute < now else end
                    assert (g[row, k], t[row, k]) == ref.sums(key, start, stop), name
            else:  # direct writes to coarse slots count each write as a minute (capped)
                writes = ref.weighted_writes(key, start, end, cells)
                slack = 1e-6 * max(writes, 1.0)  # presents are float32 products
                assert minutes - slack <= p[row, k] <= writes + slack
        # conservation: everything accepted and not yet older than the coarsest tier is still there
        gg, tt, _ = sums(m, key, EPOCH, FAR_FUTURE)
        assert (gg, tt) == ref.sums(key, m.oldest, FAR_FUTURE)


@settings(max_examples=120, deadline=None)
@given(start_offset=st.integers(0, 86400), steps=st.lists(STEP, min_size=1, max_size=20))
def test_matrix_matches_reference(start_offset: int, steps: list[tuple[int, list[tuple[int, int, int, int]]]]) -> None:
    now = T0 + timedelta(seconds=start_offset)
    m = CountsMatrix(KEYS, now)
    ref = Reference()
    for move, events in steps:
        now += timedelta(seconds=move)
        m.advance(now)
        for key_i, back, good, bad in events:
            at = now - timedelta(seconds=back)
            accepted = m.add(KEYS[key_i], at, good, good + bad)
            assert accepted == (m.oldest <= at < m.newest)
            if accepted:
                ref.add(KEYS[key_i], at, good, good + bad)
    check_against_reference(m, ref, now)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(1, 6 * 3600), st.integers(1, 30)), min_size=1, max_size=30),
)
def test_minute_stream_through_tiers(steps: list[tuple[int, int]]) -> None:
    """A live stream: one write per minute (as a scraper does), advancing every minute."""
    now = T0
    m = CountsMatrix(KEYS, now)
    ref = Reference()
    for gap, minutes in steps:
        now += timedelta(seconds=gap)
        for _ in range(minutes):
            now += timedelta(minutes=1)
            m.advance(now)
            assert m.add("a/1", now, 3, 4)
            ref.add("a/1", now, 3, 4)
    check_against_reference(m, ref, now)
    # nothing lost in the roll-ups: presents are exact for a one-write-per-minute stream
    _, _, p = sums(m, "a/1", m.oldest, FAR_FUTURE)
    assert p == pytest.approx(ref.minutes_with_data("a/1", m.oldest, FAR_FUTURE), rel=1e-6)
