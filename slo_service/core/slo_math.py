"""Scalar SLO math: SLI, burn rate and error budget. Pure, documented formulas.

For an objective ``o`` (e.g. 0.999) the error budget is ``1 - o`` (0.001).

* ``sli = good / total``; ``None`` when ``total == 0``: no data is never "good".
* ``error_ratio = 1 - sli``.
* ``burn_rate = error_ratio / (1 - o)``: 1.0 spends the budget exactly over the period.
* error budget of the period SO FAR, one meaning for both budgeting methods (as Sloth's
  ``slo:period_error_budget_remaining:ratio`` and the OpenSLO SLI "good / total" of the period):

  - occurrences: ``allowed_bad = (1 - o) * events so far``, ``consumed_bad = bad events``;
  - timeslices: ``allowed_bad = (1 - o) * judged slices so far``, ``consumed_bad = bad slices``
    (a slice without data is missing: it neither spends nor earns budget).

  ``consumed_ratio = consumed_bad / allowed_bad`` is therefore exactly the period's burn rate, and
  ``remaining_ratio = 1 - consumed_ratio`` is >= 0 exactly when the period's SLI meets the objective;
  it goes NEGATIVE once the budget is overspent.
* timeslices only, the whole-period alternative (the SRE book's "43.2 bad minutes in 30 days at
  99.9 %"): ``period_consumed_ratio = bad slices / ((1 - o) * slices in the WHOLE period)``; it only
  grows during the period and says how much of the period's fixed allowance is gone. Occurrences have
  no such figure (the period's future events are unknown), so it is None there.
* a constant burn ``b`` held for ``w`` spends ``b * w / period`` of the period's budget
  (SRE workbook: 14.4x for 1h of a 30-day period is 2%).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from slo_service.core.windows import PERIOD_WINDOW


@dataclass(frozen=True)
class WindowStatus:
    """Counts and ratios of one SLO over one window [start, end)."""

    window: str
    start: datetime
    end: datetime
    good: float  # events, or slices for timeslice SLOs
    total: float
    sli: float | None  # good/total, None when total == 0 (NO DATA, never "good")
    error_ratio: float | None  # 1 - sli
    burn_rate: float | None  # error_ratio / (1 - objective)
    data_coverage: float  # share (0..1) of expected 1-minute slices (occurrences) / timeslices with data


@dataclass(frozen=True)
class BudgetStatus:
    """Error budget of the period so far."""

    allowed_bad: float
    consumed_bad: float
    consumed_ratio: float | None  # None when there is nothing to compare with (e.g. no events)
    remaining_ratio: float | None  # 1 - consumed_ratio; negative when overspent
    # timeslices: bad slices / allowed bad slices of the WHOLE period; None for occurrences
    period_consumed_ratio: float | None = None


@dataclass(frozen=True)
class SLOStatus:
    """Everything one evaluation says about one SLO."""

    key: str
    evaluated_at: datetime
    objective: float
    windows: Mapping[str, WindowStatus]  # ALERT_WINDOWS names + "period"
    budget: BudgetStatus
    period_start: datetime
    period_end: datetime

    @property
    def period(self) -> WindowStatus:
        return self.windows[PERIOD_WINDOW]


def _check_objective(objective: float) -> None:
    if not 0.0 < objective < 1.0:
        raise ValueError(f"objective must be in (0, 1), got {objective!r}")


def sli(good: float, total: float) -> float | None:
    """good / total, or None when there were no events."""
    if total <= 0:
        return None
    return good / total


def error_ratio(good: float, total: float) -> float | None:
    """1 - sli, or None when there were no events."""
    s = sli(good, total)
    return None if s is None else 1.0 - s


def burn_rate(good: float, total: float, objective: float) -> float | None:
    """(1 - sli) / (1 - objective), or None when there were no events."""
    _check_objective(objective)
    e = error_ratio(good, total)
    return None if e is None else e / (1.0 - objective)


def _budget(allowed: float, consumed: float, period_consumed: float | None = None) -> BudgetStatus:
    if allowed <= 0:
        return BudgetStatus(allowed, consumed, None, None, period_consumed)
    ratio = consumed / allowed
    return BudgetStatus(allowed, consumed, ratio, 1.0 - ratio, period_consumed)


def budget_occurrences(good: float, total: float, objective: float) -> BudgetStatus:
    """Event budget: (1 - objective) of the events so far may be bad."""
    _check_objective(objective)
    return _budget((1.0 - objective) * total, total - good)


def budget_timeslices(good_slices: float, total_slices: float, objective: float, period_slices: int) -> BudgetStatus:
    """Slice budget: (1 - objective) of the judged slices so far may be bad, like events.

    `total_slices` are the slices that had data and a verdict; missing slices neither spend nor earn
    budget. `period_slices` (all slices of the whole period) only feeds `period_consumed_ratio`.
    """
    _check_objective(objective)
    bad = total_slices - good_slices
    period_allowed = (1.0 - objective) * period_slices
    period_consumed = bad / period_allowed if period_allowed > 0 else None
    return _budget((1.0 - objective) * total_slices, bad, period_consumed)


def budget_consumed_by_burn(burn: float, window: timedelta, period: timedelta) -> float:
    """Share of the period's budget that a constant `burn` spends during `window`: burn * window / period."""
    if period <= timedelta(0):
        raise ValueError("period must be positive")
    return burn * (window / period)
