"""Inbound Slack interactivity: request signature verification and button-click parsing.

Slack signs every request to the app's interactivity URL: ``X-Slack-Signature: v0=<hex>``, the
HMAC-SHA256 with the app's signing secret of ``v0:{X-Slack-Request-Timestamp}:{raw body}``. Verify
before parsing (``verify_slack_signature``), over the raw bytes, and reject timestamps more than five
minutes from now (replays).

The body is form-encoded with one field, ``payload``, holding JSON. ``parse_interaction`` accepts the
``block_actions`` sent by the buttons ``slack.render_message`` puts on alert messages:
``slo_ack`` -> "ack", ``slo_silence_1h`` -> "silence_1h", both with the group key as value, and the
Approve / Deny buttons of an action run waiting for approval, ``slo_approve:<run id>`` / ``slo_deny:<run id>``
(the run id in the action_id, so a button carries what it decides on). Clicks on
the link buttons (Runbook, Dashboard) are also posted by Slack; they raise ``IgnoredInteraction``
(a ValueError) so the endpoint can answer 200 without doing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
VERSION = "v0"
DEFAULT_TOLERANCE = timedelta(minutes=5)

ACTIONS: dict[str, Literal["ack", "silence_1h"]] = {"slo_ack": "ack", "slo_silence_1h": "silence_1h"}
LINK_ACTION_PREFIX = "slo_link_"
RUN_ACTIONS: dict[str, Literal["approve", "deny"]] = {"slo_approve:": "approve", "slo_deny:": "deny"}
"""Approve / Deny of an action run waiting for approval: the action_id carries the run id."""


class SlackSignatureError(Exception):
    """The request is not provably from Slack; `reason` says why (answer 401, log the reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IgnoredInteraction(ValueError):
    """A genuine interaction that needs no action (e.g. a click on a link button): answer 200."""


@dataclass(frozen=True)
class SlackAction:
    action: Literal["ack", "silence_1h", "approve", "deny"]
    group_key: str  # the alert group (ack, silence) or the action run's id (approve, deny)
    user: str  # the Slack username, or the user id when Slack sent no username
    channel: str | None
    message_ts: str | None
    user_id: str | None = None


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """The expected X-Slack-Signature: ``v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">``."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def verify_slack_signature(
    signing_secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Return if `signature` is Slack's signature of `body` at `timestamp` within `tolerance` of `now`
    (either direction); otherwise raise SlackSignatureError. `now` naive is taken as UTC."""
    if not signing_secret:
        raise SlackSignatureError("no signing secret configured")
    if not timestamp:
        raise SlackSignatureError(f"missing {TIMESTAMP_HEADER} header")
    if not signature:
        raise SlackSignatureError(f"missing {SIGNATURE_HEADER} header")
    try:
        ts = int(timestamp.strip())
    except ValueError:
        raise SlackSignatureError(f"{TIMESTAMP_HEADER} is not a unix timestamp: {timestamp[:40]!r}") from None
    now_utc = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    age = now_utc.timestamp() - ts
    if abs(age) > tolerance.total_seconds():
        which = "old" if age > 0 else "far in the future"
        raise SlackSignatureError(f"request timestamp is too {which} ({int(age)} s from now; possible replay)")
    if not signature.startswith(f"{VERSION}="):
        raise SlackSignatureError(f"unsupported signature version (expected {VERSION}=...)")
    expected = slack_signature(signing_secret, timestamp.strip(), body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8")):
        raise SlackSignatureError("signature mismatch")


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: must be an object")
    return value


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_interaction(body: bytes) -> SlackAction:
    """Parse a Slack interactivity request body (``payload=<json>``) into the action it asks for.

    Raises ValueError (or its subclass IgnoredInteraction for link-button clicks) naming what is wrong.
    """
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise ValueError("body: not UTF-8 form data") from None
    values = form.get("payload")
    if not values:
        raise ValueError("body: missing form field 'payload'")
    if len(values) > 1:
        raise ValueError("body: more than one 'payload' field")
    try:
        data = json.loads(values[0])
    except json.JSONDecodeError as exc:
        raise ValueError(f"payload: not valid JSON ({exc.msg})") from None
    payload = _obj(data, "payload")
    kind = payload.get("type")
    if kind != "block_actions":
        raise ValueError(f"payload.type: unsupported interaction type {kind!r} (expected 'block_actions')")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        raise ValueError("payload.actions: must be a non-empty list")
    act = _obj(actions[0], "payload.actions[0]")
    action_id = act.get("action_id")
    if not isinstance(action_id, str) or not action_id:
        raise ValueError("payload.actions[0].action_id: missing")
    if action_id.startswith(LINK_ACTION_PREFIX):
        raise IgnoredInteraction(f"payload.actions[0].action_id: {action_id!r} is a link button, nothing to do")
    run_action = next(((p, a) for p, a in RUN_ACTIONS.items() if action_id.startswith(p)), None)
    if run_action is not None:
        group_key = action_id[len(run_action[0]) :]
        if not group_key.isdigit():
            raise ValueError(f"payload.actions[0].action_id: {action_id!r} does not end in an action run id")
        what: Literal["ack", "silence_1h", "approve", "deny"] = run_action[1]
    elif action_id not in ACTIONS:
        known = sorted(ACTIONS) + [f"{p}<run id>" for p in RUN_ACTIONS]
        raise ValueError(f"payload.actions[0].action_id: unknown action {action_id!r} (expected one of {known})")
    else:
        what = ACTIONS[action_id]
        value = act.get("value")
        if not isinstance(value, str) or not value:
            raise ValueError("payload.actions[0].value: missing group key")
        group_key = value
    user_obj = _obj(payload.get("user"), "payload.user")
    user_id = _opt_str(user_obj.get("id"))
    user = _opt_str(user_obj.get("username")) or _opt_str(user_obj.get("name")) or user_id
    if user is None:
        raise ValueError("payload.user: needs a username or id")
    channel_obj = payload.get("channel")
    channel = _opt_str(channel_obj.get("id")) if isinstance(channel_obj, dict) else None
    container = payload.get("container")
    message = payload.get("message")
    message_ts = (_opt_str(container.get("message_ts")) if isinstance(container, dict) else None) or (
        _opt_str(message.get("ts")) if isinstance(message, dict) else None
    )
    return SlackAction(
        action=what,
        group_key=group_key,
        user=user,
        channel=channel,
        message_ts=message_ts,
        user_id=user_id,
    )
