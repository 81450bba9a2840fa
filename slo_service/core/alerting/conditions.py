"""What should be alerting right now: one AlertCondition per rule, active or not.

``slo_conditions`` turns one SLOStatus (from ``core.evaluation.evaluate``) and the SLO's AlertPolicy
into conditions; ``target_down_conditions`` does the same for scrape targets. Every rule yields a
condition on every evaluation, active or not, so ``lifecycle.AlertBook`` can resolve alerts.

Rules (alert names are constants below):

* ``SLOBurnRateHigh``, one per tier (label ``burn_tier``): the tier as applied to the SLO's period
  and resolution (``BurnRateTier.effective``: windows shrink for periods under 28 days, so no tier
  fires at or below 1x). Active when the long AND the short window burn strictly ABOVE the tier's
  factor and the low-traffic guard holds: the long window holds at least ``policy.min_events``
  events (occurrences SLOs) or at least ``policy.min_slice_coverage`` of the short window's slices
  have a verdict (timeslice SLOs, whose windows count slices), and the long window holds data for at least
  ``SHORT_WINDOW_DATA`` of the short window's length: a 3-day ticket is not judged on the first
  minute after a fresh start (while a 1h page may fire once 4 of its 5 short-window minutes are
  in). A window without data (burn rate None) never fires. "Strictly above" allows a relative
  1e-9 of floating-point slack the other way: a steady error ratio exactly at the threshold
  computes as 14.400000000001x and must not page.
* ``SLOErrorBudgetExhausted``: active when ``status.budget.remaining_ratio < 0`` (strictly: a
  budget spent exactly to 0 met its objective) and the data covers at least
  ``policy.min_budget_coverage`` of the whole period (a budget judged on one minute is noise).
* ``SLONoData``: active when the SLO had no events for ``policy.no_data_after``: judged from
  ``last_data_at`` when given, otherwise from the status window of that length (rounded up to whole
  slices for timeslice SLOs, see ``alert_windows``) having a total of 0.
  With neither a status nor ``last_data_at`` (the SLO was never evaluated) the condition is active
  and its ``for_`` is raised to at least ``no_data_after``, so the lifecycle waits that long.
* ``ScrapeTargetDown``: a target whose latest collection failed.

Labels: ``extra_labels`` (e.g. the service's) < ``slo.labels`` < ``policy.labels`` < the rule's own
(alertname, service, slo, severity and, for burn alerts, tier); later ones win, except that a burn tier's
own ``labels`` (Sloth's ``page_alert.labels``) come after ``severity`` and may replace it. Burn alerts are
named ``policy.alert_name`` (Sloth's ``alerting.name``) or SLOBurnRateHigh; their annotations are the
defaults < ``policy.annotations`` < the tier's ``annotations``. Labels are the
alert's identity (its fingerprint), so they are never templated and carry no values; an SLO whose
labels change in the config gets a new identity (the old alert is resolved by the evaluator's scope,
see ``lifecycle``).

Caveat, no-data judged from the window: an SLO added to the config a minute ago has an empty 30m
window too. Callers that know better pass ``last_data_at`` (e.g. the newest stored slice, or the
time the SLO was first configured when it has no data yet).

Windows are looked up as ``status.windows[format_duration(window)]`` ("5m", "1h", "14m"); a window a
rule needs that the status lacks raises ValueError naming it (``alert_windows(slo, policy)`` lists
them for the evaluator).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slo_service.core.alerting.policy import MINUTE, AlertPolicy, EffectiveTier
from slo_service.core.durations import format_duration
from slo_service.core.model import SLO, BudgetingMethod
from slo_service.core.ports import ScrapeHealth
from slo_service.core.slo_math import SLOStatus, WindowStatus
from slo_service.core.timeslices import slice_seconds
from slo_service.core.windows import PERIOD_WINDOW

BURN_TIER_LABEL = "burn_tier"
BURN_RATE_HIGH = "SLOBurnRateHigh"
BUDGET_EXHAUSTED = "SLOErrorBudgetExhausted"
NO_DATA = "SLONoData"
TARGET_DOWN = "ScrapeTargetDown"

SLO_ALERTNAMES = frozenset({BURN_RATE_HIGH, BUDGET_EXHAUSTED, NO_DATA})
"""Alert names produced by slo_conditions (the SLO evaluator owns all alerts with these names, and every
alert with a burn_tier label: burn alerts may be named per SLO, see AlertPolicy.alert_name)."""

FLOAT_SLACK = 1e-9
"""Relative tolerance of the burn-rate comparison (see the module docstring)."""

SHORT_WINDOW_DATA = 0.8
"""A tier's long window must hold data for this share of its short window's length (see above)."""

FRESHNESS_WINDOW = timedelta(minutes=5)
"""Data in this window (at least one slice for timeslice SLOs) means the SLO has fresh data."""

_ZERO = timedelta(0)


def slo_unit(slo: SLO) -> timedelta:
    """The resolution an SLO's windows count in: its timeslice, or one minute of events."""
    if slo.budgeting.method is BudgetingMethod.TIMESLICES:
        return timedelta(seconds=slice_seconds(slo))
    return MINUTE


def effective_tiers(slo: SLO, policy: AlertPolicy) -> tuple[EffectiveTier, ...]:
    """The policy's burn-rate tiers as they apply to this SLO (its period and resolution)."""
    return policy.effective_tiers(slo.period.nominal_length, slo_unit(slo))


def freshness_window(slo: SLO) -> timedelta:
    """The window whose data tells "data is flowing": 5 minutes, or one slice if that is longer."""
    return max(FRESHNESS_WINDOW, slo_unit(slo))


def alert_windows(slo: SLO, policy: AlertPolicy) -> dict[str, timedelta]:
    """Every window (by SLOStatus.windows name) the rules of `policy` read for `slo`, for the evaluator."""
    out = policy.required_windows(slo.period.nominal_length, slo_unit(slo))
    fresh = freshness_window(slo)
    out[format_duration(fresh)] = fresh
    return out


@dataclass(frozen=True)
class AlertCondition:
    """The verdict of one rule at one evaluation."""

    labels: Mapping[str, str]  # alertname, service, slo, severity, tier (+ SLO/service labels, policy labels)
    annotations: Mapping[str, str]  # summary, description, runbook_url, dashboard_url (rendered)
    active: bool
    values: Mapping[str, float | None]  # what triggered it: burn_rate_long, threshold, events_long, ...
    for_: timedelta = field(default=_ZERO)  # how long it must stay active before firing (see lifecycle)
    # An alert another system already judged (an Alertmanager's startsAt / endsAt): the lifecycle
    # keeps these times instead of the evaluation time. None for the service's own rules.
    started_at: datetime | None = None
    ended_at: datetime | None = None


def condition_for(condition: AlertCondition) -> timedelta:
    """The default `for_of` of AlertBook.update: the condition's own `for_`."""
    return condition.for_


def alertname_scope(names: frozenset[str]) -> Callable[[Mapping[str, str]], bool]:
    """A scope for AlertBook.update: alerts whose alertname is one of `names`."""

    def scope(labels: Mapping[str, str]) -> bool:
        return labels.get("alertname", "") in names

    return scope


def slo_scope() -> Callable[[Mapping[str, str]], bool]:
    """Scope of the SLO evaluator: every SLOBurnRateHigh, SLOErrorBudgetExhausted and SLONoData alert, and
    every burn alert named per SLO (it carries burn_tier)."""
    by_name = alertname_scope(SLO_ALERTNAMES)

    def scope(labels: Mapping[str, str]) -> bool:
        return by_name(labels) or BURN_TIER_LABEL in labels

    return scope


def burn_labels(labels: Mapping[str, str], policy: AlertPolicy, tier: EffectiveTier) -> dict[str, str]:
    """A burn alert's labels: `labels` (service, SLO, policy labels, service and slo), the tier's severity,
    the tier's own labels (which may replace severity), then the alert's name and tier."""
    return {
        **labels,
        "severity": tier.severity,
        **tier.labels,
        "service": labels.get("service", ""),
        "slo": labels.get("slo", ""),
        "alertname": policy.alert_name or BURN_RATE_HIGH,
        BURN_TIER_LABEL: tier.name,
    }


def target_scope() -> Callable[[Mapping[str, str]], bool]:
    """Scope of the scrape health check: every ScrapeTargetDown alert."""
    return alertname_scope(frozenset({TARGET_DOWN}))


# ---------------------------------------------------------------------------------------------- templates

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(template: str, context: Mapping[str, str]) -> str:
    """Replace ``{name}`` with context[name]; unknown names and everything else are left as written."""
    return _PLACEHOLDER.sub(lambda m: context.get(m.group(1), m.group(0)), template)


def _num(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _pct(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x * 100:.1f}%"


def _objective(objective: float) -> str:
    return f"{objective * 100:.10g}%"


def render_annotations(
    defaults: Mapping[str, str], policy_templates: Mapping[str, str], context: dict[str, str]
) -> dict[str, str]:
    templates = {**defaults, **policy_templates}
    out: dict[str, str] = {}
    # runbook_url / dashboard_url first so summary and description may refer to them
    for key in ("runbook_url", "dashboard_url"):
        if key in templates:
            out[key] = render(templates[key], context)
            context[key] = out[key]
    for key, template in templates.items():
        if key not in out:
            out[key] = render(template, context)
    return {k: v for k, v in out.items() if v}


# ---------------------------------------------------------------------------------------------- SLO rules

BURN_SUMMARY = "{service}/{slo} is burning its error budget at {burn_rate}x ({burn_tier})"
BURN_DESCRIPTION = (
    "Burn rate {burn_rate}x over {window} and {burn_rate_short}x over {short_window}; "
    "threshold {threshold}x ({budget_share} of the {period} error budget in {window}). "
    "Error budget remaining: {budget_remaining}. Objective {objective}."
)
EXHAUSTED_SUMMARY = "{service}/{slo} has exhausted its error budget"
EXHAUSTED_DESCRIPTION = (
    "Error budget remaining: {budget_remaining} of the {period} period (objective {objective}, SLI {sli})."
)
_NO_DATA_SUMMARY = "{service}/{slo} has had no data for {no_data_for}"
_NO_DATA_DESCRIPTION = (
    "No events were counted for {no_data_for} (threshold {no_data_after}); burn-rate alerts cannot fire "
    "without data. Check the source and its selectors."
)


def _window(status: SLOStatus, name: str, slo: SLO, why: str) -> WindowStatus:
    try:
        return status.windows[name]
    except KeyError:
        have = ", ".join(sorted(status.windows)) or "none"
        raise ValueError(
            f"{slo.key}: the status has no {name!r} window, needed by {why}; "
            f"evaluate() must compute it (windows present: {have})"
        ) from None


def _burns_above(burn: float | None, factor: float) -> bool:
    return burn is not None and burn > factor * (1.0 + FLOAT_SLACK)


def _enough_traffic(slo: SLO, policy: AlertPolicy, long_w: WindowStatus, short_w: WindowStatus) -> bool:
    """The low-traffic guard, per budgeting method: events in the long window for occurrences; for
    timeslices, verdicts in that share of the SHORT window's slices (the recent past is mostly
    covered; on the long window the share would also hold a page back for half an hour after a
    fresh start, which the history rule below already covers)."""
    if slo.budgeting.method is BudgetingMethod.TIMESLICES:
        return short_w.data_coverage >= policy.min_slice_coverage * (1.0 - FLOAT_SLACK)
    return long_w.total >= policy.min_events


def _enough_history(tier: EffectiveTier, window: WindowStatus) -> bool:
    """The long window holds at least SHORT_WINDOW_DATA of a short window's worth of data."""
    return window.data_coverage * tier.long_window >= SHORT_WINDOW_DATA * tier.short_window * (1.0 - FLOAT_SLACK)


def period_coverage(status: SLOStatus) -> float:
    """Share (0..1) of the WHOLE period covered by data so far (the period window's coverage of the
    elapsed part, times the elapsed share of the period)."""
    whole = status.period_end - status.period_start
    if whole <= _ZERO:
        return 0.0
    elapsed = min(max(status.evaluated_at - status.period_start, _ZERO), whole)
    return status.period.data_coverage * (elapsed / whole)


def _base_labels(slo: SLO, policy: AlertPolicy, extra_labels: Mapping[str, str]) -> dict[str, str]:
    return {**extra_labels, **slo.labels, **policy.labels}


def _base_context(slo: SLO, status: SLOStatus | None, period: timedelta) -> dict[str, str]:
    remaining = status.budget.remaining_ratio if status is not None else None
    sli = status.windows.get(PERIOD_WINDOW) if status is not None else None
    return {
        "service": slo.service,
        "slo": slo.name,
        "key": slo.key,
        "objective": _objective(slo.objective),
        "period": format_duration(period),
        "budget_remaining": _pct(remaining),
        "sli": _pct(sli.sli) if sli is not None else "n/a",
        "runbook_url": "",
        "dashboard_url": "",
    }


def _tier_condition(
    slo: SLO,
    status: SLOStatus | None,
    policy: AlertPolicy,
    tier: EffectiveTier,
    labels: dict[str, str],
    base: dict[str, str],
) -> AlertCondition:
    factor = tier.factor
    long_w: WindowStatus | None = None
    short_w: WindowStatus | None = None
    if status is not None:
        long_w = _window(status, tier.long_window_name, slo, f"burn-rate tier {tier.name!r}")
        short_w = _window(status, tier.short_window_name, slo, f"burn-rate tier {tier.name!r}")
    burn_long = long_w.burn_rate if long_w else None
    burn_short = short_w.burn_rate if short_w else None
    events_long = long_w.total if long_w else None
    active = (
        long_w is not None
        and _burns_above(burn_long, factor)
        and _burns_above(burn_short, factor)
        and short_w is not None
        and _enough_traffic(slo, policy, long_w, short_w)
        and _enough_history(tier, long_w)
    )
    # "burn_tier", not "tier": services commonly carry their own `tier` label (tier: "1").
    labels = burn_labels(labels, policy, tier)
    context = {
        **labels,
        **base,
        "severity": labels["severity"],
        BURN_TIER_LABEL: tier.name,
        "burn_rate": _num(burn_long),
        "burn_rate_short": _num(burn_short),
        "threshold": _num(factor),
        "budget_share": _pct(tier.budget_share),
        "window": tier.long_window_name,
        "short_window": tier.short_window_name,
    }
    values: dict[str, float | None] = {
        "burn_rate_long": burn_long,
        "burn_rate_short": burn_short,
        "threshold": factor,
        "budget_share": tier.budget_share,
        "events_long": events_long,
        "events_short": short_w.total if short_w else None,
        "coverage_long": long_w.data_coverage if long_w else None,
        "coverage_short": short_w.data_coverage if short_w else None,
        "min_events": float(policy.min_events),
        "min_slice_coverage": policy.min_slice_coverage,
        "budget_remaining": status.budget.remaining_ratio if status is not None else None,
    }
    annotations = render_annotations(
        {"summary": BURN_SUMMARY, "description": BURN_DESCRIPTION}, {**policy.annotations, **tier.annotations}, context
    )
    return AlertCondition(labels, annotations, active, values, tier.for_)


def _exhausted_condition(
    status: SLOStatus | None, policy: AlertPolicy, labels: dict[str, str], base: dict[str, str]
) -> AlertCondition:
    remaining = status.budget.remaining_ratio if status is not None else None
    covered = period_coverage(status) if status is not None else 0.0
    active = (
        remaining is not None
        and remaining < -FLOAT_SLACK
        and covered >= policy.min_budget_coverage * (1.0 - FLOAT_SLACK)
    )
    labels = {**labels, "alertname": BUDGET_EXHAUSTED, "severity": policy.budget_exhausted_severity}
    context = {**labels, **base}
    values: dict[str, float | None] = {
        "budget_remaining": remaining,
        "budget_consumed": status.budget.consumed_ratio if status is not None else None,
        "allowed_bad": status.budget.allowed_bad if status is not None else None,
        "consumed_bad": status.budget.consumed_bad if status is not None else None,
        "period_coverage": covered,
        "min_budget_coverage": policy.min_budget_coverage,
    }
    annotations = render_annotations(
        {"summary": EXHAUSTED_SUMMARY, "description": EXHAUSTED_DESCRIPTION}, policy.annotations, context
    )
    return AlertCondition(labels, annotations, active, values, policy.for_)


def _silence(silent_for: timedelta | None, exact: bool) -> str:
    if silent_for is None:
        return "an unknown time"
    text = format_duration(silent_for)
    return text if exact else f"at least {text}"


def _no_data_condition(
    slo: SLO,
    status: SLOStatus | None,
    policy: AlertPolicy,
    now: datetime,
    last_data_at: datetime | None,
    labels: dict[str, str],
    base: dict[str, str],
) -> AlertCondition:
    after = policy.no_data_after
    assert after is not None
    for_ = policy.for_
    silent_for: timedelta | None = None
    window_total: float | None = None
    coverage: float | None = None
    if status is not None:
        window = policy.no_data_window(slo_unit(slo))
        assert window is not None
        w = _window(status, format_duration(window), slo, "the no-data rule (no_data_after)")
        window_total, coverage = w.total, w.data_coverage
    if last_data_at is not None:
        silent_for = max(now - last_data_at, _ZERO)
        active = silent_for >= after
    elif window_total is not None:
        active = window_total <= 0
        if active:
            silent_for = after
    else:  # never evaluated and no last_data_at: let the lifecycle wait `no_data_after`
        active = True
        for_ = max(for_, after)
    labels = {**labels, "alertname": NO_DATA, "severity": policy.no_data_severity}
    context = {
        **labels,
        **base,
        "no_data_after": format_duration(after),
        "no_data_for": _silence(silent_for, exact=last_data_at is not None),
    }
    values: dict[str, float | None] = {
        "no_data_for_seconds": silent_for.total_seconds() if silent_for is not None else None,
        "no_data_after_seconds": after.total_seconds(),
        "events_window": window_total,
        "coverage_window": coverage,
    }
    annotations = render_annotations(
        {"summary": _NO_DATA_SUMMARY, "description": _NO_DATA_DESCRIPTION}, policy.annotations, context
    )
    return AlertCondition(labels, annotations, active, values, for_)


def slo_conditions(
    slo: SLO,
    status: SLOStatus | None,
    policy: AlertPolicy,
    now: datetime,
    extra_labels: Mapping[str, str] | None = None,
    last_data_at: datetime | None = None,
) -> list[AlertCondition]:
    """One condition per rule of `policy` for `slo`: every tier, then budget-exhausted, then no-data.

    `status` None (the SLO was not evaluated) makes every burn and budget rule inactive. Labels are
    `extra_labels` (e.g. the service's labels) < `slo.labels` < `policy.labels` < the rule's own
    (alertname, service, slo, severity, tier), later ones winning.
    """
    if status is not None and status.key != slo.key:
        raise ValueError(f"status of {status.key!r} given for SLO {slo.key!r}")
    period = slo.period.nominal_length
    labels = {**_base_labels(slo, policy, extra_labels or {}), "service": slo.service, "slo": slo.name}
    base = _base_context(slo, status, period)
    out = [_tier_condition(slo, status, policy, t, labels, base) for t in effective_tiers(slo, policy)]
    if policy.budget_exhausted:
        out.append(_exhausted_condition(status, policy, labels, base))
    if policy.no_data_after is not None:
        out.append(_no_data_condition(slo, status, policy, now, last_data_at, labels, base))
    return out


# ---------------------------------------------------------------------------------------------- targets

_TARGET_SUMMARY = "Scrape target {target} of source {source} is down"
_TARGET_DESCRIPTION = "The last collection at {at} failed: {error}. SLOs fed by {source} get no new data."


def target_down_conditions(
    health: Sequence[ScrapeHealth],
    down_for: Mapping[tuple[str, str], datetime] | None = None,
    *,
    severity: str = "ticket",
    for_: timedelta = timedelta(minutes=5),
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> list[AlertCondition]:
    """One ScrapeTargetDown condition per (source, target), from the NEWEST ScrapeHealth of each.

    Active when the newest attempt failed. `down_for` maps (source, target) to the time the target
    has been failing since (first failure of the current streak), reported as `down_seconds`
    (measured to that newest attempt) and in the description. `for_` defaults to 5 minutes so a
    single failed scrape does not alert.
    """
    newest: dict[tuple[str, str], ScrapeHealth] = {}
    for h in health:
        k = (h.source, h.target)
        if k not in newest or h.at >= newest[k].at:
            newest[k] = h
    out: list[AlertCondition] = []
    for (source, target), h in sorted(newest.items()):
        since = (down_for or {}).get((source, target)) if not h.up else None
        lab = {**(labels or {}), "alertname": TARGET_DOWN, "severity": severity, "source": source, "target": target}
        context = {
            **lab,
            "at": h.at.isoformat(),
            "error": h.error or "unknown error",
            "down_since": since.isoformat() if since is not None else "n/a",
        }
        values: dict[str, float | None] = {
            "up": 1.0 if h.up else 0.0,
            "down_seconds": max((h.at - since).total_seconds(), 0.0) if since is not None else None,
            "scrape_duration_seconds": h.duration_seconds,
            "samples": float(h.samples),
        }
        ann = render_annotations(
            {"summary": _TARGET_SUMMARY, "description": _TARGET_DESCRIPTION}, annotations or {}, context
        )
        out.append(AlertCondition(lab, ann, not h.up, values, for_))
    return out
