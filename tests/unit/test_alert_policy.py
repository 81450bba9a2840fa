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


def _factors(period: timedelta) -> list[float]:
    return [t.factor(period) for t in default_tiers()]


def test_default_tiers_are_the_workbook_ones() -> None:
    tiers = {t.name: t for t in default_tiers()}
    assert list(tiers) == ["page-fast", "page-slow", "ticket-fast", "ticket-slow"]
    assert [t.severity for t in tiers.values()] == ["page", "page", "ticket", "ticket"]
    windows = {name: (t.long_window, t.short_window) for name, t in tiers.items()}
    assert windows == {
        "page-fast": (timedelta(hours=1), timedelta(minutes=5)),
        "page-slow": (timedelta(hours=6), timedelta(minutes=30)),
        "ticket-fast": (DAY, timedelta(hours=2)),
        "ticket-slow": (3 * DAY, timedelta(hours=6)),
    }
    assert [t.budget_share for t in tiers.values()] == [0.02, 0.05, 0.10, 0.10]


def test_factors_for_30_days_are_14_4_6_3_1() -> None:
    assert _factors(30 * DAY) == pytest.approx([14.4, 6.0, 3.0, 1.0])


def test_factors_for_28_days() -> None:
    assert _factors(28 * DAY) == pytest.approx([13.44, 5.6, 2.8, 0.9333333333])


def test_factors_for_7_days_may_go_below_one() -> None:
    assert _factors(7 * DAY) == pytest.approx([3.36, 1.4, 0.7, 0.2333333333])


def test_calendar_periods_use_their_nominal_length() -> None:
    month = Period.calendar(CalendarUnit.MONTH, "Europe/Berlin").nominal_length
    week = Period.calendar(CalendarUnit.WEEK).nominal_length
    assert _factors(month) == pytest.approx([14.4, 6.0, 3.0, 1.0])
    assert _factors(week) == pytest.approx(_factors(7 * DAY))


@given(
    period_days=st.integers(min_value=1, max_value=400),
    share=st.floats(min_value=1e-4, max_value=1.0),
    tier_index=st.integers(min_value=0, max_value=3),
)
def test_burning_at_the_factor_over_the_long_window_spends_exactly_the_share(
    period_days: int, share: float, tier_index: int
) -> None:
    base = default_tiers()[tier_index]
    tier = BurnRateTier("t", "page", base.long_window, base.short_window, share)
    period = timedelta(days=period_days)
    spent = budget_consumed_by_burn(tier.factor(period), tier.long_window, period)
    assert spent == pytest.approx(share)


def test_default_windows_stay_in_the_evaluator_set() -> None:
    needed = AlertPolicy().required_windows()
    assert set(needed) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
    assert all(ALERT_WINDOWS[name] == w for name, w in needed.items())
    assert set(AlertPolicy(no_data_after=None, tiers=default_tiers()[:1]).required_windows()) == {"1h", "5m"}
    assert "45m" in AlertPolicy(no_data_after=timedelta(minutes=45)).required_windows()


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
