"""Generic webhook receiver: POSTs the Alertmanager v4 webhook payload, so existing Alertmanager
webhook consumers (and anything written for them) work unchanged.

Headers sent:

* ``Content-Type: application/json``
* ``Idempotency-Key: <dedup_key>:<action>:<outbox id>`` -- the same for a redelivery of the same message.
* with ``hmac_secret``: ``X-SLO-Service-Timestamp: <unix seconds>`` and
  ``X-SLO-Service-Signature: sha256=<hex HMAC-SHA256 of the raw request body with the secret>``.
  Verify it over the exact bytes received (see ``sign_body``); the timestamp is not part of the
  signed bytes.
* any configured ``headers`` (ours win on a clash).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from slo_service.adapters.receivers.http_outcome import result_for_exception, result_for_response
from slo_service.core.notify import DeliveryResult, OutboxMessage

SIGNATURE_HEADER = "X-SLO-Service-Signature"
TIMESTAMP_HEADER = "X-SLO-Service-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "slo-service"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON; NaN and infinities (not JSON) become null, other odd values their str()."""
    return json.dumps(_finite(data), separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str).encode(
        "utf-8"
    )


def sign_body(secret: str, body: bytes) -> str:
    """The X-SLO-Service-Signature value for `body`: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def truncate_alerts(payload: Mapping[str, Any], max_alerts: int) -> dict[str, Any]:
    """A copy of the payload with at most `max_alerts` alerts (0: all), counting the dropped ones in
    ``truncatedAlerts`` like Alertmanager's ``max_alerts``."""
    out = dict(payload)
    alerts = payload.get("alerts")
    if max_alerts > 0 and isinstance(alerts, list) and len(alerts) > max_alerts:
        previous = payload.get("truncatedAlerts")
        already = previous if isinstance(previous, int) and not isinstance(previous, bool) else 0
        out["alerts"] = alerts[:max_alerts]
        out["truncatedAlerts"] = already + len(alerts) - max_alerts
    return out


class WebhookReceiver:
    """POST the payload as JSON to `url`. Never raises; the outbox retries (see http_outcome)."""

    def __init__(
        self,
        name: str,
        url: str,
        hmac_secret: str | None = None,
        timeout: float = 10,
        max_alerts: int = 0,
        headers: Mapping[str, str] | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_alerts < 0:
            raise ValueError("max_alerts must be >= 0 (0: no limit)")
        self.name = name
        self.url = url
        self.hmac_secret = hmac_secret or None
        self.timeout = timeout
        self.max_alerts = max_alerts
        self.headers = dict(headers or {})
        self._transport = transport
        self._clock = clock

    def body(self, message: OutboxMessage) -> bytes:
        """The exact bytes POSTed for `message`."""
        return json_bytes(truncate_alerts(message.payload, self.max_alerts))

    def deliver(self, message: OutboxMessage) -> DeliveryResult:
        try:
            body = self.body(message)
            headers = {**self.headers, "Content-Type": "application/json", "User-Agent": USER_AGENT}
            # The outbox id makes two different messages of one group distinct; a redelivery keeps it.
            headers[IDEMPOTENCY_HEADER] = f"{message.dedup_key}:{message.action}:{message.id}"
            if self.hmac_secret is not None:
                headers[TIMESTAMP_HEADER] = str(int(self._clock()))
                headers[SIGNATURE_HEADER] = sign_body(self.hmac_secret, body)
            with httpx.Client(timeout=self.timeout, transport=self._transport) as client:
                response = client.post(self.url, content=body, headers=headers)
            return result_for_response(response)
        except Exception as exc:  # the Receiver contract: never raise
            return result_for_exception(exc)
