"""Slack request signing (v0 HMAC-SHA256 over "v0:{timestamp}:{body}") and interaction payload parsing."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.adapters.receivers.slack_interactive import (
    IgnoredInteraction,
    SlackAction,
    SlackSignatureError,
    parse_interaction,
    slack_signature,
    verify_slack_signature,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
TS = str(int(NOW.timestamp()))
BODY = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather&text=94070"


def _sign(secret: str, ts: str, body: bytes) -> str:
    """Written independently of the module: Slack's documented recipe."""
    base = b"v0:" + ts.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def test_valid_signature_passes() -> None:
    verify_slack_signature(SECRET, TS, BODY, _sign(SECRET, TS, BODY), NOW)
    assert slack_signature(SECRET, TS, BODY) == _sign(SECRET, TS, BODY)


def test_slack_documented_example() -> None:
    # The worked example from Slack's "Verifying requests from Slack" guide.
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    ts = "1531420618"
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    verify_slack_signature(secret, ts, body, expected, datetime.fromtimestamp(1531420618 + 10, UTC))


def test_tampered_body_is_rejected() -> None:
    sig = _sign(SECRET, TS, BODY)
    with pytest.raises(SlackSignatureError) as exc:
        verify_slack_signature(SECRET, TS, BODY + b"&x=1", sig, NOW)
    assert exc.value.reason == "signature mismatch"


def test_tampered_timestamp_is_rejected() -> None:
    sig = _sign(SECRET, TS, BODY)
    with pytest.raises(SlackSignatureError, match="mismatch"):
        verify_slack_signature(SECRET, str(int(TS) + 1), BODY, sig, NOW)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(SlackSignatureError, match="mismatch"):
        verify_slack_signature(SECRET, TS, BODY, _sign("another-secret", TS, BODY), NOW)


@pytest.mark.parametrize("delta", [timedelta(minutes=5, seconds=1), timedelta(hours=3)])
def test_old_timestamp_is_rejected_even_with_a_valid_signature(delta: timedelta) -> None:
    old = str(int((NOW - delta).timestamp()))
    with pytest.raises(SlackSignatureError, match="too old"):
        verify_slack_signature(SECRET, old, BODY, _sign(SECRET, old, BODY), NOW)


def test_future_timestamp_is_rejected() -> None:
    future = str(int((NOW + timedelta(minutes=6)).timestamp()))
    with pytest.raises(SlackSignatureError, match="future"):
        verify_slack_signature(SECRET, future, BODY, _sign(SECRET, future, BODY), NOW)


def test_timestamp_within_window_passes_and_tolerance_is_configurable() -> None:
    ts = str(int((NOW - timedelta(minutes=4, seconds=59)).timestamp()))
    verify_slack_signature(SECRET, ts, BODY, _sign(SECRET, ts, BODY), NOW)
    with pytest.raises(SlackSignatureError, match="too old"):
        verify_slack_signature(SECRET, ts, BODY, _sign(SECRET, ts, BODY), NOW, tolerance=timedelta(minutes=1))


def test_naive_now_is_taken_as_utc() -> None:
    verify_slack_signature(SECRET, TS, BODY, _sign(SECRET, TS, BODY), NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("timestamp", "signature", "match"),
    [
        (None, "v0=abc", "missing X-Slack-Request-Timestamp"),
        ("", "v0=abc", "missing X-Slack-Request-Timestamp"),
        (TS, None, "missing X-Slack-Signature"),
        (TS, "", "missing X-Slack-Signature"),
        ("yesterday", "v0=abc", "not a unix timestamp"),
        (TS, "v1=" + "0" * 64, "unsupported signature version"),
        (TS, "v0=" + "0" * 64, "mismatch"),
        (TS, "v0=\u00e9\u00e9", "mismatch"),  # non-ASCII must not crash compare_digest
    ],
)
def test_missing_or_malformed_headers_are_rejected(timestamp: str | None, signature: str | None, match: str) -> None:
    with pytest.raises(SlackSignatureError, match=match):
        verify_slack_signature(SECRET, timestamp, BODY, signature, NOW)


def test_empty_signing_secret_is_rejected() -> None:
    with pytest.raises(SlackSignatureError, match="no signing secret"):
        verify_slack_signature("", TS, BODY, _sign("", TS, BODY), NOW)


# --- parse_interaction --------------------------------------------------------------------------


def _interaction(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "type": "block_actions",
        "user": {"id": "U0CA5", "username": "alice", "name": "alice", "team_id": "T3MDE"},
        "api_app_id": "A0CA5",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000100",
            "channel_id": "C123",
            "is_ephemeral": False,
        },
        "channel": {"id": "C123", "name": "alerts"},
        "message": {"type": "message", "ts": "1700000000.000100", "text": "[FIRING:1] SLOBurnRateHigh"},
        "response_url": "https://hooks.slack.com/actions/T3MDE/1/abc",
        "actions": [
            {
                "type": "button",
                "action_id": "slo_ack",
                "block_id": "slo_actions",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "value": '{}:{alertname="SLOBurnRateHigh"}',
                "action_ts": "1700000100.000200",
            }
        ],
    }
    payload.update(overrides)
    return payload


def _body(payload: object) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_parse_ack_click() -> None:
    assert parse_interaction(_body(_interaction())) == SlackAction(
        action="ack",
        group_key='{}:{alertname="SLOBurnRateHigh"}',
        user="alice",
        channel="C123",
        message_ts="1700000000.000100",
        user_id="U0CA5",
    )


def test_parse_silence_click_and_fallbacks() -> None:
    payload = _interaction(user={"id": "U9"}, container={"type": "view"}, channel=None)
    payload["actions"] = [{"action_id": "slo_silence_1h", "value": "gk"}]
    action = parse_interaction(_body(payload))
    assert (action.action, action.group_key, action.user, action.channel) == ("silence_1h", "gk", "U9", None)
    assert action.message_ts == "1700000000.000100"  # from message.ts when the container has none


def test_link_button_click_is_ignored_not_an_error() -> None:
    payload = _interaction(actions=[{"action_id": "slo_link_runbook", "url": "https://x"}])
    with pytest.raises(IgnoredInteraction):
        parse_interaction(_body(payload))


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"foo=bar", "missing form field 'payload'"),
        (b"payload=%7Bnot-json", "payload: not valid JSON"),
        (_body([1, 2]), "payload: must be an object"),
        (_body(_interaction(type="view_submission")), "unsupported interaction type 'view_submission'"),
        (_body(_interaction(actions=[])), "payload.actions: must be a non-empty list"),
        (_body(_interaction(actions=["x"])), r"payload.actions\[0\]: must be an object"),
        (_body(_interaction(actions=[{"value": "gk"}])), r"action_id: missing"),
        (_body(_interaction(actions=[{"action_id": "delete_all", "value": "gk"}])), "unknown action 'delete_all'"),
        (_body(_interaction(actions=[{"action_id": "slo_ack"}])), "missing group key"),
        (_body(_interaction(actions=[{"action_id": "slo_ack", "value": ""}])), "missing group key"),
        (_body(_interaction(user=None)), "payload.user: must be an object"),
        (_body(_interaction(user={"team_id": "T1"})), "payload.user: needs a username or id"),
        (b"payload=1&payload=2", "more than one"),
    ],
)
def test_parse_rejects_anything_else(body: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_interaction(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.builds(lambda s: b"payload=" + s.encode(), st.text(max_size=200)))
def test_parse_interaction_only_ever_raises_value_error(body: bytes) -> None:
    try:
        action = parse_interaction(body)
    except ValueError as exc:
        assert str(exc)
        return
    assert isinstance(action, SlackAction)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.text(max_size=80), st.text(max_size=20))
def test_verify_only_ever_raises_signature_error(body: bytes, signature: str, timestamp: str) -> None:
    with pytest.raises(SlackSignatureError):
        verify_slack_signature(SECRET, timestamp, body, signature, NOW)


@pytest.mark.parametrize(
    ("action_id", "expected"),
    [("slo_approve:42", ("approve", "42")), ("slo_deny:7", ("deny", "7"))],
    ids=["approve", "deny"],
)
def test_parse_approve_and_deny_clicks_take_the_run_id_from_the_action_id(
    action_id: str, expected: tuple[str, str]
) -> None:
    payload = _interaction()
    payload["actions"] = [{"action_id": action_id, "value": "ignored"}]
    action = parse_interaction(_body(payload))
    assert (action.action, action.group_key, action.user) == (*expected, "alice")


def test_an_approve_click_without_a_run_id_is_a_problem() -> None:
    payload = _interaction()
    payload["actions"] = [{"action_id": "slo_approve:x1", "value": "1"}]
    with pytest.raises(ValueError, match="does not end in an action run id"):
        parse_interaction(_body(payload))
