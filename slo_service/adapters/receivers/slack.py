"""Slack receiver: one Block Kit message per alert group, updated in place as the group changes.

Two modes:

* **Bot token** (``token`` + ``channel``): ``slack_sdk.WebClient``. The first delivery of a group
  (no ``external_ref``) calls ``chat.postMessage`` and returns ``{"channel", "ts"}`` as the
  external_ref; the worker hands that back with every later message of the same dedup_key, which
  then calls ``chat.update`` on that message (resolved: "RESOLVED", acknowledged: "ACKNOWLEDGED by X",
  both without the Acknowledge button) and returns the same reference again. If the message is gone
  (deleted, ``message_not_found``) a new one is posted. ``send_resolved=False`` only stops *new*
  posts about resolved groups; a message already posted is still updated to RESOLVED (no ping).
* **Incoming webhook** (``webhook_url``): POST ``{"text", "blocks"}`` with httpx. A webhook cannot
  edit, so every message (including the resolution) is a new post; external_ref stays empty.

Exactly once, as the channel sees it: every ``chat.postMessage`` carries message metadata
(``event_type: slo_service_alert``, ``event_payload: {dedup_key, notification_id, action}``). A
message that may already have been posted -- an earlier attempt timed out or lost its connection
after sending, or the process died mid-post (``OutboxMessage.maybe_sent``) -- is first looked up
with ``conversations.history`` (``include_all_metadata``, from the message's creation time minus
``LOOKUP_MARGIN``); if Slack has it, its ts becomes the external_ref and nothing is posted again.
The lookup needs the channel's ID (configure ``C0123...``; a ``#name`` is resolved once with
``conversations.list``, scope ``channels:read`` / ``groups:read``, or learned from a post's answer) and
the ``channels:history`` scope (``groups:history`` for a private channel); without them the lookup is
skipped with a warning and delivery is at least once. ``chat.update`` is idempotent by itself.

Retries: the outbox does the retrying (backoff, Retry-After, dead letters); the delivery lane of this
receiver pauses for a Retry-After. The WebClient itself only retries a connection that failed before
the request was sent (slack-sdk's ``ConnectionErrorRetryHandler`` limited to ``URLError``): its
default handler would also resend after a reset or a dropped connection once the request went out,
i.e. post twice. No in-process rate-limit sleep: it would hold the lane and the lease.

Errors: ``ratelimited`` / HTTP 429 -> RETRY with Retry-After; HTTP 5xx and Slack's transient errors
(``internal_error``, ``fatal_error``, ``service_unavailable``, ``request_timeout``) -> RETRY;
``invalid_auth``, ``channel_not_found``, ``not_in_channel`` and every other Slack error -> FAILED
(a config problem that retrying will not fix). Timeouts and connection errors -> RETRY.
``deliver`` never raises.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.error import URLError

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler

from slo_service.adapters.receivers.http_outcome import (
    parse_retry_after,
    result_for_exception,
    result_for_response,
)
from slo_service.core.notify import DeliveryResult, OutboxMessage, Outcome

log = logging.getLogger(__name__)

SLACK_API = "https://slack.com/api/"
METADATA_EVENT_TYPE = "slo_service_alert"
LOOKUP_MARGIN = timedelta(minutes=5)  # clock skew between us and Slack: look a little before created_at
LOOKUP_PAGE_SIZE = 200
LOOKUP_MAX_PAGES = 10
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
ACK_ACTION_ID = "slo_ack"
SILENCE_ACTION_ID = "slo_silence_1h"
LINK_ACTION_PREFIX = "slo_link_"  # link buttons: Slack posts block_actions for them too (ignore them)
APPROVE_ACTION_PREFIX = "slo_approve:"  # + the action run's id: Approve / Deny of a run waiting for approval
DENY_ACTION_PREFIX = "slo_deny:"
APPROVAL_RUN_ANNOTATION = "approval_run"  # core/actions/notices.py APPROVAL_RUN

TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
MESSAGE_GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})

# Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks)
_HEADER_MAX = 150
_FIELD_MAX = 2000
_SECTION_MAX = 3000
_BUTTON_VALUE_MAX = 2000
_URL_MAX = 3000
_TEXT_MAX = 3000
_LIST_MAX = 10

_SEVERITY_EMOJI = {
    "page": ":rotating_light:",
    "critical": ":rotating_light:",
    "error": ":red_circle:",
    "ticket": ":warning:",
    "warning": ":warning:",
    "info": ":information_source:",
}
_RESOLVED_EMOJI = ":white_check_mark:"
_ACK_EMOJI = ":eyes:"


# --- rendering ------------------------------------------------------------------------------------


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _esc(text: str) -> str:
    """Escape Slack's control characters in mrkdwn, so payload text cannot inject mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _ack_by(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        for key in ("by", "user", "name", "username"):
            if value.get(key):
                return str(value[key])
    return None


def _started(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return _esc(value)
    if when.tzinfo is None:
        return _esc(value)
    # Slack renders <!date^...> in the reader's time zone; the text after | is the fallback.
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{_esc(value)}>"


_MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def mention(contact: Mapping[str, Any]) -> str:
    """`<@U…>` for a user with a Slack member id (Slack notifies them), else their escaped name."""
    slack_id = contact.get("slack")
    if isinstance(slack_id, str) and _MEMBER_ID.match(slack_id):
        return f"<@{slack_id}>"
    return _esc(str(contact.get("name") or contact.get("user") or "?"))


def escalation_line(payload: Mapping[str, Any]) -> str | None:
    """ "Escalation level 2 of 3 (policy X): <@U1>, Carol" from the payload's `escalation` block."""
    esc = payload.get("escalation")
    if not isinstance(esc, Mapping) or not isinstance(esc.get("level"), int):
        return None
    raw = esc.get("oncall")
    contacts = [c for c in raw if isinstance(c, Mapping)] if isinstance(raw, list) else []
    who = ", ".join(mention(c) for c in contacts) or "nobody is on call"
    levels = f" of {esc['levels']}" if isinstance(esc.get("levels"), int) else ""
    policy = f" (policy {_esc(str(esc['policy']))})" if esc.get("policy") else ""
    again = f", pass {esc['repetition'] + 1}" if isinstance(esc.get("repetition"), int) and esc["repetition"] else ""
    return f"Escalation level {esc['level']}{levels}{again}{policy}: {who}"


def message_state(payload: Mapping[str, Any], action: str) -> str:
    """The message's state: "resolved", "acknowledged" or "firing"."""
    if action == "resolve" or payload.get("status") == "resolved":
        return "resolved"
    if _ack_by(payload.get("acknowledgedBy")) or action == "acknowledge":
        return "acknowledged"
    return "firing"


def render_message(payload: Mapping[str, Any], action: str, dedup_key: str = "") -> tuple[str, list[dict[str, Any]]]:
    """The fallback text and the Block Kit blocks for one alert group payload."""
    raw_alerts = payload.get("alerts")
    alerts = [a for a in raw_alerts if isinstance(a, Mapping)] if isinstance(raw_alerts, list) else []
    first: Mapping[str, Any] = alerts[0] if alerts else {}
    labels = {**_str_map(first.get("labels")), **_str_map(payload.get("commonLabels"))}
    group_labels = _str_map(payload.get("groupLabels"))
    annotations = {**_str_map(first.get("annotations")), **_str_map(payload.get("commonAnnotations"))}
    raw_values = first.get("values")
    values: Mapping[str, Any] = raw_values if isinstance(raw_values, Mapping) else {}
    state = message_state(payload, action)
    acked_by = _ack_by(payload.get("acknowledgedBy"))
    group_key = str(payload.get("groupKey") or dedup_key)

    alertname = labels.get("alertname") or group_labels.get("alertname") or "SLO alert"
    severity = labels.get("severity") or group_labels.get("severity") or ""
    service, slo = labels.get("service", ""), labels.get("slo", "")
    truncated = payload.get("truncatedAlerts")
    truncated_n = truncated if isinstance(truncated, int) and not isinstance(truncated, bool) else 0
    count = len(alerts) + truncated_n
    firing = sum(1 for a in alerts if a.get("status", "firing") == "firing") + truncated_n

    if state == "resolved":
        emoji, prefix, tag = _RESOLVED_EMOJI, "RESOLVED: ", "[RESOLVED]"
    elif state == "acknowledged":
        who = f" by {acked_by}" if acked_by else ""
        emoji, prefix, tag = _ACK_EMOJI, f"ACKNOWLEDGED{who}: ", f"[ACKNOWLEDGED{_esc(who)}]"
    else:
        emoji, prefix, tag = _SEVERITY_EMOJI.get(severity, ":red_circle:"), "", f"[FIRING:{firing}]"
    subject = "/".join(x for x in (service, slo) if x)
    summary = annotations.get("summary", "")
    text = f"{tag} {_esc(alertname)}" + (f" {_esc(subject)}" if subject else "")
    text += f": {_esc(summary)}" if summary else ""
    escalation = escalation_line(payload)
    if escalation and state == "firing":
        text += f" \u2014 {escalation}"  # the notification text: the mentions page the people on call
    text = _cut(text, _TEXT_MAX)

    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(f"{emoji} {prefix}{alertname}", _HEADER_MAX), "emoji": True},
        },
    ]
    fields: list[str] = []
    if subject:
        fields.append(f"*Service / SLO*\n{_esc(service or '-')} / {_esc(slo or '-')}")
    if severity:
        fields.append(f"*Severity*\n{_esc(severity)}")
    long_, short, threshold = (_num(values.get(k)) for k in ("burn_rate_long", "burn_rate_short", "threshold"))
    if long_ is not None or short is not None:
        burn = " / ".join(f"{v:.1f}x {w}" for v, w in ((long_, "long"), (short, "short")) if v is not None)
        if threshold is not None:
            burn += f" (threshold {threshold:.1f}x)"
        fields.append(f"*Burn rate*\n{burn}")
    budget = _num(values.get("budget_remaining"))
    if budget is not None:
        fields.append(f"*Budget left*\n{budget * 100:.1f}%")
    started = _started(first.get("startsAt"))
    if started:
        fields.append(f"*Started*\n{started}")
    if count > 1:
        fields.append(f"*Alerts*\n{count}")
    if acked_by:
        fields.append(f"*Acknowledged by*\n{_esc(acked_by)}")
    if fields:
        blocks.append(
            {"type": "section", "fields": [{"type": "mrkdwn", "text": _cut(f, _FIELD_MAX)} for f in fields[:_LIST_MAX]]}
        )
    if escalation:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"*{escalation}*", _SECTION_MAX)}})
    description = annotations.get("description", "")
    body = "\n".join(x for x in (f"*{_esc(summary)}*" if summary else "", _esc(description)) if x)
    if body:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(body, _SECTION_MAX)}})
    if len(alerts) > 1:
        lines = []
        for a in alerts[:_LIST_MAX]:
            al = _str_map(a.get("labels"))
            name = " ".join(x for x in (al.get("alertname"), al.get("slo"), al.get("tier")) if x)
            ann = _str_map(a.get("annotations")).get("summary", "")
            done = " (resolved)" if a.get("status") == "resolved" and state != "resolved" else ""
            label = _esc(name or str(a.get("fingerprint", "?")))
            lines.append(f"\u2022 {label}{done}" + (f": {_esc(ann)}" if ann else ""))
        shown = len(lines)
        if count > shown:
            lines.append(f"\u2026 and {count - shown} more")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(lines), _SECTION_MAX)}})
    if group_labels:
        context = "  ".join(f"`{_esc(k)}={_esc(v)}`" for k, v in sorted(group_labels.items()))
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context, _TEXT_MAX)}]})

    buttons: list[dict[str, Any]] = []
    run_id = annotations.get(APPROVAL_RUN_ANNOTATION, "")
    if run_id.isdigit() and state != "resolved":
        for prefix, label, style in (
            (APPROVE_ACTION_PREFIX, "Approve", "primary"),
            (DENY_ACTION_PREFIX, "Deny", "danger"),
        ):
            buttons.append(
                {
                    "type": "button",
                    "action_id": f"{prefix}{run_id}",
                    "style": style,
                    "text": {"type": "plain_text", "text": label},
                    "value": run_id,
                }
            )
    if group_key and len(group_key) <= _BUTTON_VALUE_MAX:
        if state == "firing":
            buttons.append(
                {
                    "type": "button",
                    "action_id": ACK_ACTION_ID,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Acknowledge"},
                    "value": group_key,
                }
            )
        if state != "resolved":  # nothing left to silence
            buttons.append(
                {
                    "type": "button",
                    "action_id": SILENCE_ACTION_ID,
                    "text": {"type": "plain_text", "text": "Silence 1h"},
                    "value": group_key,
                }
            )
    for key, label in (("runbook_url", "Runbook"), ("dashboard_url", "Dashboard")):
        url = annotations.get(key, "")
        if url and len(url) <= _URL_MAX:
            buttons.append(
                {
                    "type": "button",
                    "action_id": f"{LINK_ACTION_PREFIX}{label.lower()}",
                    "text": {"type": "plain_text", "text": label},
                    "url": url,
                }
            )
    if buttons:
        blocks.append({"type": "actions", "block_id": "slo_actions", "elements": buttons})
    return text, blocks


# --- Slack API errors -----------------------------------------------------------------------------


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, Mapping):
        return None
    for key, value in headers.items():
        if str(key).lower() == name.lower():
            if isinstance(value, list | tuple):
                return str(value[0]) if value else None
            return str(value)
    return None


def result_for_slack_error(exc: SlackApiError, method: str) -> DeliveryResult:
    """Map a SlackApiError (an HTTP error or ``"ok": false``) to a DeliveryResult."""
    response = exc.response
    status = getattr(response, "status_code", None)
    data = getattr(response, "data", None)
    error = str(data.get("error") or "unknown_error") if isinstance(data, Mapping) else "unknown_error"
    detail = f"slack {method}: {error}"
    if isinstance(data, Mapping) and data.get("needed"):
        detail += f" (needed: {data.get('needed')}, provided: {data.get('provided')})"
    if status is not None and status != 200:
        detail += f" (HTTP {status})"
    if status == 429 or error in ("ratelimited", "rate_limited"):
        retry_after = parse_retry_after(_header(getattr(response, "headers", None), "Retry-After"))
        return DeliveryResult(Outcome.RETRY, status_code=status, retry_after=retry_after, error=detail)
    if error in TRANSIENT_ERRORS or (isinstance(status, int) and (status >= 500 or status == 408)):
        return DeliveryResult(Outcome.RETRY, status_code=status, error=detail)
    return DeliveryResult(Outcome.FAILED, status_code=status, error=detail)


# --- the receiver ---------------------------------------------------------------------------------


def post_metadata(message: OutboxMessage) -> dict[str, Any]:
    """The Slack message metadata that tags a post with the notification it delivers."""
    return {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {
            "dedup_key": message.dedup_key,
            "notification_id": str(message.id) if message.id is not None else "",
            "action": message.action,
        },
    }


def _tags(slack_message: Any, message: OutboxMessage) -> bool:
    metadata = slack_message.get("metadata") if isinstance(slack_message, Mapping) else None
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != METADATA_EVENT_TYPE:
        return False
    payload = metadata.get("event_payload")
    return (
        isinstance(payload, Mapping)
        and payload.get("dedup_key") == message.dedup_key
        and str(payload.get("notification_id")) == str(message.id)
    )


class SlackReceiver:
    """Post alert groups to Slack and keep the message current. Never raises (see the module docstring)."""

    def __init__(
        self,
        name: str,
        token: str | None,
        channel: str | None,
        webhook_url: str | None = None,
        base_url: str = SLACK_API,
        timeout: float = 10,
        send_resolved: bool = True,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if bool(token) == bool(webhook_url):
            raise ValueError(f"slack receiver {name!r}: set exactly one of token (with channel) or webhook_url")
        if token and not channel:
            raise ValueError(f"slack receiver {name!r}: a bot token needs a channel")
        self.name = name
        self.channel = channel
        # conversations.history takes a channel ID only; a "#name" is resolved by the first post's answer.
        self.channel_id: str | None = channel if channel and _CHANNEL_ID.match(channel) else None
        self.webhook_url = webhook_url or None
        self.timeout = timeout
        self.send_resolved = send_resolved
        self._transport = transport
        self.client: WebClient | None = None
        if token:
            # urllib takes a float timeout; slack-sdk merely annotates it as int. Only a connection that failed
            # before the request went out is retried in process (URLError): anything later may have posted.
            self.client = WebClient(
                token=token,
                base_url=base_url,
                timeout=cast(int, timeout),
                retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1, error_types=[URLError])],
            )

    def deliver(self, message: OutboxMessage) -> DeliveryResult:
        try:
            text, blocks = render_message(message.payload, message.action, message.dedup_key)
            if self.client is None:
                if not self.send_resolved and message_state(message.payload, message.action) == "resolved":
                    return DeliveryResult(Outcome.DELIVERED, error="not sent: send_resolved is off")
                return self._post_webhook(text, blocks)
            ref = message.external_ref or {}
            channel, ts = ref.get("channel"), ref.get("ts")
            if isinstance(channel, str) and channel and isinstance(ts, str) and ts:
                return self._update(message, channel, ts, text, blocks)
            if not self.send_resolved and message_state(message.payload, message.action) == "resolved":
                return DeliveryResult(Outcome.DELIVERED, error="not sent: send_resolved is off")
            return self._post(message, text, blocks)
        except Exception as exc:  # the Receiver contract: never raise
            return result_for_exception(exc)

    def _post(self, message: OutboxMessage, text: str, blocks: list[dict[str, Any]]) -> DeliveryResult:
        """chat.postMessage, unless an earlier attempt of this notification is already in the channel."""
        assert self.client is not None and self.channel is not None
        if message.maybe_sent and message.id is not None:
            found = self.find_posted(message)
            if isinstance(found, DeliveryResult):
                return found  # Slack could not say (throttled, down): ask again later, never post blind
            if found is not None:
                log.info(
                    "slack %s: notification %s was already posted (ts %s); not posting again",
                    self.name,
                    message.id,
                    found["ts"],
                )
                return DeliveryResult(Outcome.DELIVERED, external_ref=found, error="already posted")
        try:
            resp = self.client.chat_postMessage(
                channel=self.channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
                metadata=post_metadata(message),
            )
        except SlackApiError as exc:
            return result_for_slack_error(exc, "chat.postMessage")
        self.channel_id = str(resp["channel"])
        return DeliveryResult(
            Outcome.DELIVERED,
            status_code=resp.status_code,
            external_ref={"channel": str(resp["channel"]), "ts": str(resp["ts"])},
        )

    def find_posted(self, message: OutboxMessage) -> dict[str, str] | DeliveryResult | None:
        """The {channel, ts} of the post tagged with this notification, None if Slack has none (or cannot
        be asked: no channel ID, no history scope), or a RETRY result if Slack did not answer."""
        assert self.client is not None
        channel = self.channel_id or self.resolve_channel_id()
        if isinstance(channel, DeliveryResult):
            return channel
        if channel is None:
            log.warning(
                "slack %s: cannot check whether notification %s was posted (the ID of channel %r is unknown: "
                "configure it by ID, or give the bot channels:read); posting it again may duplicate it",
                self.name,
                message.id,
                self.channel,
            )
            return None
        oldest = f"{(message.created_at - LOOKUP_MARGIN).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(LOOKUP_MAX_PAGES):
            try:
                resp = self.client.conversations_history(
                    channel=channel, oldest=oldest, include_all_metadata=True, limit=LOOKUP_PAGE_SIZE, cursor=cursor
                )
            except SlackApiError as exc:
                result = result_for_slack_error(exc, "conversations.history")
                if result.outcome is Outcome.RETRY:
                    return result
                log.warning(
                    "slack %s: cannot check whether notification %s was posted (%s); posting it again may "
                    "duplicate it (the bot needs channels:history or groups:history)",
                    self.name,
                    message.id,
                    result.error,
                )
                return None
            except Exception as exc:  # a timeout or a dropped connection: still unknown, ask again later
                return result_for_exception(exc)
            for item in resp.get("messages") or []:
                if _tags(item, message):
                    return {"channel": channel, "ts": str(item["ts"])}
            meta = resp.get("response_metadata") or {}
            cursor = meta.get("next_cursor") if isinstance(meta, Mapping) else None
            if not cursor or not resp.get("has_more", True):
                return None
        log.warning(
            "slack %s: notification %s not found in the last %d messages; posting it",
            self.name,
            message.id,
            LOOKUP_MAX_PAGES * LOOKUP_PAGE_SIZE,
        )
        return None

    def resolve_channel_id(self) -> str | DeliveryResult | None:
        """The configured channel's ID from conversations.list (once per process; a post's answer also
        tells it), None if Slack does not list it to us, or a RETRY result if Slack did not answer."""
        assert self.client is not None
        name = (self.channel or "").removeprefix("#")
        cursor: str | None = None
        for _ in range(LOOKUP_MAX_PAGES):
            try:
                resp = self.client.conversations_list(
                    types="public_channel,private_channel", exclude_archived=True, limit=1000, cursor=cursor
                )
            except SlackApiError as exc:
                result = result_for_slack_error(exc, "conversations.list")
                if result.outcome is Outcome.RETRY:
                    return result
                log.warning("slack %s: cannot list channels to find %r: %s", self.name, self.channel, result.error)
                return None
            except Exception as exc:
                return result_for_exception(exc)
            for item in resp.get("channels") or []:
                if isinstance(item, Mapping) and item.get("name") == name and item.get("id"):
                    self.channel_id = str(item["id"])
                    return self.channel_id
            meta = resp.get("response_metadata") or {}
            cursor = meta.get("next_cursor") if isinstance(meta, Mapping) else None
            if not cursor:
                break
        return None

    def _update(
        self, message: OutboxMessage, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
    ) -> DeliveryResult:
        assert self.client is not None
        try:
            resp = self.client.chat_update(
                channel=channel, ts=ts, text=text, blocks=blocks, metadata=post_metadata(message)
            )
        except SlackApiError as exc:
            data = getattr(exc.response, "data", None)
            if isinstance(data, Mapping) and data.get("error") in MESSAGE_GONE_ERRORS:
                return self._post(message, text, blocks)  # the message was deleted or is too old: post a new one
            return result_for_slack_error(exc, "chat.update")
        self.channel_id = self.channel_id or channel
        return DeliveryResult(
            Outcome.DELIVERED,
            status_code=resp.status_code,
            external_ref={"channel": str(resp.get("channel") or channel), "ts": str(resp.get("ts") or ts)},
        )

    def _post_webhook(self, text: str, blocks: list[dict[str, Any]]) -> DeliveryResult:
        """Incoming webhooks cannot be asked what they got: at least once (document it, prefer a bot token)."""
        assert self.webhook_url is not None
        body = json.dumps({"text": text, "blocks": blocks}).encode("utf-8")
        with httpx.Client(timeout=self.timeout, transport=self._transport) as client:
            response = client.post(self.webhook_url, content=body, headers={"Content-Type": "application/json"})
        return result_for_response(response)
