"""Alert rules of an SLO: multi-window, multi-burn-rate tiers (SRE workbook, chapter 5) and the
no-data / budget-exhausted rules.

A tier is defined by the SHARE OF THE PERIOD'S ERROR BUDGET that a constant burn consumes over its
long window, not by a hard-coded burn rate. The burn-rate threshold is derived from the SLO's
period::

    factor = budget_share * period / long_window

so the workbook's "2% of the budget in 1 hour" is 14.4x for a 30-day period, 13.44x for 28 days and
3.36x for 7 days (a calendar month counts as 30 days, a calendar week as 7: ``Period.nominal_length``).

Why scale the factor and not the windows: the windows must stay within the set the evaluator
computes for every SLO in one vectorised pass (``core.windows.ALERT_WINDOWS``: 5m, 30m, 1h, 2h, 6h,
1d, 3d), and their lengths are what gives each tier its detection and reset time (a 5m short window
resets a page ~5 minutes after an incident ends, whatever the period). Scaling the windows with the
period instead would produce windows like 56m or 2.8d that nothing computes, and would change how
fast the alerts react depending on the period. Keeping the budget share constant keeps the meaning
of each tier ("page when 2% of the budget went in an hour") identical for every SLO.

A factor below 1 is valid: for a 7-day period the 3-day ticket fires at 0.233x, which means "at this
pace the budget is gone before the period ends" (10% of the budget in 3 days).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from slo_service.core.durations import format_duration

_ZERO = timedelta(0)


@dataclass(frozen=True)
class BurnRateTier:
    """One multi-window burn-rate rule: fires when BOTH windows burn at or above `factor(period)`."""

    name: str  # "page-fast", "page-slow", "ticket-fast", "ticket-slow"
    severity: str  # "page" | "ticket" (free text allowed, e.g. "critical")
    long_window: timedelta
    short_window: timedelta
    budget_share: float  # share of the period's budget consumed over long_window that triggers (0.02 = 2%)
    for_: timedelta = _ZERO

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a burn-rate tier needs a name")
        if self.long_window <= _ZERO or self.short_window <= _ZERO:
            raise ValueError(f"tier {self.name!r}: windows must be positive")
        if self.short_window > self.long_window:
            raise ValueError(f"tier {self.name!r}: short window must not be longer than the long window")
        if not self.budget_share > 0:
            raise ValueError(f"tier {self.name!r}: budget_share must be positive, got {self.budget_share!r}")
        if self.for_ < _ZERO:
            raise ValueError(f"tier {self.name!r}: for must not be negative")

    def factor(self, period: timedelta) -> float:
        """Burn-rate threshold for an SLO with this period: budget_share * period / long_window."""
        if period <= _ZERO:
            raise ValueError("period must be positive")
        return self.budget_share * (period / self.long_window)

    @property
    def long_window_name(self) -> str:
        """Name of the long window in SLOStatus.windows, e.g. "1h"."""
        return format_duration(self.long_window)

    @property
    def short_window_name(self) -> str:
        return format_duration(self.short_window)


def default_tiers() -> tuple[BurnRateTier, ...]:
    """The SRE workbook's four tiers as budget shares: 14.4x / 6x / 3x / 1x for a 30-day period."""
    return (
        BurnRateTier("page-fast", "page", timedelta(hours=1), timedelta(minutes=5), 0.02),
        BurnRateTier("page-slow", "page", timedelta(hours=6), timedelta(minutes=30), 0.05),
        BurnRateTier("ticket-fast", "ticket", timedelta(days=1), timedelta(hours=2), 0.10),
        BurnRateTier("ticket-slow", "ticket", timedelta(days=3), timedelta(hours=6), 0.10),
    )


@dataclass(frozen=True)
class AlertPolicy:
    """All alert rules of one SLO.

    * `tiers`: burn-rate rules (each with its own `for_`).
    * `min_events`: low-traffic guard; a tier cannot fire unless its long window holds at least this
      many events (slices for timeslice SLOs).
    * `no_data_after`: raise SLONoData when the SLO had no events for this long (None: no such rule).
    * `budget_exhausted`: raise SLOErrorBudgetExhausted when the budget remaining is <= 0.
    * `for_`: the `for` of the no-data and budget-exhausted alerts.
    * `labels`: added to every alert (not templated: labels are the alert's identity).
    * `annotations`: templates that override or extend the default annotations of every alert, e.g.
      ``{"runbook_url": "https://runbooks.example/{service}/{slo}#{alertname}"}``. Placeholders are
      ``{name}`` only (no format specs); unknown names are left as written. Available: every label,
      plus service, slo, key, objective, period, severity, tier, burn_rate, burn_rate_short,
      threshold, budget_share, window, short_window, budget_remaining, sli, no_data_for,
      runbook_url, dashboard_url.
    """

    tiers: tuple[BurnRateTier, ...] = field(default_factory=default_tiers)
    min_events: float = 0
    no_data_after: timedelta | None = timedelta(minutes=30)
    budget_exhausted: bool = True
    for_: timedelta = _ZERO
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    no_data_severity: str = "ticket"
    budget_exhausted_severity: str = "ticket"

    def __post_init__(self) -> None:
        names = [t.name for t in self.tiers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate burn-rate tier names: {', '.join(dupes)}")
        if self.min_events < 0:
            raise ValueError("min_events must not be negative")
        if self.no_data_after is not None and self.no_data_after <= _ZERO:
            raise ValueError("no_data_after must be positive (or None to disable the no-data alert)")
        if self.for_ < _ZERO:
            raise ValueError("for must not be negative")

    def required_windows(self) -> dict[str, timedelta]:
        """Every window (by SLOStatus.windows name) these rules read, e.g. {"1h": 1:00:00, "5m": ...}."""
        out: dict[str, timedelta] = {}
        for t in self.tiers:
            out[t.long_window_name] = t.long_window
            out[t.short_window_name] = t.short_window
        if self.no_data_after is not None:
            out[format_duration(self.no_data_after)] = self.no_data_after
        return out
