"""OpenSLO v1 AlertPolicy, AlertCondition and AlertNotificationTarget read into slo-service alerting.

An SLO's alert policies become one slo-service rule policy for that SLO (each ``burnrate`` condition a
burn-rate tier) and a route sending that SLO's alerts to the policies' notification targets, which
become receivers (openslo_routes.py, after the `alerting:` section is built). A condition or target the
service cannot honour exactly is refused naming the field; the mapping is documented in
docs/configuration.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slo_service.core.alerting.policy import MINUTE, WINDOWS_PERIOD, BurnRateTier
from slo_service.core.durations import format_duration
from slo_service.core.model import Period
from slo_service.specs.checks import duration_at, number_text
from slo_service.specs.openslo_annotations import NAME_KEY, policy_settings, service_annotations, tier_settings
from slo_service.specs.openslo_common import Context, Doc, check_known, mapping_at, metadata_name, string_at
from slo_service.specs.openslo_routes import ANNOTATION_PREFIX, SECTION_TARGET, PolicyRoute, SLORouting, TargetUse
from slo_service.specs.problems import SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["TARGET_SETTINGS", "alert_policies", "check_alert_doc"]

TARGET_SETTINGS: dict[str, frozenset[str]] = {
    "slack": frozenset({"channel", "token_env", "webhook_url_env", "base_url", "timeout"}),
    "pagerduty": frozenset({"routing_key_env", "url", "timeout"}),
    "webhook": frozenset({"url", "hmac_secret_env", "max_alerts", "timeout"}),
}
_POLICY_FIELDS = {
    "description", "alertWhenBreaching", "alertWhenResolved", "alertWhenNoData", "conditions", "notificationTargets",
}  # fmt: skip
_SHORT_WINDOW_DIVISOR = 12  # the SRE workbook's short window: 1h/5m, 6h/30m, 1d/2h, 3d/6h
_LOOKBACKS = tuple(timedelta(hours=h) for h in (1, 6, 24, 72))


# --------------------------------------------------------------------------------------------------------
# Reading


def alert_policies(
    file: SpecFile, raw: Any, ctx: Context, period: Period | None, unit: timedelta | None
) -> tuple[dict[str, Any] | None, SLORouting | None] | None:
    """(alerting overrides, routing) of an SLO's spec.alertPolicies; (None, None) when it has none; None
    after reporting. `period` None: the SLO's period is invalid, only the policies' own fields are checked."""
    if raw is None:
        return None, None
    if not isinstance(raw, list) or not raw:
        file.add(("spec", "alertPolicies"), f"expected a non-empty list, got {describe(raw)}")
        return None
    policies = ctx.named("AlertPolicy")
    tiers: list[dict[str, Any]] = []
    routing = SLORouting()
    ok = True
    seen: dict[str, str] = {}
    merged: dict[str, Any] = {}
    for i, item in enumerate(raw):
        path: YPath = ("spec", "alertPolicies", i)
        ref = item if isinstance(item, str) else item.get("alertPolicyRef") if isinstance(item, dict) else None
        if ref is not None:
            if isinstance(item, dict):
                ok = check_known(file, path, item, {"alertPolicyRef"}) and ok
            doc = policies.get(ref) if isinstance(ref, str) else None
            if doc is None:
                known = ", ".join(sorted(policies)) or "none are defined"
                file.add(path, f"unknown AlertPolicy {ref!r}; known alert policies: {known}")
                ok = False
                continue
            found = _policy(doc.file, (), doc.data["spec"], ctx, period, unit)
            settings = policy_settings(doc.file, (), doc.data.get("metadata"))
        elif isinstance(item, dict):
            found = _inline(file, path, item, "AlertPolicy", lambda p, s: _policy(file, p, s, ctx, period, unit))
            settings = policy_settings(file, path, item.get("metadata"))
        else:
            file.add(path, "expected {alertPolicyRef: NAME} or an inline AlertPolicy (kind, metadata, spec)")
            found = None
        if found is None or settings is None:
            ok = False
            continue
        for key, value in settings.items():
            if key in merged and merged[key] != value:
                file.add(path, f"slo-service/{key} disagrees with an earlier alert policy of this SLO")
                ok = False
            merged[key] = value
        policy_tiers, route = found
        for tier in policy_tiers:
            if tier["name"] in seen:
                file.add(
                    path, f"condition name {tier['name']!r} is used twice by this SLO (also in {seen[tier['name']]})"
                )
                ok = False
            seen.setdefault(tier["name"], f"spec.alertPolicies[{i}]")
        tiers.extend(policy_tiers)
        routing.policies.append(route)
    if not ok or period is None:
        return None
    overrides: dict[str, Any] = {"tiers": tiers, "budget_exhausted": False}  # only the conditions alert
    if not any(p.no_data for p in routing.policies):
        if "no_data_after" in merged:
            file.add(("spec", "alertPolicies"), "slo-service/no_data_after needs a policy with alertWhenNoData: true")
            return None
        overrides["no_data_after"] = None  # alertWhenNoData: false everywhere: no no-data alert
    overrides.update(merged)
    return overrides, routing


def check_alert_doc(doc: Doc, ctx: Context) -> TargetUse | None:
    """Check an AlertPolicy, AlertCondition or AlertNotificationTarget document on its own (referenced or
    not); a target is returned so that its receiver is checked too."""
    spec = doc.data["spec"]
    if doc.kind == "AlertPolicy":
        _policy(doc.file, (), spec, ctx, None, None)
    elif doc.kind == "AlertCondition":
        _condition(doc.file, (), spec, None, None, "")
    else:
        return _target(doc.file, (), spec, doc.name, True, doc.file, ())
    return None


def _inline(file: SpecFile, path: YPath, item: dict[str, Any], kind: str, build: Any) -> Any:
    """An inline object `{kind, metadata, spec}` built by `build(spec path, spec)`."""
    ok = check_known(file, path, item, {"kind", "metadata", "spec"})
    if item.get("kind", kind) != kind:
        file.add((*path, "kind"), f"expected kind {kind}, got {describe(item.get('kind'))}")
        ok = False
    if "metadata" in item and metadata_name(file, path, item, kind) is None:
        ok = False
    spec = mapping_at(file, (*path, "spec"), item.get("spec"))
    if spec is None:
        return None
    found = build((*path, "spec"), spec)
    return found if ok else None


def _flag(file: SpecFile, path: YPath, spec: dict[str, Any], key: str, default: bool) -> bool | None:
    value = spec.get(key, default)
    if not isinstance(value, bool):
        file.add((*path, key), f"expected true or false, got {describe(value)}")
        return None
    return value


def _policy(
    file: SpecFile, path: YPath, spec: dict[str, Any], ctx: Context, period: Period | None, unit: timedelta | None
) -> tuple[list[dict[str, Any]], PolicyRoute] | None:
    spath: YPath = path if path else ("spec",)
    ok = check_known(file, spath, spec, _POLICY_FIELDS)
    breaching = _flag(file, spath, spec, "alertWhenBreaching", True)
    resolved = _flag(file, spath, spec, "alertWhenResolved", True)
    no_data = _flag(file, spath, spec, "alertWhenNoData", False)
    if breaching is False:
        file.add((*spath, "alertWhenBreaching"), "a policy that never alerts on breaches has no slo-service equivalent")
        ok = False
    tiers: list[dict[str, Any]] = []
    conditions = spec.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        file.add((*spath, "conditions"), f"expected a non-empty list of AlertCondition, got {describe(conditions)}")
        ok = False
    else:
        conds = ctx.named("AlertCondition")
        for i, item in enumerate(conditions):
            cpath: YPath = (*spath, "conditions", i)
            ref = item.get("conditionRef") if isinstance(item, dict) else None
            tier = None
            if ref is not None:
                ok = check_known(file, cpath, item, {"conditionRef"}) and ok
                doc = conds.get(ref) if isinstance(ref, str) else None
                if doc is None:
                    known = ", ".join(sorted(conds)) or "none are defined"
                    file.add(
                        (*cpath, "conditionRef"), f"unknown AlertCondition {ref!r}; known alert conditions: {known}"
                    )
                else:
                    tier = _condition(doc.file, (), doc.data["spec"], period, unit, doc.name)
                    tier = None if tier is None else {**tier, **tier_settings(doc.data.get("metadata"))}
            elif isinstance(item, dict):
                meta: dict[str, Any] = item["metadata"] if isinstance(item.get("metadata"), dict) else {}
                name = str(service_annotations(meta).get(NAME_KEY) or meta.get("name") or f"condition-{i}")
                tier = _inline(
                    file, cpath, item, "AlertCondition", lambda p, s, n=name: _condition(file, p, s, period, unit, n)
                )
                tier = None if tier is None else {**tier, **tier_settings(meta)}
            else:
                file.add(cpath, "expected {conditionRef: NAME} or an inline AlertCondition (kind, metadata, spec)")
            if tier is None:
                ok = False
            else:
                tiers.append(tier)
    targets = _targets(
        file, spath, spec.get("notificationTargets"), ctx, bool(resolved), (file, (*spath, "alertWhenResolved"))
    )
    if not ok or targets is None or None in (breaching, resolved, no_data):
        return None
    return tiers, PolicyRoute(tuple(t["name"] for t in tiers), bool(no_data), targets)


def _condition(
    file: SpecFile, path: YPath, spec: dict[str, Any], period: Period | None, unit: timedelta | None, name: str
) -> dict[str, Any] | None:
    """A burn-rate tier (as the `alerting:` tiers are written) of a `burnrate` AlertCondition spec."""
    spath: YPath = path if path else ("spec",)
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
    if lookback is not None and lookback not in _LOOKBACKS:
        names = ", ".join(format_duration(w) for w in _LOOKBACKS)
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
    return _tier(file, cpath, name, severity, float(threshold), lookback, for_, period, unit)


def _tier(
    file: SpecFile,
    cpath: YPath,
    name: str,
    severity: str,
    threshold: float,
    lookback: timedelta,
    for_: timedelta,
    period: Period,
    unit: timedelta | None,
) -> dict[str, Any] | None:
    """The tier firing when both windows burn above `threshold` for this SLO, or None when slo-service
    would change it (shorter periods shrink tier windows, slices round them: core/alerting/policy.py)."""
    length = period.nominal_length
    short = lookback / _SHORT_WINDOW_DIVISOR
    share = round(threshold * (lookback / length), 12)
    tier = BurnRateTier(name, severity, lookback, short, share, for_)
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
    out: dict[str, Any] = {
        "name": name,
        "severity": severity,
        "long_window": format_duration(lookback),
        "short_window": format_duration(short),
        "budget_share": share,
    }
    if for_ > timedelta(0):
        out["for"] = format_duration(for_)
    return out


def _targets(
    file: SpecFile, path: YPath, raw: Any, ctx: Context, resolved: bool, resolved_at: tuple[SpecFile, YPath]
) -> list[TargetUse] | None:
    tpath: YPath = (*path, "notificationTargets")
    if not isinstance(raw, list) or not raw:
        file.add(tpath, f"required by OpenSLO: a non-empty list of notification targets, got {describe(raw)}")
        return None
    docs = ctx.named("AlertNotificationTarget")
    out: list[TargetUse] = []
    ok = True
    for i, item in enumerate(raw):
        ipath: YPath = (*tpath, i)
        found: TargetUse | None = None
        ref = item.get("targetRef") if isinstance(item, dict) else None
        if ref is not None:
            ok = check_known(file, ipath, item, {"targetRef"}) and ok
            doc = docs.get(ref) if isinstance(ref, str) else None
            if doc is None:
                known = ", ".join(sorted(docs)) or "none are defined"
                file.add(
                    (*ipath, "targetRef"),
                    f"unknown AlertNotificationTarget {ref!r}; known notification targets: {known}",
                )
            else:
                found = _target(doc.file, (), doc.data["spec"], doc.name, resolved, *resolved_at)
        elif isinstance(item, dict):
            name = metadata_name(file, ipath, item, "AlertNotificationTarget") if "metadata" in item else None
            if name is None:
                file.add((*ipath, "metadata", "name"), "an inline target needs metadata.name: it names the receiver")
            found = _inline(
                file,
                ipath,
                item,
                "AlertNotificationTarget",
                lambda p, s, n=name: _target(file, p, s, n or "", resolved, *resolved_at),
            )
        else:
            file.add(ipath, "expected {targetRef: NAME} or an inline AlertNotificationTarget (kind, metadata, spec)")
        if found is None or not found.name:
            ok = False
        else:
            out.append(found)
    return out if ok else None


def _target(
    file: SpecFile, path: YPath, spec: dict[str, Any], name: str, resolved: bool, rfile: SpecFile, rpath: YPath
) -> TargetUse | None:
    """A target's structure: `target` and its slo-service/ annotations (receivers are built by route_alerts)."""
    spath: YPath = path if path else ("spec",)
    root: YPath = path[:-1] if path else ()
    ok = check_known(file, spath, spec, {"target", "description"})
    target = string_at(file, (*spath, "target"), spec.get("target"))
    meta = file.doc.data
    for part in root:
        meta = meta[part]
    annotations = (meta.get("metadata") or {}).get("annotations") or {}
    settings: dict[str, Any] = {}
    for key, value in annotations.items() if isinstance(annotations, dict) else ():
        if not str(key).startswith(ANNOTATION_PREFIX):
            continue  # other implementations' annotations
        setting = str(key).removeprefix(ANNOTATION_PREFIX)
        apath: YPath = (*root, "metadata", "annotations", key)
        allowed = TARGET_SETTINGS.get(str(target).lower())
        if allowed is None:
            if target is not None:
                file.add(
                    (*spath, "target"),
                    f"target {target!r} cannot be defined by {ANNOTATION_PREFIX} annotations; targets slo-service "
                    f"defines: {', '.join(TARGET_SETTINGS)} (or name a receiver of the alerting section)",
                )
            ok = False
            break
        if setting in ("token", "webhook_url", "routing_key", "hmac_secret"):
            file.add(apath, f"secrets are not written in files: name an environment variable with {key}_env")
            ok = False
        elif setting not in allowed:
            file.add(
                apath, f"unknown setting {setting!r} for a {target} target; settings: {', '.join(sorted(allowed))}"
            )
            ok = False
        elif not isinstance(value, str):
            file.add(apath, f"annotation values are strings, got {describe(value)}")
            ok = False
        else:
            settings[setting] = int(value) if setting == "max_alerts" and value.isdigit() else value
    if not ok or target is None:
        return None
    if target == SECTION_TARGET and not settings and not resolved:
        rfile.add(rpath, f"with target {SECTION_TARGET}, send_resolved is set per receiver in the alerting section")
        return None
    return TargetUse(file, path, name, target, settings, resolved, rfile, rpath)
