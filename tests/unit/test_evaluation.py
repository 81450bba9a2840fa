"""evaluate(): vectorised over SLOs, equal to the scalar math applied to brute-force reference sums."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import Reference, grid

from slo_service.core.counts_matrix import CountsMatrix
from slo_service.core.evaluation import SLICES_SUFFIX, evaluate, matrix_row_key
from slo_service.core.model import SLO, Budgeting, BudgetingMethod, CalendarUnit, Period, RatioSLI
from slo_service.core.periods import period_bounds, period_end
from slo_service.core.slo_math import budget_occurrences, budget_timeslices, burn_rate, sli
from slo_service.core.windows import ALERT_WINDOWS, PERIOD_WINDOW, align

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SLI_ = RatioSLI(source="s", total="t", good="g")
ALL_WINDOWS = [*ALERT_WINDOWS, PERIOD_WINDOW]


def occ(name: str, objective: float = 0.999, period: Period | None = None) -> SLO:
    return SLO("svc", name, objective, period or Period.rolling(timedelta(days=30)), SLI_)


def tsl(name: str, objective: float = 0.99, period: Period | None = None, minutes: int = 5) -> SLO:
    budgeting = Budgeting(BudgetingMethod.TIMESLICES, slice=timedelta(minutes=minutes), slice_threshold=0.95)
    return SLO("svc", name, objective, period or Period.rolling(timedelta(days=30)), SLI_, budgeting)


def test_missing_data_is_none_and_zero_coverage() -> None:
    slos = [occ("empty"), tsl("empty-ts"), occ("not-in-matrix")]
    m = CountsMatrix([slos[0].key, slos[1].key + SLICES_SUFFIX], T0)
    out = evaluate(m, slos, T0 + timedelta(seconds=20))
    assert set(out) == {s.key for s in slos}
    for status in out.values():
        assert list(status.windows) == ALL_WINDOWS
        for w in status.windows.values():
            assert (w.good, w.total) == (0, 0)
            assert w.sli is None and w.error_ratio is None and w.burn_rate is None
            assert w.data_coverage == 0.0
    assert out["svc/empty"].budget.consumed_ratio is None
    # timeslices: no verdict yet, so no budget so far (like occurrences); the whole period's is untouched
    assert out["svc/empty-ts"].budget.consumed_ratio is None
    assert out["svc/empty-ts"].budget.period_consumed_ratio == 0.0


def test_steady_burn_full_history() -> None:
    """30 days of 1-minute data at 1.44% errors: a 99.9% SLO burns 14.4x in every window."""
    now = T0 + timedelta(seconds=25)
    slos = [occ("steady"), occ("half", period=Period.calendar(CalendarUnit.MONTH, "Europe/Berlin"))]
    m = CountsMatrix([s.key for s in slos], now)
    minutes = np.arange(int(now.timestamp()) // 60 - 31 * 1440, int(now.timestamp()) // 60 + 1)
    for row in range(2):
        n = len(minutes)
        m.add_many(np.full(n, row), minutes * 60, np.full(n, 9856.0), np.full(n, 10_000.0))
    out = evaluate(m, slos, now)
    st_ = out["svc/steady"]
    for name in ALL_WINDOWS:
        w = st_.windows[name]
        assert w.burn_rate == pytest.approx(14.4), name
        assert w.sli == pytest.approx(0.9856)
        assert w.data_coverage == 1.0, name
    # alert windows are whole minutes ending where the open minute begins: exactly their length
    for name, length in ALERT_WINDOWS.items():
        assert (st_.windows[name].start, st_.windows[name].end) == (T0 - length, T0)
        assert st_.windows[name].total == pytest.approx(10_000 * (length / timedelta(minutes=1)), rel=1e-12)
    assert st_.windows["5m"].total == 5 * 10_000
    # the period [now - 30d, now): the hourly slot holding its start counts pro rata, the open minute whole
    assert st_.period.end == now
    minutes = (T0 - (now - timedelta(days=30))) / timedelta(minutes=1) + 1
    assert st_.period.total == pytest.approx(10_000 * minutes, rel=1e-12)
    assert st_.budget.consumed_ratio == pytest.approx(14.4)
    assert st_.budget.remaining_ratio == pytest.approx(-13.4)
    assert st_.period_start == now - timedelta(days=30) and st_.period_end == now
    berlin = out["svc/half"]
    assert berlin.period_start == datetime(2026, 2, 28, 23, tzinfo=UTC)  # 1 March 00:00 CET
    assert berlin.period_end == datetime(2026, 3, 31, 22, tzinfo=UTC)
    assert berlin.period.start == berlin.period_start
    assert berlin.period.total == 781 * 10_000  # 13h01m of March, open minute included


def test_timeslices_budget_and_coverage() -> None:
    slo = tsl("ts", objective=0.99, period=Period.rolling(timedelta(days=7)), minutes=5)
    now = T0 + timedelta(seconds=30)
    m = CountsMatrix([slo.key, slo.key + SLICES_SUFFIX], now)
    assert matrix_row_key(slo) == slo.key + SLICES_SUFFIX
    # verdicts for every completed 5-minute slice of the last 2 hours, 3 of them bad
    starts = [T0 - timedelta(minutes=5 * k) for k in range(1, 25)]
    for k, s in enumerate(starts):
        m.add(slo.key + SLICES_SUFFIX, s, 0.0 if k in (0, 5, 20) else 1.0, 1.0)
    out = evaluate(m, [slo], now)["svc/ts"]
    # timeslice windows end with the newest completed slice (12:00): [11:30, 12:00) holds 11:30 .. 11:55
    assert out.windows["30m"].end == T0
    assert out.windows["30m"].total == 6 and out.windows["30m"].good == 4  # 11:30 and 11:55 bad
    assert out.windows["30m"].data_coverage == 1.0
    assert out.windows["1h"].sli == pytest.approx(10 / 12)  # 11:00 .. 11:55, 11:30 and 11:55 bad
    assert out.windows["2h"].data_coverage == 1.0
    assert out.windows["2h"].burn_rate == pytest.approx((3 / 24) / 0.01)
    assert out.windows["6h"].data_coverage == pytest.approx(24 / 72)  # slices 06:00 .. 11:55 expected
    # the 5m window holds exactly the newest completed slice: a 5-minute-slice SLO always has data there
    assert out.windows["5m"].total == 1 and out.windows["5m"].good == 0
    # the budget allows 1% of the 24 judged slices; the whole 7-day period allows 20.16 bad slices
    assert out.budget == budget_timeslices(21, 24, 0.99, 7 * 288)
    assert out.budget.allowed_bad == pytest.approx(0.24)
    assert out.budget.consumed_ratio == pytest.approx(3 / 0.24)
    assert out.budget.consumed_ratio == pytest.approx(out.period.burn_rate)  # one meaning: the period's burn
    assert out.budget.period_consumed_ratio == pytest.approx(3 / 20.16)


def test_calendar_timeslices_count_slices_of_the_whole_month() -> None:
    period = Period.calendar(CalendarUnit.MONTH, "America/New_York")
    slo = tsl("ny", period=period, minutes=60)
    now = datetime(2026, 3, 20, tzinfo=UTC)
    m = CountsMatrix([slo.key + SLICES_SUFFIX], now)
    m.add(slo.key + SLICES_SUFFIX, now - timedelta(hours=2), 0, 1)
    out = evaluate(m, [slo], now)["svc/ny"]
    assert out.period_start == datetime(2026, 3, 1, 5, tzinfo=UTC)
    assert out.period_end == datetime(2026, 4, 1, 4, tzinfo=UTC)
    assert out.budget.consumed_bad == 1
    # the whole-period share counts every hour of the month: 743 hours, a DST month
    assert out.budget.period_consumed_ratio == pytest.approx(1 / (0.01 * (31 * 24 - 1)))


def test_invalid_objective_rejected() -> None:
    m = CountsMatrix(["svc/x"], T0)
    with pytest.raises(ValueError):
        evaluate(m, [occ("x", objective=1.0)], T0)


# ----------------------------------------------------------------------------- property test

PERIODS = [
    Period.rolling(timedelta(days=30)),
    Period.rolling(timedelta(days=1)),
    Period.calendar(CalendarUnit.WEEK, "Europe/Berlin"),
    Period.calendar(CalendarUnit.MONTH, "America/New_York"),
]


@settings(max_examples=80, deadline=None)
@given(
    start_offset=st.integers(0, 86400),
    steps=st.lists(
        st.tuples(
            st.one_of(st.integers(0, 3 * 3600), st.integers(0, 3 * 86400)),
            st.lists(
                st.tuples(st.integers(0, 3), st.integers(0, 33 * 86400), st.integers(0, 40), st.integers(0, 4)),
                max_size=15,
            ),
        ),
        min_size=1,
        max_size=15,
    ),
    objective=st.sampled_from([0.9, 0.99, 0.999]),
)
def test_evaluate_matches_scalar_math_on_reference_sums(
    start_offset: int, steps: list[tuple[int, list[tuple[int, int, int, int]]]], objective: float
) -> None:
    slos = [occ(f"o{k}", objective, p) for k, p in enumerate(PERIODS)]
    ts = tsl("ts", objective, PERIODS[0], minutes=5)
    now = T0 + timedelta(seconds=start_offset)
    m = CountsMatrix([*(s.key for s in slos), ts.key + SLICES_SUFFIX], now)
    ref = Reference()
    for move, events in steps:
        now += timedelta(seconds=move)
        m.advance(now)
        for k, back, good, bad in events:
            at = align(now - timedelta(seconds=back), 60)  # the pipeline writes aligned minute slices
            if m.add(slos[k].key, at, good, good + bad):
                ref.add(slos[k].key, at, good, good + bad)
            verdict_at = align(at, 300)
            if verdict_at + timedelta(minutes=5) <= now and m.add(ts.key + SLICES_SUFFIX, verdict_at, bad == 0, 1):
                ref.add(ts.key + SLICES_SUFFIX, verdict_at, float(bad == 0), 1)
    out = evaluate(m, [*slos, ts], now)
    cells = grid(m)
    minute = align(now, 60)
    for slo in [*slos, ts]:
        status = out[slo.key]
        p_start, _ = period_bounds(slo.period, now)
        assert status.period_start == p_start
        assert status.period_end == period_end(slo.period, now)
        assert status.evaluated_at == now and status.objective == objective
        # alert windows end with the newest complete minute / completed slice; the period ends now
        w_end = align(now, 300) if slo is ts else minute
        spans = {name: (w_end - w, w_end) for name, w in ALERT_WINDOWS.items()} | {PERIOD_WINDOW: (p_start, now)}
        row_key = matrix_row_key(slo)
        for name, w in status.windows.items():
            assert (w.window, w.start, w.end) == (name, *spans[name])
            good, total = ref.weighted_sums(row_key, w.start, w.end, cells)
            assert (w.good, w.total) == (pytest.approx(good, rel=1e-12), pytest.approx(total, rel=1e-12)), name
            r = m.resolution_at(w.start)
            if r is not None and w.start.timestamp() % r == 0:  # starts on a slot: nothing interpolated
                assert (w.good, w.total) == ref.sums(row_key, w.start, w.end), (slo.key, name)
            assert w.sli == sli(w.good, w.total)
            assert w.burn_rate == burn_rate(w.good, w.total, objective)
            assert w.error_ratio == (None if w.total == 0 else 1 - w.good / w.total)
            assert 0.0 <= w.data_coverage <= 1.0
            eff = m.effective_start(w.start)
            if slo is not ts and m.resolution_at(w.start) == 60:  # 1-minute tier: coverage is exact
                complete = ref.weighted_minutes(row_key, eff, min(w.end, minute), cells)
                expected = (minute - eff) / timedelta(minutes=1)
                # no complete minute in the window yet: the engine reports coverage 0
                assert w.data_coverage == pytest.approx(complete / expected if expected > 0 else 0.0, abs=1e-6)
            if ref.weighted_writes(row_key, eff, w.end, cells) == 0:
                assert w.data_coverage == 0.0  # no data at all (a scraped minute with 0 events is data)
        pg, pt = status.period.good, status.period.total
        if slo is ts:
            n = 30 * 288  # rolling: the whole period length / slice
            assert status.budget == budget_timeslices(pg, pt, objective, n)
        else:
            assert status.budget == budget_occurrences(pg, pt, objective)
