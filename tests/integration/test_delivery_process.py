"""Duplicate and delayed pages, through the service as a real process with local Slack and PagerDuty stand-ins.

* Slack answers after the client timeout: one message in the channel, and the resolve updates it.
* The service is SIGKILLed while its post to Slack is in flight: after the restart, still one message.
* Slack throttles (429, Retry-After 5) or hangs while PagerDuty is healthy: the PagerDuty page arrives
  within 1 s of the notification being written to the outbox.

Slack and PagerDuty run on threaded servers of their own (a hanging Slack must not hold PagerDuty's socket).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.integration.test_service_process import Target
from tests.support.fake_pagerduty import ROUTING_KEY, FakePagerDuty
from tests.support.fake_slack import TOKEN, FakeSlack
from tests.support.history import seed_history
from tests.support.process import ServiceProcess, run_service, start_local_server, wait_for

ENV = {
    "TEST_SLACK_TOKEN": TOKEN,
    "TEST_PD_KEY": ROUTING_KEY,
    "SLO_SERVICE_FLUSH_INTERVAL": "1",
    "SLO_SERVICE_DELIVERY_LEASE": "4",  # > 2 x the Slack timeout below: a restart retries a killed post soon
}


def write_config(path: Path, target_url: str, slack: FakeSlack, pd_url: str, slack_timeout: str = "1s") -> Path:
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
  # "chat" sorts before "pager": a worker going through receivers one by one would try Slack first.
  receivers:
    - name: chat
      type: slack
      channel: "#{slack.channel_name}"
      token_env: TEST_SLACK_TOKEN
      base_url: "{slack.base_url}"
      timeout: {slack_timeout}
    - {{name: pager, type: pagerduty, routing_key_env: TEST_PD_KEY, url: "{pd_url}", timeout: 2s}}
  route:
    receiver: chat
    group_by: [service, slo]
    group_wait: 0s
    group_interval: 1s
    routes:
      - {{matchers: ['severity="page"'], receiver: chat, continue: true}}
      - {{matchers: ['severity="page"'], receiver: pager}}
"""
    )
    return path


World = tuple[Target, FakeSlack, FakePagerDuty, Path]


@pytest.fixture
def world(tmp_path: Path, httpserver: HTTPServer) -> Iterator[World]:
    target = Target(httpserver)
    target.serve(ok=1000, errors=0, le_01=1, le_025=1, inf=1)
    slack_server, pd_server = start_local_server(), start_local_server()
    slack, pd = FakeSlack(slack_server, channel_name="ml-alerts"), FakePagerDuty(pd_server)
    yield target, slack, pd, write_config(tmp_path / "slo.yaml", target.url, slack, pd.url)
    if slack.post_gate is not None:
        slack.post_gate.set()
    slack_server.stop()
    pd_server.stop()


def outage(svc: ServiceProcess, target: Target) -> None:
    wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
    target.serve(ok=1500, errors=500, le_01=1, le_025=1, inf=1)  # 50% errors: pages at once


def notifications(svc: ServiceProcess, receiver: str) -> list[dict[str, Any]]:
    return list(svc.get("/api/v1/notifications", params={"receiver": receiver}).json())


def page_latency(svc: ServiceProcess, pd: FakePagerDuty) -> float:
    """Seconds from the PagerDuty trigger's outbox row being written to PagerDuty receiving it."""
    [trigger] = [m for m in notifications(svc, "pager") if m["action"] == "trigger"]
    return (pd.arrived_at[0] - datetime.fromisoformat(trigger["created_at"])).total_seconds()


def test_a_slack_answering_after_the_timeout_shows_one_message_and_the_resolve_updates_it(
    world: World, sqlite_url: str, tmp_path: Path
) -> None:
    target, slack, pd, config = world
    seed_history(sqlite_url, "checkout-model", "availability")  # enough history for the 5m page to be judged
    slack.post_delay = 2.5  # Slack posts, then answers after the receiver's 1 s timeout
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        outage(svc, target)
        delivered = wait_for(
            lambda: [m for m in notifications(svc, "chat") if m["status"] == "delivered"],
            timeout=120,  # an outage reaches the alert windows when its minute closes (up to 60 s)
            what="the Slack page delivered",
        )
        assert delivered[0]["attempts"] >= 2 and delivered[0]["last_error"] is None
        slack.post_delay = 0
        target.serve(ok=10_000_000, errors=500, le_01=1, le_025=1, inf=1)  # recovered: the alert resolves
        # the recovery reaches the windows when its minute closes (up to 60 s), then a cycle and a delivery
        wait_for(lambda: slack.updates, timeout=180, what="the resolve in Slack")
        wait_for(lambda: slack.messages[0].text.startswith("[RESOLVED]"), timeout=10, what="RESOLVED text")
        time.sleep(2)  # a few more flushes: nothing else may be posted
        assert "already posted" in svc.log()
    [message] = slack.messages  # exactly one message visible, and it says RESOLVED
    assert slack.count("chat.postMessage") == 1
    assert message.text.startswith("[RESOLVED] SLOBurnRateHigh")
    assert [e["event_action"] for e in pd.events] == ["trigger", "resolve"]


def test_sigkill_while_the_slack_post_is_in_flight_leaves_one_message_after_the_restart(
    world: World, sqlite_url: str, tmp_path: Path
) -> None:
    target, slack, pd, config = world
    seed_history(sqlite_url, "checkout-model", "availability")
    slack.post_gate = threading.Event()  # Slack takes the post and holds the answer
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        outage(svc, target)
        # an outage reaches the alert windows when its minute closes (up to 60 s)
        assert slack.post_started.wait(120), "the service never posted to Slack"
        svc.signal(signal.SIGKILL)
        svc.proc.wait(timeout=10)
    slack.post_gate.set()  # the answer goes to a dead socket
    assert len(slack.messages) == 1
    slack.post_gate = None
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        delivered = wait_for(
            lambda: [m for m in notifications(svc, "chat") if m["status"] == "delivered"],
            timeout=60,
            what="the interrupted Slack page settled after the lease",
        )
        time.sleep(3)  # more cycles and flushes: the restarted service must not post again
        assert delivered[0]["action"] == "trigger" and delivered[0]["last_error"] is None
        assert "already posted" in svc.log()
    assert len(slack.messages) == 1 and slack.count("chat.postMessage") == 1
    assert slack.count("conversations.history") >= 1
    assert [e["event_action"] for e in pd.events].count("trigger") == 1


@pytest.mark.parametrize("misbehaviour", ["throttled", "hanging"])
def test_the_pagerduty_page_arrives_within_a_second_while_slack_is_throttled_or_hanging(
    world: World, sqlite_url: str, tmp_path: Path, misbehaviour: str
) -> None:
    target, slack, pd, config = world
    seed_history(sqlite_url, "checkout-model", "availability")
    env = dict(ENV)
    if misbehaviour == "throttled":
        slack.throttle_until, slack.retry_after = time.monotonic() + 3600, 5
    else:
        slack.post_gate = threading.Event()
        # Slack holds every post for its whole (default) 10 s timeout
        config = write_config(config, target.url, slack, pd.url, slack_timeout="10s")
        env["SLO_SERVICE_DELIVERY_LEASE"] = "30"
    with run_service([config], sqlite_url, tmp_path, env=env) as svc:
        outage(svc, target)
        # an outage reaches the alert windows when its minute closes (up to 60 s)
        wait_for(lambda: pd.events, timeout=120, what="the PagerDuty page")
        latency = page_latency(svc, pd)
        assert latency < 1.0, f"PagerDuty got the page {latency:.3f}s after it was queued"
        assert not slack.messages or misbehaviour == "hanging"
        if misbehaviour == "throttled":
            # Slack's lane waits out Retry-After: a handful of calls, not one per flush
            time.sleep(3)
            assert 1 <= slack.count("chat.postMessage") <= 2
