"""The `alerting:` section and the per-SLO `alerting:` overrides, read into `AlertingConfig`.

The section follows Alertmanager's shapes for `route`, `inhibit_rules` and `time_intervals` (parsed by the
core parsers, whose ValueError messages are turned into problems located at the YAML node they are about)
and PagerDuty's for on-call `schedules` and `escalation_policies`. Secrets are never written in a file:
receivers name environment variables (`token_env`, `routing_key_env`, ...) that are read while loading,
so a missing variable is a configuration problem reported like any other.

Only one file may hold the `alerting:` section; SLOs in any file may pick a policy with
``alerting: {policy: NAME}`` and override its fields inline. This module puts the section together; the
specs are in alerting_schema.py and each part is built by alerting_policies.py, alerting_receivers.py,
alerting_routing.py and alerting_oncall.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from slo_service.core.alerting.config import DEFAULT_POLICY, AlertingConfig
from slo_service.core.model import slo_key
from slo_service.specs.alerting_common import SECTION, AlertingSection, SLOAlerting, raw_names
from slo_service.specs.alerting_oncall import build_escalation_policies, build_schedules, build_users
from slo_service.specs.alerting_policies import build_policies, slo_policy
from slo_service.specs.alerting_receivers import build_receivers
from slo_service.specs.alerting_routing import build_inhibit_rules, build_route, build_time_intervals
from slo_service.specs.alerting_schema import (
    ALERT_WINDOW_NAMES,
    DEFAULT_EXTERNAL_URL,
    PAGERDUTY_EVENTS_URL,
    RECEIVER_TYPES,
    SLACK_API_URL,
    AlertingSpec,
)
from slo_service.specs.checks import check_url
from slo_service.specs.problems import describe, validate_spec

__all__ = [
    "ALERT_WINDOW_NAMES",
    "PAGERDUTY_EVENTS_URL",
    "RECEIVER_TYPES",
    "SLACK_API_URL",
    "AlertingSection",
    "SLOAlerting",
    "build_alerting",
]


def build_alerting(
    section: AlertingSection | None, slos: Iterable[SLOAlerting], *, config_incomplete: bool = False
) -> AlertingConfig:
    """The AlertingConfig of the section (defaults when None), after reporting every problem to the files.

    `config_incomplete`: some file could not be read, so an SLO naming an unknown policy is not reported
    when no section was found (the section may be in the unreadable file).
    """
    config = _build_section(section)
    slo_policies: dict[str, str] = {}
    policies = dict(config.policies)
    known = None if section is None and config_incomplete else _policy_names(section)
    for slo in slos:
        name = slo_policy(slo, policies, known, section_given=section is not None)
        if name is not None:
            slo_policies[slo_key(slo.service, slo.name)] = name
    return replace(config, policies=policies, slo_policies=slo_policies)


def _policy_names(section: AlertingSection | None) -> set[str] | None:
    """Policy names an SLO may pick. Names given in the file count as known even when their policy is invalid
    (reported once, there); None when the policies cannot be read at all, so SLOs naming one are not reported."""
    names = {DEFAULT_POLICY}
    raw = section.raw if section is not None else None
    policies = raw.get("policies") if isinstance(raw, dict) else None
    if isinstance(policies, dict):
        names.update(str(k) for k in policies)
    elif raw is not None and (not isinstance(raw, dict) or policies is not None):
        return None
    return names


def _build_section(section: AlertingSection | None) -> AlertingConfig:
    if section is None:
        return AlertingConfig()
    file, raw = section.file, section.raw
    if raw is None:
        return AlertingConfig()
    if not isinstance(raw, dict):
        file.add(SECTION, f"alerting must be a mapping, got {describe(raw)}")
        return AlertingConfig()
    spec = validate_spec(file, AlertingSpec, raw, SECTION)
    if spec is None:
        # Reported; still check the parts that have the right shape, so one typo does not hide the rest.
        parts = {k: v for k, v in raw.items() if k in AlertingSpec.model_fields and _valid_part(k, v)}
        spec = validate_spec(file, AlertingSpec, parts, SECTION)
        if spec is None:
            return AlertingConfig()
    external_url = spec.external_url
    if not check_url(file, (*SECTION, "external_url"), external_url):
        external_url = DEFAULT_EXTERNAL_URL
    users = build_users(file, spec.users or {})
    user_names = set((spec.users or {}).keys())
    intervals = build_time_intervals(file, spec.time_intervals or [])
    interval_names = set(intervals) | raw_names(spec.time_intervals or [])
    schedules = build_schedules(file, spec.schedules or [], user_names)
    schedule_names = set(schedules) | raw_names(spec.schedules or [])
    escalations = build_escalation_policies(file, spec.escalation_policies or [], schedule_names, user_names)
    escalation_names = set(escalations) | raw_names(spec.escalation_policies or [])
    policies = build_policies(file, spec.policies or {})
    receivers = build_receivers(file, spec.receivers or [], escalation_names)
    receiver_names = set(receivers) | raw_names(spec.receivers or [])
    route = build_route(file, raw.get("route"), receiver_names, interval_names) if spec.route is not None else None
    inhibit_rules = build_inhibit_rules(file, spec.inhibit_rules or [])
    return AlertingConfig(
        policies=policies,
        receivers=receivers,
        route=route,
        inhibit_rules=tuple(inhibit_rules),
        time_intervals=intervals,
        schedules=schedules,
        escalation_policies=escalations,
        users=users,
        external_url=external_url,
    )


def _valid_part(key: str, value: Any) -> bool:
    """Whether one field of the section has the right container type (used after a structure error)."""
    expected = {
        "external_url": str,
        "policies": dict,
        "users": dict,
        "route": object,
    }.get(key, list)
    return value is None or isinstance(value, expected)
