"""The demo's webhook receiver on 127.0.0.1:9106: prints each notification the service sends as one line
(and, as the demo's stand-in CI, each GitHub workflow_dispatch trigger: demo/ci_standin.py).

The example config's `local-webhook` receiver posts Alertmanager-v4 payloads here. A person watching
`make run` sees every page, resolve and acknowledgement as it arrives, e.g.

  02:58:10 NOTIFY FIRING       fraud-detector/latency SLOBurnRateHigh severity=page tier=page-fast burn=65.0x (> 13.4x)
  03:01:42 NOTIFY ACKNOWLEDGED fraud-detector/latency SLOBurnRateHigh severity=page tier=page-fast by alice
  03:14:07 NOTIFY RESOLVED     fraud-detector/latency SLOBurnRateHigh severity=page tier=page-fast
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slo_service.adapters.receivers.webhook import IDEMPOTENCY_HEADER
from slo_service.demo.ci_standin import describe_dispatch, is_dispatch

log = logging.getLogger("slo_service.demo.alerts")


def notification_action(payload: Mapping[str, Any], idempotency_key: str | None) -> str:
    """trigger, resolve or acknowledge: the webhook body is the group's payload (an ack carries the same
    `status: firing`), so the action comes from the Idempotency-Key header, `<dedup key>:<action>:<id>`."""
    if idempotency_key:
        parts = idempotency_key.rsplit(":", 2)
        if len(parts) == 3 and parts[1]:
            return parts[1]
    return "resolve" if payload.get("status") == "resolved" else "trigger"


def describe(payload: Mapping[str, Any], action: str | None = None) -> str:
    """One readable line for one notification (`action`: trigger, resolve or acknowledge): status, SLO,
    alert names, severity, tiers, burn, escalation level, who acknowledged."""
    action = action or notification_action(payload, None)
    status = {"acknowledge": "ACKNOWLEDGED", "resolve": "RESOLVED"}.get(action)
    if status is None:
        status = "RESOLVED" if payload.get("status") == "resolved" else "FIRING"
    alerts = [a for a in payload.get("alerts") or [] if isinstance(a, Mapping)]
    labels = [dict(a.get("labels") or {}) for a in alerts] or [dict(payload.get("commonLabels") or {})]

    def joined(key: str) -> str:
        return ",".join(dict.fromkeys(v for v in (lbl.get(key) for lbl in labels) if v))

    service, slo = joined("service"), joined("slo")
    where = f"{service}/{slo}" if service and slo else service or slo or joined("target") or "?"
    parts = [f"{status:<12}", where, joined("alertname") or "?"]
    if severity := joined("severity"):
        parts.append(f"severity={severity}")
    if tier := joined("burn_tier"):
        parts.append(f"tier={tier}")
    firing = [a for a in alerts if a.get("status") != "resolved"]
    burns = [(a.get("values") or {}).get("burn_rate_long") for a in firing]
    known = [(b, (a.get("values") or {}).get("threshold")) for a, b in zip(firing, burns, strict=True) if b]
    if known and action != "resolve":
        burn, threshold = max(known, key=lambda bt: float(bt[0]))
        parts.append(f"burn={float(burn):.1f}x" + (f" (> {float(threshold):.3g}x)" if threshold else ""))
    escalation = payload.get("escalation")
    if isinstance(escalation, Mapping) and escalation.get("level"):
        levels = f"/{escalation['levels']}" if escalation.get("levels") else ""
        parts.append(f"escalation level {escalation['level']}{levels}")
    oncall = payload.get("oncall")
    if oncall and action == "trigger":
        parts.append("on call: " + ", ".join(str(o) for o in oncall))
    if payload.get("acknowledgedBy"):
        parts.append(f"by {payload['acknowledgedBy']}" if action == "acknowledge" else "(acknowledged)")
    return " ".join(parts)


class _Handler(BaseHTTPRequestHandler):
    server: AlertSink

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("not a JSON object")
        except ValueError:
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if is_dispatch(self.path):  # the stand-in CI (demo/ci_standin.py): GitHub answers 204
            line = describe_dispatch(self.path, payload)
            with self.server.lock:
                self.server.dispatches.append(payload)
                self.server.lines.append(line)
            self.server.echo(f"{time.strftime('%H:%M:%S')} CI     {line}")
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        line = describe(payload, notification_action(payload, self.headers.get(IDEMPOTENCY_HEADER)))
        with self.server.lock:
            self.server.received.append(payload)
            self.server.lines.append(line)
        self.server.echo(f"{time.strftime('%H:%M:%S')} NOTIFY {line}")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


class AlertSink(ThreadingHTTPServer):
    """Listens on 127.0.0.1:port (0: a free one); the example config's `local-webhook` receiver points at
    port 9106. Keeps every payload and its line; prints the line on stdout (`echo`)."""

    daemon_threads = True

    def __init__(self, port: int = 9106, *, echo: bool = True) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.port = int(self.server_address[1])
        self.received: list[dict[str, Any]] = []
        self.dispatches: list[dict[str, Any]] = []  # workflow_dispatch requests to the stand-in CI
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self._echo = echo
        self._thread = threading.Thread(target=self.serve_forever, name="demo-alert-sink", daemon=True)

    def echo(self, line: str) -> None:
        if self._echo:
            print(line, flush=True)  # stdout: the demo's audience, not the service's log
        else:
            log.info("%s", line)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
