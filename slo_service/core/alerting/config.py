"""The alerting part of the configuration: rule policies, receivers, routing, on-call, as core records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from slo_service.core.alerting.policy import AlertPolicy
from slo_service.core.oncall.escalation import EscalationPolicy
from slo_service.core.oncall.schedule import Schedule
from slo_service.core.routing.inhibit import InhibitRule
from slo_service.core.routing.time_intervals import TimeInterval
from slo_service.core.routing.tree import Route

DEFAULT_POLICY = "default"
NO_RECEIVER = "__nobody__"
"""The receiver of alerts no route sends anywhere: they are kept and shown, nobody is notified."""

# The PagerDuty event severity of each alert `severity` label, defined once: the PagerDuty receiver
# sends it and `generate alertmanager-config` writes the same mapping into pagerduty_configs.
PAGERDUTY_SEVERITY: Mapping[str, str] = {
    "page": "critical",
    "critical": "critical",
    "ticket": "warning",
    "warning": "warning",
    "info": "info",
}
PAGERDUTY_DEFAULT_SEVERITY = "error"  # any other severity label, or none


class ReceiverKind(StrEnum):
    SLACK = "slack"
    PAGERDUTY = "pagerduty"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class ReceiverSpec:
    """A named notification target. Secrets are resolved from the environment by the loader, so the
    values here are final; `settings` keys depend on the kind (see docs/configuration.md)."""

    name: str
    kind: ReceiverKind
    send_resolved: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict)
    escalation_policy: str | None = None  # page through this on-call escalation policy


@dataclass(frozen=True)
class AlertingConfig:
    """Everything the alert, route and notify steps need; an empty one means "evaluate, notify nobody"."""

    policies: Mapping[str, AlertPolicy] = field(default_factory=lambda: {DEFAULT_POLICY: AlertPolicy()})
    slo_policies: Mapping[str, str] = field(default_factory=dict)  # slo key -> policy name
    receivers: Mapping[str, ReceiverSpec] = field(default_factory=dict)
    route: Route | None = None
    inhibit_rules: tuple[InhibitRule, ...] = ()
    time_intervals: Mapping[str, tuple[TimeInterval, ...]] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    escalation_policies: Mapping[str, EscalationPolicy] = field(default_factory=dict)
    users: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # user -> {slack: U123, email: ...}
    external_url: str = "http://127.0.0.1:8080"

    def policy_for(self, slo_key: str) -> AlertPolicy:
        name = self.slo_policies.get(slo_key, DEFAULT_POLICY)
        return self.policies.get(name) or self.policies.get(DEFAULT_POLICY) or AlertPolicy()
