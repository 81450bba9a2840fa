"""Response actions through the service as a real process, the demo model server and a local stand-in for
GitHub Actions: a deployment, then the model server degrades; the burn-rate page is attributed to the deploy
and a rollback to the previous version reaches GitHub exactly once although evaluations keep firing; the
cooldown holds; CI's status report closes the run. With approval required nothing fires until approved. A
GitHub that is down gets the trigger once when it recovers, even when the service is SIGKILLed between retries.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from slo_service.core.ci_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from slo_service.demo.model_server import DemoModelServer
from tests.support.auth import ADMIN_TOKEN
from tests.support.fake_ci import GITHUB_TOKEN, FakeGitHubActions
from tests.support.history import PAGE_5M_POLICY, seed_history
from tests.support.process import ServiceProcess, run_service, start_local_server, wait_for

CI_SECRET = "ci-shared-secret-for-tests"
ENV = {"TEST_GITHUB_TOKEN": GITHUB_TOKEN, "SLO_SERVICE_CI_SECRET": CI_SECRET}


def signed_status(svc: ServiceProcess, run_id: int, body: dict[str, Any], secret: str = CI_SECRET) -> httpx.Response:
    """A status report signed like part A's CI requests (no token)."""
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, raw)}
    return httpx.post(f"{svc.url}/api/v1/actions/{run_id}/status", content=raw, headers=headers, timeout=10)


def write_config(
    path: Path, model_url: str, github_url: str, approval: bool = False, status_timeout: str = "30m"
) -> Path:
    path.write_text(
        f"""apiVersion: slo-service/v1
services:
  - name: fraud-detector
sources:
  - {{name: demo, type: scrape, url: "{model_url}/metrics", interval: 1s, timeout: 900ms}}
slos:
  - service: fraud-detector
    name: availability
    objective: 99
    period: 7d
    sli:
      ratio: {{source: demo, good: 'model_requests_total{{code!~"5.."}}', total: model_requests_total}}
alerting:
{PAGE_5M_POLICY}responses:
  status_timeout: {status_timeout}
  targets:
    - name: github
      type: github_workflow_dispatch
      url: "{github_url}"
      repo: acme/fraud
      workflow: rollback.yml
      token_env: TEST_GITHUB_TOKEN
  policies:
    - name: rollback-bad-deploy
      when: {{service: fraud-detector, burn_rate: page, after_deploy: 30m}}
      action: rollback
      target: github
      cooldown: 1h
      approval: {"true" if approval else "false"}
"""
    )
    return path


def record_deployments(svc: ServiceProcess) -> None:
    """v1 two days ago, then v2 two minutes ago, as CI reports them (POST /api/v1/deployments)."""
    now = datetime.now(UTC)
    for n, (version, ago) in enumerate((("v1", timedelta(days=2)), ("v2", timedelta(minutes=2)))):
        body = {
            "service": "fraud-detector",
            "environment": "prod",
            "version": version,
            "model_version": f"m-{version}",
            "commit": f"c{n}",
            "time": (now - ago).isoformat(),
        }
        response = svc.post("/api/v1/deployments", json=body)
        assert response.status_code == 201, response.text


World = tuple[DemoModelServer, FakeGitHubActions, Path]


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str) -> Iterator[World]:
    model = DemoModelServer(port=0, rate=50, error_rate=0.0).start()
    ci_server = start_local_server()
    github = FakeGitHubActions(ci_server)
    seed_history(sqlite_url, "fraud-detector", "availability")
    yield model, github, tmp_path
    model.stop()
    ci_server.stop()


def degrade(svc: ServiceProcess, model: DemoModelServer) -> None:
    record_deployments(svc)
    wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
    model.trigger_incident(duration_s=600, error_rate=0.5, slow=False)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLO_SERVICE_TOKEN": ADMIN_TOKEN, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "slo_service", *args], capture_output=True, text=True, env=env)


def runs(svc: ServiceProcess) -> list[dict[str, Any]]:
    return list(svc.get("/api/v1/actions").json())


def test_a_burn_after_a_deploy_rolls_back_once_and_the_report_closes_the_run(world: World, sqlite_url: str) -> None:
    model, github, tmp_path = world
    config = write_config(tmp_path / "slo.yaml", model.url, github.url)
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        degrade(svc, model)
        wait_for(lambda: github.dispatches, timeout=90, what="the rollback at GitHub")
        time.sleep(5)  # five more evaluation cycles (1 s apart) with the page still firing
        firing = svc.get("/api/v1/alerts", params={"state": "firing"}).json()
        assert any(a["labels"].get("severity") == "page" for a in firing), firing
        assert len(github.dispatches) == 1
        inputs = github.dispatches[0]["inputs"]
        assert inputs["action"] == "rollback" and inputs["service"] == "fraud-detector"
        assert (inputs["from_version"], inputs["to_version"]) == ("v2", "v1")
        [decision] = svc.get("/api/v1/decisions").json()
        assert decision["why"]["attributed_to"]["version"] == "v2"
        assert decision["why"]["burn"]["severity"] == "page" and decision["why"]["burn"]["long_window"] == "5m"
        assert decision["why"]["burn"]["burn_rate_long"] > 1
        [run] = runs(svc)
        assert run["state"] == "sent" and inputs["action_run_id"] == str(run["id"])
        assert inputs["idempotency_key"] == run["decision_key"]
        forged = signed_status(svc, run["id"], {"state": "failed"}, secret="not-the-secret")
        assert forged.status_code == 401
        reported = signed_status(svc, run["id"], {"state": "running", "url": "https://ci/1"})
        assert reported.status_code == 200, reported.text
        assert reported.json()["answer"]["url"] == "https://ci/1"
        done = svc.post(f"/api/v1/actions/{run['id']}/status", json={"state": "succeeded"})
        assert done.json()["state"] == "succeeded"
        again = svc.post(f"/api/v1/actions/{run['id']}/status", json={"state": "failed"})
        assert again.status_code == 409 and "succeeded" in again.json()["message"]
        assert svc.post("/api/v1/actions/999/status", json={"state": "failed"}).status_code == 404
        bad = svc.post(f"/api/v1/actions/{run['id']}/status", json={"state": "exploded"})
        assert bad.status_code == 422 and "state" in bad.text
        metrics = svc.get("/metrics").text
        assert 'slo_service_actions_total{action="rollback",outcome="sent",target="github"} 1.0' in metrics
        kinds = [e["kind"] for e in svc.get("/api/v1/audit").json()]
        assert kinds.count("decision") == 1 and kinds.count("send") == 1 and kinds.count("report") == 2


def test_approval_required_nothing_fires_until_approved_and_a_denial_sends_nothing(
    world: World, sqlite_url: str
) -> None:
    model, github, tmp_path = world
    config = write_config(tmp_path / "slo.yaml", model.url, github.url, approval=True)
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        degrade(svc, model)
        [run] = wait_for(lambda: runs(svc) or None, timeout=90, what="a run waiting for approval")
        assert run["state"] == "pending_approval"
        time.sleep(3)
        assert github.dispatches == []
        listed = cli("actions", "list", "--state", "pending_approval", "--url", svc.url)
        assert listed.returncode == 0 and "pending_approval" in listed.stdout and "rollback" in listed.stdout
        approved = cli("actions", "approve", str(run["id"]), "--by", "alice", "--url", svc.url)
        assert approved.returncode == 0 and "approved by alice" in approved.stdout, approved.stderr
        wait_for(lambda: github.dispatches, timeout=30, what="the approved rollback")
        assert svc.post(f"/api/v1/actions/{run['id']}/deny", json={"by": "bob"}).status_code == 409
        late = cli("actions", "deny", str(run["id"]), "--url", svc.url)
        assert late.returncode == 1 and "cannot become denied" in late.stderr
        audit = svc.get("/api/v1/audit").json()
        assert any(e["kind"] == "approval" and "alice" in e["actor"] for e in audit)


def test_github_down_gets_the_trigger_once_when_it_recovers_even_across_a_sigkill_between_retries(
    world: World, sqlite_url: str
) -> None:
    model, github, tmp_path = world
    github.down = True
    config = write_config(tmp_path / "slo.yaml", model.url, github.url)
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        degrade(svc, model)
        wait_for(lambda: github.refused >= 2, timeout=90, what="refused attempts")
        svc.signal(signal.SIGKILL)  # mid-retry: the run is stored, approved, with attempts recorded
    github.down = False
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        wait_for(lambda: github.dispatches, timeout=90, what="the rollback after recovery")
        time.sleep(4)
        assert len(github.dispatches) == 1
        [run] = runs(svc)
        assert run["state"] == "sent" and run["attempts"] >= 3


def test_a_sigkill_while_the_request_is_in_flight_resends_it_with_the_same_idempotency_key(
    world: World, sqlite_url: str
) -> None:
    """GitHub's dispatch API cannot deduplicate: a trigger whose request was in flight when the process died is
    sent again after its lease with the same idempotency key (inputs.idempotency_key), which a workflow's
    concurrency group deduplicates on; it is never lost, and no other trigger is made."""
    model, github, tmp_path = world
    github.hold = threading.Event()  # the first request waits here, the connection open
    config = write_config(tmp_path / "slo.yaml", model.url, github.url)
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        degrade(svc, model)
        wait_for(lambda: github.holding, timeout=90, what="a request in flight")
        svc.signal(signal.SIGKILL)
    github.hold.set()  # the stand-in finishes the killed request: GitHub may well have taken it
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        wait_for(lambda: len(github.dispatches) >= 2, timeout=120, what="the resend after the lease")
        time.sleep(3)
        keys = {d["inputs"]["idempotency_key"] for d in github.dispatches}
        assert len(github.dispatches) == 2 and len(keys) == 1
        [run] = runs(svc)
        assert run["state"] == "sent" and run["decision_key"] in keys


@pytest.mark.postgres
def test_two_replicas_decide_and_send_once_and_a_follower_takes_the_approval(postgres_url: str, tmp_path: Path) -> None:
    model = DemoModelServer(port=0, rate=50, error_rate=0.0).start()
    ci_server = start_local_server()
    github = FakeGitHubActions(ci_server)
    seed_history(postgres_url, "fraud-detector", "availability")
    config = write_config(tmp_path / "slo.yaml", model.url, github.url, approval=True)
    try:
        with ExitStack() as stack:
            replicas = [
                stack.enter_context(
                    run_service([config], postgres_url, tmp_path, env={**ENV, "SLO_SERVICE_REPLICA_ID": f"r{i}"})
                )
                for i in (0, 1)
            ]
            leader = wait_for(
                lambda: next((r for r in replicas if r.get("/readyz").json().get("leader")), None), what="a leader"
            )
            follower = next(r for r in replicas if r is not leader)
            degrade(leader, model)  # the leader scrapes; deployments recorded through it
            [run] = wait_for(lambda: runs(follower) or None, timeout=90, what="a run waiting for approval")
            time.sleep(3)
            assert github.dispatches == [] and len(runs(leader)) == 1  # both read the same stored run
            approved = follower.post(f"/api/v1/actions/{run['id']}/approve", json={"by": "alice"})
            assert approved.status_code == 200, approved.text
            wait_for(lambda: github.dispatches, timeout=30, what="the approved rollback, sent by the leader")
            time.sleep(4)
            assert len(github.dispatches) == 1
            assert len(follower.get("/api/v1/decisions").json()) == 1
    finally:
        model.stop()
        ci_server.stop()


def test_no_report_from_ci_in_time_times_the_run_out_and_raises_the_self_alert(world: World, sqlite_url: str) -> None:
    model, github, tmp_path = world
    config = write_config(tmp_path / "slo.yaml", model.url, github.url, status_timeout="3s")
    with run_service([config], sqlite_url, tmp_path, env=ENV) as svc:
        degrade(svc, model)
        wait_for(lambda: github.dispatches, timeout=90, what="the rollback at GitHub")
        [run] = wait_for(
            lambda: [r for r in runs(svc) if r["state"] == "timed_out"] or None, timeout=30, what="the time-out"
        )
        alerts = wait_for(
            lambda: (
                [
                    a
                    for a in svc.get("/api/v1/alerts", params={"state": "firing"}).json()
                    if a["labels"].get("alertname") == "SLOServiceActionTimedOut"
                ]
                or None
            ),
            timeout=30,
            what="the self-alert",
        )
        assert (
            alerts[0]["labels"]["action_run"] == str(run["id"]) and alerts[0]["labels"]["service"] == "fraud-detector"
        )
        assert svc.post(f"/api/v1/actions/{run['id']}/status", json={"state": "succeeded"}).status_code == 409
        assert 'outcome="timed_out"' in svc.get("/metrics").text
