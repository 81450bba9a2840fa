"""Scalar SLO math, checked by hand against the SRE workbook numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.core.slo_math import (
    BudgetStatus,
    SLOStatus,
    WindowStatus,
    budget_consumed_by_burn,
    budget_occurrences,
    budget_timeslices,
    burn_rate,
    error_ratio,
    sli,
)

PERIOD = timedelta(days=30)


def test_sre_workbook_burn_rates() -> None:
    # 99.9% over 30 days: 14.4x for 1 hour spends 2% of the budget, 6x for 6 hours 5%, 1x all period 100%
    assert budget_consumed_by_burn(14.4, timedelta(hours=1), PERIOD) == pytest.approx(0.02)
    assert budget_consumed_by_burn(6, timedelta(hours=6), PERIOD) == pytest.approx(0.05)
    assert budget_consumed_by_burn(1, PERIOD, PERIOD) == pytest.approx(1.0)
    assert budget_consumed_by_burn(3, timedelta(days=3), PERIOD) == pytest.approx(0.30)
    with pytest.raises(ValueError):
        budget_consumed_by_burn(1, PERIOD, timedelta(0))


def test_burn_rate_of_error_ratio() -> None:
    # 1.44% errors against a 0.1% budget is a 14.4x burn
    assert burn_rate(98_560, 100_000, 0.999) == pytest.approx(14.4)
    assert burn_rate(1000, 1000, 0.999) == 0.0
    assert burn_rate(999, 1000, 0.999) == pytest.approx(1.0)
    assert burn_rate(0, 10, 0.99) == pytest.approx(100.0)


def test_no_data_is_none_never_good() -> None:
    assert sli(0, 0) is None
    assert error_ratio(0, 0) is None
    assert burn_rate(0, 0, 0.999) is None
    b = budget_occurrences(0, 0, 0.999)
    assert b.consumed_ratio is None and b.remaining_ratio is None and b.allowed_bad == 0


def test_sli_and_error_ratio() -> None:
    assert sli(99, 100) == pytest.approx(0.99)
    assert error_ratio(99, 100) == pytest.approx(0.01)


def test_occurrences_budget() -> None:
    b = budget_occurrences(999_500, 1_000_000, 0.999)
    assert b.allowed_bad == pytest.approx(1000)
    assert b.consumed_bad == pytest.approx(500)
    assert b.consumed_ratio == pytest.approx(0.5)
    assert b.remaining_ratio == pytest.approx(0.5)


def test_budget_goes_negative_when_overspent() -> None:
    b = budget_occurrences(997_000, 1_000_000, 0.999)  # 3000 bad of 1000 allowed
    assert b.consumed_ratio == pytest.approx(3.0)
    assert b.remaining_ratio == pytest.approx(-2.0)
    t = budget_timeslices(good_slices=8000, total_slices=8100, objective=0.99, period_slices=8640)
    assert t.allowed_bad == pytest.approx(81)  # 1% of the 8100 judged slices
    assert t.consumed_bad == 100
    assert t.remaining_ratio is not None and t.remaining_ratio < 0


def test_timeslices_budget_is_relative_to_the_slices_so_far_like_events() -> None:
    # 30 days of 5-minute slices = 8640. 2 bad of the first 100 judged slices at 99%: 2x the
    # allowance so far (the period's SLI 98% misses 99%), though only 2/86.4 of the whole period's.
    t = budget_timeslices(good_slices=98, total_slices=100, objective=0.99, period_slices=8640)
    assert t.allowed_bad == pytest.approx(1.0)
    assert t.consumed_ratio == pytest.approx(2.0) and t.remaining_ratio == pytest.approx(-1.0)
    assert t.period_consumed_ratio == pytest.approx(2 / 86.4)
    # the same counts as events give the same budget: one meaning for both methods
    events = budget_occurrences(98, 100, 0.99)
    assert (events.allowed_bad, events.consumed_ratio) == (t.allowed_bad, t.consumed_ratio)
    assert events.period_consumed_ratio is None
    # remaining >= 0 exactly when the period's SLI meets the objective
    assert budget_timeslices(99, 100, 0.99, 8640).remaining_ratio == pytest.approx(0.0)
    # no verdicts yet: nothing to compare with, but the whole-period share is known to be 0
    empty = budget_timeslices(0, 0, 0.99, 8640)
    assert empty.consumed_ratio is None and empty.period_consumed_ratio == 0.0
    assert budget_timeslices(0, 0, 0.99, 0).period_consumed_ratio is None


@pytest.mark.parametrize("objective", [0.0, 1.0, -0.5, 1.5])
def test_invalid_objective(objective: float) -> None:
    with pytest.raises(ValueError):
        burn_rate(1, 2, objective)
    with pytest.raises(ValueError):
        budget_occurrences(1, 2, objective)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from([0.9, 0.99, 0.995, 0.999, 0.9999]),
)
def test_consistency(good: int, bad: int, objective: float) -> None:
    total = good + bad
    s, b, budget = sli(good, total), burn_rate(good, total, objective), budget_occurrences(good, total, objective)
    if total == 0:
        assert s is None and b is None and budget.consumed_ratio is None
        return
    assert s is not None and b is not None and budget.consumed_ratio is not None
    assert 0.0 <= s <= 1.0
    # over the whole period, the share of budget consumed IS the period's burn rate
    assert budget.consumed_ratio == pytest.approx(b, rel=1e-9, abs=1e-9)
    assert budget.remaining_ratio == pytest.approx(1.0 - b, rel=1e-9, abs=1e-9)
    assert budget_consumed_by_burn(b, PERIOD, PERIOD) == pytest.approx(b)


def test_slo_status_period_property() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    w = WindowStatus("period", t, t, 1, 1, 1.0, 0.0, 0.0, 1.0)
    status = SLOStatus("a/b", t, 0.99, {"period": w}, BudgetStatus(0.01, 0, 0, 1), t, t)
    assert status.period is w
