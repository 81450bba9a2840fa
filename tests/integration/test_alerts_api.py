"""The alerting REST API and the silence CLI, on the real pipeline with in-memory stores and a ManualClock."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from slo_service.adapters.sql.alert_store import SqlAlertStore
from slo_service.core.notify import DeliveryResult, MessageStatus, Outcome
from slo_service.core.oncall.schedule import Layer, Rotation, Schedule
from slo_service.pipeline.alerting import AlertingService
from slo_service.pipeline.cycle import Cycle
from slo_service.pipeline.delivery import DeliveryWorker
from tests.support.auth import admin_client, cli_env, make_app
from tests.unit.test_alerting_pipeline import FakeReceiver, World, alerting_config
from tests.unit.test_pipeline import START

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SCHEDULE = Schedule(
    "primary", "UTC", (Layer("weekly", Rotation(("alice", "bob"), timedelta(days=7), START - timedelta(days=1))),)
)


def make_world(receivers: dict[str, FakeReceiver] | None = None) -> World:
    return World(alerting_config(schedules={"primary": SCHEDULE}), receivers)


def client_for(world: World, secret: str | None = SECRET) -> TestClient:
    app = make_app(world.runtime, CollectorRegistry(), alerting=world.alerting, slack_signing_secret=secret)
    return admin_client(app)


def outage(world: World) -> None:
    """An hour of clean traffic, then 10% errors: the page tier fires after about 11 minutes."""
    world.minutes(60, ok=10_000, errors=0)
    world.minutes(15, ok=9_000, errors=1_000)


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def firing(world: World) -> World:
    outage(world)
    return world


@pytest.fixture
def client(world: World) -> TestClient:
    return client_for(world)


def page_alert(client: TestClient) -> dict[str, Any]:
    alerts = client.get("/api/v1/alerts", params={"state": "firing", "severity": "page"}).json()
    assert len(alerts) == 1, alerts
    return alerts[0]  # type: ignore[no-any-return]


def message_of(response: Any) -> str:
    return response.json()["message"]  # type: ignore[no-any-return]


# --- alerts --------------------------------------------------------------------------------------------------


def test_without_alerting_every_endpoint_is_404(world: World) -> None:
    client = admin_client(make_app(world.runtime, CollectorRegistry()))
    for method, path in (("GET", "/api/v1/alerts"), ("GET", "/api/v1/silences"), ("GET", "/api/v1/oncall")):
        response = client.request(method, path)
        assert response.status_code == 404
        assert message_of(response) == "alerting is not configured"


def test_alerts_list_filters(firing: World, client: TestClient) -> None:
    everything = client.get("/api/v1/alerts").json()
    assert {a["labels"]["severity"] for a in everything} >= {"page"}
    alert = page_alert(client)
    assert alert["labels"]["slo"] == "availability" and alert["labels"]["burn_tier"] == "page-fast"
    assert alert["state"] == "firing" and alert["fired_at"] is not None and alert["resolved_at"] is None
    assert alert["values"]["burn_rate_long"] > 14
    assert set(alert) >= {"fingerprint", "labels", "annotations", "active_since", "values"}
    assert client.get("/api/v1/alerts", params={"service": "fraud"}).json() == everything
    assert client.get("/api/v1/alerts", params={"service": "other"}).json() == []
    assert client.get("/api/v1/alerts", params={"state": "resolved"}).json() == []
    later = (firing.clock.now() + timedelta(hours=1)).isoformat()
    assert client.get("/api/v1/alerts", params={"since": later}).json() == []
    unix = str((firing.clock.now() - timedelta(hours=1)).timestamp())
    assert client.get("/api/v1/alerts", params={"since": unix}).json() == everything
    assert len(client.get("/api/v1/alerts", params={"limit": 1}).json()) == 1
    starts = [a["active_since"] for a in everything]
    assert starts == sorted(starts, reverse=True)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"state": "burning"}, "state"), ({"since": "yesterday"}, "since"), ({"limit": "0"}, "limit")],
)
def test_alerts_list_rejects_bad_parameters(client: TestClient, params: dict[str, str], field: str) -> None:
    response = client.get("/api/v1/alerts", params=params)
    assert response.status_code == 422
    assert message_of(response).removeprefix("invalid request: ").startswith(f"{field}:"), message_of(response)


def test_alert_episodes_and_unknown_fingerprint(firing: World, client: TestClient) -> None:
    fp = page_alert(client)["fingerprint"]
    episodes = client.get(f"/api/v1/alerts/{fp}").json()
    assert [e["state"] for e in episodes] == ["firing"]
    response = client.get("/api/v1/alerts/0123456789abcdef")
    assert response.status_code == 404 and "0123456789abcdef" in message_of(response)


def test_ack_stops_escalation_and_enqueues_an_acknowledge_message(firing: World, client: TestClient) -> None:
    fp = page_alert(client)["fingerprint"]
    response = client.post(f"/api/v1/alerts/{fp}/ack", json={"by": "alice"})
    assert response.status_code == 200, response.text
    keys = response.json()["acknowledged_groups"]
    assert len(keys) == 1
    pager = client.get("/api/v1/notifications", params={"receiver": "pager"}).json()
    assert [m["action"] for m in pager] == ["acknowledge", "trigger"]  # newest first
    assert pager[0]["status"] == "pending" and pager[1]["status"] == "delivered"
    groups = {g["group_key"]: g for g in client.get("/api/v1/notifications/groups").json()}
    assert groups[keys[0]]["acknowledged_by"] == "alice"
    assert groups[keys[0]]["receiver"] == "pager"
    assert groups[keys[0]]["group_labels"] == {"service": "fraud", "slo": "availability", "severity": "page"}
    assert groups[keys[0]]["fingerprints"] == [fp]
    assert [a.via for a in firing.alert_store.acknowledgements()] == ["api"]
    firing.minutes(1, ok=9_000, errors=1_000)
    assert [m.action for m in firing.pages()] == ["trigger", "acknowledge"]


def test_ack_errors(firing: World, client: TestClient) -> None:
    assert client.post("/api/v1/alerts/nope/ack", json={"by": "alice"}).status_code == 404
    fp = page_alert(client)["fingerprint"]
    response = client.post(f"/api/v1/alerts/{fp}/ack", json={})
    assert response.status_code == 422 and "by" in message_of(response)
    response = client.post(f"/api/v1/alerts/{fp}/ack", json={"by": ""})
    assert response.status_code == 422 and "by" in message_of(response)


def test_ack_a_group_by_key(firing: World, client: TestClient) -> None:
    group = client.get("/api/v1/notifications/groups").json()[0]
    response = client.post("/api/v1/notifications/groups/ack", json={"group_key": group["group_key"], "by": "bob"})
    assert response.status_code == 200 and response.json()["acknowledged_groups"] == [group["group_key"]]
    response = client.post("/api/v1/notifications/groups/ack", json={"group_key": '{}:{x="y"}', "by": "bob"})
    assert response.status_code == 404 and "group_key" in message_of(response)


def test_resolve_by_hand(firing: World, client: TestClient) -> None:
    fp = page_alert(client)["fingerprint"]
    response = client.post(f"/api/v1/alerts/{fp}/resolve", json={"by": "carol"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "resolved" and body["annotations"]["resolved_by"] == "carol"
    again = client.post(f"/api/v1/alerts/{fp}/resolve", json={"by": "carol"})
    assert again.status_code == 409 and "not pending or firing" in message_of(again)
    assert client.post("/api/v1/alerts/nope/resolve", json={"by": "carol"}).status_code == 404
    assert [e["state"] for e in client.get(f"/api/v1/alerts/{fp}").json()] == ["resolved"]
    assert client.get("/api/v1/alerts", params={"state": "firing", "severity": "page"}).json() == []


# --- notifications ----------------------------------------------------------------------------------------------


def test_dead_letters_are_listed_and_retried() -> None:
    pager = FakeReceiver("pager", failures=[DeliveryResult(Outcome.FAILED, 400, error="HTTP 400: invalid routing key")])
    world = make_world({"pager": pager, "tickets": FakeReceiver("tickets")})
    outage(world)
    client = client_for(world)
    dead = client.get("/api/v1/notifications", params={"status": "dead"}).json()
    assert len(dead) == 1
    assert dead[0]["last_error"] == "HTTP 400: invalid routing key" and dead[0]["attempts"] == 1
    assert set(dead[0]) >= {"id", "receiver", "action", "dedup_key", "next_attempt_at", "created_at", "delivered_at"}
    retried = client.post(f"/api/v1/notifications/{dead[0]['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    assert client.get("/api/v1/notifications", params={"status": "dead"}).json() == []
    again = client.post(f"/api/v1/notifications/{dead[0]['id']}/retry")
    assert again.status_code == 409 and "pending" in message_of(again)
    assert client.post("/api/v1/notifications/9999/retry").status_code == 404
    world.minutes(1, ok=9_000, errors=1_000)  # the worker delivers it now
    assert [m.action for m in pager.delivered] == ["trigger"]
    statuses = {m.status for m in world.alert_store.messages(receiver="pager")}
    assert statuses == {MessageStatus.DELIVERED}


def test_notifications_reject_an_unknown_status(client: TestClient) -> None:
    response = client.get("/api/v1/notifications", params={"status": "lost"})
    assert response.status_code == 422
    assert response.json()["problems"] == ["status: Input should be 'pending', 'delivered' or 'dead'"]


# --- silences ---------------------------------------------------------------------------------------------------


def test_silence_create_list_get_expire(world: World, client: TestClient) -> None:
    response = client.post(
        "/api/v1/silences",
        json={
            "matchers": ['slo="availability"', 'severity=~"page|ticket"'],
            "duration": "2h",
            "created_by": "alice",
            "comment": "deploy",
        },
    )
    assert response.status_code == 201, response.text
    silence = response.json()
    assert len(silence["id"]) == 32 and silence["state"] == "active"
    assert silence["matchers"] == ['slo="availability"', 'severity=~"page|ticket"']
    assert silence["created_by"] == "alice" and silence["comment"] == "deploy"
    assert [s["id"] for s in client.get("/api/v1/silences", params={"state": "active"}).json()] == [silence["id"]]
    assert client.get("/api/v1/silences", params={"state": "expired"}).json() == []
    assert client.get(f"/api/v1/silences/{silence['id']}").json() == silence

    outage(world)  # the silence holds: nobody is paged
    assert world.pages() == []

    expired = client.delete(f"/api/v1/silences/{silence['id']}")
    assert expired.status_code == 200 and expired.json()["state"] == "expired"
    assert [s["id"] for s in client.get("/api/v1/silences", params={"state": "expired"}).json()] == [silence["id"]]
    assert client.get("/api/v1/silences", params={"state": "active"}).json() == []
    world.minutes(6, ok=9_000, errors=1_000)  # at the group's next flush
    assert [m.action for m in world.pages()] == ["trigger"]


def test_silence_starting_later_is_pending(world: World, client: TestClient) -> None:
    start = world.clock.now() + timedelta(hours=1)
    body = {
        "matchers": ["team=ml"],
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
    }
    response = client.post("/api/v1/silences", json={**body, "created_by": "bob"})
    assert response.status_code == 201 and response.json()["state"] == "pending"
    assert len(client.get("/api/v1/silences", params={"state": "pending"}).json()) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"matchers": ['slo="availability', "x"]}, "matchers[0]"),
        ({"matchers": []}, "matchers"),
        ({"matchers": ['team=~".*"']}, "matchers"),
        ({"created_by": None}, "created_by"),
        ({"created_by": "   "}, "created_by"),
        ({"duration": "soon"}, "duration"),
        ({"duration": None}, "ends_at"),
        ({"ends_at": "2026-03-02T00:00:00Z"}, "duration"),
        ({"duration": None, "starts_at": "2026-03-09T02:00:00Z", "ends_at": "2026-03-09T01:00:00Z"}, "ends_at"),
        ({"duration": None, "ends_at": "2020-01-01T00:00:00Z"}, "ends_at"),
    ],
)
def test_silence_validation_names_the_field(client: TestClient, change: dict[str, Any], field: str) -> None:
    body: dict[str, Any] = {"matchers": ['slo="availability"'], "duration": "2h", "created_by": "alice"}
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post("/api/v1/silences", json=body)
    assert response.status_code == 422, response.text
    assert message_of(response).removeprefix("invalid request: ").startswith(f"{field}:"), message_of(response)
    assert client.get("/api/v1/silences").json() == []


def test_silence_lookups_of_unknown_ids(client: TestClient) -> None:
    assert client.get("/api/v1/silences/nope").status_code == 404
    assert client.delete("/api/v1/silences/nope").status_code == 404
    response = client.get("/api/v1/silences", params={"state": "muted"})
    assert response.status_code == 422
    assert response.json()["problems"] == ["state: Input should be 'pending', 'active' or 'expired'"]


# --- on-call ----------------------------------------------------------------------------------------------------


def test_oncall_now_and_shifts(world: World, client: TestClient) -> None:
    schedules = client.get("/api/v1/oncall").json()
    assert [(s["schedule"], s["on_call"], s["layers"]) for s in schedules] == [("primary", "alice", ["weekly"])]
    now = client.get("/api/v1/oncall/primary/now").json()
    assert now["schedule"] == "primary" and now["on_call"] == "alice"
    world.clock.advance(timedelta(days=6, hours=1))
    assert client.get("/api/v1/oncall/primary/now").json()["on_call"] == "bob"

    start, end = START, START + timedelta(days=14)
    body = client.get("/api/v1/oncall/primary", params={"start": start.isoformat(), "end": end.isoformat()}).json()
    assert [(s["member"], s["source"]) for s in body["shifts"]] == [
        ("alice", "weekly"),
        ("bob", "weekly"),
        ("alice", "weekly"),
    ]
    assert body["shifts"][1]["start"].startswith("2026-03-08T00:00:00")
    default = client.get("/api/v1/oncall/primary").json()  # now .. now + 7d
    assert len(default["shifts"]) == 2


def test_oncall_errors(client: TestClient) -> None:
    response = client.get("/api/v1/oncall/secondary/now")
    assert response.status_code == 404 and "primary" in message_of(response)
    assert client.get("/api/v1/oncall/secondary").status_code == 404
    too_long = client.get(
        "/api/v1/oncall/primary", params={"start": "2026-03-01T00:00:00Z", "end": "2026-07-01T00:00:00Z"}
    )
    assert too_long.status_code == 422 and message_of(too_long).startswith("end:")
    backwards = client.get(
        "/api/v1/oncall/primary", params={"start": "2026-03-05T00:00:00Z", "end": "2026-03-01T00:00:00Z"}
    )
    assert backwards.status_code == 422
    bad = client.get("/api/v1/oncall/primary", params={"start": "monday"})
    assert bad.status_code == 422 and message_of(bad).startswith("start:")


# --- Slack buttons ----------------------------------------------------------------------------------------------


def slack_body(action_id: str, group_key: str) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U123", "username": "alice"},
        "channel": {"id": "C1"},
        "container": {"message_ts": "1700000000.000100"},
        "actions": [{"action_id": action_id, "value": group_key}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, timestamp: str, secret: str = SECRET) -> dict[str, str]:
    base = b"v0:" + timestamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def pager_group(client: TestClient) -> str:
    groups = [g for g in client.get("/api/v1/notifications/groups").json() if g["receiver"] == "pager"]
    assert len(groups) == 1
    return groups[0]["group_key"]  # type: ignore[no-any-return]


def test_slack_ack_button(firing: World, client: TestClient) -> None:
    key = pager_group(client)
    body = slack_body("slo_ack", key)
    ts = str(int(firing.clock.now().timestamp()))
    response = client.post("/api/v1/slack/interactions", content=body, headers=signed(body, ts))
    assert response.status_code == 200, response.text
    assert "Acknowledged by alice" in response.json()["text"]
    assert [(a.target, a.by, a.via) for a in firing.alert_store.acknowledgements()] == [(key, "alice", "slack")]
    groups = {g["group_key"]: g for g in client.get("/api/v1/notifications/groups").json()}
    assert groups[key]["acknowledged_by"] == "alice"


def test_slack_silence_button(firing: World, client: TestClient) -> None:
    key = pager_group(client)
    body = slack_body("slo_silence_1h", key)
    ts = str(int(firing.clock.now().timestamp()))
    response = client.post("/api/v1/slack/interactions", content=body, headers=signed(body, ts))
    assert response.status_code == 200 and "Silenced for 1h by alice" in response.json()["text"]
    (silence,) = client.get("/api/v1/silences").json()
    assert sorted(silence["matchers"]) == ['service="fraud"', 'severity="page"', 'slo="availability"']
    assert silence["created_by"] == "alice" and silence["comment"] == "silenced from Slack"
    assert silence["state"] == "active"
    ends = client.get(f"/api/v1/silences/{silence['id']}").json()["ends_at"]
    assert ends.startswith((firing.clock.now() + timedelta(hours=1)).isoformat()[:16])


def test_slack_link_button_and_closed_group_answer_200(firing: World, client: TestClient) -> None:
    ts = str(int(firing.clock.now().timestamp()))
    link = slack_body("slo_link_runbook", "whatever")
    assert client.post("/api/v1/slack/interactions", content=link, headers=signed(link, ts)).status_code == 200
    gone = slack_body("slo_ack", "no-such-group")
    response = client.post("/api/v1/slack/interactions", content=gone, headers=signed(gone, ts))
    assert response.status_code == 200 and "no longer open" in response.json()["text"]


def test_slack_rejects_unsigned_tampered_and_old_requests(firing: World, client: TestClient) -> None:
    key = pager_group(client)
    body = slack_body("slo_ack", key)
    now = int(firing.clock.now().timestamp())
    headers = signed(body, str(now))
    tampered = body.replace(b"alice", b"mallory")
    response = client.post("/api/v1/slack/interactions", content=tampered, headers=headers)
    assert response.status_code == 401 and response.json() == {"message": "signature mismatch"}
    old = str(now - 600)
    response = client.post("/api/v1/slack/interactions", content=body, headers=signed(body, old))
    assert response.status_code == 401 and "too old" in message_of(response)
    response = client.post(
        "/api/v1/slack/interactions", content=body, headers={"Content-Type": headers["Content-Type"]}
    )
    assert response.status_code == 401 and "missing" in message_of(response)
    wrong_secret = signed(body, str(now), secret="not-the-secret")
    assert client.post("/api/v1/slack/interactions", content=body, headers=wrong_secret).status_code == 401
    assert firing.alert_store.acknowledgements() == []


def test_slack_without_signing_secret_is_503(firing: World) -> None:
    client = client_for(firing, secret=None)
    body = slack_body("slo_ack", "x")
    ts = str(int(firing.clock.now().timestamp()))
    response = client.post("/api/v1/slack/interactions", content=body, headers=signed(body, ts))
    assert response.status_code == 503


# --- Alertmanager inbound ---------------------------------------------------------------------------------------


def am_payload(status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="GPUMemoryHigh"}',
        "status": status,
        "receiver": "slo-service",
        "groupLabels": {"alertname": "GPUMemoryHigh"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "GPUMemoryHigh", "service": "fraud", "severity": "page"},
                "annotations": {"summary": "GPU memory above 95%"},
                "startsAt": "2026-03-02T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
            }
        ],
    }


def test_alertmanager_webhook_creates_and_resolves_an_alert(world: World, client: TestClient) -> None:
    response = client.post("/api/v1/alertmanager/webhook", json=am_payload())
    assert response.status_code == 200, response.text
    assert response.json()["received"] == 1
    (alert,) = client.get("/api/v1/alerts", params={"state": "firing"}).json()
    assert alert["labels"] == {
        "alertname": "GPUMemoryHigh",
        "service": "fraud",
        "severity": "page",
        "alert_source": "alertmanager",
    }
    assert alert["annotations"] == {"summary": "GPU memory above 95%"}
    world.clock.advance(timedelta(minutes=1))
    assert client.post("/api/v1/alertmanager/webhook", json=am_payload("resolved")).status_code == 200
    episodes = client.get(f"/api/v1/alerts/{alert['fingerprint']}").json()
    assert [e["state"] for e in episodes] == ["resolved"]


def test_alertmanager_alerts_keep_their_starts_at_and_ends_at(world: World, client: TestClient) -> None:
    now = world.clock.now()
    started, ended = now - timedelta(minutes=20), now - timedelta(minutes=2)
    firing = am_payload()
    firing["alerts"][0]["startsAt"] = started.isoformat().replace("+00:00", "Z")
    assert client.post("/api/v1/alertmanager/webhook", json=firing).status_code == 200
    (alert,) = client.get("/api/v1/alerts", params={"state": "firing"}).json()
    assert alert["active_since"] == alert["fired_at"] == started.isoformat().replace("+00:00", "Z")
    world.worker.run_once()
    [page] = world.pages()
    assert page.payload["alerts"][0]["startsAt"] == started.isoformat().replace("+00:00", "Z")

    world.clock.advance(timedelta(minutes=5))
    resolved = am_payload("resolved")
    resolved["alerts"][0]["startsAt"] = firing["alerts"][0]["startsAt"]
    resolved["alerts"][0]["endsAt"] = ended.isoformat().replace("+00:00", "Z")
    assert client.post("/api/v1/alertmanager/webhook", json=resolved).status_code == 200
    [episode] = client.get(f"/api/v1/alerts/{alert['fingerprint']}").json()
    assert episode["state"] == "resolved"
    assert episode["resolved_at"] == ended.isoformat().replace("+00:00", "Z")


def test_alertmanager_webhook_rejects_malformed_payloads(client: TestClient) -> None:
    bad = am_payload()
    bad["alerts"][0]["status"] = "burning"
    response = client.post("/api/v1/alertmanager/webhook", json=bad)
    assert response.status_code == 422 and message_of(response).startswith("alerts[0].status")
    response = client.post("/api/v1/alertmanager/webhook", json={"version": "3", "alerts": []})
    assert response.status_code == 422 and message_of(response).startswith("version")
    twice = am_payload()
    twice["alerts"].append(twice["alerts"][0])
    response = client.post("/api/v1/alertmanager/webhook", json=twice)
    assert response.status_code == 422 and message_of(response).startswith("alerts[1].labels")
    response = client.post(
        "/api/v1/alertmanager/webhook", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert client.get("/api/v1/alerts").json() == []


# --- the silence CLI against a real server --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(world: World) -> Iterator[str]:
    app: FastAPI = make_app(world.runtime, CollectorRegistry(), alerting=world.alerting)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slo_service", "silence", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
    )


def test_silence_cli_add_list_expire(world: World, served: str) -> None:
    added = cli("add", "--url", served, "--matcher", 'slo="availability"', "-m", "severity=page",
                "--duration", "2h", "--author", "alice", "--comment", "deploy")  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    silence_id = added.stdout.strip()
    assert len(silence_id) == 32
    listed = cli("list", "--url", served)
    assert listed.returncode == 0 and silence_id in listed.stdout and "deploy" in listed.stdout
    world.clock.advance(timedelta(minutes=1))
    expired = cli("expire", silence_id, "--url", served)
    assert expired.returncode == 0, expired.stderr
    assert silence_id not in cli("list", "--url", served).stdout
    assert silence_id in cli("list", "--all", "--url", served).stdout

    refused = cli("add", "--url", served, "--matcher", 'slo="broken', "--author", "alice")
    assert refused.returncode == 1 and "matchers[0]" in refused.stderr.replace("\n", "")
    unknown = cli("expire", "nope", "--url", served)
    assert unknown.returncode == 1 and "no silence" in unknown.stderr


def test_silence_cli_unreachable_service_exits_2() -> None:
    result = cli("list", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 2 and "cannot reach" in result.stderr


def alerts_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slo_service", "alerts", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
    )


def table_rows(output: str) -> list[list[str]]:
    rows = [line for line in output.splitlines() if line.startswith("│")]
    return [[c.strip() for c in row.strip("│").split("│")] for row in rows]


def test_alerts_cli_lists_and_acknowledges(firing: World, served: str) -> None:
    fp = next(a.fingerprint for a in firing.alerting.active_alerts() if a.labels["severity"] == "page")
    listed = alerts_cli("--url", served, "--state", "firing")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = {r[0]: r for r in table_rows(listed.stdout)}
    row = rows[fp[:12]]
    assert row[1:6] == ["SLOBurnRateHigh", "fraud/availability", "page", "page-fast", "firing"]
    assert row[6].startswith(firing.alerting.book.get(fp).fired_at.strftime("%Y-%m-%d %H:%M:%S"))  # type: ignore[union-attr]
    burn = firing.alerting.book.get(fp).values["burn_rate_long"]  # type: ignore[union-attr]
    assert row[7].startswith(f"burn {burn:.2f}x /") and row[7].endswith("> 14.4x")
    assert row[8] == ""  # nobody acknowledged it yet

    acked = alerts_cli("ack", fp[:12], "--by", "alice", "--url", served)
    assert acked.returncode == 0, acked.stdout + acked.stderr
    assert acked.stdout.startswith("acknowledged by alice: 1 group(s)")
    assert [m.action for m in firing.alert_store.messages(receiver="pager")] == ["acknowledge", "trigger"]
    rows = {r[0]: r for r in table_rows(alerts_cli("--url", served).stdout)}
    assert rows[fp[:12]][8] == "alice"

    assert "no alerts" in alerts_cli("--url", served, "--state", "resolved").stdout
    unknown = alerts_cli("ack", "ffffffffffff", "--by", "alice", "--url", served)
    assert unknown.returncode == 1 and "matches no alert" in unknown.stderr
    bad = alerts_cli("--url", served, "--state", "burning")
    assert bad.returncode == 1 and "state" in bad.stderr


def test_alerts_cli_unreachable_service_exits_2() -> None:
    result = alerts_cli("--url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 2 and "cannot reach" in result.stderr


# --- the same endpoints on the SQL alert store ------------------------------------------------------------------


def test_endpoints_on_the_sql_alert_store(db_engine: Engine) -> None:
    pager = FakeReceiver("pager", failures=[DeliveryResult(Outcome.FAILED, 400, error="HTTP 400: bad key")])
    world = make_world({"pager": pager, "tickets": FakeReceiver("tickets")})
    world.alert_store = SqlAlertStore(db_engine, clock=world.clock)  # type: ignore[assignment]
    world.alerting = AlertingService(world.alert_store, world.clock.now)
    world.alerting.apply(world.config)
    world.worker = DeliveryWorker(world.alert_store, world.receivers, world.clock.now)
    world.cycle = Cycle(world.runtime, world.alerting, world.worker)
    client = client_for(world)

    created = client.post(
        "/api/v1/silences", json={"matchers": ['slo="other"'], "duration": "1d", "created_by": "alice"}
    ).json()
    outage(world)
    fp = page_alert(client)["fingerprint"]
    assert client.post(f"/api/v1/alerts/{fp}/ack", json={"by": "alice"}).status_code == 200
    (dead,) = client.get("/api/v1/notifications", params={"status": "dead"}).json()
    assert client.post(f"/api/v1/notifications/{dead['id']}/retry").json()["status"] == "pending"
    assert client.post(f"/api/v1/notifications/{dead['id']}/retry").status_code == 409
    assert client.post(f"/api/v1/notifications/{dead['id'] + 100}/retry").status_code == 404

    assert client.get(f"/api/v1/silences/{created['id']}").json() == created
    world.clock.advance(timedelta(minutes=1))
    assert client.delete(f"/api/v1/silences/{created['id']}").json()["state"] == "expired"
    assert [s["id"] for s in client.get("/api/v1/silences", params={"state": "expired"}).json()] == [created["id"]]
    assert client.get("/api/v1/silences", params={"state": "active"}).json() == []
