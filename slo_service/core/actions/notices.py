"""What a `notify` decision tells people: an SLOResponseDecision alert per (policy, service), whose annotations
carry the decision's reasons; it fires when the run is carried out and resolves once the condition clears.
Routed like any alert (pipeline/alerting.py), so it reaches Slack, PagerDuty or a webhook by the routing tree."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from slo_service.core.actions.runs import ActionRun
from slo_service.core.alerting.conditions import AlertCondition

RESPONSE_ALERT = "SLOResponseDecision"
DEFAULT_SEVERITY = "ticket"


def reasons(why: Mapping[str, Any]) -> str:
    """The decision's reasons, one line per fact it was made on (burn, attribution, drift, budget, gate ...)."""
    lines = []
    for key, value in why.items():
        if key in ("policy", "trigger"):
            continue
        text = json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else str(value)
        lines.append(f"{key}: {text}")
    return "\n".join(lines)


def notice_labels(policy: str, action: str, service: str, severity: str) -> dict[str, str]:
    return {"alertname": RESPONSE_ALERT, "severity": severity, "service": service, "policy": policy, "action": action}


def notice(run: ActionRun, why: Mapping[str, Any]) -> AlertCondition:
    """The firing alert of a carried-out notify run (params.severity, default ticket)."""
    labels = notice_labels(run.policy, run.action, run.service, run.params.get("severity", DEFAULT_SEVERITY))
    trigger = why.get("trigger", "condition")
    summary = f"response policy {run.policy} decided to notify about {run.service} ({trigger})"
    description = reasons(why) or "no reasons recorded"
    annotations = {"summary": summary, "description": description, "action_run": str(run.id)}
    return AlertCondition(labels, annotations, True, {})


def cleared_notices(
    open_alerts: Iterable[Mapping[str, str]], holding: Iterable[tuple[str, str]]
) -> list[AlertCondition]:
    """The resolving conditions of the open SLOResponseDecision alerts (their labels) whose (policy, service)
    no longer holds."""
    held = set(holding)
    return [
        AlertCondition(dict(labels), {}, False, {})
        for labels in open_alerts
        if labels.get("alertname") == RESPONSE_ALERT
        and (labels.get("policy", ""), labels.get("service", "")) not in held
    ]


APPROVAL_ALERT = "SLOResponseApproval"
APPROVAL_RUN = "approval_run"
"""The annotation that carries the run id of an approval request: Slack messages of it get Approve/Deny buttons."""


def approval_request(run_id: int, policy: str, action: str, service: str, why: Mapping[str, Any]) -> AlertCondition:
    """The alert asking people to approve or deny run `run_id` (firing until someone decides)."""
    labels = approval_labels(run_id, policy, action, service)
    summary = f"{action} of {service} waits for approval (policy {policy}, run {run_id})"
    description = reasons(why) or "no reasons recorded"
    annotations = {"summary": summary, "description": description, APPROVAL_RUN: str(run_id)}
    return AlertCondition(labels, annotations, True, {})


def approval_labels(run_id: int, policy: str, action: str, service: str) -> dict[str, str]:
    return {
        "alertname": APPROVAL_ALERT,
        "severity": DEFAULT_SEVERITY,
        "service": service,
        "policy": policy,
        "action": action,
        "action_run": str(run_id),
    }


def approval_decided(run: ActionRun) -> AlertCondition:
    """Resolves the approval request of `run` (approved or denied)."""
    assert run.id is not None
    return AlertCondition(approval_labels(run.id, run.policy, run.action, run.service), {}, False, {})
