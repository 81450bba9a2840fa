"""Alerting through the real service process: fake Slack and PagerDuty servers check every payload.

slack-sdk is pointed at a local base_url; PagerDuty's Events API v2 is a local server too. The
policy uses a 5-minute window so a page fires within seconds of an outage.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.integration.test_service_process import Target, metric_value
from tests.support.fake_pagerduty import ROUTING_KEY, FakePagerDuty
from tests.support.fake_slack import TOKEN, FakeSlack
from tests.support.history import seed_history
from tests.support.process import run_service, wait_for


def write_config(path: Path, target_url: str, slack_url: str, pd_url: str) -> Path:
    path.write_text(
        f"""apiVersion: slo-service/v1
services:
  - name: checkout-model
    labels: {{team: ml-platform}}
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
  external_url: http://127.0.0.1:8080
  policies:
    default:
      no_data_after: null
      budget_exhausted: false
      annotations: {{runbook_url: "https://runbooks.example/{{service}}/{{slo}}"}}
      tiers:
        # 0.1% of a 7-day budget in 5 minutes: a 2x burn over 5m pages at once (tests must be fast)
        - {{name: page-5m, severity: page, long_window: 5m, short_window: 5m, budget_share: 0.001}}
  receivers:
    - {{name: slack, type: slack, channel: "#ml-alerts", token_env: TEST_SLACK_TOKEN, base_url: "{slack_url}"}}
    - {{name: pagerduty, type: pagerduty, routing_key_env: TEST_PD_KEY, url: "{pd_url}"}}
  route:
    receiver: slack
    group_by: [service, slo]
    group_wait: 0s
    group_interval: 1s
    routes:
      - {{matchers: ['severity="page"'], receiver: slack, continue: true}}
      - {{matchers: ['severity="page"'], receiver: pagerduty}}
"""
    )
    return path


ENV = {"TEST_SLACK_TOKEN": TOKEN, "TEST_PD_KEY": ROUTING_KEY, "SLO_SERVICE_FLUSH_INTERVAL": "1"}


@pytest.fixture
def world(tmp_path: Path, httpserver: HTTPServer) -> tuple[Target, FakeSlack, FakePagerDuty, Path]:
    target = Target(httpserver)
    target.serve(ok=1000, errors=0, le_01=1, le_025=1, inf=1)
    slack, pd = FakeSlack(httpserver, channel_name="ml-alerts"), FakePagerDuty(httpserver)
    config = write_config(tmp_path / "slo.yaml", target.url, slack.base_url, pd.url)
    return target, slack, pd, config


def test_an_outage_pages_slack_and_pagerduty_once_with_the_fields_they_require(
    world: tuple[Target, FakeSlack, FakePagerDuty, Path], db_url: str, tmp_path: Path
) -> None:
    target, slack, pd, config = world
    seed_history(db_url, "checkout-model", "availability")  # enough history for the 5m page to be judged
    # Slack fails twice with a 500, then rate-limits once: the page must still arrive, once.
    slack.failures = [Response("oops", status=500), Response("oops", status=500)]
    slack.failures.append(
        Response(json.dumps({"ok": False, "error": "ratelimited"}), status=429, headers={"Retry-After": "1"})
    )
    with run_service([config], db_url, tmp_path, env=ENV) as svc:
        wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
        target.serve(ok=1500, errors=500, le_01=1, le_025=1, inf=1)  # 50% errors
        # an outage reaches the alert windows when its minute closes (up to 60 s), then retries
        wait_for(lambda: slack.posts and pd.events, timeout=120, what="the page in Slack and PagerDuty")
        post = slack.posts[0]
        assert post["channel"] == "#ml-alerts"
        assert "checkout-model/availability" in post["text"]
        action_ids = [e.get("action_id") for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert "slo_ack" in action_ids
        trigger = pd.events[0]
        assert trigger["event_action"] == "trigger"
        assert trigger["payload"]["severity"] == "critical"
        assert trigger["payload"]["source"] == "checkout-model"
        assert "availability" in trigger["payload"]["summary"]
        assert any(link["href"].startswith("https://runbooks.example/") for link in trigger.get("links", []))

        alerts = svc.get("/api/v1/alerts", params={"state": "firing"}).json()
        assert [a["labels"]["alertname"] for a in alerts] == ["SLOBurnRateHigh"]
        fingerprint = alerts[0]["fingerprint"]

        # Acknowledge: Slack's message is updated in place, PagerDuty gets acknowledge on the same key.
        assert svc.post(f"/api/v1/alerts/{fingerprint}/ack", json={"by": "alice"}).status_code == 200
        wait_for(lambda: slack.updates and len(pd.events) >= 2, timeout=30, what="acknowledgements delivered")
        assert slack.updates[-1]["ts"] == slack.messages[0].ts
        assert pd.events[1]["event_action"] == "acknowledge"
        assert pd.events[1]["dedup_key"] == trigger["dedup_key"]

        metrics = svc.get("/metrics").text
        # the 500 of the post, then the 500 and the 429 (Retry-After: 1) of the lookup that precedes a retry
        assert metric_value(metrics, "slo_service_notifications_total", receiver="slack", outcome="retry") == 3
        assert metric_value(metrics, "slo_service_notifications_total", receiver="slack", outcome="delivered") == 2
        assert metric_value(metrics, "slo_service_alerts", severity="page", state="firing") == 1
        assert metric_value(metrics, "slo_service_notification_delivery_seconds_count", receiver="pagerduty") == 2
    assert len(slack.posts) == 1
    assert [e["event_action"] for e in pd.events].count("trigger") == 1
    # 500 (post); 500 and 429 (resolving "#ml-alerts" to an ID for the lookup); the channel list, the lookup
    # (nothing there), the post, then the update
    assert slack.calls == 7
    assert slack.count("chat.postMessage") == 2 and len(slack.messages) == 1


def test_sigkill_between_writing_the_alert_and_delivering_it_loses_nothing_and_pages_once(
    world: tuple[Target, FakeSlack, FakePagerDuty, Path], sqlite_url: str, tmp_path: Path
) -> None:
    target, slack, pd, config = world
    seed_history(sqlite_url, "checkout-model", "availability")
    slack.failures = [Response("down", status=503)] * 10_000  # Slack is down: the page waits in the outbox
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
        target.serve(ok=1500, errors=500, le_01=1, le_025=1, inf=1)
        pending = wait_for(
            lambda: [
                m
                for m in svc.get("/api/v1/notifications", params={"receiver": "slack"}).json()
                if m["action"] == "trigger" and m["attempts"] >= 1
            ],
            timeout=120,  # an outage reaches the alert windows when its minute closes (up to 60 s)
            what="the Slack page to be written and attempted",
        )
        assert pending[0]["status"] == "pending"
        svc.signal(signal.SIGKILL)
        svc.proc.wait(timeout=10)
    slack.failures = []
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        wait_for(lambda: slack.posts, timeout=90, what="the page after the restart")
        # a message the killed process had claimed waits for its lease (30 s) to expire, then goes out
        wait_for(lambda: pd.events, timeout=60, what="the PagerDuty page after the restart")
        # Let a few more cycles run: the restarted service must not page again.
        wait_for(lambda: svc.get("/api/v1/alerts", params={"state": "firing"}).json(), what="firing alert")
        import time

        time.sleep(4)
        assert len(slack.posts) == 1
        delivered = [
            m for m in svc.get("/api/v1/notifications", params={"receiver": "slack"}).json() if m["action"] == "trigger"
        ]
        assert [m["status"] for m in delivered] == ["delivered"]
    assert [e["event_action"] for e in pd.events].count("trigger") == 1
