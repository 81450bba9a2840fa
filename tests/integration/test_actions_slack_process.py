"""Response policies that talk to people, through the service as a real process and a local Slack stand-in:
`notify` sends one Slack message with the decision's reasons through the alert routing and resolves it when the
page ends; a run that needs approval posts Approve / Deny buttons, a click signed by Slack approves it (the
Slack user is recorded), a tampered signature is 401 and approves nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.support.fake_slack import TOKEN, FakeSlack
from tests.support.history import PAGE_5M_POLICY
from tests.support.process import ServiceProcess, run_service, start_local_server, wait_for

SIGNING_SECRET = "slack-signing-secret-for-tests"


def write_config(path: Path, slack: FakeSlack) -> Path:
    path.write_text(
        f"""apiVersion: slo-service/v1
services: [{{name: api}}]
sources: [{{name: p, type: push}}]
slos:
  - {{service: api, name: avail, objective: 99, period: 7d,
     sli: {{ratio: {{source: p, good: 'a_total{{ok="1"}}', total: a_total}}}}}}
alerting:
{PAGE_5M_POLICY}  receivers:
    - {{name: chat, type: slack, channel: "#{slack.channel_name}", token_env: TEST_SLACK_TOKEN,
       base_url: "{slack.base_url}"}}
  route: {{receiver: chat, group_by: [alertname, service], group_wait: 0s, group_interval: 1s}}
responses:
  policies:
    - {{name: tell-on-page, when: {{service: api, burn_rate: page}}, action: notify, continue: true}}
    - {{name: freeze-on-page, when: {{service: api, burn_rate: page}}, action: freeze, approval: true}}
"""
    )
    return path


def push(svc: ServiceProcess, at: datetime, good: int, bad: int) -> None:
    samples = [
        {"metric": "a_total", "labels": {"ok": ok}, "value": n, "timestamp": at.isoformat()}
        for ok, n in (("1", good), ("0", bad))
        if n
    ]
    assert svc.post("/api/v1/ingest", json={"source": "p", "samples": samples}).status_code == 202


def posts_of(slack: FakeSlack, alertname: str) -> list[dict[str, Any]]:
    return [p for p in list(slack.posts) if alertname in p.get("text", "")]


def click(svc: ServiceProcess, action_id: str, value: str, user: str, secret: str = SIGNING_SECRET) -> httpx.Response:
    """A Slack interactivity request for a button, signed as Slack signs it (computed here, not by the service)."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": user},
        "channel": {"id": "C0ALERTS"},
        "container": {"message_ts": "1700000000.000001"},
        "actions": [{"action_id": action_id, "value": value}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }
    return httpx.post(f"{svc.url}/api/v1/slack/interactions", content=body, headers=headers, timeout=10)


def test_notify_reaches_slack_once_and_a_signed_slack_click_approves_the_freeze(
    tmp_path: Path, sqlite_url: str
) -> None:
    server = start_local_server()
    slack = FakeSlack(server)
    config = write_config(tmp_path / "slo.yaml", slack)
    env = {"TEST_SLACK_TOKEN": TOKEN, "SLO_SERVICE_SLACK_SIGNING_SECRET": SIGNING_SECRET}
    try:
        with run_service([config], sqlite_url, tmp_path, env=env) as svc:
            minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
            push(svc, minute - timedelta(hours=1), good=100_000, bad=0)
            for m in range(5):  # a quarter failing for 5 minutes: a page
                push(svc, minute - timedelta(minutes=m), good=30, bad=10)

            # notify: one message, with the decision's reasons, through the routing
            wait_for(lambda: posts_of(slack, "SLOResponseDecision"), timeout=60, what="the notify message")
            [approval] = wait_for(lambda: posts_of(slack, "SLOResponseApproval"), timeout=30, what="the approval ask")
            time.sleep(3)  # more evaluations with the page firing
            [notice] = posts_of(slack, "SLOResponseDecision")
            blocks = json.dumps(notice["blocks"])
            assert "tell-on-page" in blocks and "burn_rate_long" in blocks and "page-5m" in blocks

            # approval: the buttons carry the run id; nothing happens until a person decides
            raw = approval["blocks"]
            blocks_of_ask = json.loads(raw) if isinstance(raw, str) else raw  # form-encoded posts carry JSON text
            buttons = {e["action_id"]: e for b in blocks_of_ask if b["type"] == "actions" for e in b["elements"]}
            [run] = svc.get("/api/v1/actions", params={"state": "pending_approval"}).json()
            assert {f"slo_approve:{run['id']}", f"slo_deny:{run['id']}"} <= set(buttons)
            assert svc.get("/api/v1/services/api/deploy-allowed").status_code == 200

            forged = click(svc, f"slo_approve:{run['id']}", str(run["id"]), "mallory", secret="not-the-secret")
            assert forged.status_code == 401
            assert svc.get(f"/api/v1/actions/{run['id']}").json()["state"] == "pending_approval"

            answer = click(svc, f"slo_approve:{run['id']}", str(run["id"]), "alice")
            assert answer.status_code == 200, answer.text
            assert answer.json()["text"].startswith("Approved by alice")
            wait_for(lambda: svc.get("/api/v1/services/api/deploy-allowed").status_code == 423, what="the freeze")
            done = svc.get(f"/api/v1/actions/{run['id']}").json()
            assert done["decided_by"] == "alice (slack)" and done["state"] == "succeeded"
            again = click(svc, f"slo_deny:{run['id']}", str(run["id"]), "bob")
            assert again.status_code == 200 and "not changed" in again.json()["text"]
            audit = svc.get("/api/v1/audit").json()
            assert any(e["kind"] == "approval" and e["actor"] == "alice (slack)" for e in audit)

            # the page ends: the notify alert resolves (its message is updated) and the freeze lifts
            push(svc, minute, good=100_000, bad=0)
            wait_for(lambda: svc.get("/api/v1/services/api/deploy-allowed").status_code == 200, what="the lift")
            ts = notice_ts(slack)
            wait_for(
                lambda: any(u["ts"] == ts and "RESOLVED" in u.get("text", "") for u in list(slack.updates)),
                timeout=30,
                what="the notify message resolved",
            )
            assert len(posts_of(slack, "SLOResponseDecision")) == 1
    finally:
        server.stop()


def notice_ts(slack: FakeSlack) -> str:
    [message] = [m for m in slack.messages if "SLOResponseDecision" in m.text]
    return message.ts
