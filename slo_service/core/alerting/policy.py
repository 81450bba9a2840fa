"""Alert rules of an SLO: multi-window, multi-burn-rate tiers (SRE workbook, chapter 5) and the
no-data / budget-exhausted rules.

A tier is a long and a short window and the SHARE OF THE PERIOD'S ERROR BUDGET that a constant burn
consumes over the long window; its burn-rate threshold is ``budget_share * period / long_window``
(2% of a 30-day budget in 1h = 14.4x). The windows are written for periods of 4 weeks and longer.

What a tier becomes for an SLO (``BurnRateTier.effective``, shown by ``slo-service explain-alerts``):

* period >= 28 days: the windows stay as written and the threshold grows with the period
  (2% in 1h is 13.44x for 28 days, 14.4x for 30 days, 43.2x for 90 days);
* period < 28 days: the windows shrink in proportion to the period (as the workbook and Pyrra do)
  and the threshold stays at its 28-day value, the tier's lowest (``min_factor``): 2% of a 7-day
  budget goes in 15 minutes at 13.44x. Keeping the windows and lowering the threshold instead
  would make the slow tickets fire BELOW 1x (0.23x for 7 days), i.e. on SLOs that comfortably
  meet their objective;
* windows are whole multiples of the SLO's resolution (1 minute, or the timeslice length), rounded
  down (which only raises the threshold), and never shorter than 5 minutes (the workbook's shortest
  window: a 1-minute window holds one or two scrapes and flaps) nor than one unit. Where that floor
  is longer than the shrunk window (a 1-day period, or 1-hour slices) the threshold is held at
  ``min_factor`` (``clamped``): the tier then asks for more than its budget share, never for a burn
  at or below 1x.

A burn-rate tier fires when BOTH windows burn strictly ABOVE the threshold (``>``, as Sloth's and
Pyrra's rules do), so an SLO whose error ratio sits exactly at its objective never fires. The
default tiers' thresholds are 14.4x, 6x, 3x and 1.2x at 30 days, never less than 13.44x, 5.6x,
2.8x and 1.12x (the workbook's last tier is 1x at 30 days and 0.93x at 28: ours asks for 12% of the
budget in 3 days, so noise around an error ratio at the objective does not open a ticket); a
configured tier whose `min_factor` is below 1x is refused by the loader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from slo_service.core.durations import format_duration

_ZERO = timedelta(0)
_ALERT_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
WINDOWS_PERIOD = timedelta(days=28)
"""Tier windows are written for periods this long or longer; shorter periods shrink them."""
MINUTE = timedelta(minutes=1)
MIN_WINDOW = timedelta(minutes=5)
"""No tier window is shorter than this (nor than one slice)."""


def _ceil_to(value: timedelta, unit: timedelta) -> timedelta:
    """`value` rounded up to a whole multiple of `unit`, at least one unit."""
    return max(unit, unit * -(-value // unit))


def _floor_to(value: timedelta, unit: timedelta) -> timedelta:
    """`value` rounded down to a whole multiple of `unit`, at least MIN_WINDOW and one unit."""
    return max(_ceil_to(MIN_WINDOW, unit), unit * (value // unit))


@dataclass(frozen=True)
class EffectiveTier:
    """A tier as applied to one SLO: its windows and burn-rate threshold for that SLO's period."""

    name: str
    severity: str
    long_window: timedelta
    short_window: timedelta
    factor: float  # fires when both windows burn strictly above this
    budget_share: float
    for_: timedelta
    scaled: bool  # True when the windows were shrunk for a period shorter than 28 days
    clamped: bool = False  # True when the 5-minute (or one-slice) floor was longer than the shrunk long window
    labels: Mapping[str, str] = field(default_factory=dict)  # the tier's own alert labels (see BurnRateTier)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def long_window_name(self) -> str:
        """Name of the long window in SLOStatus.windows, e.g. "1h" or "14m"."""
        return format_duration(self.long_window)

    @property
    def short_window_name(self) -> str:
        return format_duration(self.short_window)


@dataclass(frozen=True)
class BurnRateTier:
    """One multi-window burn-rate rule, its windows written for 28-day and longer periods (module doc)."""

    name: str  # "page-fast", "page-slow", "ticket-fast", "ticket-slow"
    severity: str  # "page" | "ticket" (free text allowed, e.g. "critical")
    long_window: timedelta
    short_window: timedelta
    budget_share: float  # share of the period's budget consumed over long_window that triggers (0.02 = 2%)
    for_: timedelta = _ZERO
    # Added to this tier's alerts over the policy's labels / annotations (Sloth's page_alert.labels, e.g. a
    # routing key for pages only); they may set `severity` but never alertname, service, slo or burn_tier.
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

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

    @property
    def min_factor(self) -> float:
        """The lowest threshold this tier has for any period: its 28-day one, budget_share * 28d / long_window."""
        return self.budget_share * (WINDOWS_PERIOD / self.long_window)

    def effective(self, period: timedelta, unit: timedelta = MINUTE) -> EffectiveTier:
        """This tier for an SLO with `period`, its windows whole multiples of `unit` (1m or the slice)."""
        if period <= _ZERO:
            raise ValueError("period must be positive")
        if unit <= _ZERO:
            raise ValueError("unit must be positive")
        scale = min(1.0, period / WINDOWS_PERIOD)
        long_w = _floor_to(self.long_window * scale, unit)
        short_w = min(_floor_to(self.short_window * scale, unit), long_w)
        factor = self.budget_share * (period / long_w)
        clamped = factor < self.min_factor * (1.0 - 1e-12)
        return EffectiveTier(
            name=self.name,
            severity=self.severity,
            long_window=long_w,
            short_window=short_w,
            factor=max(factor, self.min_factor),
            budget_share=self.budget_share,
            for_=self.for_,
            scaled=scale < 1.0,
            clamped=clamped,
            labels=self.labels,
            annotations=self.annotations,
        )

    def factor(self, period: timedelta, unit: timedelta = MINUTE) -> float:
        """Burn-rate threshold for an SLO with this period (see `effective`)."""
        return self.effective(period, unit).factor


def default_tiers() -> tuple[BurnRateTier, ...]:
    """The SRE workbook's four tiers as budget shares: 14.4x / 6x / 3x / 1.2x at 30 days.

    The workbook's slowest tier is 10% in 3 days (1x); 12% (1.2x) keeps it strictly above 1x, so an
    SLO whose error ratio wanders around its objective does not open a ticket.
    """
    return (
        BurnRateTier("page-fast", "page", timedelta(hours=1), timedelta(minutes=5), 0.02),
        BurnRateTier("page-slow", "page", timedelta(hours=6), timedelta(minutes=30), 0.05),
        BurnRateTier("ticket-fast", "ticket", timedelta(days=1), timedelta(hours=2), 0.10),
        BurnRateTier("ticket-slow", "ticket", timedelta(days=3), timedelta(hours=6), 0.12),
    )


def sloth_tiers() -> tuple[BurnRateTier, ...]:
    """Sloth's tiers (its google-30d windows): pages at 14.4x over 1h/5m and 6x over 6h/30m, tickets at 3x
    over 1d/2h and 1x over 3d/6h, for Sloth's 30-day period (budget shares 2%, 5%, 10%, 10%)."""
    return (
        BurnRateTier("page-fast", "page", timedelta(hours=1), timedelta(minutes=5), 0.02),
        BurnRateTier("page-slow", "page", timedelta(hours=6), timedelta(minutes=30), 0.05),
        BurnRateTier("ticket-fast", "ticket", timedelta(days=1), timedelta(hours=2), 0.10),
        BurnRateTier("ticket-slow", "ticket", timedelta(days=3), timedelta(hours=6), 0.10),
    )


@dataclass(frozen=True)
class AlertPolicy:
    """All alert rules of one SLO.

    * `tiers`: burn-rate rules (each with its own `for_`, labels and annotations).
    * `alert_name`: the alertname of the burn-rate alerts (SLOBurnRateHigh when None); Sloth names them
      per SLO (``alerting.name``). Their `burn_tier` label still tells the tiers apart.
    * `min_events`: low-traffic guard of occurrences SLOs; a tier cannot fire unless its long window
      holds at least this many events.
    * `min_slice_coverage`: the same guard for timeslice SLOs, whose windows hold slices, not
      events: a tier cannot fire unless this share (0..1] of its SHORT window's slices has a verdict.
    * `no_data_after`: raise SLONoData when the SLO had no events for this long (None: no such rule).
      Timeslice SLOs judge it on their own slices: rounded up to whole slices.
    * `budget_exhausted`: raise SLOErrorBudgetExhausted when the budget remaining is below 0
      (strictly: a budget spent exactly to 0 is met, not exhausted), once the data covers at least
      `min_budget_coverage` of the whole period: a budget is not judged on a few minutes of data.
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
    min_slice_coverage: float = 0.5
    min_budget_coverage: float = 0.1
    no_data_after: timedelta | None = timedelta(minutes=30)
    budget_exhausted: bool = True
    for_: timedelta = _ZERO
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    no_data_severity: str = "ticket"
    budget_exhausted_severity: str = "ticket"
    alert_name: str | None = None
    # effective_tiers per (period, unit): 10,000 SLOs share a handful of policies and periods, and the
    # tiers are asked for at load, per evaluation and per explanation (1.2 s of a 10,000-SLO start-up).
    _effective: dict[tuple[timedelta, timedelta], tuple[EffectiveTier, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        names = [t.name for t in self.tiers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate burn-rate tier names: {', '.join(dupes)}")
        if self.min_events < 0:
            raise ValueError("min_events must not be negative")
        if not 0.0 < self.min_slice_coverage <= 1.0:
            raise ValueError("min_slice_coverage must be in (0, 1]")
        if not 0.0 <= self.min_budget_coverage <= 1.0:
            raise ValueError("min_budget_coverage must be in [0, 1]")
        if self.no_data_after is not None and self.no_data_after <= _ZERO:
            raise ValueError("no_data_after must be positive (or None to disable the no-data alert)")
        if self.for_ < _ZERO:
            raise ValueError("for must not be negative")
        if self.alert_name is not None and not _ALERT_NAME.fullmatch(self.alert_name):
            raise ValueError(
                f"alert_name {self.alert_name!r} is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
            )

    def effective_tiers(self, period: timedelta, unit: timedelta = MINUTE) -> tuple[EffectiveTier, ...]:
        """Every tier as applied to an SLO with `period` and resolution `unit` (see the module doc)."""
        known = self._effective.get((period, unit))
        if known is None:
            known = self._effective[(period, unit)] = tuple(t.effective(period, unit) for t in self.tiers)
        return known

    def no_data_window(self, unit: timedelta = MINUTE) -> timedelta | None:
        """`no_data_after` rounded up to whole units (slices): the window the no-data rule reads."""
        if self.no_data_after is None:
            return None
        return _ceil_to(self.no_data_after, unit)

    def required_windows(self, period: timedelta = WINDOWS_PERIOD, unit: timedelta = MINUTE) -> dict[str, timedelta]:
        """Every window (by SLOStatus.windows name) these rules read for an SLO with `period` and `unit`,
        e.g. {"1h": 1:00:00, "5m": ...} for 28 days and longer."""
        out: dict[str, timedelta] = {}
        for t in self.effective_tiers(period, unit):
            out[t.long_window_name] = t.long_window
            out[t.short_window_name] = t.short_window
        no_data = self.no_data_window(unit)
        if no_data is not None:
            out[format_duration(no_data)] = no_data
        return out
