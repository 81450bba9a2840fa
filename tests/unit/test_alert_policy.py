"""Burn-rate tiers derived from the SLO period: the SRE workbook numbers, by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo_service.core.alerting.policy import AlertPolicy, BurnRateTier, default_tiers
from slo_service.core.model import CalendarUnit, Period
from slo_service.core.slo_math import budget_consumed_by_burn
from slo_service.core.windows import ALERT_WINDOWS

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)


def _factors(period: timedelta, unit: timedelta = MIN) -> list[float]:
    return [t.factor(period, unit) for t in default_tiers()]


def _windows(period: timedelta, unit: timedelta = MIN) -> list[tuple[timedelta, timedelta]]:
    return [(e.long_window, e.short_window) for e in (t.effective(period, unit) for t in default_tiers())]


WORKBOOK_WINDOWS = [
    (timedelta(hours=1), timedelta(minutes=5)),
    (timedelta(hours=6), timedelta(minutes=30)),
    (DAY, timedelta(hours=2)),
    (3 * DAY, timedelta(hours=6)),
]


def test_default_tiers_are_the_workbook_ones_with_a_ticket_above_1x() -> None:
    tiers = {t.name: t for t in default_tiers()}
    assert list(tiers) == ["page-fast", "page-slow", "ticket-fast", "ticket-slow"]
    assert [t.severity for t in tiers.values()] == ["page", "page", "ticket", "ticket"]
    assert [(t.long_window, t.short_window) for t in tiers.values()] == WORKBOOK_WINDOWS
    # the workbook's slowest ticket is 10% in 3 days (1x); ours 12% so it stays above 1x at 28 days
    assert [t.budget_share for t in tiers.values()] == [0.02, 0.05, 0.10, 0.12]


def test_factors_for_30_days_are_14_4_6_3_1_2() -> None:
    assert _factors(30 * DAY) == pytest.approx([14.4, 6.0, 3.0, 1.2])
    assert _windows(30 * DAY) == WORKBOOK_WINDOWS


def test_factors_for_28_days_keep_the_workbook_windows() -> None:
    assert _factors(28 * DAY) == pytest.approx([13.44, 5.6, 2.8, 1.12])
    assert _windows(28 * DAY) == WORKBOOK_WINDOWS


def test_90_days_keep_the_windows_and_raise_the_thresholds() -> None:
    assert _factors(90 * DAY) == pytest.approx([43.2, 18.0, 9.0, 3.6])
    assert _windows(90 * DAY) == WORKBOOK_WINDOWS


def test_7_days_shrink_the_windows_instead_of_lowering_the_thresholds() -> None:
    # a quarter of 28 days: a quarter of each window, rounded down to whole minutes, at least 5 minutes
    assert _windows(7 * DAY) == [
        (15 * MIN, 5 * MIN),
        (90 * MIN, 7 * MIN),
        (6 * HOUR, 30 * MIN),
        (18 * HOUR, 90 * MIN),
    ]
    assert _factors(7 * DAY) == pytest.approx([13.44, 5.6, 2.8, 1.12])
    assert all(t.effective(7 * DAY).scaled for t in default_tiers())
    assert not any(t.effective(28 * DAY).scaled for t in default_tiers())


def test_1_day_windows_never_go_below_five_minutes() -> None:
    # a window of one or two scrapes would flap: 5 minutes is the workbook's shortest window
    assert _windows(DAY) == [(5 * MIN, 5 * MIN), (12 * MIN, 5 * MIN), (51 * MIN, 5 * MIN), (154 * MIN, 12 * MIN)]
    # page-fast's 2.14 minutes became 5: its threshold is held at 13.44x instead of dropping to 5.76x;
    # rounding a window down only raises its threshold
    assert _factors(DAY) == pytest.approx([13.44, 6.0, 0.1 * 1440 / 51, 0.12 * 1440 / 154])
    assert [t.effective(DAY).clamped for t in default_tiers()] == [True, False, False, False]


def test_timeslice_windows_are_whole_slices() -> None:
    slice_ = 5 * MIN
    assert _windows(7 * DAY, slice_) == [
        (15 * MIN, 5 * MIN),
        (90 * MIN, 5 * MIN),
        (6 * HOUR, 30 * MIN),
        (18 * HOUR, 90 * MIN),
    ]
    assert _windows(DAY, HOUR) == [(HOUR, HOUR), (HOUR, HOUR), (HOUR, HOUR), (2 * HOUR, HOUR)]
    # 2% of a 1-day budget in one 1-hour slice would be 0.48x: held at the tier's 28-day 13.44x instead
    clamped = default_tiers()[0].effective(DAY, HOUR)
    assert clamped.clamped and clamped.factor == pytest.approx(13.44)


@pytest.mark.parametrize("days", [1, 7, 28, 30, 90])
@pytest.mark.parametrize("unit_minutes", [1, 5, 60])
def test_every_default_tier_fires_only_above_1x(days: int, unit_minutes: int) -> None:
    for tier in default_tiers():
        effective = tier.effective(days * DAY, unit_minutes * MIN)
        assert effective.factor > 1.0, (tier.name, days, unit_minutes)


def test_calendar_periods_use_their_nominal_length() -> None:
    month = Period.calendar(CalendarUnit.MONTH, "Europe/Berlin").nominal_length
    week = Period.calendar(CalendarUnit.WEEK).nominal_length
    assert _factors(month) == pytest.approx([14.4, 6.0, 3.0, 1.2])
    assert _factors(week) == pytest.approx(_factors(7 * DAY))


@given(
    period_minutes=st.integers(min_value=60, max_value=400 * 1440),
    share=st.floats(min_value=1e-4, max_value=1.0),
    tier_index=st.integers(min_value=0, max_value=3),
)
def test_burning_at_the_factor_over_the_long_window_spends_exactly_the_share(
    period_minutes: int, share: float, tier_index: int
) -> None:
    base = default_tiers()[tier_index]
    tier = BurnRateTier("t", "page", base.long_window, base.short_window, share)
    period = period_minutes * MIN
    effective = tier.effective(period)
    spent = budget_consumed_by_burn(effective.factor, effective.long_window, period)
    if effective.clamped:  # the 5-minute floor is longer than the shrunk window: the threshold is held
        assert effective.long_window == 5 * MIN and spent > share
    else:
        assert spent == pytest.approx(share)
    # the threshold never drops below the tier's 28-day value, whatever the period
    assert effective.factor >= tier.min_factor * (1 - 1e-12)
    assert 5 * MIN <= effective.short_window <= effective.long_window <= max(tier.long_window, 5 * MIN)


def test_default_windows_stay_in_the_evaluator_set() -> None:
    needed = AlertPolicy().required_windows()
    assert set(needed) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
    assert all(ALERT_WINDOWS[name] == w for name, w in needed.items())
    assert set(AlertPolicy(no_data_after=None, tiers=default_tiers()[:1]).required_windows()) == {"1h", "5m"}
    assert "45m" in AlertPolicy(no_data_after=timedelta(minutes=45)).required_windows()
    # a 7-day SLO reads its shrunk windows; a 5-minute-slice SLO's no-data window is whole slices
    assert {"15m", "5m", "1h30m", "7m", "6h", "18h"} <= set(AlertPolicy().required_windows(7 * DAY))
    assert "35m" in AlertPolicy(no_data_after=timedelta(minutes=32)).required_windows(unit=5 * MIN)


def test_policy_defaults() -> None:
    p = AlertPolicy()
    assert p.tiers == default_tiers()
    assert p.min_events == 0 and p.no_data_after == timedelta(minutes=30) and p.budget_exhausted
    assert p.for_ == timedelta(0) and dict(p.labels) == {} and dict(p.annotations) == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"long_window": timedelta(0)}, "positive"),
        ({"short_window": timedelta(hours=2)}, "short window"),
        ({"budget_share": 0.0}, "budget_share"),
        ({"budget_share": float("nan")}, "budget_share"),
        ({"for_": timedelta(minutes=-1)}, "for"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_tiers_are_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "name": "t",
        "severity": "page",
        "long_window": timedelta(hours=1),
        "short_window": timedelta(minutes=5),
        "budget_share": 0.02,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        BurnRateTier(**args)  # type: ignore[arg-type]


def test_factor_needs_a_positive_period() -> None:
    with pytest.raises(ValueError):
        default_tiers()[0].factor(timedelta(0))


def test_invalid_policies_are_refused() -> None:
    t = default_tiers()[0]
    with pytest.raises(ValueError, match="duplicate"):
        AlertPolicy(tiers=(t, t))
    with pytest.raises(ValueError, match="min_events"):
        AlertPolicy(min_events=-1)
    with pytest.raises(ValueError, match="no_data_after"):
        AlertPolicy(no_data_after=timedelta(0))
    with pytest.raises(ValueError, match="for"):
        AlertPolicy(for_=timedelta(seconds=-1))
    with pytest.raises(ValueError, match="min_slice_coverage"):
        AlertPolicy(min_slice_coverage=0)
    with pytest.raises(ValueError, match="min_budget_coverage"):
        AlertPolicy(min_budget_coverage=1.5)
