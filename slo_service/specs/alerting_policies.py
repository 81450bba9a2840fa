"""The `alerting.policies` rule policies, their burn-rate tiers, and each SLO's choice and overrides of one."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

from slo_service.core.alerting.config import DEFAULT_POLICY
from slo_service.core.alerting.policy import WINDOWS_PERIOD, AlertPolicy, BurnRateTier
from slo_service.core.model import slo_key
from slo_service.core.windows import ALERT_WINDOWS
from slo_service.specs.alerting_common import SECTION, SLOAlerting
from slo_service.specs.alerting_schema import ALERT_WINDOW_NAMES, PolicySpec, SLOAlertingSpec, TierSpec
from slo_service.specs.checks import check_labels, check_name, duration_at
from slo_service.specs.problems import SpecFile, describe, validate_spec
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["build_policies", "slo_policy"]


def build_policies(file: SpecFile, raw: dict[str, Any]) -> dict[str, AlertPolicy]:
    """The named policies of the section, with the default policy unless the section redefines it."""
    out: dict[str, AlertPolicy] = {DEFAULT_POLICY: AlertPolicy()}
    for name, value in raw.items():
        path: YPath = (*SECTION, "policies", name)
        ok = check_name(file, path, name)
        spec = validate_spec(file, PolicySpec, {} if value is None else value, path)
        if spec is None:
            continue
        policy = _policy(file, path, spec, AlertPolicy(), merge=False)
        if ok and policy is not None:
            out[name] = policy
    return out


def slo_policy(
    slo: SLOAlerting, policies: dict[str, AlertPolicy], known: set[str] | None, *, section_given: bool
) -> str | None:
    """Name of the policy of one SLO (adding a policy named after the SLO key for inline overrides).

    `section_given`: an `alerting:` section exists, so an unknown policy gets no hint to define one there.
    """
    if slo.raw is None:
        return None
    key = slo_key(slo.service, slo.name)  # cannot clash with a policy name: names have no '/'
    if isinstance(slo.raw, AlertPolicy):  # built whole by an importer (Sloth: its own alerts, nothing else)
        policies[key] = slo.raw
        return key
    path: YPath = (*slo.path, "alerting")
    if isinstance(slo.raw, str):
        slo.file.add(path, f"expected a mapping such as {{policy: {slo.raw}}}, got {describe(slo.raw)}")
        return None
    spec = validate_spec(slo.file, SLOAlertingSpec, slo.raw, path)
    if spec is None:
        return None
    name = spec.policy if spec.policy is not None else DEFAULT_POLICY
    if known is not None and name not in known:
        slo.file.add(
            (*path, "policy"),
            f"unknown alerting policy {name!r}; known policies: {', '.join(sorted(known))}"
            + ("" if section_given else " (define more under alerting.policies)"),
        )
        return None
    overrides = spec.model_fields_set - {"policy"}
    base = policies.get(name)
    if base is None:  # the policy itself is invalid (already reported) or its file is unreadable
        return None
    if not overrides:
        return name if spec.policy is not None else None
    policy = _policy(slo.file, path, spec, base, merge=True)
    if policy is None:
        return None
    policies[key] = policy
    return key


def _policy(file: SpecFile, path: YPath, spec: PolicySpec, base: AlertPolicy, *, merge: bool) -> AlertPolicy | None:
    """`base` with the fields `spec` sets; labels and annotations are merged over base's when `merge`."""
    given = spec.model_fields_set
    changes: dict[str, Any] = {}
    ok = True
    for key in ("min_events", "min_slice_coverage", "min_budget_coverage"):
        if getattr(spec, key) is not None:
            changes[key] = getattr(spec, key)
    if "no_data_after" in given:
        if spec.no_data_after is None:
            changes["no_data_after"] = None
        else:
            window = _window(file, (*path, "no_data_after"), spec.no_data_after, "no_data_after")
            ok = ok and window is not None
            changes["no_data_after"] = window
    if spec.budget_exhausted is not None:
        changes["budget_exhausted"] = spec.budget_exhausted
    if spec.for_ is not None:
        for_ = _for(file, (*path, "for"), spec.for_)
        ok = ok and for_ is not None
        changes["for_"] = for_
    for key in ("labels", "annotations"):
        value = getattr(spec, key)
        if value is not None:
            if key == "labels":
                ok = check_labels(file, (*path, key), value) and ok
            changes[key] = {**getattr(base, key), **value} if merge else dict(value)
    if spec.alert_name is not None:
        changes["alert_name"] = spec.alert_name  # checked by AlertPolicy
    for key in ("no_data_severity", "budget_exhausted_severity"):
        value = getattr(spec, key)
        if value is not None:
            if not value.strip():
                file.add((*path, key), "must not be empty")
                ok = False
            changes[key] = value
    if spec.tiers is not None:
        tiers = _tiers(file, (*path, "tiers"), spec.tiers)
        ok = ok and tiers is not None
        changes["tiers"] = tiers
    if not ok:
        return None
    try:
        return replace(base, **changes)
    except ValueError as exc:
        message = str(exc)
        fields = (
            "min_events",
            "min_slice_coverage",
            "min_budget_coverage",
            "no_data_after",
            "tiers",
            "for",
            "alert_name",
        )
        field = next((f for f in fields if f in message), None)
        file.add((*path, field) if field else path, message)
        return None


def _tiers(file: SpecFile, path: YPath, specs: list[TierSpec]) -> tuple[BurnRateTier, ...] | None:
    if not specs:
        file.add(path, "tiers must not be empty; leave the field out for the default tiers")
        return None
    out: list[BurnRateTier] = []
    seen: dict[str, int] = {}
    ok = True
    for i, spec in enumerate(specs):
        t_path: YPath = (*path, i)
        if spec.name in seen:
            where = file.where((*path, seen[spec.name], "name"))
            file.add((*t_path, "name"), f"duplicate tier name {spec.name!r}; first defined at {where}")
            ok = False
        seen.setdefault(spec.name, i)
        if not spec.severity.strip():
            file.add((*t_path, "severity"), "must not be empty")
            ok = False
        long_window = _window(file, (*t_path, "long_window"), spec.long_window, "long_window")
        short_window = _window(file, (*t_path, "short_window"), spec.short_window, "short_window")
        for_ = _for(file, (*t_path, "for"), spec.for_) if spec.for_ is not None else timedelta(0)
        labels_ok = spec.labels is None or check_labels(file, (*t_path, "labels"), spec.labels)
        if long_window is None or short_window is None or for_ is None or not labels_ok:
            ok = False
            continue
        try:
            tier = BurnRateTier(
                spec.name,
                spec.severity,
                long_window,
                short_window,
                spec.budget_share,
                for_,
                dict(spec.labels or {}),
                dict(spec.annotations or {}),
            )
        except ValueError as exc:
            message = str(exc)
            field = next((f for f in ("budget_share", "short window", "for") if f in message), None)
            target = {"short window": "short_window"}.get(field or "", field)
            file.add((*t_path, target) if target else t_path, message)
            ok = False
            continue
        if tier.min_factor < 1.0:
            # below 1x a tier fires on SLOs that meet their objective (core/alerting/policy.py)
            need = tier.long_window / WINDOWS_PERIOD
            file.add(
                (*t_path, "budget_share"),
                f"{spec.budget_share:g} of the budget in {spec.long_window} is a {tier.min_factor:.3g}x "
                f"burn rate for a 28-day period; a tier must fire only above 1x: "
                f"use a budget_share of at least {need:.3g}",
            )
            ok = False
            continue
        out.append(tier)
    return tuple(out) if ok else None


def _window(file: SpecFile, path: YPath, text: str, what: str) -> timedelta | None:
    """A duration that is one of the evaluator's windows (ALERT_WINDOW_NAMES)."""
    length = duration_at(file, path, text)
    if length is None:
        return None
    if length not in ALERT_WINDOWS.values():
        file.add(
            path,
            f"{what} {text} is not a window the evaluator computes; use one of {', '.join(ALERT_WINDOW_NAMES)}",
        )
        return None
    return length


def _for(file: SpecFile, path: YPath, text: str) -> timedelta | None:
    """A `for` duration, where 0 (0s, 0m...) is allowed: fire at once."""
    if re.fullmatch(r"\s*0+(ms|s|m|h|d|w|y)?\s*", text):
        return timedelta(0)
    return duration_at(file, path, text)
