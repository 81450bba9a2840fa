"""Pydantic specs of the `alerting:` section and of per-SLO `alerting:` overrides (structure and types only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt

from slo_service.core.alerting.config import ReceiverKind
from slo_service.core.windows import ALERT_WINDOWS
from slo_service.specs.schema import Number, Spec

__all__ = [
    "ALERT_WINDOW_NAMES",
    "DEFAULT_EXTERNAL_URL",
    "PAGERDUTY_EVENTS_URL",
    "RECEIVER_SPECS",
    "RECEIVER_TIMEOUT_MAX",
    "RECEIVER_TYPES",
    "SLACK_API_URL",
    "AlertingSpec",
    "EscalationLevelSpec",
    "EscalationPolicySpec",
    "LayerSpec",
    "OverrideSpec",
    "PagerDutyReceiverSpec",
    "PolicySpec",
    "RestrictionSpec",
    "RotationSpec",
    "SLOAlertingSpec",
    "ScheduleSpec",
    "SlackReceiverSpec",
    "TierSpec",
    "UserSpec",
    "WebhookReceiverSpec",
]


ALERT_WINDOW_NAMES: tuple[str, ...] = tuple(ALERT_WINDOWS)
"""The windows the evaluator computes for every SLO: the only ones a tier or no_data_after may use."""

RECEIVER_TYPES = tuple(k.value for k in ReceiverKind)
SLACK_API_URL = "https://slack.com/api/"
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_EXTERNAL_URL = "http://127.0.0.1:8080"


class TierSpec(Spec):
    name: str
    severity: str
    long_window: str
    short_window: str
    budget_share: Number
    for_: str | None = Field(None, alias="for")
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class PolicySpec(Spec):
    """A named rule policy. Fields left out take AlertPolicy's defaults."""

    min_events: Number | None = None
    min_slice_coverage: Number | None = None
    min_budget_coverage: Number | None = None
    no_data_after: str | None = None  # null disables the no-data alert (told apart from "left out")
    budget_exhausted: StrictBool | None = None
    for_: str | None = Field(None, alias="for")
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    tiers: list[TierSpec] | None = None
    no_data_severity: str | None = None
    budget_exhausted_severity: str | None = None
    alert_name: str | None = None


class SLOAlertingSpec(PolicySpec):
    """`slos[i].alerting`: a policy name and inline overrides of that policy's fields."""

    policy: str | None = None


RECEIVER_TIMEOUT_MAX = timedelta(minutes=1)


class SlackReceiverSpec(Spec):
    name: str
    type: Literal["slack"]
    channel: str | None = None
    token_env: str | None = None
    webhook_url_env: str | None = None
    base_url: str | None = None
    send_resolved: StrictBool = True
    timeout: str = "10s"  # per request; a Slack retry may take two (lookup, then post)
    escalation_policy: str | None = None


class PagerDutyReceiverSpec(Spec):
    name: str
    type: Literal["pagerduty"]
    routing_key_env: str
    url: str | None = None
    send_resolved: StrictBool = True
    timeout: str = "10s"  # per request; a Slack retry may take two (lookup, then post)
    escalation_policy: str | None = None


class WebhookReceiverSpec(Spec):
    name: str
    type: Literal["webhook"]
    url: str
    hmac_secret_env: str | None = None
    max_alerts: StrictInt = 0
    headers: dict[str, str] = {}
    send_resolved: StrictBool = True
    timeout: str = "10s"  # per request; a Slack retry may take two (lookup, then post)
    escalation_policy: str | None = None


RECEIVER_SPECS: dict[str, type[Spec]] = {
    "slack": SlackReceiverSpec,
    "pagerduty": PagerDutyReceiverSpec,
    "webhook": WebhookReceiverSpec,
}


class UserSpec(Spec):
    slack: str | None = None  # Slack member id, e.g. U0123ABC (for mentions)
    email: str | None = None
    name: str | None = None  # display name


class RotationSpec(Spec):
    members: list[str]
    length: str
    start: Any  # ISO 8601 date-time, quoted or not (YAML reads unquoted ones as timestamps)


class RestrictionSpec(Spec):
    weekdays: list[str] | None = None
    start: Any  # "09:00"
    end: Any  # "17:00"


class LayerSpec(Spec):
    name: str
    rotation: RotationSpec
    restrictions: list[RestrictionSpec] = []
    end: Any = None


class OverrideSpec(Spec):
    start: Any
    end: Any
    member: str


class ScheduleSpec(Spec):
    name: str
    timezone: str = "UTC"
    layers: list[LayerSpec]
    overrides: list[OverrideSpec] = []


class EscalationLevelSpec(Spec):
    targets: list[str]
    delay: str


class EscalationPolicySpec(Spec):
    name: str
    levels: list[EscalationLevelSpec]
    repeat: StrictInt = 0


class AlertingSpec(Spec):
    """The section's own fields; list and mapping entries are validated one by one."""

    external_url: str = DEFAULT_EXTERNAL_URL
    policies: dict[str, Any] | None = None
    receivers: list[Any] | None = None
    route: Any = None
    inhibit_rules: list[Any] | None = None
    time_intervals: list[Any] | None = None
    users: dict[str, Any] | None = None
    schedules: list[Any] | None = None
    escalation_policies: list[Any] | None = None
