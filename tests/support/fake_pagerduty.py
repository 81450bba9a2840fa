"""A PagerDuty Events API v2 stand-in on a local HTTP server: 202 for a valid event, 400 with PagerDuty's
error shape otherwise; every accepted event is kept with the time it arrived."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ROUTING_KEY = "R0UT1NGKEY0123456789012345678901"


class FakePagerDuty:
    def __init__(self, server: HTTPServer, routing_key: str = ROUTING_KEY) -> None:
        self.routing_key = routing_key
        self.events: list[dict[str, Any]] = []
        self.arrivals: list[float] = []  # time.monotonic() of each accepted event
        self.arrived_at: list[datetime] = []  # the same, on the wall clock (to compare with another process)
        self.failures: list[Response] = []  # canned answers served first, one per request
        self.lock = threading.Lock()
        server.expect_request("/v2/enqueue", method="POST").respond_with_handler(self._enqueue)
        self.url = server.url_for("/v2/enqueue")

    def _enqueue(self, request: Request) -> Response:
        arrived, arrived_at = time.monotonic(), datetime.now(UTC)
        event = request.get_json()
        with self.lock:
            if self.failures:
                return self.failures.pop(0)
        problems = []
        if event.get("routing_key") != self.routing_key:
            problems.append("routing_key")
        if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
            problems.append("event_action")
        if not event.get("dedup_key"):
            problems.append("dedup_key")
        if event.get("event_action") == "trigger":
            payload = event.get("payload") or {}
            for field in ("summary", "source", "severity"):
                if not payload.get(field):
                    problems.append(f"payload.{field}")
            if payload.get("severity") not in ("critical", "error", "warning", "info"):
                problems.append("payload.severity")
        if problems:
            body = {"status": "invalid event", "message": "Event object is invalid", "errors": problems}
            return Response(json.dumps(body), status=400, content_type="application/json")
        with self.lock:
            self.events.append(event)
            self.arrivals.append(arrived)
            self.arrived_at.append(arrived_at)
        return Response(
            json.dumps({"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}),
            status=202,
            content_type="application/json",
        )
