"""Tokens end to end: the CLI against the database a real service process uses, what is stored and
logged, the bootstrap admin token's settings, the demo, and a real Alertmanager sending its bearer token."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml
from sqlalchemy import MetaData, select
from sqlalchemy.engine import make_url

from slo_service.adapters.sql.engine import make_engine
from slo_service.core.tokens import ADMIN_TOKEN_NAME
from tests.support.auth import ADMIN_TOKEN
from tests.support.process import GiveUp, free_port, require_tool, run_service, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """apiVersion: slo-service/v1
services: [{name: svc}]
sources: [{name: p, type: push}]
slos:
  - {service: svc, name: a, objective: 99, period: 7d, sli: {ratio: {source: p, good: g, total: t}}}
"""


def slo_cli(*args: str, token: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m slo_service ARGS`, sending `token` from client commands (no token when None)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SLO_SERVICE_TOKEN")}
    full_env.update({"COLUMNS": "250", **env, **({"SLO_SERVICE_TOKEN": token} if token else {})})
    return subprocess.run(
        [sys.executable, "-m", "slo_service", *args], capture_output=True, text=True, timeout=120, env=full_env
    )


def database_dump(url: str) -> str:
    """Every row of every table, as text."""
    engine = make_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            return "\n".join(repr(tuple(row)) for t in metadata.sorted_tables for row in conn.execute(select(t)))
    finally:
        engine.dispose()


def sqlite_bytes(url: str) -> bytes:
    """The SQLite file and its WAL as they lie on disk."""
    path = Path(make_url(url).database or "")
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_cli_create_list_revoke_with_a_running_service_and_only_hashes_stored(db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "slo.yaml"
    config.write_text(CONFIG)
    env = {"SLO_SERVICE_LOG_LEVEL": "DEBUG"}
    with run_service([config], db_url, tmp_path, env=env) as svc:
        created = slo_cli(
            "token", "create", "--name", "ci-prod", "--scope", "ci", "-s", "read", "--database-url", db_url
        )
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip()
        assert re.fullmatch(r"slo_[A-Za-z0-9_-]{43}", token), created.stdout
        assert "ci-prod" in created.stderr and token not in created.stderr

        svc.token = token
        assert svc.get("/api/v1/slos").status_code == 200
        assert svc.post("/api/v1/ingest", json={"source": "p", "samples": []}).status_code not in (401, 403)
        assert svc.post("/api/v1/silences", json={}).status_code == 403
        status = slo_cli("status", "--url", svc.url, token=token)
        assert status.returncode == 0 and "svc" in status.stdout, status.stderr
        refused = slo_cli("status", "--url", svc.url)
        assert refused.returncode == 1 and "SLO_SERVICE_TOKEN" in refused.stderr  # refused: 1, unreachable: 2

        listed = slo_cli("token", "list", "--database-url", db_url)
        assert listed.returncode == 0, listed.stderr
        row = next(line for line in listed.stdout.splitlines() if "ci-prod" in line)
        cells = [c.strip() for c in row.strip("│").split("│")]
        assert cells[1] == "read,ci" and cells[3] and not cells[4]  # used, not revoked
        assert token not in listed.stdout and hashlib.sha256(token.encode()).hexdigest() not in listed.stdout

        again = slo_cli("token", "create", "--name", "ci-prod", "--scope", "read", "--database-url", db_url)
        assert again.returncode == 1 and "ci-prod" in again.stderr and not again.stdout

        revoked = slo_cli("token", "revoke", "ci-prod", "--database-url", db_url)
        assert revoked.returncode == 0, revoked.stderr
        response = svc.get("/api/v1/slos")  # refused at once: no cache outlives a revocation
        assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        twice = slo_cli("token", "revoke", "ci-prod", "--database-url", db_url)
        assert twice.returncode == 1 and "already revoked" in twice.stderr

        svc.token = ADMIN_TOKEN
        by_api = svc.post("/api/v1/tokens", json={"name": "grafana", "scopes": ["read"]}).json()["token"]
        svc.token = "slo_" + "x" * 43
        assert svc.get("/api/v1/slos").status_code == 401
        log = svc.log()

    dump = database_dump(db_url)
    assert hashlib.sha256(token.encode()).hexdigest() in dump
    assert hashlib.sha256(by_api.encode()).hexdigest() in dump
    for secret in (token, by_api, ADMIN_TOKEN, "slo_" + "x" * 43):
        assert secret not in dump
        assert secret not in log
        if db_url.startswith("sqlite"):
            assert secret.encode() not in sqlite_bytes(db_url)
    assert "POST /api/v1/ingest by token 'ci-prod'" in log  # the name is what the log may say
    assert f"POST /api/v1/tokens by token '{ADMIN_TOKEN_NAME}'" in log


def test_bootstrap_admin_token_from_a_file_and_settings_that_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "slo.yaml"
    config.write_text(CONFIG)
    secret_file = tmp_path / "admin-token"
    secret_file.write_text("file-admin-token-" + "f" * 32 + "\n")
    env = {"SLO_SERVICE_ADMIN_TOKEN": "", "SLO_SERVICE_ADMIN_TOKEN_FILE": str(secret_file)}
    with run_service([config], f"sqlite:///{tmp_path}/a.db", tmp_path, env=env) as svc:
        svc.token = secret_file.read_text().strip()
        assert svc.get("/api/v1/tokens").status_code == 200
        svc.token = ADMIN_TOKEN  # the test default is not configured here
        assert svc.get("/api/v1/tokens").status_code == 401

    serve = ["serve", "--config", str(config), "--database-url", f"sqlite:///{tmp_path}/b.db"]
    short = slo_cli(*serve, SLO_SERVICE_ADMIN_TOKEN="short-secret-123")
    assert short.returncode == 1
    assert "SLO_SERVICE_ADMIN_TOKEN: at least 32 characters" in short.stderr
    assert "short-secret-123" not in short.stdout + short.stderr and "Traceback" not in short.stderr


@contextmanager
def run_demo(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`slo-service demo` as `make run` starts it, on free ports and a data directory of its own."""
    port = free_port()
    cmd = [sys.executable, "-m", "slo_service", "demo", "--port", str(port), "--demo-port", str(free_port()),
           "--alert-port", str(free_port()), "--database-url", f"sqlite:///{tmp_path}/demo.db"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLO_SERVICE_")}
    env["SLO_SERVICE_DATA_DIR"] = str(tmp_path / "var")
    out = tmp_path / "demo.log"
    with open(out, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise GiveUp(f"demo exited: {out.read_text()}")
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200

    try:
        wait_for(ready, timeout=60, what="demo /readyz")
        yield url, proc
    finally:
        stop(proc)


def test_the_demo_reads_without_a_token_and_acts_with_its_own_admin_token_file(tmp_path: Path) -> None:
    with run_demo(tmp_path) as (url, _):
        token_file = tmp_path / "var" / "demo-admin-token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        assert httpx.get(f"{url}/api/v1/slos").status_code == 200
        listed = slo_cli("alerts", "--url", url)
        assert listed.returncode == 0, listed.stderr
        add = ["silence", "add", "--url", url, "-m", 'slo="latency"', "--author", "alice"]
        assert slo_cli(*add).returncode == 1
        added = slo_cli(*add, SLO_SERVICE_TOKEN_FILE=str(token_file))
        assert added.returncode == 0 and len(added.stdout.strip()) == 32, added.stderr
    printed = (tmp_path / "demo.log").read_text()
    assert f"SLO_SERVICE_TOKEN_FILE={token_file}" in printed and token not in printed


def test_alertmanager_sends_its_alerts_with_the_documented_bearer_token(tmp_path: Path) -> None:
    binary = require_tool("prometheus-alertmanager")
    config = tmp_path / "slo.yaml"
    config.write_text(CONFIG)
    with run_service([config], f"sqlite:///{tmp_path}/am.db", tmp_path) as svc:
        created = svc.post("/api/v1/tokens", json={"name": "alertmanager", "scopes": ["ci"]})
        token_file = tmp_path / "slo-service-token"
        token_file.write_text(created.json()["token"] + "\n")
        doc = (ROOT / "docs" / "api.md").read_text()
        snippet = next(b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if "credentials_file" in b)
        snippet = snippet.replace("http://slo-service:8080", svc.url)
        snippet = snippet.replace("/etc/alertmanager/slo-service-token", str(token_file))
        am_config = yaml.safe_load(snippet)
        am_config["route"] = {**am_config["route"], "group_wait": "0s", "group_interval": "1s"}
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(am_config))
        am_port = free_port()
        cmd = [binary, f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'am'}",
               f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="]  # fmt: skip
        with open(tmp_path / "alertmanager.log", "wb") as log:
            am = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            am_url = f"http://127.0.0.1:{am_port}"
            wait_for(lambda: httpx.get(f"{am_url}/-/ready", timeout=2).status_code == 200, what="alertmanager")
            alert = {"labels": {"alertname": "DiskFull", "severity": "ticket"}, "annotations": {"summary": "95%"}}
            assert httpx.post(f"{am_url}/api/v2/alerts", json=[alert], timeout=10).status_code == 200

            def arrived() -> list[dict[str, str]]:
                alerts = svc.get("/api/v1/alerts", params={"state": "firing"}).json()
                return [a["labels"] for a in alerts if a["labels"].get("alertname") == "DiskFull"]

            labels = wait_for(arrived, timeout=30, what="the alert, through Alertmanager's webhook")
            assert labels[0]["alert_source"] == "alertmanager"
        finally:
            am.terminate()
            am.wait(timeout=20)
        used = next(t for t in svc.get("/api/v1/tokens").json() if t["name"] == "alertmanager")
        assert used["last_used_at"] is not None
