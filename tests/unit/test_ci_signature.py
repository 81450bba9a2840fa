"""Signed CI requests (core/ci_signature.py): what is signed, and why each bad request is refused."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from slo_service.core.ci_signature import check_signature, sign

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))
BODY = b'{"service":"api","version":"1.0"}'
SECRET = "s3cret-value"


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, BODY) == f"sha256={expected}"
    assert check_signature(SECRET, TS, f"sha256={expected}", BODY, NOW) is None
    # five minutes either way is still fresh
    assert check_signature(SECRET, TS, sign(SECRET, TS, BODY), BODY, NOW + timedelta(seconds=300)) is None


@pytest.mark.parametrize(
    ("secret", "timestamp", "signature", "body", "needle"),
    [
        (None, TS, sign(SECRET, TS, BODY), BODY, "not enabled"),
        (SECRET, TS, None, BODY, "missing X-Hub-Signature-256"),
        (SECRET, None, sign(SECRET, TS, BODY), BODY, "missing X-SLO-Timestamp"),
        (SECRET, "soon", sign(SECRET, "soon", BODY), BODY, "not Unix seconds"),
        (SECRET, str(int(TS) - 301), sign(SECRET, str(int(TS) - 301), BODY), BODY, "301s away"),
        (SECRET, TS, sign("other-secret", TS, BODY), BODY, "does not match"),
        (SECRET, TS, sign(SECRET, TS, BODY), BODY + b" ", "does not match"),
        (SECRET, TS, sign(SECRET, TS, BODY)[7:], BODY, "does not match"),  # without the sha256= prefix
        (SECRET, TS, "sha256=ünïcode", BODY, "does not match"),
    ],
    ids=[
        "no-secret",
        "no-signature",
        "no-timestamp",
        "bad-timestamp",
        "stale",
        "wrong-secret",
        "tampered",
        "no-prefix",
        "non-ascii",
    ],
)
def test_bad_signatures_are_refused_with_a_reason(
    secret: str | None, timestamp: str | None, signature: str | None, body: bytes, needle: str
) -> None:
    problem = check_signature(secret, timestamp, signature, body, NOW)
    assert problem is not None and needle in problem
