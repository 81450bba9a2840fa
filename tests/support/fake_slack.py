"""A Slack Web API stand-in on a local HTTP server: chat.postMessage, chat.update, conversations.history
and conversations.list (one channel, ``channel_id`` named ``channel_name``, among a few others).

It answers as Slack does, and refuses what Slack would refuse: a missing or wrong bot token
(``not_authed`` / ``invalid_auth``), a post without channel or text/blocks, malformed message metadata
(``invalid_metadata_format``), an update of an unknown ts (``message_not_found``), history of a channel
given by name instead of ID (``channel_not_found``). Messages keep their ``metadata``; history returns it
only with ``include_all_metadata``, newest first, from ``oldest``, paginated by cursor. ``chat.update``
replaces the metadata when given and keeps it otherwise.

Misbehaviour on demand, each call recorded in ``log``: ``post_delay`` (store the post, answer late: a client
timeout), ``post_gate`` (store the post, then block until the event is set: a process killed mid-post),
``throttle_until`` (HTTP 429 ``ratelimited`` with ``Retry-After`` for every method until then), and
``failures`` (canned responses served first, one per call).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TOKEN = "xoxb-test-token"
CHANNEL_ID = "C0ALERTS"


@dataclass
class SlackMessage:
    ts: str
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    edits: int = 0

    def public(self, with_metadata: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text, "blocks": self.blocks}
        if with_metadata and self.metadata:
            out["metadata"] = self.metadata
        return out


@dataclass
class FakeSlack:
    server: HTTPServer
    token: str = TOKEN
    channel_id: str = CHANNEL_ID
    channel_name: str = "alerts"
    messages: list[SlackMessage] = field(default_factory=list)  # the channel as people see it
    posts: list[dict[str, Any]] = field(default_factory=list)  # accepted chat.postMessage arguments
    updates: list[dict[str, Any]] = field(default_factory=list)  # accepted chat.update arguments
    log: list[tuple[str, float]] = field(default_factory=list)  # every call: (method, time.monotonic())
    failures: list[Response] = field(default_factory=list)
    post_delay: float = 0.0
    post_gate: threading.Event | None = None
    throttle_until: float = 0.0  # time.monotonic() deadline
    retry_after: int = 5

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.post_started = threading.Event()
        for method, handler in (
            ("chat.postMessage", self._post),
            ("chat.update", self._update),
            ("conversations.history", self._history),
            ("conversations.list", self._list),
        ):
            self.server.expect_request(f"/api/{method}").respond_with_handler(handler)

    @property
    def base_url(self) -> str:
        return self.server.url_for("/api/")

    @property
    def calls(self) -> int:
        with self.lock:
            return len(self.log)

    def count(self, method: str) -> int:
        with self.lock:
            return sum(1 for m, _ in self.log if m == method)

    def first_call(self, method: str) -> float | None:
        with self.lock:
            return next((t for m, t in self.log if m == method), None)

    # --- plumbing ---------------------------------------------------------------------------------

    def _args(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            return dict(request.args.items())
        if request.mimetype == "application/json":
            return dict(request.get_json())
        return dict(request.form.items())

    def _gate(self, method: str, request: Request) -> Response | None:
        """Record the call; answer auth errors, throttling and canned failures the way Slack does."""
        with self.lock:
            self.log.append((method, time.monotonic()))
            auth = request.headers.get("Authorization", "")
            if not auth:
                return _error("not_authed")
            if auth != f"Bearer {self.token}":
                return _error("invalid_auth")
            if time.monotonic() < self.throttle_until:
                return Response(
                    json.dumps({"ok": False, "error": "ratelimited"}),
                    status=429,
                    headers={"Retry-After": str(self.retry_after)},
                    content_type="application/json",
                )
            if self.failures:
                return self.failures.pop(0)
        return None

    def _channel(self, value: Any) -> str | None:
        """A post may name the channel (#name) or give its ID; every other method needs the ID."""
        if value in (self.channel_id, self.channel_name, f"#{self.channel_name}"):
            return self.channel_id
        return None

    # --- methods ----------------------------------------------------------------------------------

    def _post(self, request: Request) -> Response:
        refused = self._gate("chat.postMessage", request)
        if refused is not None:
            return refused
        args = self._args(request)
        channel = self._channel(args.get("channel"))
        if channel is None:
            return _error("channel_not_found")
        blocks = _json_field(args.get("blocks"))
        if not args.get("text") and not blocks:
            return _error("no_text")
        metadata = _json_field(args.get("metadata"))
        if metadata is not None and not _valid_metadata(metadata):
            return _error("invalid_metadata_format")
        with self.lock:
            message = SlackMessage(
                ts=f"{time.time():.0f}.{len(self.messages) + 1:06d}",
                channel=channel,
                text=str(args.get("text") or ""),
                blocks=list(blocks or []),
                metadata=metadata or None,
            )
            self.messages.append(message)
            self.posts.append({**args, "blocks": message.blocks, "metadata": message.metadata})
        self.post_started.set()
        if self.post_gate is not None:
            self.post_gate.wait(60)  # the caller is killed meanwhile; its answer goes nowhere
        if self.post_delay:
            time.sleep(self.post_delay)  # posted, but the answer comes after the client gave up
        return _ok({"channel": channel, "ts": message.ts, "message": message.public(True)})

    def _update(self, request: Request) -> Response:
        refused = self._gate("chat.update", request)
        if refused is not None:
            return refused
        args = self._args(request)
        if args.get("channel") != self.channel_id:
            return _error("channel_not_found")
        metadata = _json_field(args.get("metadata"))
        if metadata is not None and metadata != {} and not _valid_metadata(metadata):
            return _error("invalid_metadata_format")
        with self.lock:
            message = next((m for m in self.messages if m.ts == args.get("ts")), None)
            if message is None:
                return _error("message_not_found")
            blocks = _json_field(args.get("blocks"))
            if not args.get("text") and not blocks:
                return _error("no_text")
            message.text = str(args.get("text") or "")
            message.blocks = list(blocks or [])
            if metadata is not None:  # given: replaced ({} removes it); left out: kept
                message.metadata = metadata or None
            message.edits += 1
            self.updates.append({**args, "blocks": message.blocks})
        return _ok({"channel": message.channel, "ts": message.ts, "text": message.text})

    def _history(self, request: Request) -> Response:
        refused = self._gate("conversations.history", request)
        if refused is not None:
            return refused
        args = self._args(request)
        if args.get("channel") != self.channel_id:
            return _error("channel_not_found")  # a #name is not a conversation ID
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        oldest = float(args.get("oldest") or 0)
        limit = min(int(args.get("limit") or 100), 999)
        start = int(args.get("cursor") or 0)
        with self.lock:
            newest_first = [m for m in reversed(self.messages) if float(m.ts) > oldest]
        page = newest_first[start : start + limit]
        more = start + limit < len(newest_first)
        return _ok(
            {
                "messages": [m.public(with_metadata) for m in page],
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            }
        )

    def _list(self, request: Request) -> Response:
        refused = self._gate("conversations.list", request)
        if refused is not None:
            return refused
        channels = [{"id": f"C{i:08d}", "name": f"other-{i}", "is_channel": True} for i in range(3)]
        channels.append({"id": self.channel_id, "name": self.channel_name, "is_channel": True})
        return _ok({"channels": channels, "response_metadata": {"next_cursor": ""}})


def _json_field(value: Any) -> Any:
    """Form-encoded calls carry JSON fields as strings; JSON calls as values."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _valid_metadata(metadata: Any) -> bool:
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and bool(metadata["event_type"])
        and isinstance(metadata.get("event_payload"), dict)
    )


def _ok(body: dict[str, Any]) -> Response:
    return Response(json.dumps({"ok": True, **body}), content_type="application/json")


def _error(error: str) -> Response:
    return Response(json.dumps({"ok": False, "error": error}), content_type="application/json")
