"""WebhookReceiver against a local HTTP server standing in for an Alertmanager-compatible webhook consumer."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from slo_service.adapters.receivers.http_outcome import parse_retry_after
from slo_service.adapters.receivers.webhook import WebhookReceiver, truncate_alerts
from slo_service.core.notify import OutboxMessage, Outcome
from tests.support.process import start_local_server

PATH = "/hooks/alertmanager"
SECRET = "s3cr3t-webhook-key"
NOW = 1_795_000_000.0


def group_payload(n_alerts: int = 2, status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4",
        "receiver": "team-ml",
        "status": status,
        "groupKey": '{}:{service="ranker"}',
        "truncatedAlerts": 0,
        "groupLabels": {"service": "ranker"},
        "commonLabels": {"alertname": "SLOBurnRateHigh", "service": "ranker", "severity": "page"},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:8080",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "SLOBurnRateHigh", "service": "ranker", "severity": "page", "slo": f"s{i}"},
                "annotations": {"summary": f"SLO s{i} burns fast \u2014 \u00fcber budget"},
                "startsAt": "2026-11-28T09:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:8080/slos",
                "fingerprint": f"ab12cd34ef56ab1{i}",
                "values": {"burn_rate_long": 15.2, "burn_rate_short": None, "threshold": 14.4},
            }
            for i in range(n_alerts)
        ],
        "acknowledgedBy": None,
    }


def message(action: str = "trigger", **kw: Any) -> OutboxMessage:
    return OutboxMessage(
        receiver="hook",
        action=action,
        dedup_key="dk-ranker",
        payload=group_payload(**kw),
        created_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        id=3,
    )


def hook(server: HTTPServer, **kw: Any) -> WebhookReceiver:
    return WebhookReceiver("hook", server.url_for(PATH), clock=lambda: NOW, **kw)


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a consumer does, written independently of the module."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def test_payload_is_posted_unchanged_with_a_verifiable_signature(server: HTTPServer) -> None:
    server.expect_request(PATH, method="POST").respond_with_data("", status=200)
    msg = message()
    result = hook(server, hmac_secret=SECRET, headers={"X-Team": "ml"}).deliver(msg)
    assert (result.outcome, result.status_code) == (Outcome.DELIVERED, 200)
    [(req, _)] = server.log
    raw = req.get_data()
    assert json.loads(raw) == msg.payload  # unchanged: Alertmanager webhook consumers keep working
    assert req.headers["Content-Type"] == "application/json"
    assert verify(SECRET, raw, req.headers["X-SLO-Service-Signature"])
    assert req.headers["X-SLO-Service-Timestamp"] == str(int(NOW))
    assert req.headers["Idempotency-Key"] == "dk-ranker:trigger:3"
    assert req.headers["X-Team"] == "ml"
    assert not verify("other-secret", raw, req.headers["X-SLO-Service-Signature"])
    assert not verify(SECRET, raw + b" ", req.headers["X-SLO-Service-Signature"])


def test_without_secret_no_signature_headers(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_data("ok")
    assert hook(server).deliver(message("resolve", status="resolved")).outcome is Outcome.DELIVERED
    [(req, _)] = server.log
    assert "X-SLO-Service-Signature" not in req.headers and "X-SLO-Service-Timestamp" not in req.headers
    assert req.headers["Idempotency-Key"] == "dk-ranker:resolve:3"
    assert json.loads(req.get_data())["status"] == "resolved"


def test_configured_headers_cannot_override_ours(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_data("ok")
    hook(server, hmac_secret=SECRET, headers={"X-SLO-Service-Signature": "forged", "Idempotency-Key": "x"}).deliver(
        message()
    )
    [(req, _)] = server.log
    assert verify(SECRET, req.get_data(), req.headers["X-SLO-Service-Signature"])
    assert req.headers["Idempotency-Key"] == "dk-ranker:trigger:3"


def test_max_alerts_truncates_and_counts(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_data("ok")
    msg = message(n_alerts=5)
    assert hook(server, max_alerts=2, hmac_secret=SECRET).deliver(msg).outcome is Outcome.DELIVERED
    [(req, _)] = server.log
    body = json.loads(req.get_data())
    assert [a["fingerprint"] for a in body["alerts"]] == ["ab12cd34ef56ab10", "ab12cd34ef56ab11"]
    assert body["truncatedAlerts"] == 3
    assert {k: v for k, v in body.items() if k not in ("alerts", "truncatedAlerts")} == {
        k: v for k, v in msg.payload.items() if k not in ("alerts", "truncatedAlerts")
    }
    assert verify(SECRET, req.get_data(), req.headers["X-SLO-Service-Signature"])
    assert len(msg.payload["alerts"]) == 5  # the message itself is not modified


def test_truncate_alerts_adds_to_an_earlier_truncation() -> None:
    payload = {**group_payload(n_alerts=3), "truncatedAlerts": 4}
    assert truncate_alerts(payload, 1)["truncatedAlerts"] == 6
    assert truncate_alerts(payload, 0) == payload
    assert truncate_alerts(payload, 3) == payload
    with pytest.raises(ValueError, match="max_alerts"):
        WebhookReceiver("h", "http://127.0.0.1:1/", max_alerts=-1)


@pytest.mark.parametrize(
    ("status", "headers", "body", "outcome", "retry_after", "error"),
    [
        (202, {}, "", Outcome.DELIVERED, None, None),
        (204, {}, "", Outcome.DELIVERED, None, None),
        (500, {}, "boom", Outcome.RETRY, None, "HTTP 500: boom"),
        (503, {}, "", Outcome.RETRY, None, "HTTP 503"),
        (408, {}, "slow", Outcome.RETRY, None, "HTTP 408: slow"),
        (429, {"Retry-After": "7"}, "slow down", Outcome.RETRY, timedelta(seconds=7), "HTTP 429: slow down"),
        (400, {}, '{"error": "bad  \\n labels"}', Outcome.FAILED, None, 'HTTP 400: {"error": "bad \\n labels"}'),
        (401, {}, "unauthorized", Outcome.FAILED, None, "HTTP 401: unauthorized"),
        (
            301,
            {"Location": "http://127.0.0.1:1/new"},
            "",
            Outcome.FAILED,
            None,
            "HTTP 301 (redirect to http://127.0.0.1:1/new; configure the final URL)",
        ),
    ],
)
def test_status_mapping(
    server: HTTPServer,
    status: int,
    headers: dict[str, str],
    body: str,
    outcome: Outcome,
    retry_after: timedelta | None,
    error: str | None,
) -> None:
    server.expect_request(PATH).respond_with_data(body, status=status, headers=headers)
    result = hook(server).deliver(message())
    assert (result.outcome, result.status_code, result.retry_after, result.error) == (
        outcome,
        status,
        retry_after,
        error,
    )


def test_long_error_bodies_are_cut(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_data("e" * 10_000, status=422)
    result = hook(server).deliver(message())
    assert result.outcome is Outcome.FAILED
    assert result.error is not None and len(result.error) < 320 and result.error.endswith("...")


def test_timeout_retries() -> None:
    own = start_local_server()
    try:

        def slow(_: Request) -> Response:
            time.sleep(1.5)
            return Response("ok")

        own.expect_request(PATH).respond_with_handler(slow)
        started = time.monotonic()
        result = hook(own, timeout=0.5).deliver(message())
        assert result.outcome is Outcome.RETRY and result.status_code is None
        assert result.error is not None and result.error.startswith("timeout")
        assert time.monotonic() - started < 1.4
    finally:
        own.stop()


def test_connection_refused_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = WebhookReceiver("h", f"http://127.0.0.1:{port}{PATH}").deliver(message())
    assert result.outcome is Outcome.RETRY
    assert result.error is not None and result.error.startswith("connection error")


def test_non_finite_values_become_null_so_the_body_stays_valid_json(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_data("ok")
    payload = {"alerts": [{"values": {"burn_rate_long": float("nan"), "threshold": float("inf")}}]}
    msg = OutboxMessage("hook", "trigger", "dk", payload, datetime(2026, 11, 28, tzinfo=UTC))
    assert hook(server).deliver(msg).outcome is Outcome.DELIVERED
    [(req, _)] = server.log
    assert json.loads(req.get_data(), parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}")) == {
        "alerts": [{"values": {"burn_rate_long": None, "threshold": None}}]
    }


def test_429_with_an_http_date_retry_after(server: HTTPServer) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    server.expect_request(PATH).respond_with_data(
        "", status=429, headers={"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    )
    result = hook(server).deliver(message())
    assert result.outcome is Outcome.RETRY and result.retry_after is not None
    assert timedelta(seconds=100) < result.retry_after <= timedelta(seconds=120)


def test_429_without_retry_after_leaves_the_backoff_to_the_outbox(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_data("", status=429)
    result = hook(server).deliver(message())
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, None)


_NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", timedelta(seconds=7)),
        (" 0 ", timedelta(0)),
        ("1.5", timedelta(seconds=1.5)),
        ("-3", timedelta(0)),
        ("Sat, 28 Nov 2026 09:00:30 GMT", timedelta(seconds=30)),
        ("Sat, 28 Nov 2026 08:00:00 GMT", timedelta(0)),  # in the past: retry now
        ("86400", timedelta(hours=1)),  # capped
        ("Fri, 01 Jan 2100 00:00:00 GMT", timedelta(hours=1)),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(value, _NOW) == expected
