"""Parse an Alertmanager webhook (payload version 4) that an Alertmanager POSTs to us.

Shape (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)::

    {"version": "4", "groupKey": "...", "truncatedAlerts": 0, "status": "firing", "receiver": "...",
     "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...}, "externalURL": "...",
     "alerts": [{"status": "firing"|"resolved", "labels": {...}, "annotations": {...},
                 "startsAt": RFC3339, "endsAt": RFC3339, "generatorURL": "...", "fingerprint": "..."}]}

Only ``alerts`` is needed; each alert needs ``status``, non-empty ``labels`` and ``startsAt``. The
group fields are checked when present (``version`` must be "4"). ``endsAt`` of "0001-01-01T00:00:00Z"
(Go's zero time), empty or missing means "not ended". A missing fingerprint is computed from the
labels with ``core.alerting.fingerprint`` (not Alertmanager's hash, but equally stable). Errors are
ValueErrors naming the field, e.g. ``alerts[2].labels: must be an object of strings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from slo_service.core.alerting.fingerprint import fingerprint as compute_fingerprint
from slo_service.core.instants import instant_to_utc

SUPPORTED_VERSION = "4"
MAX_ALERTS = 10_000


@dataclass(frozen=True)
class InboundAlert:
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    status: Literal["firing", "resolved"]
    starts_at: datetime  # UTC
    ends_at: datetime | None  # UTC; None: not ended (Go zero time, empty or missing)
    fingerprint: str
    generator_url: str | None


def _strings(value: Any, where: str, *, required: bool, non_empty: bool = False) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"{where}: must be an object of strings")
    if non_empty and not value:
        raise ValueError(f"{where}: must not be empty")
    if any(not k for k in value):
        raise ValueError(f"{where}: label names must not be empty")
    return dict(value)


def _time(value: Any, where: str) -> datetime | None:
    """An RFC 3339 time in UTC; None for Go's zero time or an empty string."""
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be an RFC 3339 time string")
    if not value or value.startswith("0001-01-01T00:00:00"):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: not an RFC 3339 time: {value[:40]!r}") from None
    if when.tzinfo is None:
        raise ValueError(f"{where}: time has no time zone: {value[:40]!r}")
    try:
        return instant_to_utc(when)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _alert(raw: Any, where: str) -> InboundAlert:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be an object")
    status = raw.get("status")
    if status not in ("firing", "resolved"):
        raise ValueError(f"{where}.status: must be 'firing' or 'resolved', got {status!r}")
    labels = _strings(raw.get("labels"), f"{where}.labels", required=True, non_empty=True)
    annotations = _strings(raw.get("annotations"), f"{where}.annotations", required=False)
    if "startsAt" not in raw:
        raise ValueError(f"{where}.startsAt: missing")
    starts_at = _time(raw["startsAt"], f"{where}.startsAt")
    if starts_at is None:
        raise ValueError(f"{where}.startsAt: must be a real time, not empty or the zero time")
    ends_raw = raw.get("endsAt")
    ends_at = None if ends_raw is None else _time(ends_raw, f"{where}.endsAt")
    if ends_at is not None and ends_at < starts_at:
        raise ValueError(f"{where}.endsAt: is before startsAt")
    fp = raw.get("fingerprint")
    if fp is not None and not isinstance(fp, str):
        raise ValueError(f"{where}.fingerprint: must be a string")
    gen = raw.get("generatorURL")
    if gen is not None and not isinstance(gen, str):
        raise ValueError(f"{where}.generatorURL: must be a string")
    return InboundAlert(
        labels=labels,
        annotations=annotations,
        status=status,
        starts_at=starts_at,
        ends_at=ends_at,
        fingerprint=fp or compute_fingerprint(labels),
        generator_url=gen or None,
    )


_STRINGS: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
_STATUS: dict[str, Any] = {"type": "string", "enum": ["firing", "resolved"]}
WEBHOOK_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["alerts"],
    "properties": {
        "version": {"type": "string", "enum": [SUPPORTED_VERSION]},
        "status": _STATUS,
        "receiver": {"type": "string"},
        "groupKey": {"type": "string"},
        "externalURL": {"type": "string"},
        "groupLabels": _STRINGS,
        "commonLabels": _STRINGS,
        "commonAnnotations": _STRINGS,
        "truncatedAlerts": {"type": "integer", "minimum": 0},
        "alerts": {
            "type": "array",
            "maxItems": MAX_ALERTS,
            "items": {
                "type": "object",
                "required": ["status", "labels", "startsAt"],
                "properties": {
                    "status": _STATUS,
                    "labels": {**_STRINGS, "minProperties": 1, "propertyNames": {"minLength": 1}},
                    "annotations": {"anyOf": [_STRINGS, {"type": "null"}]},
                    "startsAt": {"type": "string", "format": "date-time"},
                    "endsAt": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "fingerprint": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "generatorURL": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
            },
        },
    },
}
"""What parse_alertmanager_webhook accepts, as JSON Schema for the API's OpenAPI document (times must also
be RFC 3339 with a zone, endsAt not before startsAt, and no two alerts with the same labels)."""


def parse_alertmanager_webhook(data: Any) -> list[InboundAlert]:
    """The alerts of a decoded Alertmanager v4 webhook body, in payload order; ValueError naming the
    first bad field otherwise."""
    if not isinstance(data, dict):
        raise ValueError("body: must be a JSON object")
    if "version" in data and data["version"] != SUPPORTED_VERSION:
        raise ValueError(f"version: unsupported webhook payload version {data['version']!r} (expected '4')")
    if "status" in data and data["status"] not in ("firing", "resolved"):
        raise ValueError(f"status: must be 'firing' or 'resolved', got {data['status']!r}")
    for key in ("groupLabels", "commonLabels", "commonAnnotations"):
        if key in data:
            _strings(data[key], key, required=True)
    for key in ("receiver", "groupKey", "externalURL"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{key}: must be a string")
    if "truncatedAlerts" in data:
        t = data["truncatedAlerts"]
        if isinstance(t, float) and t.is_integer():  # JSON has one number type: 3.0 is the integer 3
            t = int(t)
        if not isinstance(t, int) or isinstance(t, bool) or t < 0:
            raise ValueError("truncatedAlerts: must be a non-negative integer")
    if "alerts" not in data:
        raise ValueError("alerts: missing")
    alerts = data["alerts"]
    if not isinstance(alerts, list):
        raise ValueError("alerts: must be a list")
    if len(alerts) > MAX_ALERTS:
        raise ValueError(f"alerts: more than {MAX_ALERTS} alerts in one webhook")
    return [_alert(raw, f"alerts[{i}]") for i, raw in enumerate(alerts)]
