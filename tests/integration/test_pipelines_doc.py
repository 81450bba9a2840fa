"""The pipeline snippets of docs/pipelines.md, run against a real service process: GitHub Actions' and
GitLab CI's shell steps, Jenkins' `sh` steps and Argo Rollouts' `web` metric request, each with the CI
system's own variables filled in. Each must pass its deploy-allowed check, record its deployment (the
fields land where the doc says) and pass its quality gate; the same GitHub steps against a service whose
error ratio is high must fail the job."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.process import ServiceProcess, require_tool, run_service

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "pipelines.md"
SECRET = "pipelines-doc-secret-0123"
WINDOW = "1m"  # the snippets' 30m / 10m verification windows, shortened so the test waits one minute
CONFIG = """apiVersion: slo-service/v1
services: [{name: fraud-detector}, {name: broken}]
sources: [{name: p, type: push}]
slos:
  - {service: fraud-detector, name: availability, objective: 99, period: 7d,
     sli: {ratio: {source: p, good: 'req_total{ok="1"}', total: req_total}}}
  - {service: broken, name: availability, objective: 99, period: 7d,
     sli: {ratio: {source: p, good: 'bad_total{ok="1"}', total: bad_total}}}
"""
GITHUB = {
    "secrets.SLO_CI_SECRET": SECRET,
    "github.sha": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
    "github.server_url": "https://github.com",
    "github.repository": "acme/fraud",
    "github.run_id": "4242",
}
GITLAB = {
    "CI_COMMIT_SHA": "aaaabbbbccccddddeeeeffff0000111122223333",
    "CI_COMMIT_SHORT_SHA": "aaaabbbb",
    "CI_PIPELINE_URL": "https://gitlab.example.com/acme/fraud/-/pipelines/77",
}
JENKINS = {
    "GIT_COMMIT": "1234567890abcdef1234567890abcdef12345678",
    "BUILD_URL": "https://jenkins.example.com/job/f/9/",
}


def snippets() -> dict[str, str]:
    """name -> the fenced block after each `<!-- snippet: name -->` marker."""
    found = re.findall(r"<!-- snippet: ([\w-]+) -->\n```\w+\n(.*?)\n```", DOC.read_text(), re.S)
    return dict(found)


def _github_expr(text: str) -> str:
    def value(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        assert expr in GITHUB, f"the GitHub snippet uses ${{{{ {expr} }}}}, which this test does not provide"
        return GITHUB[expr]

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def _shell(shell: str, script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SLO_")}
    return subprocess.run([shell, "-e", "-c", script], capture_output=True, text=True, timeout=300, env={**base, **env})


def run_github(svc: ServiceProcess, service: str | None = None) -> subprocess.CompletedProcess[str]:
    """The job's `run` steps in order with `bash -e` (GitHub's default shell), its env filled in."""
    job = yaml.safe_load(snippets()["github-actions"])["jobs"]["deploy"]
    env = {k: _github_expr(str(v)) for k, v in job["env"].items()}
    env.update(SLO_URL=svc.url, SLO_GATE_WINDOW=WINDOW, **({"SLO_SERVICE": service} if service else {}))
    result = None
    for step in job["steps"]:
        result = _shell("bash", step["run"], env)
        if result.returncode:
            return result
    assert result is not None
    return result


def run_gitlab(svc: ServiceProcess) -> subprocess.CompletedProcess[str]:
    """Each job's before_script (but the image's package install) and script lines, stage by stage."""
    doc = yaml.safe_load(snippets()["gitlab-ci"])
    env = {k: str(v) for k, v in doc["variables"].items()}
    env.update(GITLAB, SLO_CI_SECRET=SECRET, SLO_URL=svc.url, SLO_GATE_WINDOW=WINDOW)
    jobs = [(name, job) for name, job in doc.items() if isinstance(job, dict) and "script" in job]
    result = None
    for stage in doc["stages"]:
        for _, job in [(n, j) for n, j in jobs if j["stage"] == stage]:
            lines = [line for line in job.get("before_script", []) if not line.startswith("apk add")]
            result = _shell("sh", "\n".join([*lines, *job["script"]]), env)
            if result.returncode:
                return result
    assert result is not None
    return result


def run_jenkins(svc: ServiceProcess, token: str) -> subprocess.CompletedProcess[str]:
    """The `environment` block (credentials() gives the token) and each `sh` step with `sh -xe`."""
    text = snippets()["jenkins"]
    env = dict(re.findall(r"^\s*(\w+) = '([^']*)'$", text, re.M))
    env.update({name: token for name in re.findall(r"^\s*(\w+) = credentials\('[^']+'\)$", text, re.M)})
    env.update(JENKINS, SLO_URL=svc.url, SLO_GATE_WINDOW=WINDOW)
    result = None
    for script in re.findall(r"sh '''(.*?)'''|sh '([^']*)'", text, re.S):
        result = _shell("sh", script[0] or script[1], env)
        if result.returncode:
            return result
    assert result is not None
    return result


def run_argo(svc: ServiceProcess, token: str, version: str) -> dict[str, Any]:
    """The AnalysisTemplate's web metric request, its args filled in, and its conditions applied to the
    value its jsonPath selects."""
    template = yaml.safe_load(snippets()["argo-rollouts"])
    metric = template["spec"]["metrics"][0]
    web = metric["provider"]["web"]
    args = {"service": "fraud-detector", "version": version, "slo-token": token}

    def fill(value: str) -> str:
        return re.sub(r"\{\{args\.([\w-]+)\}\}", lambda m: args[m.group(1)], value)

    url = web["url"]
    assert url.startswith("http://slo-service.monitoring.svc:8080/"), url
    body = {k: fill(str(v)) for k, v in web["jsonBody"].items()}
    body["duration"] = WINDOW
    response = httpx.request(
        web["method"],
        svc.url + url.removeprefix("http://slo-service.monitoring.svc:8080"),
        headers={h["key"]: fill(h["value"]) for h in web["headers"]},
        json=body,
        timeout=web["timeoutSeconds"],
    )
    assert web["jsonPath"] == "{$.result}"
    result = response.json()["result"]

    def holds(condition: str) -> bool:
        options = [c.strip() for c in condition.split("||")]
        return any(re.fullmatch(r'result == "(\w+)"', c)[1] == result for c in options)  # type: ignore[index]

    return {
        "status": response.status_code,
        "result": result,
        "success": holds(metric["successCondition"]),
        "failure": holds(metric["failureCondition"]),
    }


@pytest.fixture
def service(sqlite_url: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    for tool in ("curl", "jq", "openssl", "bash", "sh"):
        require_tool(tool, tool)
    config = tmp_path / "slo.yaml"
    config.write_text(CONFIG)
    with run_service([config], sqlite_url, tmp_path, env={"SLO_SERVICE_CI_SECRET": SECRET}) as svc:
        yield svc


def _traffic(svc: ServiceProcess, stop: threading.Event) -> None:
    """Requests of both services every second while the gates' windows run: fraud-detector all good,
    broken with 10% errors (its 99% objective fails)."""
    while not stop.wait(1.0):
        at = datetime.now(UTC).isoformat()
        samples = [
            {"metric": "req_total", "labels": {"ok": "1"}, "value": 100, "timestamp": at},
            {"metric": "bad_total", "labels": {"ok": "1"}, "value": 90, "timestamp": at},
            {"metric": "bad_total", "labels": {"ok": "0"}, "value": 10, "timestamp": at},
        ]
        svc.post("/api/v1/ingest", json={"source": "p", "samples": samples})


def test_every_snippet_records_its_deployment_and_passes_its_gate(service: ServiceProcess) -> None:
    assert set(snippets()) == {"github-actions", "gitlab-ci", "jenkins", "argo-rollouts"}
    token = service.post("/api/v1/tokens", json={"name": "ci", "scopes": ["ci"]}).json()["token"]
    recorded = service.post("/api/v1/deployments", json={"service": "fraud-detector", "version": "argo-7"})
    assert recorded.status_code == 201  # what CI does before the Rollout's analysis runs

    stop = threading.Event()
    pusher = threading.Thread(target=_traffic, args=(service, stop), daemon=True)
    pusher.start()
    try:
        with ThreadPoolExecutor(5) as pool:
            github = pool.submit(run_github, service)
            broken = pool.submit(run_github, service, "broken")
            gitlab = pool.submit(run_gitlab, service)
            jenkins = pool.submit(run_jenkins, service, token)
            argo = pool.submit(run_argo, service, token, "argo-7")
            outcomes = {"github": github.result(), "gitlab": gitlab.result(), "jenkins": jenkins.result()}
            failed_job, analysis = broken.result(), argo.result()
    finally:
        stop.set()
        pusher.join()

    for name, outcome in outcomes.items():
        assert outcome.returncode == 0, (name, outcome.stdout[-2000:], outcome.stderr[-2000:])
        assert '"result":"pass"' in outcome.stdout, (name, outcome.stdout[-2000:])
    assert failed_job.returncode == 22, failed_job.stderr  # curl --fail-with-body on the 412
    assert '"result":"fail"' in failed_job.stdout
    assert analysis == {"status": 201, "result": "pass", "success": True, "failure": False}

    listed = service.get("/api/v1/deployments").json()
    stored = {d["version"]: d for d in listed if d["service"] == "fraud-detector"}
    sha = GITHUB["github.sha"]
    assert stored[sha]["commit"] == sha
    assert stored[sha]["environment"] == "production"
    assert stored[sha]["pipeline_url"] == "https://github.com/acme/fraud/actions/runs/4242"
    assert stored["aaaabbbb"]["commit"] == GITLAB["CI_COMMIT_SHA"]
    assert stored["aaaabbbb"]["pipeline_url"] == GITLAB["CI_PIPELINE_URL"]
    assert stored[JENKINS["GIT_COMMIT"]]["pipeline_url"] == JENKINS["BUILD_URL"]
    assert [d["version"] for d in listed if d["service"] == "broken"] == [sha]
