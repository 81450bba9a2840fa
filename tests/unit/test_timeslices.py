"""Timeslice verdicts: good when good/total reaches the threshold, missing when there was no data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.core.counts_matrix import CountsMatrix
from slo_service.core.model import SLO, Budgeting, BudgetingMethod, Period, RatioSLI
from slo_service.core.timeslices import completed_slices, slice_verdicts, slice_verdicts_many

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ts_slo(name: str, minutes: int = 5, threshold: float = 0.99) -> SLO:
    return SLO(
        service="svc",
        name=name,
        objective=0.99,
        period=Period.rolling(timedelta(days=7)),
        sli=RatioSLI(source="s", total="t", good="g"),
        budgeting=Budgeting(BudgetingMethod.TIMESLICES, slice=timedelta(minutes=minutes), slice_threshold=threshold),
    )


def test_verdicts_good_bad_missing_and_incomplete() -> None:
    slo = ts_slo("a")
    now = T0 + timedelta(minutes=17, seconds=30)
    m = CountsMatrix([slo.key], now)
    m.add(slo.key, T0 + timedelta(minutes=1), 99, 100)  # slice 12:00: 99/100 + 100/100 -> 0.995 good
    m.add(slo.key, T0 + timedelta(minutes=4), 100, 100)
    m.add(slo.key, T0 + timedelta(minutes=5), 98, 100)  # slice 12:05: 0.98 bad
    # slice 12:10: no data -> missing, no verdict
    m.add(slo.key, T0 + timedelta(minutes=16), 0, 1)  # slice 12:15 not complete at 12:17:30
    got = slice_verdicts(m, slo.key, slo, T0, now)
    assert got == [(T0, True), (T0 + timedelta(minutes=5), False)]
    # since is rounded up to the next slice start
    assert slice_verdicts(m, slo.key, slo, T0 + timedelta(minutes=1), now) == [(T0 + timedelta(minutes=5), False)]
    # a slice ending exactly at now is complete
    later = slice_verdicts(m, slo.key, slo, T0, T0 + timedelta(minutes=20))
    assert later[-1] == (T0 + timedelta(minutes=15), False)


def test_threshold_is_inclusive_and_exact_ratio() -> None:
    slo = ts_slo("a", minutes=1, threshold=1.0)
    now = T0 + timedelta(minutes=3)
    m = CountsMatrix([slo.key], now)
    m.add(slo.key, T0, 7, 7)
    m.add(slo.key, T0 + timedelta(minutes=1), 6.999, 7)
    m.add(slo.key, T0 + timedelta(minutes=2), 0, 0)  # total 0 is missing, not good
    assert slice_verdicts(m, slo.key, slo, T0, now) == [(T0, True), (T0 + timedelta(minutes=1), False)]


def test_completed_slices_alignment() -> None:
    assert completed_slices(300, T0 + timedelta(seconds=1), T0 + timedelta(minutes=15)) == [
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=10),
    ]
    assert completed_slices(300, T0, T0 + timedelta(minutes=4)) == []


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 3 * 86400), st.integers(0, 20), st.integers(0, 2)),
        max_size=80,
    ),
    st.integers(0, 4 * 86400),
)
def test_many_matches_single_and_brute_force(events: list[tuple[int, int, int, int]], since_back: int) -> None:
    slos = [ts_slo("a", 5, 0.9), ts_slo("b", 60, 0.99), ts_slo("c", 5, 1.0)]
    now = T0 + timedelta(seconds=41)
    m = CountsMatrix([s.key for s in slos], now)
    for k, back, good, bad in events:
        m.add(slos[k].key, now - timedelta(seconds=back), good, good + bad)
    since = now - timedelta(seconds=since_back)
    many = slice_verdicts_many(m, [(s.key, s) for s in slos] + [("missing/key", slos[0])], since, now)
    assert many["missing/key"] == []
    for slo in slos:
        single = slice_verdicts(m, slo.key, slo, since, now)
        assert many[slo.key] == single
        step = slo.budgeting.slice
        assert step is not None
        row = m.row(slo.key)
        expected = []
        for start in completed_slices(int(step.total_seconds()), since, now):
            g, t, _ = m.window_sums(start, start + step)
            if t[row] > 0:
                expected.append((start, bool(g[row] / t[row] >= slo.budgeting.slice_threshold)))
        assert single == expected
        assert all(s + step <= now and s >= since for s, _ in single)
