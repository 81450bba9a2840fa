"""PagerDutyReceiver against a local HTTP server standing in for the Events API v2."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from slo_service.adapters.receivers.pagerduty import PagerDutyReceiver
from slo_service.core.notify import OutboxMessage, Outcome
from tests.support.process import start_local_server

ROUTING_KEY = "R0123456789abcdef0123456789abcde"  # 32 characters, like a real integration key
DEDUP = "slo-service/team-ml/7f3a9c"
PATH = "/v2/enqueue"


def group_payload(status: str = "firing", severity: str = "page", n_alerts: int = 1) -> dict[str, Any]:
    alerts = [
        {
            "status": status,
            "labels": {
                "alertname": "SLOBurnRateHigh",
                "service": "ranker",
                "slo": "latency-p99",
                "severity": severity,
                "tier": f"t{i}",
            },
            "annotations": {
                "summary": "ranker latency SLO burns budget 15.2x too fast",
                "description": "p99 above 300ms for 2% of requests",
                "runbook_url": "http://127.0.0.1:8080/runbooks/ranker",
                "dashboard_url": "http://127.0.0.1:8080/d/ranker",
            },
            "startsAt": "2026-11-28T09:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:8080/slos/ranker/latency-p99",
            "fingerprint": f"ab12cd34ef56ab1{i}",
            "values": {"burn_rate_long": 15.2, "burn_rate_short": 16.0, "threshold": 14.4, "budget_remaining": 0.71},
        }
        for i in range(n_alerts)
    ]
    return {
        "version": "4",
        "receiver": "team-ml",
        "status": status,
        "groupKey": '{}:{service="ranker"}',
        "truncatedAlerts": 0,
        "groupLabels": {"service": "ranker"},
        "commonLabels": {
            "alertname": "SLOBurnRateHigh",
            "service": "ranker",
            "slo": "latency-p99",
            "severity": severity,
        },
        "commonAnnotations": {"summary": "ranker latency SLO burns budget 15.2x too fast"},
        "externalURL": "http://127.0.0.1:8080",
        "alerts": alerts,
        "acknowledgedBy": None,
    }


def message(action: str = "trigger", **kw: Any) -> OutboxMessage:
    return OutboxMessage(
        receiver="pagerduty",
        action=action,
        dedup_key=DEDUP,
        payload=group_payload(**kw),
        created_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        id=7,
    )


def accept(server: HTTPServer) -> None:
    """Answer like PagerDuty: 202 with the dedup_key of the event."""

    def handler(request: Request) -> Response:
        event = request.get_json()
        body = {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}
        return Response(json.dumps(body), status=202, content_type="application/json")

    server.expect_request(PATH, method="POST").respond_with_handler(handler)


def receiver(server: HTTPServer, **kw: Any) -> PagerDutyReceiver:
    return PagerDutyReceiver("pagerduty", ROUTING_KEY, url=server.url_for(PATH), **kw)


def sent(server: HTTPServer) -> list[dict[str, Any]]:
    return [req.get_json() for req, _ in server.log]


def test_trigger_sends_every_required_field(server: HTTPServer) -> None:
    accept(server)
    result = receiver(server).deliver(message())
    assert (result.outcome, result.status_code) == (Outcome.DELIVERED, 202)
    assert result.external_ref == {"dedup_key": DEDUP}
    [req] = [r for r, _ in server.log]
    assert req.headers["Content-Type"] == "application/json"
    event = req.get_json()
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == DEDUP
    payload = event["payload"]
    assert payload["summary"] == (
        "[FIRING:1] SLOBurnRateHigh ranker/latency-p99: ranker latency SLO burns budget 15.2x too fast"
    )
    assert payload["source"] == "ranker"
    assert payload["severity"] == "critical"  # severity label "page"
    assert payload["component"] == "latency-p99"
    assert payload["group"] == "ranker"
    assert payload["class"] == "SLOBurnRateHigh"
    assert payload["timestamp"] == "2026-11-28T09:00:00Z"
    details = payload["custom_details"]
    assert details["labels"]["slo"] == "latency-p99"
    assert details["annotations"]["description"] == "p99 above 300ms for 2% of requests"
    assert details["values"] == {
        "burn_rate_long": 15.2,
        "burn_rate_short": 16.0,
        "threshold": 14.4,
        "budget_remaining": 0.71,
    }
    assert details["firing"] == 1
    assert event["links"] == [
        {"href": "http://127.0.0.1:8080/runbooks/ranker", "text": "Runbook"},
        {"href": "http://127.0.0.1:8080/d/ranker", "text": "Dashboard"},
        {"href": "http://127.0.0.1:8080/slos/ranker/latency-p99", "text": "Source"},
    ]
    assert event["client"] == "slo-service"
    assert event["client_url"] == "http://127.0.0.1:8080"


def test_dedup_key_is_constant_across_trigger_acknowledge_resolve(server: HTTPServer) -> None:
    accept(server)
    pd = receiver(server)
    results = [
        pd.deliver(message("trigger")),
        pd.deliver(message("acknowledge")),
        pd.deliver(message("resolve", status="resolved")),
    ]
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3
    trigger, ack, resolve = sent(server)
    assert {e["dedup_key"] for e in (trigger, ack, resolve)} == {DEDUP}
    assert ack == {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": DEDUP}
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": DEDUP}


def test_update_of_a_firing_group_is_a_deduplicated_trigger_and_of_a_resolved_one_a_resolve(
    server: HTTPServer,
) -> None:
    accept(server)
    pd = receiver(server)
    pd.deliver(message("update"))
    pd.deliver(message("update", status="resolved"))
    first, second = sent(server)
    assert (first["event_action"], first["dedup_key"]) == ("trigger", DEDUP)
    assert second == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": DEDUP}


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("page", "critical"),
        ("critical", "critical"),
        ("ticket", "warning"),
        ("warning", "warning"),
        ("info", "info"),
        ("whatever", "error"),
    ],
)
def test_severity_mapping(server: HTTPServer, label: str, expected: str) -> None:
    accept(server)
    receiver(server).deliver(message(severity=label))
    assert sent(server)[0]["payload"]["severity"] == expected


def test_custom_severity_map_is_validated() -> None:
    pd = PagerDutyReceiver("p", ROUTING_KEY, severity_map={"page": "error"}, default_severity="info")
    assert pd.event(message())["payload"]["severity"] == "error"
    with pytest.raises(ValueError, match="severity_map"):
        PagerDutyReceiver("p", ROUTING_KEY, severity_map={"page": "sev1"})


def test_summary_is_capped_at_1024_and_source_defaults(server: HTTPServer) -> None:
    msg = message(n_alerts=3)
    payload = dict(msg.payload)
    payload["commonAnnotations"] = {"summary": "x" * 3000}
    payload["commonLabels"] = {"alertname": "SLOBurnRateHigh"}
    payload["groupLabels"] = {}
    for a in payload["alerts"]:
        a["labels"] = {"alertname": "SLOBurnRateHigh", "tier": a["labels"]["tier"]}
    event = receiver(server).event(OutboxMessage("pagerduty", "trigger", DEDUP, payload, msg.created_at))
    assert len(event["payload"]["summary"]) == 1024
    assert event["payload"]["summary"].startswith("[FIRING:3] SLOBurnRateHigh: xxx")
    assert event["payload"]["source"] == "slo-service"
    assert "component" not in event["payload"] and "group" not in event["payload"]
    assert event["payload"]["custom_details"]["firing"] == 3


def test_400_fails_with_pagerdutys_reason(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_json(
        {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
        },
        status=400,
    )
    result = receiver(server).deliver(message())
    assert (result.outcome, result.status_code) == (Outcome.FAILED, 400)
    assert result.error is not None and result.error.startswith("HTTP 400: ")
    assert "Length of 'routing_key' is incorrect" in result.error


def test_500_retries(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_data("internal error", status=500)
    result = receiver(server).deliver(message())
    assert (result.outcome, result.status_code) == (Outcome.RETRY, 500)


def test_429_retries_with_retry_after(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_json(
        {"status": "throttle", "message": "Requests for this service are arriving too quickly."},
        status=429,
        headers={"Retry-After": "7"},
    )
    result = receiver(server).deliver(message())
    assert (result.outcome, result.status_code, result.retry_after) == (Outcome.RETRY, 429, timedelta(seconds=7))


def test_timeout_retries() -> None:
    own = start_local_server()
    try:

        def slow(_: Request) -> Response:
            time.sleep(1.5)
            return Response("{}", status=202)

        own.expect_request(PATH).respond_with_handler(slow)
        started = time.monotonic()
        result = receiver(own, timeout=0.5).deliver(message())
        assert result.outcome is Outcome.RETRY
        assert result.error is not None and result.error.startswith("timeout")
        assert time.monotonic() - started < 1.4
    finally:
        own.stop()


def test_connection_refused_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = PagerDutyReceiver("p", ROUTING_KEY, url=f"http://127.0.0.1:{port}{PATH}").deliver(message())
    assert result.outcome is Outcome.RETRY
    assert result.error is not None and result.error.startswith("connection error")


def test_invalid_url_fails_instead_of_retrying_forever() -> None:
    result = PagerDutyReceiver("p", ROUTING_KEY, url="ftp://127.0.0.1/v2/enqueue").deliver(message())
    assert result.outcome is Outcome.FAILED


ESCALATION = {
    "policy": "ml-primary",
    "level": 2,
    "levels": 3,
    "repetition": 0,
    "exhausted": False,
    "oncall": [
        {"user": "carol", "name": "Carol C.", "slack": None, "email": "carol@example.com"},
        {"user": "dave", "name": "dave", "slack": "U0DAVE", "email": None},
    ],
}


def test_an_escalation_level_rides_in_custom_details_on_the_same_dedup_key(server: HTTPServer) -> None:
    accept(server)
    msg = message()
    escalated = OutboxMessage(
        msg.receiver, "trigger", DEDUP, {**msg.payload, "escalation": ESCALATION}, msg.created_at, id=8
    )
    assert receiver(server).deliver(escalated).outcome is Outcome.DELIVERED
    [event] = sent(server)
    assert (event["routing_key"], event["event_action"], event["dedup_key"]) == (ROUTING_KEY, "trigger", DEDUP)
    details = event["payload"]["custom_details"]
    assert details["oncall"] == ["Carol C.", "dave"]
    assert details["escalation"]["level"] == 2 and details["escalation"]["levels"] == 3
    assert details["escalation"]["policy"] == "ml-primary"
    assert event["payload"]["severity"] == "critical"
