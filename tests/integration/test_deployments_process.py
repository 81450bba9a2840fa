"""The delivery pipeline through the real service process, on SQLite and PostgreSQL: signed deployments
(and every way a signature is refused, with nothing stored), deploy freezes by a person and by an exhausted
error budget, and quality gates answering pass, warning, fail, inconclusive and a comparison with the window
before the deploy, from pushed counts where the answer is known."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.history import PAGE_5M_POLICY
from tests.support.process import ServiceProcess, run_service, wait_for

SECRET = "ci-shared-secret-for-tests"
CONFIG = """apiVersion: slo-service/v1
services: [{name: api}, {name: pay}]
sources: [{name: p, type: push}]
slos:
  - {service: api, name: avail, objective: 99, period: 7d,
     sli: {ratio: {source: p, good: 'a_total{ok="1"}', total: a_total}}}
  - {service: api, name: latency, objective: 90, period: 7d,
     sli: {ratio: {source: p, good: 'l_total{fast="1"}', total: l_total}}}
  - {service: pay, name: budget, objective: 90, period: 7d,
     sli: {ratio: {source: p, good: 'b_total{ok="1"}', total: b_total}}}
"""


def _signed(body: bytes, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    """The headers a CI job sends, computed here independently of the service's code."""
    stamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-SLO-Timestamp": stamp, "X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def _raw(svc: ServiceProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request without the test token."""
    return httpx.request(method, svc.url + path, timeout=10, **kwargs)


def _service(tmp_path: Path, db_url: str, **env: str) -> Any:
    config = tmp_path / "slo.yaml"
    config.write_text(CONFIG)
    return run_service([config], db_url, tmp_path, env={"SLO_SERVICE_CI_SECRET": SECRET, **env})


def _metric(svc: ServiceProcess, name: str) -> list[str]:
    return [line for line in svc.get("/metrics").text.splitlines() if line.startswith(name + "{")]


def test_signed_deployments_are_stored_and_every_bad_signature_is_401_with_nothing_stored(
    db_url: str, tmp_path: Path
) -> None:
    with _service(tmp_path, db_url) as svc:
        body = json.dumps({"service": "api", "environment": "prod", "version": "1.0", "model_version": "m7"}).encode()
        headers = _signed(body)
        first = _raw(svc, "POST", "/api/v1/deployments", content=body, headers=headers)
        assert first.status_code == 201, first.text
        assert first.json()["version"] == "1.0"
        assert _metric(svc, "slo_deployments_total") == ['slo_deployments_total{environment="prod",service="api"} 1.0']
        assert _metric(svc, "slo_deployment_info") == [
            'slo_deployment_info{environment="prod",model_version="m7",service="api",version="1.0"} 1.0'
        ]

        other = json.dumps({"service": "api", "environment": "prod", "version": "2.0"}).encode()
        refused = {
            "replay": (body, headers),
            "wrong secret": (other, _signed(other, secret="not-the-secret")),
            "tampered body": (other.replace(b"2.0", b"6.6"), _signed(other)),
            "stale timestamp": (other, _signed(other, ts=int(time.time()) - 400)),
            "future timestamp": (other, _signed(other, ts=int(time.time()) + 400)),
            "no signature": (other, {"Content-Type": "application/json", "X-SLO-Timestamp": str(int(time.time()))}),
            "no timestamp": (other, {k: v for k, v in _signed(other).items() if k != "X-SLO-Timestamp"}),
        }
        for what, (content, sent) in refused.items():
            response = _raw(svc, "POST", "/api/v1/deployments", content=content, headers=sent)
            assert response.status_code == 401, (what, response.text)
            assert response.json()["message"], what
        listed = svc.get("/api/v1/deployments").json()
        assert [d["version"] for d in listed] == ["1.0"]
        assert _metric(svc, "slo_deployments_total") == ['slo_deployments_total{environment="prod",service="api"} 1.0']

        # a token with the ci scope works too, and the latest deployment is the one on /metrics
        token = svc.post("/api/v1/tokens", json={"name": "pipeline", "scopes": ["ci"]}).json()["token"]
        second = _raw(
            svc,
            "POST",
            "/api/v1/deployments",
            content=other,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert second.status_code == 201, second.text
        assert _metric(svc, "slo_deployments_total") == ['slo_deployments_total{environment="prod",service="api"} 2.0']
        assert _metric(svc, "slo_deployment_info") == [
            'slo_deployment_info{environment="prod",model_version="",service="api",version="2.0"} 1.0'
        ]
        bad = svc.post("/api/v1/deployments", json={"service": "api", "version": "", "colour": 1})
        assert bad.status_code == 422
        assert "version" in bad.text and "colour" in bad.text


def test_deploy_allowed_answers_423_while_frozen_and_200_after_the_lift(db_url: str, tmp_path: Path) -> None:
    with _service(tmp_path, db_url) as svc:
        path = "/api/v1/services/api/deploy-allowed"
        assert svc.get(path).json() == {"allowed": True, "service": "api"}
        # CI may ask with a signed GET (empty body)
        assert _raw(svc, "GET", path, headers=_signed(b"")).status_code == 200
        frozen = svc.post("/api/v1/services/api/freeze", json={"reason": "release week"})
        assert frozen.status_code == 200, frozen.text
        refused = svc.get(path)
        assert refused.status_code == 423
        answer = refused.json()
        assert (answer["allowed"], answer["reason"], answer["by"]) == (
            False,
            "release week",
            "admin-token-from-settings",
        )
        assert _raw(svc, "GET", path, headers=_signed(b"")).status_code == 423
        assert svc.get("/api/v1/services/pay/deploy-allowed").status_code == 200
        assert svc.request("DELETE", "/api/v1/services/api/freeze").status_code == 200
        assert svc.get(path).status_code == 200
        assert svc.request("DELETE", "/api/v1/services/api/freeze").status_code == 404


def _push(svc: ServiceProcess, metric: str, ok_label: str, at: datetime, good: int, bad: int) -> None:
    samples = [
        {"metric": metric, "labels": {ok_label: "1"}, "value": good, "timestamp": at.isoformat()},
        {"metric": metric, "labels": {ok_label: "0"}, "value": bad, "timestamp": at.isoformat()},
    ]
    response = svc.post("/api/v1/ingest", json={"source": "p", "samples": [s for s in samples if s["value"]]})
    assert response.status_code == 202, response.text


def _next_evaluation(svc: ServiceProcess) -> None:
    """Wait until an evaluation cycle (with its after-evaluation hooks) has started and finished after now."""

    def last() -> float:
        line = next(x for x in svc.get("/metrics").text.splitlines() if x.startswith("slo_service_last_evaluation_"))
        return float(line.split()[-1])

    seen = last()
    wait_for(lambda: last() > seen, what="an evaluation")
    seen = last()
    wait_for(lambda: last() > seen, what="another evaluation")


def test_an_exhausted_budget_freezes_deploys_and_recovery_lifts_the_freeze(db_url: str, tmp_path: Path) -> None:
    with _service(tmp_path, db_url, SLO_SERVICE_BUDGET_FREEZE="true") as svc:
        path = "/api/v1/services/pay/deploy-allowed"
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        _push(svc, "b_total", "ok", now - timedelta(minutes=10), good=100, bad=5)  # 50% of the budget spent
        wait_for(lambda: svc.get("/api/v1/slos/pay/budget").json()["status"]["windows"]["period"]["total"] == 105)
        _next_evaluation(svc)  # the hook after the evaluation that saw 5 bad events has run: still allowed
        assert svc.get(path).status_code == 200
        _push(svc, "b_total", "ok", now - timedelta(minutes=9), good=0, bad=20)  # 25 bad of 12.5 allowed
        answer = wait_for(lambda: (r := svc.get(path)).status_code == 423 and r.json(), what="the budget freeze")
        assert answer["by"] == "policy:error-budget"
        assert "pay/budget" in answer["reason"]
        assert svc.get("/api/v1/services/api/deploy-allowed").status_code == 200  # only the service that burnt
        _push(svc, "b_total", "ok", now - timedelta(minutes=8), good=10_000, bad=0)  # 25 bad of 1012 allowed
        wait_for(lambda: svc.get(path).status_code == 200, what="the freeze lifted on recovery")


def _record(svc: ServiceProcess, version: str, at: datetime) -> str:
    response = svc.post("/api/v1/deployments", json={"service": "api", "version": version, "time": at.isoformat()})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _gate(svc: ServiceProcess, **body: Any) -> httpx.Response:
    return svc.post("/api/v1/gates", json=body, params={"status_codes": "true"})


def test_gates_answer_from_known_counts(db_url: str, tmp_path: Path) -> None:
    with _service(tmp_path, db_url) as svc:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        deployed = now - timedelta(minutes=90)
        deployment = _record(svc, "2.0", deployed)
        # baseline (30 minutes before the deploy) and the verification window (30 minutes after)
        _push(svc, "a_total", "ok", deployed - timedelta(minutes=10), good=998, bad=2)
        _push(svc, "a_total", "ok", deployed + timedelta(minutes=10), good=995, bad=5)  # sli 0.995
        _push(svc, "l_total", "fast", deployed - timedelta(minutes=10), good=920, bad=80)  # 8% slow before
        _push(svc, "l_total", "fast", deployed + timedelta(minutes=10), good=900, bad=100)  # 10% slow: +25%
        _push(svc, "a_total", "ok", deployed + timedelta(minutes=40), good=0, bad=500)  # after the window

        passed = _gate(svc, deployment_id=deployment, duration="30m")
        assert passed.status_code == 200, passed.text
        assert (passed.json()["result"], passed.json()["score"]) == ("pass", 1.0)
        assert {o["name"]: o["total"] for o in passed.json()["objectives"]} == {"api/avail": 1000, "api/latency": 1000}

        strict = [{"slo": "avail", "pass": [">=0.999"]}]
        failed = _gate(svc, deployment_id=deployment, objectives=strict)
        assert (failed.status_code, failed.json()["result"]) == (412, "fail")
        # a warning objective scores half: with latency passing, 75% is a warning (a lone one, 50%, fails)
        warned = _gate(svc, deployment_id=deployment, objectives=[{**strict[0], "warning": [">=0.99"]}, "latency"])
        assert (warned.status_code, warned.json()["result"], warned.json()["score"]) == (200, "warning", 0.75)

        slower = {"slo": "latency", "indicator": "error_ratio"}
        worse = _gate(svc, service="api", version="2.0", objectives=[{**slower, "pass": ["<=+10%"]}])
        assert (worse.status_code, worse.json()["result"]) == (412, "fail")
        criterion = worse.json()["objectives"][0]
        assert criterion["value"] == pytest.approx(0.10) and criterion["baseline"] == pytest.approx(0.08)
        assert criterion["pass"][0]["target"] == pytest.approx(0.088)
        within = _gate(svc, service="api", version="2.0", objectives=[{**slower, "pass": ["<=+30%"]}])
        assert (within.status_code, within.json()["result"]) == (200, "pass")

        # older than the in-memory 1-minute tier (6 h): counted from the stored slices, the same answer
        old = now - timedelta(hours=7)
        _record(svc, "1.8", old)
        _push(svc, "a_total", "ok", old + timedelta(minutes=5), good=95, bad=5)  # sli 0.95 < 0.99
        _push(svc, "a_total", "ok", old - timedelta(minutes=5), good=100, bad=0)
        aged = _gate(svc, service="api", version="1.8", objectives=["avail"])
        assert (aged.status_code, aged.json()["objectives"][0]["total"]) == (412, 100)
        assert aged.json()["objectives"][0]["baseline"] == 1.0

        quiet = _record(svc, "1.9", now - timedelta(hours=5))
        nothing = _gate(svc, deployment_id=quiet)
        assert (nothing.status_code, nothing.json()["result"]) == (424, "inconclusive")

        # polling: the same answer from GET, with or without status codes
        gate_id = failed.json()["id"]
        assert svc.get(f"/api/v1/gates/{gate_id}").json()["result"] == "fail"
        assert svc.get(f"/api/v1/gates/{gate_id}").status_code == 200
        assert svc.get(f"/api/v1/gates/{gate_id}", params={"status_codes": "true"}).status_code == 412
        assert svc.get("/api/v1/gates/unknown").status_code == 404
        bad = svc.post(
            "/api/v1/gates", json={"deployment_id": deployment, "objectives": [{"slo": "avail", "pass": ["~1"]}]}
        )
        assert bad.status_code == 422 and bad.json()["message"].startswith("objectives[0].pass[0]:")


def test_a_pending_gate_blocks_with_wait_until_its_window_has_passed(db_url: str, tmp_path: Path) -> None:
    with _service(tmp_path, db_url) as svc:
        deployment = _record(svc, "3.0", datetime.now(UTC))
        start = datetime.now(UTC) - timedelta(seconds=50)  # a 1-minute window ending in about 10 s
        created = _gate(svc, deployment_id=deployment, start=start.isoformat(), duration="1m")
        assert (created.status_code, created.json()["result"]) == (202, "pending")
        gate = created.json()["id"]
        answer = svc.get(f"/api/v1/gates/{gate}", params={"wait": 30, "status_codes": "true"}, timeout=40)
        assert answer.json()["result"] == "inconclusive"  # no events were pushed
        assert answer.status_code == 424
        # a signed poll works as well
        polled = _raw(svc, "GET", f"/api/v1/gates/{gate}", headers=_signed(b""))
        assert polled.status_code == 200 and polled.json()["result"] == "inconclusive"


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLO_SERVICE_TOKEN", "SLO_SERVICE_CI_SECRET"))}
    return subprocess.run(
        [sys.executable, "-m", "slo_service", *args], capture_output=True, text=True, timeout=120, env={**clean, **env}
    )


def test_the_pipeline_cli_records_signed_and_exits_by_the_gates_answer(sqlite_url: str, tmp_path: Path) -> None:
    with _service(tmp_path, sqlite_url) as svc:
        deployed = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=90)
        _push(svc, "a_total", "ok", deployed + timedelta(minutes=10), good=995, bad=5)
        recorded = _cli(
            "deployment", "record", "--service", "api", "--version", "4.0", "--time", deployed.isoformat(),
            "--commit", "abc1234", "--url", svc.url, SLO_SERVICE_CI_SECRET=SECRET,
        )  # fmt: skip
        assert recorded.returncode == 0, recorded.stderr
        deployment = recorded.stdout.strip()
        stored = svc.get("/api/v1/deployments").json()
        assert [(d["id"], d["commit"]) for d in stored] == [(deployment, "abc1234")]

        gate = ["gate", "run", "--deployment-id", deployment, "--url", svc.url, "--secret", SECRET]
        passed = _cli(*gate, "--objective", "avail")
        assert passed.returncode == 0, passed.stderr
        assert json.loads(passed.stdout)["result"] == "pass"
        spec = tmp_path / "strict.yaml"
        spec.write_text("objectives: [{slo: avail, pass: ['>=0.999']}]\n")
        assert _cli(*gate, "--spec", str(spec)).returncode == 1
        inconclusive = _cli(*gate, "--objective", "latency")  # no latency events were pushed
        assert inconclusive.returncode == 2, inconclusive.stderr
        assert "inconclusive" in inconclusive.stderr
        wrong = _cli(
            "deployment", "record", "--service", "api", "--version", "5", "--url", svc.url, "--secret", "x" * 12
        )
        assert wrong.returncode == 4 and "401" in wrong.stderr


POLICY_FREEZE = (
    "alerting:\n"
    + PAGE_5M_POLICY
    + """responses:
  policies:
    - {name: freeze-on-page, when: {service: api, slo: avail, burn_rate: page}, action: freeze}
"""
)


def test_a_policy_freeze_lifts_when_the_page_ends_and_a_persons_freeze_stays(db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "slo.yaml"
    config.write_text(CONFIG + POLICY_FREEZE)
    with run_service([config], db_url, tmp_path, env={"SLO_SERVICE_CI_SECRET": SECRET}) as svc:
        path = "/api/v1/services/api/deploy-allowed"
        assert svc.post("/api/v1/services/pay/freeze", json={"reason": "release week"}).status_code == 200
        minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)  # the newest whole one
        _push(svc, "a_total", "ok", minute - timedelta(hours=1), good=100_000, bad=0)  # a large budget
        for m in range(5):  # a quarter failing for 5 minutes (a page needs 4 of them): 5% of the budget
            _push(svc, "a_total", "ok", minute - timedelta(minutes=m), good=30, bad=10)
        answer = wait_for(lambda: (r := svc.get(path)).status_code == 423 and r.json(), what="the policy freeze")
        assert answer["by"] == "policy:freeze-on-page"
        _next_evaluation(svc)
        assert svc.get(path).status_code == 423  # the page still fires: the freeze holds
        _push(svc, "a_total", "ok", minute, good=100_000, bad=0)  # the incident is over: 50 bad of 100,200
        wait_for(lambda: svc.get(path).status_code == 200, what="the freeze lifted once the page resolved")
        budget = svc.get("/api/v1/slos/api/avail").json()
        assert budget["status"]["budget"]["remaining_ratio"] > 0
        [entry] = [e for e in svc.get("/api/v1/audit").json() if e["kind"] == "unfreeze"]
        assert entry["actor"] == "policy:freeze-on-page" and "condition cleared" in entry["detail"]["reason"]
        _next_evaluation(svc)
        person = svc.get("/api/v1/services/pay/deploy-allowed")
        assert person.status_code == 423 and person.json()["reason"] == "release week"
        assert svc.get(path).status_code == 200
