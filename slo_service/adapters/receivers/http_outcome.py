"""Map an HTTP answer (or the exception instead of one) to a DeliveryResult.

The rules every receiver shares, so the outbox treats Slack, PagerDuty and webhooks alike:

* 2xx -> DELIVERED.
* 429 -> RETRY, with ``retry_after`` from the Retry-After header (delay in seconds, or an HTTP date).
* 408 and 5xx -> RETRY (the receiver may take it later).
* timeouts, connection refused/reset, DNS failures (any ``httpx.TransportError`` / ``OSError``) -> RETRY.
* any other status (other 4xx, a 3xx the client did not follow, 1xx) -> FAILED, with an excerpt of the
  response body as the error, so the dead-letter list says why (e.g. PagerDuty's "invalid event").
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import httpx

from slo_service.core.notify import DeliveryResult, Outcome

BODY_EXCERPT_CHARS = 300
"""How much of a refusing response body goes into DeliveryResult.error."""

MAX_RETRY_AFTER = timedelta(hours=1)
"""A Retry-After further away than this is capped (a typo'd date must not park a message for years)."""

_SPACE = re.compile(r"\s+")


def body_excerpt(body: bytes | str | None, limit: int = BODY_EXCERPT_CHARS) -> str:
    """The first `limit` characters of a response body, whitespace collapsed, for error messages."""
    if body is None:
        return ""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """Retry-After as a delay: ``"7"`` -> 7 s; an HTTP date -> the time until it (0 if past).

    None for a missing or unparsable header; negative delays become 0; capped at MAX_RETRY_AFTER.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    delay: timedelta
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are GMT
            when = when.replace(tzinfo=UTC)
        delay = when - (now or datetime.now(UTC))
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
            return None
        delay = timedelta(seconds=min(seconds, MAX_RETRY_AFTER.total_seconds()))
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


def _header(headers: Mapping[str, str] | httpx.Headers, name: str) -> str | None:
    if isinstance(headers, httpx.Headers):
        value: str | None = headers.get(name)
        return value
    lower = name.lower()
    for key, value in headers.items():
        if key.lower() == lower:
            return value
    return None


def result_for_status(
    status_code: int,
    headers: Mapping[str, str] | httpx.Headers | None = None,
    body: bytes | str | None = None,
    *,
    now: datetime | None = None,
    external_ref: Mapping[str, object] | None = None,
) -> DeliveryResult:
    """The DeliveryResult for an HTTP status (see the module docstring)."""
    headers = headers if headers is not None else {}
    if 200 <= status_code < 300:
        return DeliveryResult(Outcome.DELIVERED, status_code=status_code, external_ref=dict(external_ref or {}))
    excerpt = body_excerpt(body)
    error = f"HTTP {status_code}" + (f": {excerpt}" if excerpt else "")
    if status_code == 429:
        retry_after = parse_retry_after(_header(headers, "Retry-After"), now)
        return DeliveryResult(Outcome.RETRY, status_code=status_code, retry_after=retry_after, error=error)
    if status_code == 408 or 500 <= status_code < 600:
        return DeliveryResult(Outcome.RETRY, status_code=status_code, error=error)
    if 300 <= status_code < 400:
        location = _header(headers, "Location")
        if location:
            error += f" (redirect to {location}; configure the final URL)"
    return DeliveryResult(Outcome.FAILED, status_code=status_code, error=error)


def result_for_response(
    response: httpx.Response, *, now: datetime | None = None, external_ref: Mapping[str, object] | None = None
) -> DeliveryResult:
    """The DeliveryResult for an httpx response (its body must have been read)."""
    return result_for_status(
        response.status_code, response.headers, response.content, now=now, external_ref=external_ref
    )


def result_for_exception(exc: BaseException) -> DeliveryResult:
    """The DeliveryResult for a request that got no HTTP answer.

    Transport problems (timeouts, refused or reset connections, DNS, TLS: ``httpx.TransportError``,
    ``OSError`` incl. ``TimeoutError`` and urllib's ``URLError``) are RETRY. Anything else is a bug or a
    misconfiguration (e.g. an invalid URL) that retrying cannot fix: FAILED.
    """
    name = type(exc).__name__
    detail = str(exc) or name
    if isinstance(exc, httpx.UnsupportedProtocol):  # "ftp://..." or a URL without scheme: config error
        return DeliveryResult(Outcome.FAILED, error=f"{name}: {detail}")
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return DeliveryResult(Outcome.RETRY, error=f"timeout ({name}): {detail}")
    if isinstance(exc, httpx.TransportError | OSError):
        return DeliveryResult(Outcome.RETRY, error=f"connection error ({name}): {detail}")
    return DeliveryResult(Outcome.FAILED, error=f"{name}: {detail}")
