"""SlackReceiver against a local HTTP server standing in for Slack's Web API and an incoming webhook."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.error import URLError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from slo_service.adapters.receivers.slack import SlackReceiver, render_message
from slo_service.core.notify import OutboxMessage, Outcome
from tests.support.fake_slack import CHANNEL_ID, FakeSlack
from tests.support.process import start_local_server

TOKEN = "xoxb-test-token"
GROUP_KEY = '{}/{service="checkout"}:{alertname="SLOBurnRateHigh", slo="availability"}'
LABELS = {"alertname": "SLOBurnRateHigh", "service": "checkout", "slo": "availability"}
VALUES = {"burn_rate_long": 15.2, "burn_rate_short": 16.0, "threshold": 14.4, "budget_remaining": 0.71}
POSTED = {"ok": True, "channel": "C123", "ts": "1700000000.000100", "message": {"type": "message"}}


def group_payload(status: str = "firing", acknowledged_by: str | None = None, n_alerts: int = 1) -> dict[str, Any]:
    alerts = []
    for i in range(n_alerts):
        labels = {
            "alertname": "SLOBurnRateHigh",
            "service": "checkout",
            "slo": "availability",
            "severity": "page",
            "tier": f"tier{i}",
        }
        alerts.append(
            {
                "status": status,
                "labels": labels,
                "annotations": {
                    "summary": "checkout availability burns budget 15x too fast",
                    "description": "2% of requests failed over the last hour",
                    "runbook_url": "http://127.0.0.1:8080/runbooks/checkout",
                    "dashboard_url": "http://127.0.0.1:8080/d/checkout",
                },
                "startsAt": "2026-11-28T09:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-28T09:30:00Z",
                "generatorURL": "http://127.0.0.1:8080/slos/checkout/availability",
                "fingerprint": f"ab12cd34ef56ab1{i}",
                "values": {
                    "burn_rate_long": 15.2,
                    "burn_rate_short": 16.0,
                    "threshold": 14.4,
                    "budget_remaining": 0.71,
                },
            }
        )
    return {
        "version": "4",
        "receiver": "team-checkout",
        "status": status,
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
        "groupLabels": LABELS,
        "commonLabels": {
            "alertname": "SLOBurnRateHigh",
            "service": "checkout",
            "slo": "availability",
            "severity": "page",
        },
        "commonAnnotations": {"summary": "checkout availability burns budget 15x too fast"},
        "externalURL": "http://127.0.0.1:8080",
        "alerts": alerts,
        "acknowledgedBy": acknowledged_by,
    }


def message(action: str = "trigger", external_ref: Mapping[str, Any] | None = None, **kw: Any) -> OutboxMessage:
    return OutboxMessage(
        receiver="slack",
        action=action,
        dedup_key="dk-checkout-availability",
        payload=group_payload(**kw),
        created_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        id=1,
        external_ref=external_ref or {},
    )


@pytest.fixture
def own_server() -> Iterator[HTTPServer]:
    """A server of its own, for handlers that are still sleeping when the test ends."""
    s = start_local_server()
    yield s
    s.stop()


def closed_port_url(path: str) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def bot(server: HTTPServer, **kw: Any) -> SlackReceiver:
    return SlackReceiver("slack", token=TOKEN, channel="#alerts", base_url=server.url_for("/api/"), **kw)


def requests_to(server: HTTPServer, path: str) -> list[Request]:
    return [req for req, _ in server.log if req.path == path]


def blocks_of(kind: str, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if b["type"] == kind]


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    [actions] = blocks_of("actions", blocks)
    return [e["action_id"] for e in actions["elements"]]


# --- bot token mode -------------------------------------------------------------------------------


def test_trigger_posts_a_block_kit_message(server: HTTPServer) -> None:
    server.expect_request("/api/chat.postMessage", method="POST").respond_with_json(POSTED)
    result = bot(server).deliver(message())

    assert result.outcome is Outcome.DELIVERED, result.error
    assert result.external_ref == {"channel": "C123", "ts": "1700000000.000100"}
    [req] = requests_to(server, "/api/chat.postMessage")
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    body = req.get_json()
    assert body["channel"] == "#alerts"
    assert body["text"] == (
        "[FIRING:1] SLOBurnRateHigh checkout/availability: checkout availability burns budget 15x too fast"
    )
    blocks = body["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context", "actions"]
    header = blocks[0]["text"]
    assert header["type"] == "plain_text" and header["text"] == ":rotating_light: SLOBurnRateHigh"
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields[:4] == [
        "*Service / SLO*\ncheckout / availability",
        "*Severity*\npage",
        "*Burn rate*\n15.2x long / 16.0x short (threshold 14.4x)",
        "*Budget left*\n71.0%",
    ]
    started = datetime(2026, 11, 28, 9, tzinfo=UTC).timestamp()
    assert fields[4] == f"*Started*\n<!date^{int(started)}^{{date_short_pretty}} {{time}}|2026-11-28T09:00:00Z>"
    assert blocks[2]["text"]["text"] == (
        "*checkout availability burns budget 15x too fast*\n2% of requests failed over the last hour"
    )
    assert "`service=checkout`" in blocks[3]["elements"][0]["text"]
    elements = {e["action_id"]: e for e in blocks[4]["elements"]}
    assert list(elements) == ["slo_ack", "slo_silence_1h", "slo_link_runbook", "slo_link_dashboard"]
    assert elements["slo_ack"]["value"] == GROUP_KEY
    assert elements["slo_silence_1h"]["value"] == GROUP_KEY
    assert elements["slo_link_runbook"]["url"] == "http://127.0.0.1:8080/runbooks/checkout"
    assert elements["slo_link_dashboard"]["url"] == "http://127.0.0.1:8080/d/checkout"


def test_lifecycle_posts_once_then_updates_the_same_message(server: HTTPServer) -> None:
    server.expect_request("/api/chat.postMessage", method="POST").respond_with_json(POSTED)
    server.expect_request("/api/chat.update", method="POST").respond_with_json(
        {"ok": True, "channel": "C123", "ts": "1700000000.000100", "text": "x"}
    )
    receiver = bot(server)
    first = receiver.deliver(message())
    acked = receiver.deliver(message("acknowledge", first.external_ref, acknowledged_by="alice"))
    resolved = receiver.deliver(message("resolve", acked.external_ref, status="resolved", acknowledged_by="alice"))

    assert [r.outcome for r in (first, acked, resolved)] == [Outcome.DELIVERED] * 3
    assert first.external_ref == acked.external_ref == resolved.external_ref  # the worker keeps handing it back
    assert len(requests_to(server, "/api/chat.postMessage")) == 1
    ack_req, resolve_req = requests_to(server, "/api/chat.update")
    for req in (ack_req, resolve_req):
        assert req.headers["Authorization"] == f"Bearer {TOKEN}"
        body = req.get_json()
        assert (body["channel"], body["ts"]) == ("C123", "1700000000.000100")

    ack = ack_req.get_json()
    assert ack["blocks"][0]["text"]["text"] == ":eyes: ACKNOWLEDGED by alice: SLOBurnRateHigh"
    assert ack["text"].startswith("[ACKNOWLEDGED by alice] SLOBurnRateHigh")
    assert "*Acknowledged by*\nalice" in [f["text"] for f in ack["blocks"][1]["fields"]]
    assert "slo_ack" not in action_ids(ack["blocks"])
    assert "slo_silence_1h" in action_ids(ack["blocks"])

    res = resolve_req.get_json()
    assert res["blocks"][0]["text"]["text"] == ":white_check_mark: RESOLVED: SLOBurnRateHigh"
    assert res["text"].startswith("[RESOLVED] SLOBurnRateHigh checkout/availability")
    assert "slo_ack" not in action_ids(res["blocks"])


def test_update_of_a_deleted_message_posts_a_new_one(server: HTTPServer) -> None:
    server.expect_request("/api/chat.update").respond_with_json({"ok": False, "error": "message_not_found"})
    server.expect_request("/api/chat.postMessage").respond_with_json({**POSTED, "ts": "1700000099.000200"})
    ref = {"channel": "C123", "ts": "1600000000.000001"}
    result = bot(server).deliver(message("update", ref))
    assert result.outcome is Outcome.DELIVERED
    assert result.external_ref == {"channel": "C123", "ts": "1700000099.000200"}


def test_resolve_without_a_reference_posts_unless_send_resolved_is_off(server: HTTPServer) -> None:
    server.expect_request("/api/chat.postMessage").respond_with_json(POSTED)
    assert bot(server).deliver(message("resolve", status="resolved")).outcome is Outcome.DELIVERED
    assert len(server.log) == 1
    quiet = bot(server, send_resolved=False).deliver(message("resolve", status="resolved"))
    assert quiet.outcome is Outcome.DELIVERED and len(server.log) == 1  # nothing sent


@pytest.mark.parametrize("error", ["invalid_auth", "channel_not_found", "not_in_channel", "invalid_blocks"])
def test_permanent_slack_errors_fail(server: HTTPServer, error: str) -> None:
    server.expect_request("/api/chat.postMessage").respond_with_json({"ok": False, "error": error})
    result = bot(server).deliver(message())
    assert result.outcome is Outcome.FAILED
    assert result.error is not None and error in result.error and "chat.postMessage" in result.error


def test_http_400_fails_with_the_reason(server: HTTPServer) -> None:
    server.expect_request("/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": "invalid_arguments"}, status=400
    )
    result = bot(server).deliver(message())
    assert (result.outcome, result.status_code) == (Outcome.FAILED, 400)
    assert result.error is not None and "invalid_arguments" in result.error


def test_server_error_retries(server: HTTPServer) -> None:
    server.expect_request("/api/chat.postMessage").respond_with_data("upstream broke", status=500)
    result = bot(server).deliver(message())
    assert (result.outcome, result.status_code) == (Outcome.RETRY, 500)


def test_transient_slack_error_retries(server: HTTPServer) -> None:
    server.expect_request("/api/chat.postMessage").respond_with_json({"ok": False, "error": "internal_error"})
    assert bot(server).deliver(message()).outcome is Outcome.RETRY


def test_long_rate_limit_goes_back_to_the_outbox_with_retry_after(server: HTTPServer) -> None:
    server.expect_request("/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "7"}
    )
    started = time.monotonic()
    result = bot(server).deliver(message())
    assert time.monotonic() - started < 3  # no in-process sleep for a 7 s Retry-After
    assert (result.outcome, result.status_code, result.retry_after) == (Outcome.RETRY, 429, timedelta(seconds=7))
    assert result.error is not None and "ratelimited" in result.error
    assert len(server.log) == 1


def test_a_short_rate_limit_also_goes_back_to_the_outbox_without_sleeping(server: HTTPServer) -> None:
    # The receiver's delivery lane pauses for Retry-After; an in-process sleep would hold the lane and the lease.
    server.expect_request("/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
    )
    started = time.monotonic()
    result = bot(server).deliver(message())
    assert time.monotonic() - started < 0.9
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, timedelta(seconds=1))
    assert len(server.log) == 1


def test_timeout_retries(own_server: HTTPServer) -> None:
    server = own_server

    def slow(_: Request) -> Response:
        time.sleep(2)
        return Response(json.dumps(POSTED), content_type="application/json")

    server.expect_request("/api/chat.postMessage").respond_with_handler(slow)
    started = time.monotonic()
    result = bot(server, timeout=1).deliver(message())
    assert result.outcome is Outcome.RETRY
    assert result.error is not None and "timeout" in result.error.lower()
    assert time.monotonic() - started < 2


def test_connection_refused_retries() -> None:
    receiver = SlackReceiver("slack", token=TOKEN, channel="#alerts", base_url=closed_port_url("/api/"), timeout=2)
    result = receiver.deliver(message())
    assert result.outcome is Outcome.RETRY
    assert result.error is not None and "connection" in result.error.lower()


# --- incoming webhook mode ------------------------------------------------------------------------

HOOK = "/services/T000/B000/XXXX"


def hook(server: HTTPServer, **kw: Any) -> SlackReceiver:
    return SlackReceiver("slack-hook", token=None, channel=None, webhook_url=server.url_for(HOOK), **kw)


def test_webhook_posts_text_and_blocks_and_posts_again_on_resolve(server: HTTPServer) -> None:
    server.expect_request(HOOK, method="POST").respond_with_data("ok")
    receiver = hook(server)
    fired = receiver.deliver(message())
    resolved = receiver.deliver(message("resolve", status="resolved"))
    assert (fired.outcome, fired.external_ref) == (Outcome.DELIVERED, {})
    assert resolved.outcome is Outcome.DELIVERED
    first, second = (req.get_json() for req, _ in server.log)
    assert set(first) == {"text", "blocks"}
    assert first["text"].startswith("[FIRING:1] SLOBurnRateHigh")
    assert first["blocks"][0]["type"] == "header"
    assert second["text"].startswith("[RESOLVED] SLOBurnRateHigh")
    assert "Authorization" not in server.log[0][0].headers


def test_webhook_send_resolved_off_sends_nothing(server: HTTPServer) -> None:
    result = hook(server, send_resolved=False).deliver(message("resolve", status="resolved"))
    assert result.outcome is Outcome.DELIVERED and server.log == []


@pytest.mark.parametrize(
    ("status", "headers", "body", "outcome", "retry_after"),
    [
        (500, {}, "oops", Outcome.RETRY, None),
        (429, {"Retry-After": "7"}, "rate_limited", Outcome.RETRY, timedelta(seconds=7)),
        (400, {}, "invalid_blocks", Outcome.FAILED, None),
        (404, {}, "no_service", Outcome.FAILED, None),
    ],
)
def test_webhook_failures(
    server: HTTPServer,
    status: int,
    headers: dict[str, str],
    body: str,
    outcome: Outcome,
    retry_after: timedelta | None,
) -> None:
    server.expect_request(HOOK).respond_with_data(body, status=status, headers=headers)
    result = hook(server).deliver(message())
    assert (result.outcome, result.status_code, result.retry_after) == (outcome, status, retry_after)
    assert result.error == f"HTTP {status}: {body}"


def test_webhook_timeout_and_connection_refused_retry(own_server: HTTPServer) -> None:
    server = own_server

    def slow(_: Request) -> Response:
        time.sleep(1.5)
        return Response("ok")

    server.expect_request(HOOK).respond_with_handler(slow)
    assert hook(server, timeout=0.5).deliver(message()).outcome is Outcome.RETRY
    refused = SlackReceiver("h", token=None, channel=None, webhook_url=closed_port_url(HOOK)).deliver(message())
    assert refused.outcome is Outcome.RETRY


# --- configuration and rendering ------------------------------------------------------------------


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SlackReceiver("s", token=None, channel=None)
    with pytest.raises(ValueError, match="exactly one"):
        SlackReceiver("s", token=TOKEN, channel="#a", webhook_url="http://127.0.0.1:1/x")
    with pytest.raises(ValueError, match="needs a channel"):
        SlackReceiver("s", token=TOKEN, channel=None)


def test_bot_client_retries_in_process_only_a_connection_that_never_sent_the_request() -> None:
    receiver = SlackReceiver("s", token=TOKEN, channel="#a", base_url="http://127.0.0.1:1/api/")
    assert receiver.client is not None
    [handler] = receiver.client.retry_handlers
    assert type(handler).__name__ == "ConnectionErrorRetryHandler"
    assert handler.error_types_to_do_retries == [URLError]  # not ConnectionResetError / RemoteDisconnected


def test_group_of_many_alerts_lists_them_and_respects_block_kit_limits() -> None:
    payload = group_payload(n_alerts=12)
    payload["groupKey"] = "g" * 2001  # too long for a button value: no ack/silence buttons
    payload["commonAnnotations"] = {"summary": "s" * 5000}
    text, blocks = render_message(payload, "trigger")
    assert text.startswith("[FIRING:12] SLOBurnRateHigh") and len(text) <= 3000
    lines = blocks[3]["text"]["text"].splitlines()
    assert len(lines) == 11 and lines[-1] == "\u2026 and 2 more"
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section" and "text" in b)
    assert action_ids(blocks) == ["slo_link_runbook", "slo_link_dashboard"]
    assert "*Alerts*\n12" in [f["text"] for f in blocks[1]["fields"]]


def test_render_tolerates_a_sparse_payload() -> None:
    text, blocks = render_message({"status": "firing", "alerts": "nonsense"}, "trigger", dedup_key="dk")
    assert text == "[FIRING:0] SLO alert"
    assert blocks[0]["text"]["text"] == ":red_circle: SLO alert"
    assert action_ids(blocks) == ["slo_ack", "slo_silence_1h"]
    assert blocks[-1]["elements"][0]["value"] == "dk"  # falls back to the dedup key


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            k: _json
            for k in (
                "status",
                "groupKey",
                "alerts",
                "commonLabels",
                "commonAnnotations",
                "groupLabels",
                "acknowledgedBy",
            )
        },
    ),
    st.sampled_from(["trigger", "update", "acknowledge", "resolve"]),
)
def test_render_never_raises_and_stays_within_block_kit_limits(payload: dict[str, Any], action: str) -> None:
    text, blocks = render_message(payload, action, "dk")
    assert text and len(text) <= 3000 and len(blocks) <= 50
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    for block in blocks:
        assert len(block.get("fields", [])) <= 10
        assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
    json.dumps(blocks)  # serializable


def test_payload_text_cannot_inject_mentions_or_links() -> None:
    payload = group_payload(n_alerts=2)
    payload["commonAnnotations"] = {"summary": "<!channel> wake up & <http://evil|click>"}
    payload["groupLabels"] = {"service": "<@U123>"}
    text, blocks = render_message(payload, "trigger")
    rendered = json.dumps([text, blocks])
    assert "<!channel>" not in rendered and "<@U123>" not in rendered and "<http://evil" not in rendered
    assert "&lt;!channel&gt; wake up &amp; &lt;http://evil|click&gt;" in text
    assert "<!date^" in rendered  # our own date token is kept


def test_truncated_alerts_are_counted() -> None:
    payload = {**group_payload(n_alerts=2), "truncatedAlerts": 5}
    text, blocks = render_message(payload, "trigger")
    assert text.startswith("[FIRING:7] ")
    assert blocks[3]["text"]["text"].splitlines()[-1] == "\u2026 and 5 more"


# --- exactly once as the channel sees it (tests/support/fake_slack.py answers like Slack) --------------


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    server = start_local_server()
    fake = FakeSlack(server)
    yield fake
    if fake.post_gate is not None:
        fake.post_gate.set()
    server.stop()


def bot_on(fake: FakeSlack, channel: str = CHANNEL_ID, **kw: Any) -> SlackReceiver:
    return SlackReceiver("slack", token=TOKEN, channel=channel, base_url=fake.base_url, **kw)


def test_every_post_is_tagged_with_the_notification_in_its_metadata(slack: FakeSlack) -> None:
    result = bot_on(slack, channel="#alerts").deliver(message())
    assert result.outcome is Outcome.DELIVERED, result.error
    [posted] = slack.messages
    assert posted.metadata == {
        "event_type": "slo_service_alert",
        "event_payload": {"dedup_key": "dk-checkout-availability", "notification_id": "1", "action": "trigger"},
    }
    assert result.external_ref == {"channel": CHANNEL_ID, "ts": posted.ts}
    assert slack.count("conversations.history") == 0  # a first attempt needs no lookup


def test_a_post_answered_after_the_timeout_is_found_not_posted_again_and_resolve_updates_it(
    slack: FakeSlack,
) -> None:
    slack.post_delay = 1.5
    receiver = bot_on(slack, timeout=0.5)
    first = receiver.deliver(message())
    assert first.outcome is Outcome.RETRY and first.error is not None and "timeout" in first.error.lower()
    assert len(slack.messages) == 1  # Slack has it although we never heard back

    # The outbox retries: attempts=1, so the receiver asks Slack before posting.
    retry = receiver.deliver(replace(message(), attempts=1))
    assert retry.outcome is Outcome.DELIVERED, retry.error
    assert retry.external_ref == {"channel": CHANNEL_ID, "ts": slack.messages[0].ts}
    assert slack.count("chat.postMessage") == 1 and slack.count("conversations.history") == 1

    resolved = receiver.deliver(replace(message("resolve", retry.external_ref, status="resolved"), id=2))
    assert resolved.outcome is Outcome.DELIVERED, resolved.error
    [only] = slack.messages
    assert only.text.startswith("[RESOLVED] SLOBurnRateHigh") and only.edits == 1
    assert only.metadata is not None and only.metadata["event_payload"]["notification_id"] == "2"


def test_an_interrupted_post_that_reached_slack_is_recorded_instead_of_reposted(slack: FakeSlack) -> None:
    bot_on(slack).deliver(message())  # the process that sent this was SIGKILLed before it heard back
    result = bot_on(slack).deliver(replace(message(), interrupted=True))
    assert result.outcome is Outcome.DELIVERED
    assert result.external_ref["ts"] == slack.messages[0].ts
    assert len(slack.messages) == 1


def test_a_lookup_that_finds_nothing_posts_once(slack: FakeSlack) -> None:
    # Another notification of the same group is in the channel: only this notification's id counts.
    bot_on(slack).deliver(replace(message(), id=7))
    result = bot_on(slack).deliver(replace(message(), attempts=3))
    assert result.outcome is Outcome.DELIVERED
    assert [m.metadata["event_payload"]["notification_id"] for m in slack.messages if m.metadata] == ["7", "1"]
    assert slack.count("conversations.history") == 1


def test_the_lookup_pages_through_a_busy_channel(slack: FakeSlack) -> None:
    receiver = bot_on(slack)
    receiver.deliver(message())
    for i in range(450):  # newer traffic in the channel pushes our post to the third page
        receiver.deliver(replace(message(), id=100 + i))
    before = len(slack.messages)
    result = receiver.deliver(replace(message(), attempts=1))
    assert result.outcome is Outcome.DELIVERED and result.external_ref["ts"] == slack.messages[0].ts
    assert len(slack.messages) == before
    assert slack.count("conversations.history") == 3


def test_a_throttled_lookup_retries_later_and_never_posts_blind(slack: FakeSlack) -> None:
    slack.throttle_until = time.monotonic() + 60
    result = bot_on(slack).deliver(replace(message(), attempts=1))
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, timedelta(seconds=5))
    assert result.error is not None and "conversations.history" in result.error
    assert slack.messages == [] and slack.count("chat.postMessage") == 0


def test_a_lookup_that_times_out_retries_later(own_server: HTTPServer) -> None:
    def slow(_: Request) -> Response:
        time.sleep(1.5)
        return Response(json.dumps({"ok": True, "messages": []}), content_type="application/json")

    own_server.expect_request("/api/conversations.history").respond_with_handler(slow)
    receiver = SlackReceiver("s", token=TOKEN, channel=CHANNEL_ID, base_url=own_server.url_for("/api/"), timeout=0.5)
    result = receiver.deliver(replace(message(), attempts=1))
    assert result.outcome is Outcome.RETRY and result.error is not None and "timeout" in result.error.lower()
    assert requests_to(own_server, "/api/chat.postMessage") == []


def test_a_channel_given_by_name_is_resolved_once_for_lookups(slack: FakeSlack) -> None:
    bot_on(slack).deliver(message())  # an earlier process posted it
    named = bot_on(slack, channel="#alerts")
    result = named.deliver(replace(message(), attempts=1))
    assert result.outcome is Outcome.DELIVERED and result.external_ref["ts"] == slack.messages[0].ts
    assert named.channel_id == CHANNEL_ID and len(slack.messages) == 1
    named.deliver(replace(message(), id=2, attempts=1))
    assert slack.count("conversations.list") == 1  # cached
    assert slack.count("conversations.history") == 2


MISSING_SCOPE = json.dumps({"ok": False, "error": "missing_scope", "needed": "channels:history"})


@pytest.mark.parametrize("method", ["conversations.list", "conversations.history"])
def test_without_the_scopes_to_look_up_delivery_falls_back_to_at_least_once(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    channel = "#alerts" if method == "conversations.list" else CHANNEL_ID
    slack.failures = [Response(MISSING_SCOPE, content_type="application/json")]
    result = bot_on(slack, channel=channel).deliver(replace(message(), attempts=1))
    assert result.outcome is Outcome.DELIVERED, result.error
    assert f"slack {method}: missing_scope" in caplog.text
    assert "posting it again may duplicate it" in caplog.text or method == "conversations.list"
    assert len(slack.messages) == 1


def test_a_connection_dropped_after_the_request_was_sent_is_not_resent_in_process() -> None:
    """slack-sdk's default handler would resend on RemoteDisconnected: a second post if Slack had taken it."""
    connections = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(5)

    def serve() -> None:
        for _ in range(2):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections.append(conn.recv(65536))
            conn.close()  # read the whole request, answer nothing

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        receiver = SlackReceiver("s", token=TOKEN, channel=CHANNEL_ID, base_url=f"http://127.0.0.1:{port}/api/")
        result = receiver.deliver(message())
    finally:
        listener.close()
        thread.join(5)
    assert result.outcome is Outcome.RETRY
    assert len(connections) == 1 and b"chat.postMessage" in connections[0]


ESCALATION = {
    "policy": "checkout-primary",
    "level": 2,
    "levels": 3,
    "repetition": 0,
    "exhausted": False,
    "oncall": [
        {"user": "carol", "name": "Carol <C>", "slack": None, "email": "carol@example.com"},
        {"user": "dave", "name": "dave", "slack": "U0DAVE", "email": None},
    ],
}


def test_an_escalation_post_mentions_the_on_call_people_and_says_the_level(server: HTTPServer) -> None:
    server.expect_request("/api/chat.postMessage", method="POST").respond_with_json(POSTED)
    server.expect_request("/api/chat.update", method="POST").respond_with_json(
        {"ok": True, "channel": "C123", "ts": "1700000000.000100"}
    )
    receiver = bot(server)
    msg = message()
    escalated = OutboxMessage(
        "slack", "trigger", "dk:L2R0", {**msg.payload, "escalation": ESCALATION}, msg.created_at, id=2
    )
    posted = receiver.deliver(escalated)
    assert posted.outcome is Outcome.DELIVERED
    [post] = requests_to(server, "/api/chat.postMessage")
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    body = post.get_json()
    line = "Escalation level 2 of 3 (policy checkout-primary): Carol &lt;C&gt;, <@U0DAVE>"
    assert body["text"].endswith(line)  # the notification text: Slack pings dave
    sections = [b["text"]["text"] for b in blocks_of("section", body["blocks"]) if "text" in b]
    assert f"*{line}*" in sections
    assert "slo_ack" in action_ids(body["blocks"])

    resolved = {**escalated.payload, "status": "resolved"}
    receiver.deliver(
        OutboxMessage("slack", "resolve", "dk:L2R0", resolved, msg.created_at, external_ref=posted.external_ref)
    )
    [update] = requests_to(server, "/api/chat.update")
    res = update.get_json()
    assert (res["channel"], res["ts"]) == ("C123", "1700000000.000100")
    assert res["text"].startswith("[RESOLVED]") and "<@U0DAVE>" not in res["text"]  # no ping on the update
    # no Acknowledge or Silence button on a resolved message: only the links remain
    assert action_ids(res["blocks"]) == ["slo_link_runbook", "slo_link_dashboard"]


def test_a_level_without_slack_ids_names_people_and_a_malformed_id_is_not_a_mention() -> None:
    payload = {
        **group_payload(),
        "escalation": {**ESCALATION, "oncall": [{"user": "eve", "name": "eve", "slack": "<!channel>"}]},
    }
    text, _ = render_message(payload, "trigger")
    assert text.endswith("Escalation level 2 of 3 (policy checkout-primary): eve")
    assert "<!channel>" not in text


def test_an_approval_request_gets_approve_and_deny_buttons_carrying_the_run_id_until_resolved() -> None:
    payload = group_payload(n_alerts=1)
    payload["commonAnnotations"] = {"summary": "freeze of api waits for approval", "approval_run": "17"}
    _, blocks = render_message(payload, "trigger")
    assert action_ids(blocks)[:2] == ["slo_approve:17", "slo_deny:17"]
    _, done = render_message({**payload, "status": "resolved"}, "resolve")
    assert not any(a.startswith(("slo_approve", "slo_deny")) for a in action_ids(done))
    payload["commonAnnotations"] = {"approval_run": "17; drop"}  # not a run id: no buttons
    _, odd = render_message(payload, "trigger")
    assert not any(a.startswith("slo_approve") for a in action_ids(odd))
