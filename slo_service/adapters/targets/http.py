"""One HTTP request per trigger, its answer mapped like a notification's (2xx delivered, 408/429/5xx and
transport errors retried, other statuses failed): see adapters/receivers/http_outcome.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from slo_service.adapters.receivers.http_outcome import body_excerpt, result_for_exception, result_for_response
from slo_service.core.notify import DeliveryResult, Outcome

USER_AGENT = "slo-service"


def send(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: float,
    transport: httpx.BaseTransport | None = None,
    expect: frozenset[int] | None = None,
    **body: Any,
) -> DeliveryResult:
    """Send one request; never raises. `expect`: the statuses the API documents for success (others in 2xx
    are still delivered: a proxy answering 200 for a 204 API took the request). The answer's status,
    Location and an excerpt of its body are kept as the run's external reference."""
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.request(method, url, headers={"User-Agent": USER_AGENT, **headers}, **body)
        ref: dict[str, Any] = {"status": response.status_code}
        if response.headers.get("Location"):
            ref["location"] = response.headers["Location"]
        if response.content:
            ref["body"] = body_excerpt(response.content)
        result = result_for_response(response, external_ref=ref)
        if result.outcome is Outcome.DELIVERED and expect and response.status_code not in expect:
            ref["unexpected_status"] = True
        return result
    except Exception as exc:  # the Target contract: never raise
        return result_for_exception(exc)


def join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


class HttpTarget:
    """What every HTTP target holds: its name, base URL, options, secret (never shown), timeout, transport."""

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
    ) -> None:
        self.name = name
        self.url = url
        self.options = dict(options)
        self._secret = secret
        self.user = user
        self.timeout = timeout
        self._transport = transport

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._secret}"} if self._secret else {}
