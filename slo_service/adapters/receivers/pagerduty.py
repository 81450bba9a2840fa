"""PagerDuty receiver: one Events API v2 event per outbox message.

* "trigger" and "update" of a firing group -> ``event_action: trigger`` with the full payload
  (summary <= 1024 chars, source, severity, timestamp, component, group, class, custom_details)
  plus links, client and client_url. PagerDuty deduplicates triggers on ``dedup_key`` (the group's
  stable key), so a redelivered or updated trigger adds to the open alert instead of paging again.
  With an escalation policy, custom_details also carry ``escalation`` (policy, level, levels, on-call
  contacts) and ``oncall`` (the names at that level); each new level re-sends the trigger with them.
* "acknowledge" -> ``acknowledge``; "resolve" (or any message whose group status is resolved) ->
  ``resolve``. These carry only routing_key, dedup_key and event_action, as the API allows.

Answers (see http_outcome): 202 delivered; 400 (invalid event) failed with PagerDuty's message;
429 (throttled) and 5xx retried by the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from slo_service.adapters.receivers.http_outcome import result_for_exception, result_for_response
from slo_service.adapters.receivers.webhook import json_bytes
from slo_service.core.alerting.config import PAGERDUTY_DEFAULT_SEVERITY, PAGERDUTY_SEVERITY
from slo_service.core.notify import DeliveryResult, OutboxMessage

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_SEVERITY_MAP: Mapping[str, str] = PAGERDUTY_SEVERITY
DEFAULT_SEVERITY = PAGERDUTY_DEFAULT_SEVERITY
PD_SEVERITIES = frozenset({"critical", "error", "warning", "info"})
SUMMARY_MAX = 1024
CLIENT = "slo-service"


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _alerts(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    alerts = payload.get("alerts")
    return [a for a in alerts if isinstance(a, Mapping)] if isinstance(alerts, list) else []


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class PagerDutyReceiver:
    """Send outbox messages to a PagerDuty service's Events API v2 integration. Never raises."""

    def __init__(
        self,
        name: str,
        routing_key: str,
        url: str = EVENTS_URL,
        timeout: float = 10,
        severity_map: Mapping[str, str] | None = None,
        default_severity: str = DEFAULT_SEVERITY,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not routing_key:
            raise ValueError(f"pagerduty receiver {name!r}: routing_key is empty")
        self.name = name
        self.routing_key = routing_key
        self.url = url
        self.timeout = timeout
        self.severity_map = dict(DEFAULT_SEVERITY_MAP if severity_map is None else severity_map)
        self.default_severity = default_severity
        for label, sev in [*self.severity_map.items(), ("(default)", default_severity)]:
            if sev not in PD_SEVERITIES:
                raise ValueError(f"severity_map[{label!r}]: {sev!r} is not one of {sorted(PD_SEVERITIES)}")
        self._transport = transport

    # --- event building -------------------------------------------------------------------------

    def event_action(self, message: OutboxMessage) -> str:
        if message.action == "resolve" or message.payload.get("status") == "resolved":
            return "resolve"
        if message.action == "acknowledge":
            return "acknowledge"
        return "trigger"  # "trigger" and "update": PagerDuty dedups on dedup_key

    def event(self, message: OutboxMessage) -> dict[str, Any]:
        """The Events API v2 request body for `message`."""
        action = self.event_action(message)
        event: dict[str, Any] = {
            "routing_key": self.routing_key,
            "event_action": action,
            "dedup_key": message.dedup_key,
        }
        if action != "trigger":
            return event
        payload = message.payload
        alerts = _alerts(payload)
        first = alerts[0] if alerts else {}
        labels = _str_map(payload.get("commonLabels")) or _str_map(first.get("labels"))
        group_labels = _str_map(payload.get("groupLabels"))
        annotations = {**_str_map(first.get("annotations")), **_str_map(payload.get("commonAnnotations"))}
        firing = sum(1 for a in alerts if a.get("status", "firing") == "firing")
        truncated = payload.get("truncatedAlerts")
        truncated_n = truncated if isinstance(truncated, int) and not isinstance(truncated, bool) else 0

        severity_label = labels.get("severity") or group_labels.get("severity") or ""
        service = labels.get("service") or group_labels.get("service")
        alertname = labels.get("alertname") or group_labels.get("alertname") or "SLO alert"
        slo = labels.get("slo") or group_labels.get("slo")

        summary_text = annotations.get("summary") or annotations.get("description") or ""
        subject = "/".join(x for x in (service, slo) if x)
        head = f"[FIRING:{firing + truncated_n}] {alertname}" + (f" {subject}" if subject else "")
        summary = _truncate(f"{head}: {summary_text}" if summary_text else head, SUMMARY_MAX)

        pd_payload: dict[str, Any] = {
            "summary": summary,
            "source": service or CLIENT,
            "severity": self.severity_map.get(severity_label, self.default_severity),
            "class": alertname,
            "custom_details": {
                "labels": labels,
                "annotations": annotations,
                "values": dict(first.get("values") or {}) if isinstance(first.get("values"), Mapping) else {},
                "firing": firing + truncated_n,
                "group_labels": group_labels,
                "group_key": payload.get("groupKey"),
                "alerts": [
                    {"labels": _str_map(a.get("labels")), "status": a.get("status"), "startsAt": a.get("startsAt")}
                    for a in alerts[:20]
                ],
            },
        }
        if slo:
            pd_payload["component"] = slo
        if service:
            pd_payload["group"] = service
        starts = first.get("startsAt")
        if isinstance(starts, str) and starts:
            pd_payload["timestamp"] = starts
        if payload.get("acknowledgedBy"):
            pd_payload["custom_details"]["acknowledged_by"] = payload.get("acknowledgedBy")
        escalation = payload.get("escalation")
        if isinstance(escalation, Mapping):
            # who the service's escalation policy says is on call at this level, for the responder
            pd_payload["custom_details"]["escalation"] = dict(escalation)
            pd_payload["custom_details"]["oncall"] = [
                str(c.get("name") or c.get("user")) for c in escalation.get("oncall") or [] if isinstance(c, Mapping)
            ]
        event["payload"] = pd_payload

        links = [
            {"href": annotations[key], "text": text}
            for key, text in (("runbook_url", "Runbook"), ("dashboard_url", "Dashboard"))
            if annotations.get(key)
        ]
        generator = first.get("generatorURL")
        if isinstance(generator, str) and generator:
            links.append({"href": generator, "text": "Source"})
        if links:
            event["links"] = links
        event["client"] = CLIENT
        external = payload.get("externalURL")
        if isinstance(external, str) and external:
            event["client_url"] = external
        return event

    # --- delivery -------------------------------------------------------------------------------

    def deliver(self, message: OutboxMessage) -> DeliveryResult:
        try:
            body = json_bytes(self.event(message))
            with httpx.Client(timeout=self.timeout, transport=self._transport) as client:
                response = client.post(
                    self.url, content=body, headers={"Content-Type": "application/json", "User-Agent": CLIENT}
                )
            return result_for_response(response, external_ref={"dedup_key": message.dedup_key})
        except Exception as exc:  # the Receiver contract: never raise
            return result_for_exception(exc)
