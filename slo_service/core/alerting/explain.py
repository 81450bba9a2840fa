"""What each burn-rate tier becomes for one SLO, and whether it can ever fire: for `explain-alerts`,
`validate` and the loader's warnings.

A tier can never fire when its threshold is at or above the highest burn rate the SLO's objective
allows (every event or slice bad: ``1 / (1 - objective)``), since tiers fire strictly above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from slo_service.core.alerting.conditions import effective_tiers, slo_unit
from slo_service.core.alerting.policy import AlertPolicy, EffectiveTier
from slo_service.core.durations import format_duration
from slo_service.core.model import SLO, BudgetingMethod


@dataclass(frozen=True)
class TierExplanation:
    """One tier as applied to one SLO."""

    tier: EffectiveTier
    max_burn: float  # the burn rate with every event (slice) bad
    guard: str  # the low-traffic guard, in words
    problem: str | None  # why the tier can never fire, None when it can

    @property
    def can_fire(self) -> bool:
        return self.problem is None

    @property
    def budget_to_fire(self) -> float:
        """Share of the period's budget a burn at the threshold spends over the long window."""
        return self.tier.budget_share


def _guard(slo: SLO, policy: AlertPolicy, short_window: timedelta) -> str:
    if slo.budgeting.method is BudgetingMethod.TIMESLICES:
        slices = short_window // slo_unit(slo)
        need = policy.min_slice_coverage * slices
        return f">= {need:.3g} of the short window's {slices} slice{'' if slices == 1 else 's'} with data"
    return f">= {policy.min_events:g} events" if policy.min_events > 0 else "none"


def explain_tiers(slo: SLO, policy: AlertPolicy) -> list[TierExplanation]:
    """Every tier of `policy` as it applies to `slo`, with the reason it could never fire (if any)."""
    max_burn = 1.0 / slo.error_budget
    out: list[TierExplanation] = []
    for tier in effective_tiers(slo, policy):
        problem = None
        if tier.factor >= max_burn * (1.0 - 1e-9):
            problem = (
                f"burn-rate tier {tier.name!r} can never fire for {slo.key}: its threshold {tier.factor:.3g}x "
                f"is not below {max_burn:.3g}x, the burn rate of an objective of {slo.objective * 100:g}% "
                f"with every {'slice' if slo.budgeting.method is BudgetingMethod.TIMESLICES else 'event'} bad"
            )
        out.append(TierExplanation(tier, max_burn, _guard(slo, policy, tier.short_window), problem))
    return out


def explain_table(slo: SLO, policy: AlertPolicy) -> list[dict[str, str]]:
    """Rows for a terminal table: tier, severity, windows, threshold, budget spent, guard, note."""
    rows = []
    for e in explain_tiers(slo, policy):
        t = e.tier
        note = e.problem or ""
        if not note and t.clamped:
            note = "window floor (5m or one slice) above the scaled window: threshold held at its 28-day value"
        elif not note and t.scaled:
            note = "windows scaled to the period"
        rows.append(
            {
                "tier": t.name,
                "severity": t.severity,
                "long": t.long_window_name,
                "short": t.short_window_name,
                "threshold": f"> {t.factor:.3g}x",
                "budget": f"{t.budget_share * 100:.3g}% in {format_duration(t.long_window)}",
                "guard": e.guard,
                "note": note,
            }
        )
    return rows
