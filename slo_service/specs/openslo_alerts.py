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

from slo_service.core.model import Period
from slo_service.specs.openslo_annotations import NAME_KEY, policy_settings, service_annotations, tier_settings
from slo_service.specs.openslo_common import Context, Doc, check_known, mapping_at, metadata_name, string_at
from slo_service.specs.openslo_conditions import condition
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
        condition(doc.file, (), spec, None, None, "", doc.data.get("metadata"))
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
                    tier = condition(doc.file, (), doc.data["spec"], period, unit, doc.name, doc.data.get("metadata"))
                    tier = None if tier is None else {**tier, **tier_settings(doc.data.get("metadata"))}
            elif isinstance(item, dict):
                meta: dict[str, Any] = item["metadata"] if isinstance(item.get("metadata"), dict) else {}
                name = str(service_annotations(meta).get(NAME_KEY) or meta.get("name") or f"condition-{i}")
                tier = _inline(
                    file,
                    cpath,
                    item,
                    "AlertCondition",
                    lambda p, s, n=name, m=meta: condition(file, p, s, period, unit, n, m),
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
