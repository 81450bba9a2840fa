"""A generic webhook signed per Standard Webhooks (standardwebhooks.com).

Headers: ``webhook-id`` (the decision's idempotency key: the same on every redelivery, so the receiver
deduplicates), ``webhook-timestamp`` (unix seconds) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">``, keyed with the base64-decoded part of a ``whsec_...`` secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

import httpx

from slo_service.adapters.receivers.webhook import json_bytes
from slo_service.adapters.targets.http import HttpTarget, send
from slo_service.core.actions.ports import TriggerRequest
from slo_service.core.notify import DeliveryResult

SECRET_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (ValueError when it is not base64)."""
    text = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ValueError("a Standard Webhooks secret is 'whsec_' followed by base64") from exc


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class StandardWebhook(HttpTarget):
    """POSTs the decision as JSON: ``{"type": "slo.action.<action>", "timestamp", "data": {...}}``."""

    def __init__(
        self,
        name: str,
        url: str,
        options: Mapping[str, str],
        secret: str | None,
        timeout: float = 10.0,
        user: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name, url, options, secret, timeout, user, transport=transport)
        self._clock = clock
        if secret is not None:
            secret_key(secret)  # a bad secret fails when the target is built, not at the first send

    def trigger(self, request: TriggerRequest) -> DeliveryResult:
        now = int(self._clock())
        body = json_bytes(
            {
                "type": f"slo.action.{request.action}",
                "timestamp": now,
                "data": {**request.inputs(), "params": dict(request.params), "decision": dict(request.payload)},
            }
        )
        headers = {"Content-Type": "application/json", "webhook-id": request.idempotency_key}
        headers["webhook-timestamp"] = str(now)
        if self._secret is not None:
            headers["webhook-signature"] = signature(self._secret, request.idempotency_key, now, body)
        return send("POST", self.url, headers=headers, content=body, timeout=self.timeout, transport=self._transport)
