"""Build Receiver adapters from the configuration's ReceiverSpecs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slo_service.adapters.receivers.pagerduty import PagerDutyReceiver
from slo_service.adapters.receivers.slack import SlackReceiver
from slo_service.adapters.receivers.webhook import WebhookReceiver
from slo_service.core.alerting.config import ReceiverKind, ReceiverSpec
from slo_service.core.notify import Receiver


def build_receiver(spec: ReceiverSpec) -> Receiver:
    """One adapter per spec; the loader already resolved secrets from the environment."""
    s: Mapping[str, Any] = spec.settings
    timeout = float(s.get("timeout") or 10)
    if spec.kind is ReceiverKind.SLACK:
        kwargs: dict[str, Any] = {"send_resolved": spec.send_resolved, "timeout": timeout}
        if s.get("base_url"):
            kwargs["base_url"] = s["base_url"]
        return SlackReceiver(spec.name, s.get("token"), s.get("channel"), webhook_url=s.get("webhook_url"), **kwargs)
    if spec.kind is ReceiverKind.PAGERDUTY:
        extra = {"url": s["url"]} if s.get("url") else {}
        return PagerDutyReceiver(spec.name, s["routing_key"], timeout=timeout, **extra)
    return WebhookReceiver(
        spec.name,
        s["url"],
        hmac_secret=s.get("hmac_secret"),
        max_alerts=int(s.get("max_alerts") or 0),
        headers=dict(s.get("headers") or {}),
        timeout=timeout,
    )


def build_receivers(specs: Mapping[str, ReceiverSpec]) -> dict[str, Receiver]:
    return {name: build_receiver(spec) for name, spec in specs.items()}
