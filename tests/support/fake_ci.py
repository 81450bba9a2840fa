"""Local stand-ins for CI trigger APIs that check what the real ones require and record what arrived."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

GITHUB_TOKEN = "ghp_fake_ci_token_123"
GITLAB_TOKEN = "glptt-fake-trigger-456"


class FakeGitHubActions:
    """POST /repos/{repo}/actions/workflows/{workflow}/dispatches: 204 with the right headers, else 401/422.
    `down` answers 503 (the target is down) until cleared; `arrived_at` has time.time() of each accepted one."""

    def __init__(self, server: HTTPServer, repo: str = "acme/fraud", workflow: str = "rollback.yml") -> None:
        self.server = server
        self.path = f"/repos/{repo}/actions/workflows/{workflow}/dispatches"
        self.dispatches: list[dict[str, Any]] = []
        self.arrived_at: list[float] = []
        self.refused = 0
        self.down = False
        self.hold: threading.Event | None = None  # set: each request waits for it (a request in flight)
        self.holding = 0
        self._lock = threading.Lock()
        server.expect_request(self.path, method="POST").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def _handle(self, request: Request) -> Response:
        if self.hold is not None and not self.hold.is_set():
            with self._lock:
                self.holding += 1
            self.hold.wait(120)
        if self.down:
            with self._lock:
                self.refused += 1
            return Response("unavailable", status=503)
        if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            return Response('{"message": "Bad credentials"}', status=401)
        if request.headers.get("Accept") != "application/vnd.github+json":
            return Response('{"message": "bad Accept"}', status=415)
        if request.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            return Response('{"message": "bad API version"}', status=400)
        body = json.loads(request.data)
        inputs = body.get("inputs")
        if set(body) != {"ref", "inputs"} or not isinstance(inputs, dict) or len(inputs) > 10:
            return Response('{"message": "Invalid request"}', status=422)
        if not all(isinstance(v, str) for v in inputs.values()):
            return Response('{"message": "inputs must be strings"}', status=422)
        with self._lock:
            self.dispatches.append(body)
            self.arrived_at.append(time.time())
        return Response("", status=204)


class FakeGitLab:
    """POST /api/v4/projects/{id}/trigger/pipeline with form token, ref and variables[...]: 201."""

    def __init__(self, server: HTTPServer, project: str = "ml/fraud") -> None:
        self.server = server
        self.pipelines: list[dict[str, str]] = []
        server.expect_request(f"/api/v4/projects/{project}/trigger/pipeline", method="POST").respond_with_handler(
            self._handle
        )

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def _handle(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        if form.get("token") != GITLAB_TOKEN:
            return Response('{"message": "404 Not Found"}', status=404)
        if not form.get("ref"):
            return Response('{"message": {"base": ["Reference not found"]}}', status=400)
        self.pipelines.append(form)
        return Response(json.dumps({"id": len(self.pipelines), "status": "created"}), status=201)
