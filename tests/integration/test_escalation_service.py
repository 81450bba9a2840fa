"""Escalation, acknowledgement and silences through the real service process.

Local HTTP servers stand in for Slack (slack-sdk pointed at them) and PagerDuty's Events API v2; the
service scrapes a local target. Escalation levels last a few seconds so each scenario runs in real time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer

from tests.integration.test_service_process import Target
from tests.support.fake_pagerduty import ROUTING_KEY, FakePagerDuty
from tests.support.fake_slack import TOKEN, FakeSlack
from tests.support.history import seed_history
from tests.support.process import ServiceProcess, run_service, wait_for

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ENV = {
    "TEST_SLACK_TOKEN": TOKEN,
    "TEST_PD_KEY": ROUTING_KEY,
    "SLO_SERVICE_FLUSH_INTERVAL": "1",
    "SLO_SERVICE_SLACK_SIGNING_SECRET": SIGNING_SECRET,
}
HEALTHY = {"ok": 1000, "errors": 0, "le_01": 1, "le_025": 1, "inf": 1}
OUTAGE = {"ok": 1500, "errors": 500, "le_01": 1, "le_025": 1, "inf": 1}  # 50% errors since the last scrape
RECOVERED = {"ok": 10_000_000, "errors": 500, "le_01": 1, "le_025": 1, "inf": 1}  # the 5m window is clean again


def write_config(path: Path, target_url: str, slack_url: str, pd_url: str, delay: str) -> Path:
    path.write_text(
        f"""apiVersion: slo-service/v1
services:
  - name: checkout-model
sources:
  - {{name: target, type: scrape, url: "{target_url}", interval: 1s, timeout: 900ms}}
slos:
  - service: checkout-model
    name: availability
    objective: 99
    period: 7d
    sli:
      ratio: {{source: target, good: 'requests_total{{code!~"5.."}}', total: requests_total}}
alerting:
  policies:
    default:
      no_data_after: null
      budget_exhausted: false
      tiers:
        - {{name: page-5m, severity: page, long_window: 5m, short_window: 5m, budget_share: 0.001}}
  users:
    alice: {{slack: U0ALICE, email: alice@example.com}}
    carol: {{email: carol@example.com, name: Carol}}
    dave: {{slack: U0DAVE}}
  schedules:
    - name: primary
      timezone: UTC
      layers:
        - name: weekly
          rotation: {{members: [alice], length: 7d, start: "2026-01-05T09:00:00+00:00"}}
  escalation_policies:
    - name: checkout-primary
      levels:
        - {{targets: ["schedule:primary"], delay: {delay}}}
        - {{targets: ["user:carol", "user:dave"], delay: {delay}}}
  receivers:
    - {{name: slack, type: slack, channel: "#alerts", token_env: TEST_SLACK_TOKEN, base_url: "{slack_url}",
       escalation_policy: checkout-primary}}
    - {{name: pagerduty, type: pagerduty, routing_key_env: TEST_PD_KEY, url: "{pd_url}",
       escalation_policy: checkout-primary}}
  route:
    receiver: slack
    group_by: [service, slo]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1h
    routes:
      - {{matchers: ['severity="page"'], receiver: slack, continue: true}}
      - {{matchers: ['severity="page"'], receiver: pagerduty}}
"""
    )
    return path


class World:
    def __init__(self, tmp_path: Path, httpserver: HTTPServer, delay: str, database_url: str) -> None:
        seed_history(database_url, "checkout-model", "availability")
        self.target = Target(httpserver)
        self.target.serve(**HEALTHY)
        self.slack, self.pd = FakeSlack(httpserver), FakePagerDuty(httpserver)
        self.config = write_config(tmp_path / "slo.yaml", self.target.url, self.slack.base_url, self.pd.url, delay)

    def page(self, svc: ServiceProcess) -> None:
        """Start an outage and wait for the page in Slack and PagerDuty."""
        wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
        self.target.serve(**OUTAGE)
        # an outage reaches the alert windows when its minute closes (up to 60 s)
        wait_for(lambda: self.slack.posts and self.pd.events, timeout=120, what="the page in Slack and PagerDuty")

    def triggers(self) -> list[dict[str, Any]]:
        return [e for e in self.pd.events if e["event_action"] == "trigger"]


def texts(body: dict[str, Any]) -> str:
    return body["text"] + "\n" + json.dumps(body["blocks"])


def action_ids(body: dict[str, Any]) -> list[str]:
    return [e.get("action_id") for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]


def click(svc: ServiceProcess, post: dict[str, Any], action_id: str, user: str) -> dict[str, Any]:
    """A signed Slack interactivity request for a button of `post`, as Slack sends it."""
    [button] = [
        e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"] if e.get("action_id") == action_id
    ]
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": user},
        "channel": {"id": "C0ALERTS"},
        "container": {"message_ts": "1700000000.000001"},
        "actions": [{"action_id": action_id, "value": button["value"]}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    response = svc.post(
        "/api/v1/slack/interactions",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
        },
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_escalation_mentions_each_level_and_the_slack_button_acknowledges_every_post_and_pagerduty(
    tmp_path: Path, httpserver: HTTPServer, sqlite_url: str
) -> None:
    world = World(tmp_path, httpserver, delay="4s", database_url=sqlite_url)
    slack, pd = world.slack, world.pd
    with run_service([world.config], sqlite_url, tmp_path, env=ENV) as svc:
        world.page(svc)
        first = slack.posts[0]
        assert "Escalation level 1 of 2 (policy checkout-primary): <@U0ALICE>" in first["text"]
        assert pd.events[0]["payload"]["custom_details"]["oncall"] == ["alice"]
        assert pd.events[0]["payload"]["custom_details"]["escalation"]["level"] == 1

        wait_for(lambda: len(slack.posts) >= 2, timeout=30, what="the level-2 post")
        second = slack.posts[1]
        assert "Escalation level 2 of 2 (policy checkout-primary): Carol, <@U0DAVE>" in second["text"]
        assert "<@U0ALICE>" not in texts(second)
        wait_for(lambda: len(world.triggers()) >= 2, timeout=10, what="the level-2 details in PagerDuty")
        level2 = world.triggers()[1]
        assert level2["dedup_key"] == pd.events[0]["dedup_key"]  # the same incident: PagerDuty is not paged twice
        assert level2["payload"]["custom_details"]["oncall"] == ["Carol", "dave"]
        assert level2["payload"]["custom_details"]["escalation"]["level"] == 2

        reply = click(svc, second, "slo_ack", "alice")
        assert reply["text"] == "Acknowledged by alice."
        wait_for(lambda: len(slack.updates) >= 2, timeout=30, what="both Slack posts updated")
        wait_for(lambda: any(e["event_action"] == "acknowledge" for e in pd.events), timeout=30, what="PagerDuty ack")
        assert len({u["ts"] for u in slack.updates}) == 2  # the first post and the level-2 post
        for update in slack.updates:
            assert update["text"].startswith("[ACKNOWLEDGED by alice]")
            assert "slo_ack" not in action_ids(update)
        ack = next(e for e in pd.events if e["event_action"] == "acknowledge")
        assert (ack["routing_key"], ack["dedup_key"]) == (ROUTING_KEY, pd.events[0]["dedup_key"])
        groups = svc.get("/api/v1/notifications/groups").json()
        assert {g["receiver"]: g["acknowledged_by"] for g in groups} == {"slack": "alice", "pagerduty": "alice"}
        time.sleep(6)  # past level 2's delay: an acknowledged page escalates no further
        assert len(slack.posts) == 2

        world.target.serve(**RECOVERED)
        wait_for(lambda: len(slack.updates) >= 4, timeout=180, what="both posts resolved")
        wait_for(lambda: any(e["event_action"] == "resolve" for e in pd.events), timeout=30, what="PD resolve")
        resolved = slack.updates[2:]
        assert {u["ts"] for u in resolved} == {u["ts"] for u in slack.updates[:2]}
        for update in resolved:
            assert update["text"].startswith("[RESOLVED]")
            assert not {"slo_ack", "slo_silence_1h"} & set(action_ids(update))
        log = svc.log()
        assert "alert firing: SLOBurnRateHigh checkout-model/availability severity=page" in log
        assert "acknowledged by alice via slack" in log
        wait_for(lambda: "alert resolved: SLOBurnRateHigh checkout-model/availability" in svc.log(), timeout=10)
    assert len(slack.posts) == 2


def test_a_silence_stops_escalation_and_a_silenced_then_resolved_group_is_closed(
    tmp_path: Path, httpserver: HTTPServer, sqlite_url: str
) -> None:
    world = World(tmp_path, httpserver, delay="5s", database_url=sqlite_url)
    slack, pd = world.slack, world.pd
    with run_service([world.config], sqlite_url, tmp_path, env=ENV) as svc:
        world.page(svc)
        created = svc.post(
            "/api/v1/silences",
            json={"matchers": ['slo="availability"'], "duration": "1h", "created_by": "sre", "comment": "deploy"},
        )
        assert created.status_code == 201, created.text
        time.sleep(12)  # two levels' worth of delay: a silenced page must not escalate
        assert len(slack.posts) == 1
        assert len(world.triggers()) == 1
        groups = svc.get("/api/v1/notifications/groups").json()
        assert len(groups) == 2
        for group in groups:
            assert group["escalation_level"] == 1 and group["oncall"] == ["alice"]
            assert group["escalation_paused_since"] is not None

        world.target.serve(**RECOVERED)  # resolves while silenced
        wait_for(lambda: slack.updates, timeout=180, what="the Slack message closed")
        wait_for(lambda: any(e["event_action"] == "resolve" for e in pd.events), timeout=30, what="PagerDuty resolve")
        assert slack.updates[-1]["text"].startswith("[RESOLVED]")
        resolve = next(e for e in pd.events if e["event_action"] == "resolve")
        assert resolve["dedup_key"] == pd.events[0]["dedup_key"]
        wait_for(lambda: svc.get("/api/v1/notifications/groups").json() == [], timeout=10, what="groups closed")
        metrics = svc.get("/metrics").text
        assert "slo_service_notification_groups 0.0" in metrics
    assert len(slack.posts) == 1


def test_when_a_silence_expires_on_an_unchanged_alert_nothing_is_sent_before_repeat_interval(
    tmp_path: Path, httpserver: HTTPServer, sqlite_url: str
) -> None:
    world = World(tmp_path, httpserver, delay="1h", database_url=sqlite_url)  # no escalation during this test
    slack, pd = world.slack, world.pd
    with run_service([world.config], sqlite_url, tmp_path, env=ENV) as svc:
        world.page(svc)
        silence = svc.post(
            "/api/v1/silences",
            json={"matchers": ['slo="availability"'], "duration": "1h", "created_by": "sre", "comment": "deploy"},
        ).json()
        time.sleep(3)
        assert svc.request("DELETE", f"/api/v1/silences/{silence['id']}").status_code == 200
        time.sleep(5)  # many group_interval (1s) flushes after the silence ended; repeat_interval is 1h
        assert len(slack.posts) == 1 and slack.updates == []
        assert [e["event_action"] for e in pd.events] == ["trigger"]
        assert svc.get("/api/v1/alerts", params={"state": "firing"}).json()  # still firing, unchanged


def test_a_webhook_receives_each_level_with_its_on_call_fields(httpserver: HTTPServer) -> None:
    """The pipeline on a ManualClock, delivering through the real WebhookReceiver to a local server."""

    from slo_service.adapters.receivers.webhook import IDEMPOTENCY_HEADER, WebhookReceiver
    from slo_service.core.alerting.config import ReceiverKind, ReceiverSpec
    from slo_service.pipeline.delivery import DeliveryWorker
    from tests.unit.test_escalation_pipeline import PAGE, Harness, receivers

    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    url = httpserver.url_for("/hook")
    specs = {**receivers(), "hook": ReceiverSpec("hook", ReceiverKind.WEBHOOK, True, {"url": url}, "search-primary")}
    h = Harness(receivers=specs)
    worker = DeliveryWorker(h.store, {"hook": WebhookReceiver("hook", url)}, h.clock.now)
    h.alert(PAGE)
    for minute in range(1, 12):
        h.run(timedelta(minutes=minute))
        worker.run_once()
    [group] = [g for g in h.service.open_groups() if g.receiver == "hook"]
    h.service.acknowledge(group.group_key, "carol")
    worker.run_once()
    requests = [req for req, _ in httpserver.log if req.path == "/hook"]
    bodies = [req.get_json() for req in requests]
    assert [(b["escalation"]["level"], b["acknowledgedBy"]) for b in bodies] == [(1, None), (2, None), (2, "carol")]
    assert bodies[0]["escalation"]["oncall"] == [
        {"user": "alice", "name": "alice", "slack": "U0ALICE", "email": "alice@example.com"}
    ]
    assert bodies[1]["oncall"] == ["carol", "dave"]
    assert bodies[1]["escalation"]["policy"] == "search-primary" and bodies[1]["escalation"]["levels"] == 2
    keys = [req.headers[IDEMPOTENCY_HEADER] for req in requests]
    assert len(set(keys)) == 3  # each level is its own delivery, never mistaken for a redelivery
