"""Secrets from files (`NAME_FILE`, Docker and Kubernetes secrets) against the service as a real process on
PostgreSQL: the stand-in receivers get the routing key and the HMAC signature made with the secret read from
its file, the database password comes from SLO_SERVICE_DATABASE_PASSWORD_FILE, and none of the secrets is
in the DEBUG log, an API answer, /metrics or a generated file. Errors that quote a URL mask its password."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from slo_service.core.secrets import redact, register_secret
from slo_service.settings import Settings, SettingsError
from tests.integration.test_alerts_api import am_payload
from tests.support.process import run_service, start_local_server, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

PD_KEY = "pd-routing-key-from-a-file-0123456789"
HOOK_SECRET = "hook-hmac-secret-from-a-file-9876543210"
SLACK_SECRET = "slack-signing-secret-from-a-file-abcdef"
DB_PASSWORD = "db-password-from-a-file-s3cr3t"
SECRETS = (PD_KEY, HOOK_SECRET, SLACK_SECRET, DB_PASSWORD)


def _config(pd_url: str, hook_url: str) -> str:
    return f"""apiVersion: slo-service/v1
services: [{{name: svc}}]
sources: [{{name: p, type: push}}]
slos:
  - {{service: svc, name: a, objective: 99, period: 7d, sli: {{ratio: {{source: p, good: g, total: t}}}}}}
alerting:
  receivers:
    - {{name: pager, type: pagerduty, routing_key_env: TEST_PD_KEY, url: "{pd_url}", timeout: 2s}}
    - {{name: hook, type: webhook, url: "{hook_url}", hmac_secret_env: TEST_HOOK_SECRET, timeout: 2s}}
  route:
    receiver: pager
    group_wait: 0s
    group_interval: 1s
    routes:
      - {{matchers: ['severity="page"'], receiver: pager, continue: true}}
      - {{matchers: ['severity="page"'], receiver: hook}}
"""


def test_secrets_from_files_are_used_and_appear_nowhere(postgres_url: str, tmp_path: Path) -> None:
    pages: list[dict] = []
    hooks: list[tuple[bytes, dict[str, str]]] = []

    def pagerduty(request: Request) -> Response:
        pages.append(json.loads(request.get_data()))
        return Response(json.dumps({"status": "success", "dedup_key": "x"}), status=202)

    def webhook(request: Request) -> Response:
        hooks.append((request.get_data(), dict(request.headers)))
        return Response("ok")

    server: HTTPServer = start_local_server()
    server.expect_request("/pd").respond_with_handler(pagerduty)
    server.expect_request("/hook").respond_with_handler(webhook)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    files = {}
    for name, value in (("pd", PD_KEY), ("hook", HOOK_SECRET), ("slack", SLACK_SECRET), ("db", DB_PASSWORD)):
        files[name] = secrets / name
        files[name].write_text(value + "\n")  # as `kubectl create secret` or an editor leaves it
    config = tmp_path / "slo.yaml"
    config.write_text(_config(server.url_for("/pd"), server.url_for("/hook")))
    env = {
        "TEST_PD_KEY_FILE": str(files["pd"]),
        "TEST_HOOK_SECRET_FILE": str(files["hook"]),
        "SLO_SERVICE_SLACK_SIGNING_SECRET_FILE": str(files["slack"]),
        # trust authentication ignores the password, but it is in every connection the service makes
        "SLO_SERVICE_DATABASE_PASSWORD_FILE": str(files["db"]),
        "SLO_SERVICE_LOG_LEVEL": "DEBUG",
        "SLO_SERVICE_DATA_DIR": str(tmp_path / "data"),
    }
    try:
        with run_service([config], postgres_url, tmp_path, env=env) as svc:
            payload = am_payload()
            payload["alerts"][0]["startsAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
            answer = svc.post("/api/v1/alertmanager/webhook", json=payload)
            assert answer.status_code == 200, answer.text
            wait_for(lambda: pages and hooks, timeout=60, what="the page and the webhook")

            assert pages[0]["routing_key"] == PD_KEY
            body, headers = hooks[0]
            stamp = headers["X-Slo-Service-Timestamp"]
            assert stamp.isdigit()
            digest = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Slo-Service-Signature"] == f"sha256={digest}"

            # Slack's signing secret from its file: a request signed with it is let through the signature check
            ts = str(int(time.time()))
            form = "payload=" + json.dumps({"type": "block_actions", "actions": []})
            signature = "v0=" + hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:{form}".encode(), hashlib.sha256).hexdigest()
            slack_headers = {
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
            }
            signed = svc.post("/api/v1/slack/interactions", content=form, headers=slack_headers)
            assert signed.status_code != 401, signed.text
            forged = svc.post(
                "/api/v1/slack/interactions", content=form, headers={**slack_headers, "X-Slack-Signature": "v0=00"}
            )
            assert forged.status_code == 401

            answers = [
                svc.get(path).text
                for path in (
                    "/api/v1/config",
                    "/api/v1/sources",
                    "/api/v1/alerts",
                    "/api/v1/notifications",
                    "/api/v1/notifications/groups",
                    "/api/v1/slos",
                    "/metrics",
                    "/openapi.json",
                )
            ]
            log = svc.log()
        assert "DEBUG" in log  # the log was as verbose as it gets
        generated = tmp_path / "generated"
        generated.mkdir()
        cli_env = {**env}
        for command, out in (
            (["generate", "alertmanager-config"], "alertmanager.yml"),
            (["generate", "prometheus-rules"], "rules.yml"),
            (["export", "--allow-lossy"], "openslo.yaml"),
        ):
            result = subprocess.run(
                [sys.executable, "-m", "slo_service", *command, "-c", str(config), "--out", str(generated / out)],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, **cli_env},
            )
            assert result.returncode == 0, (command, result.stdout, result.stderr)
            answers.append(result.stdout + result.stderr)
        written = [p.read_text() for p in generated.iterdir()]
        assert len(written) == 3
        for secret in SECRETS:
            assert secret not in log, secret
            for text in [*answers, *written]:
                assert secret not in text, secret
    finally:
        server.stop()


def test_database_url_from_file_and_password_conflicts_name_the_variable(tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    url_file.write_text("postgresql+psycopg://slo:from-file-pw-123@db:5432/slo\n")
    settings = Settings(database_url_file=url_file).resolved()
    assert settings.database_url == "postgresql+psycopg://slo:from-file-pw-123@db:5432/slo"
    assert "from-file-pw-123" not in redact(f"could not connect to {settings.database_url}")

    pw = tmp_path / "pw"
    pw.write_text("p@ss:w/rd-42\n")  # characters a URL must escape
    settings = Settings(database_url="postgresql+psycopg://slo@db/slo", database_password_file=pw).resolved()
    assert settings.database_url == "postgresql+psycopg://slo:p%40ss%3Aw%2Frd-42@db/slo"
    assert "p@ss:w/rd-42" not in redact("password p@ss:w/rd-42 refused")

    with pytest.raises(SettingsError, match="the database URL has a password already") as exc:
        Settings(database_url="postgresql+psycopg://slo:x@db/slo", database_password_file=pw).resolved()
    assert "p@ss" not in str(exc.value)
    with pytest.raises(SettingsError, match="SLO_SERVICE_DATABASE_URL and SLO_SERVICE_DATABASE_URL_FILE are both set"):
        Settings(database_url="sqlite:///x.db", database_url_file=url_file).resolved()
    with pytest.raises(SettingsError, match="SLO_SERVICE_DATABASE_PASSWORD_FILE: cannot read"):
        Settings(database_password_file=tmp_path / "missing").resolved()


def test_redact_masks_registered_secrets_and_url_passwords() -> None:
    register_secret("a-registered-secret-value")
    text = "POST https://hooks.example/x failed: token a-registered-secret-value; db postgresql://u:pw123@h/db"
    assert redact(text) == "POST https://hooks.example/x failed: token ***; db postgresql://u:***@h/db"
    assert redact("short ab stays") == "short ab stays"
