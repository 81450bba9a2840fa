"""OpenSLO ``burnrate`` AlertConditions read into slo-service burn-rate tiers.

A condition is what is evaluated: the burn rate over lookbackWindow (and a short window of 1/12 of it, as
the SRE workbook pairs them) above threshold. For periods of 28 days and more with lookbacks 1h, 6h, 1d and
3d that is a tier as written; a tier slo-service scales or rounds for the SLO (shorter periods, slices), or
with other windows, is exported with its definition in ``slo-service/long_window``, ``short_window`` and
``budget_share`` annotations, and the condition must be exactly what the service evaluates for it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NamedTuple

from slo_service.core.alerting.policy import MINUTE, WINDOWS_PERIOD, BurnRateTier
from slo_service.core.durations import format_duration
from slo_service.core.model import Period
from slo_service.specs.checks import duration_at, number_text
from slo_service.specs.openslo_annotations import annotation_path, parse_number, service_annotations
from slo_service.specs.openslo_common import check_known, mapping_at, string_at
from slo_service.specs.problems import SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["LOOKBACKS", "SHORT_WINDOW_DIVISOR", "TIER_KEYS", "condition"]

SHORT_WINDOW_DIVISOR = 12  # the SRE workbook's short window: 1h/5m, 6h/30m, 1d/2h, 3d/6h
LOOKBACKS = tuple(timedelta(hours=h) for h in (1, 6, 24, 72))
TIER_KEYS = ("long_window", "short_window", "budget_share")


def condition(
    file: SpecFile,
    path: YPath,
    spec: dict[str, Any],
    period: Period | None,
    unit: timedelta | None,
    name: str,
    meta: Any,
) -> dict[str, Any] | None:
    """A burn-rate tier (as the `alerting:` tiers are written) of a `burnrate` AlertCondition spec, `meta`
    its metadata. `period` None: only the condition's own fields are checked."""
    spath: YPath = path if path else ("spec",)
    root: YPath = path[:-1] if path else ()
    declared = _declared(file, root, meta)
    ok = check_known(file, spath, spec, {"description", "severity", "condition"})
    severity = string_at(file, (*spath, "severity"), spec.get("severity"))
    cpath: YPath = (*spath, "condition")
    cond = mapping_at(file, cpath, spec.get("condition"))
    if cond is None:
        return None
    ok = check_known(file, cpath, cond, {"kind", "op", "threshold", "lookbackWindow", "alertAfter"}) and ok
    if cond.get("kind", "burnrate") != "burnrate":
        file.add((*cpath, "kind"), f"only burnrate conditions are supported; got {describe(cond.get('kind'))}")
        ok = False
    op = cond.get("op")
    if op not in ("gt", "gte"):
        reason = (
            "a burn-rate condition below its threshold would alert while the SLO is healthy"
            if op in ("lt", "lte")
            else "required: gt or gte"
        )
        file.add((*cpath, "op"), f"op must be gt or gte, got {describe(op)}: {reason}")
        ok = False
    threshold = cond.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold <= 0:
        file.add((*cpath, "threshold"), f"expected a positive burn rate, got {describe(threshold)}")
        ok, threshold = False, None
    lookback = duration_at(file, (*cpath, "lookbackWindow"), str(cond.get("lookbackWindow")))
    if lookback is not None and lookback not in LOOKBACKS and not declared:
        names = ", ".join(format_duration(w) for w in LOOKBACKS)
        file.add(
            (*cpath, "lookbackWindow"), f"lookbackWindow {format_duration(lookback)} is not supported; use {names}"
        )
        lookback = None
    after = cond.get("alertAfter")
    for_ = timedelta(0)
    if after is not None and str(after).strip().rstrip("smhdw") not in ("0", ""):
        for_ = duration_at(file, (*cpath, "alertAfter"), str(after)) or timedelta(-1)
    if not ok or severity is None or lookback is None or threshold is None or for_ < timedelta(0) or period is None:
        return None
    if declared is None:
        return None
    read = _Read(name, severity, float(threshold), lookback, for_)
    if declared:
        return _declared_tier(file, root, cpath, read, period, unit, declared)
    return _tier(file, cpath, read, period, unit)


def _declared(file: SpecFile, root: YPath, meta: Any) -> dict[str, Any] | None:
    """The tier definition in slo-service/long_window, short_window, budget_share ({} when none is given;
    None after reporting)."""
    raw = {k: v for k, v in service_annotations(meta).items() if k in TIER_KEYS and isinstance(v, str)}
    if not raw:
        return {}
    missing = [k for k in TIER_KEYS if k not in raw]
    if missing:
        at = annotation_path(root, next(iter(raw)))
        file.add(at, f"a tier definition needs all of {', '.join('slo-service/' + k for k in TIER_KEYS)}")
        return None
    out: dict[str, Any] = {}
    for key in ("long_window", "short_window"):
        out[key] = duration_at(file, annotation_path(root, key), raw[key])
    out["budget_share"] = parse_number(file, annotation_path(root, "budget_share"), raw["budget_share"])
    return None if None in out.values() else out


class _Read(NamedTuple):
    """The fields of a burnrate condition, read and checked."""

    name: str
    severity: str
    threshold: float
    lookback: timedelta
    for_: timedelta


def _tier_spec(tier: BurnRateTier) -> dict[str, Any]:
    """`tier` as the `alerting:` section's tiers are written (what the policy builder checks)."""
    out: dict[str, Any] = {
        "name": tier.name,
        "severity": tier.severity,
        "long_window": format_duration(tier.long_window),
        "short_window": format_duration(tier.short_window),
        "budget_share": tier.budget_share,
    }
    if tier.for_ > timedelta(0):
        out["for"] = format_duration(tier.for_)
    return out


def _declared_tier(
    file: SpecFile,
    root: YPath,
    cpath: YPath,
    read: _Read,
    period: Period,
    unit: timedelta | None,
    declared: dict[str, Any],
) -> dict[str, Any] | None:
    """The declared tier, when the condition is exactly what slo-service evaluates for it on this SLO."""
    try:
        tier = BurnRateTier(
            read.name,
            read.severity,
            declared["long_window"],
            declared["short_window"],
            declared["budget_share"],
            read.for_,
        )
    except ValueError as exc:
        file.add(annotation_path(root, "long_window"), str(exc))
        return None
    effective = tier.effective(period.nominal_length, unit or MINUTE)
    if effective.long_window != read.lookback or abs(effective.factor - read.threshold) > 1e-9 * read.threshold:
        file.add(
            cpath,
            f"lookbackWindow {format_duration(read.lookback)} at threshold {number_text(read.threshold)} is not what "
            f"slo-service evaluates for the tier the slo-service/ annotations define: {effective.long_window_name} "
            f"at {effective.factor!r}x",
        )
        return None
    return _tier_spec(tier)


def _tier(file: SpecFile, cpath: YPath, read: _Read, period: Period, unit: timedelta | None) -> dict[str, Any] | None:
    """The tier firing when both windows burn above `threshold` for this SLO, or None when slo-service
    would change it (shorter periods shrink tier windows, slices round them: core/alerting/policy.py)."""
    length, threshold, lookback = period.nominal_length, read.threshold, read.lookback
    short = lookback / SHORT_WINDOW_DIVISOR
    share = round(threshold * (lookback / length), 12)
    tier = BurnRateTier(read.name, read.severity, lookback, short, share, read.for_)
    if tier.min_factor < 1.0:
        least = length / WINDOWS_PERIOD
        file.add(
            (*cpath, "threshold"),
            f"threshold {number_text(threshold)} is too low for a {format_duration(length)} period: slo-service "
            "refuses tiers below a 1x burn rate of a 28-day budget (they fire on SLOs that meet their objective); "
            f"use at least {least:.3g}",
        )
        return None
    effective = tier.effective(length, unit or MINUTE)
    if (effective.long_window, effective.short_window) != (lookback, short) or abs(effective.factor - threshold) > (
        1e-9 * threshold
    ):
        file.add(
            (*cpath, "lookbackWindow"),
            f"lookbackWindow {format_duration(lookback)} at threshold {number_text(threshold)} cannot be honoured "
            f"for this SLO: slo-service would evaluate {effective.long_window_name} (short "
            f"{effective.short_window_name}) at {effective.factor:.4g}x (periods under 28 days shrink tier windows; "
            "windows are whole slices)",
        )
        return None
    return _tier_spec(tier)
