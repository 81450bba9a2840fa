"""A tiny webhook receiver for the demo: prints the Alertmanager-v4 notifications the service sends."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("slo_service.demo.alerts")


class _Handler(BaseHTTPRequestHandler):
    server: AlertSink

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self.send_response(400)
            self.end_headers()
            return
        self.server.received.append(payload)
        for alert in payload.get("alerts", []):
            summary = (alert.get("annotations") or {}).get("summary") or alert.get("labels", {}).get("alertname")
            status = str(alert.get("status") or payload.get("status") or "?").upper()
            log.warning("%s %s: %s", status, alert.get("labels", {}).get("severity"), summary)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


class AlertSink(ThreadingHTTPServer):
    """Listens on 127.0.0.1:port; the example config's `local-webhook` receiver points here."""

    daemon_threads = True

    def __init__(self, port: int = 9106) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.received: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self.serve_forever, name="demo-alert-sink", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
