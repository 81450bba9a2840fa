"""Signed requests from CI: HMAC-SHA256 of `{timestamp}.{raw body}` with a shared secret.

Headers (GitHub's signature header name, plus a timestamp so a captured request cannot be replayed later):

    X-SLO-Timestamp: 1767268800                       (Unix seconds, UTC)
    X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of "1767268800." + body>

A request is accepted only if its timestamp is within REPLAY_WINDOW of the server's clock and its signature
was not seen before within that window (the store remembers it, so a replay is refused on every replica).
Pure: the caller supplies the clock's reading and the replay check.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

SIGNATURE_HEADER = "X-Hub-Signature-256"
TIMESTAMP_HEADER = "X-SLO-Timestamp"
REPLAY_WINDOW = timedelta(minutes=5)
_PREFIX = "sha256="


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The value of X-Hub-Signature-256 for `body` sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def check_signature(
    secret: str | None, timestamp: str | None, signature: str | None, body: bytes, now: datetime
) -> str | None:
    """Why the request is refused (a message for the 401), or None if the signature is good and fresh.
    The replay check (signature seen before) is the caller's, after this."""
    if not secret:
        return "signed requests are not enabled (SLO_SERVICE_CI_SECRET is not set): send a token with the ci scope"
    if not signature:
        return f"missing {SIGNATURE_HEADER} header (or an Authorization: Bearer token with the ci scope)"
    if not timestamp:
        return f"missing {TIMESTAMP_HEADER} header (Unix seconds, signed as '{{timestamp}}.{{body}}')"
    try:
        sent = int(timestamp.strip())
    except ValueError:
        return f"{TIMESTAMP_HEADER}: not Unix seconds"
    age = abs(now.timestamp() - sent)
    if age > REPLAY_WINDOW.total_seconds():
        window = int(REPLAY_WINDOW.total_seconds())
        return f"{TIMESTAMP_HEADER}: {int(age)}s away from the server's clock, at most {window}s (stale or replayed)"
    expected = sign(secret, timestamp.strip(), body)
    # bytes: compare_digest refuses non-ASCII str, and a header may hold anything
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
        return f"{SIGNATURE_HEADER}: signature does not match the body"
    return None
