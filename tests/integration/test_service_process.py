"""The service as a real process scraping a real local HTTP target, on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support.process import run_service, wait_for


class Target:
    """A model server stand-in whose /metrics body the test rewrites between scrapes."""

    def __init__(self, server: HTTPServer) -> None:
        self.body = ""
        self.status = 200
        self.server = server
        server.expect_request("/metrics").respond_with_handler(self._handle)

    def _handle(self, _: Request) -> Response:
        return Response(self.body, status=self.status, content_type="text/plain; version=0.0.4")

    @property
    def url(self) -> str:
        return self.server.url_for("/metrics")

    def serve(self, ok: float, errors: float, le_01: float, le_025: float, inf: float) -> None:
        self.body = (
            "# TYPE requests_total counter\n"
            f'requests_total{{code="200"}} {ok}\n'
            f'requests_total{{code="500"}} {errors}\n'
            "# TYPE req_duration_seconds histogram\n"
            f'req_duration_seconds_bucket{{le="0.1"}} {le_01}\n'
            f'req_duration_seconds_bucket{{le="0.25"}} {le_025}\n'
            f'req_duration_seconds_bucket{{le="+Inf"}} {inf}\n'
            f"req_duration_seconds_count {inf}\n"
            "req_duration_seconds_sum 1.0\n"
        )


def write_config(path: Path, target_url: str, extra_slo: str = "") -> Path:
    path.write_text(
        f"""apiVersion: slo-service/v1
services:
  - name: checkout-model
    labels: {{team: ml-platform, tier: "1"}}
sources:
  - name: target
    type: scrape
    url: {target_url}
    interval: 1s
    timeout: 900ms
slos:
  - service: checkout-model
    name: availability
    objective: 99
    period: 7d
    sli:
      ratio:
        source: target
        good: 'requests_total{{code!~"5.."}}'
        total: requests_total
  - service: checkout-model
    name: latency
    objective: 95
    period: 7d
    sli:
      latency:
        source: target
        histogram: req_duration_seconds
        threshold: 0.25
{extra_slo}"""
    )
    return path


def period(svc, name: str) -> dict:
    body = svc.get(f"/api/v1/slos/checkout-model/{name}").json()
    return (body.get("status") or {}).get("windows", {}).get("period") or {}


def metric_value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def test_service_scrapes_target_and_reports_hand_computed_slos(
    db_url: str, tmp_path: Path, httpserver: HTTPServer
) -> None:
    target = Target(httpserver)
    target.serve(ok=100, errors=5, le_01=50, le_025=90, inf=105)  # the baseline: no increase counted
    config = write_config(tmp_path / "slo.yaml", target.url)
    with run_service([config], db_url, tmp_path) as svc:
        wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
        # +90 good, +10 bad requests; +80 of +100 requests at or under 0.25s
        target.serve(ok=190, errors=15, le_01=100, le_025=170, inf=205)
        avail = wait_for(lambda: (p := period(svc, "availability")).get("total") == 100 and p, what="100 events")
        assert avail["good"] == 90
        assert avail["sli"] == pytest.approx(0.9)
        assert avail["burn_rate"] == pytest.approx(0.1 / 0.01)
        latency = wait_for(lambda: (p := period(svc, "latency")).get("total") == 100 and p, what="latency")
        assert latency["good"] == 80
        assert latency["sli"] == pytest.approx(0.8)

        detail = svc.get("/api/v1/slos/checkout-model/availability").json()
        assert detail["objective"] == pytest.approx(0.99)
        # 10% errors against a 1% budget: ten budgets spent, remaining is negative
        assert detail["status"]["budget"]["remaining_ratio"] == pytest.approx(1 - 10)
        assert detail["labels"] == {"team": "ml-platform", "tier": "1"}

        metrics = svc.get("/metrics").text
        common = {"service": "checkout-model", "slo": "availability"}
        assert metric_value(metrics, "slo_sli_ratio", window="period", **common) == pytest.approx(0.9)
        # the period's burn rate: exported as the budget consumed (burn_rate{window="period"} is not by default)
        assert metric_value(metrics, "slo_error_budget_consumed_ratio", **common) == pytest.approx(10)
        assert metric_value(metrics, "slo_objective_ratio", **common) == pytest.approx(0.99)
        assert metric_value(metrics, "slo_error_budget_remaining_ratio", **common) == pytest.approx(-9)
        assert metric_value(metrics, "slo_events_total", outcome="good", **common) == 90
        assert metric_value(metrics, "slo_events_total", outcome="bad", **common) == 10
        assert metric_value(metrics, "slo_info", team="ml-platform", **common) == 1
        assert metric_value(metrics, "slo_service_scrape_up", source="target", target=target.url) == 1
        assert metric_value(metrics, "slo_service_build_info") == 1

        # A counter reset (the model server restarted): the new value is the increase, as in PromQL.
        target.serve(ok=30, errors=0, le_01=10, le_025=25, inf=30)
        avail = wait_for(lambda: (p := period(svc, "availability")).get("total") == 130 and p, what="reset")
        assert avail["good"] == 120

        # A garbage body is a failed scrape: recorded as down, never counted as good events.
        target.body = "this is {{ not the text format"
        health = wait_for(
            lambda: (h := svc.get("/api/v1/sources").json()[0]["health"]) and not h["up"] and h, what="down"
        )
        assert health["error"]
        assert health["consecutive_failures"] >= 1
        assert health["down_since"] is not None
        assert health["last_success_at"] is not None
        metrics = svc.get("/metrics").text
        assert metric_value(metrics, "slo_service_scrape_up", source="target", target=target.url) == 0
        assert period(svc, "availability")["total"] == 130

    # Restart on the same database: the history is still there.
    target.serve(ok=30, errors=0, le_01=10, le_025=25, inf=30)
    with run_service([config], db_url, tmp_path) as svc:
        avail = wait_for(lambda: (p := period(svc, "availability")).get("total") == 130 and p, what="reload")
        assert avail["good"] == 120


def test_unreachable_target_is_reported_and_counts_nothing(db_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path / "slo.yaml", "http://127.0.0.1:9/metrics")
    with run_service([config], db_url, tmp_path) as svc:
        health = wait_for(lambda: svc.get("/api/v1/sources").json()[0]["health"], what="a scrape attempt")
        assert health["up"] is False
        assert health["error"]
        status = svc.get("/api/v1/slos/checkout-model/availability").json()["status"]
        if status is not None:
            assert status["windows"]["period"]["total"] == 0
            assert status["windows"]["period"]["sli"] is None
            assert "period" in status["data_gaps"]


def test_bad_config_is_refused_on_start_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: slo-service/v1\nservices: [{name: x}]\nsources: [{name: p, type: push}]\nslos:\n"
        "  - service: x\n    name: y\n    objective: 100\n    period: 7d\n"
        "    sli: {ratio: {source: p, good: g, total: t}}\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "slo_service",
            "serve",
            "--config",
            str(bad),
            "--database-url",
            f"sqlite:///{tmp_path}/x.db",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert f"{bad}:7: slos[0].objective" in output
    assert "Traceback" not in output


def test_reload_refuses_bad_config_and_keeps_the_old_one(db_url: str, tmp_path: Path, httpserver: HTTPServer) -> None:
    target = Target(httpserver)
    target.serve(ok=1, errors=0, le_01=1, le_025=1, inf=1)
    config = write_config(tmp_path / "slo.yaml", target.url)
    good_text = config.read_text()
    with run_service([config], db_url, tmp_path) as svc:
        config.write_text(good_text.replace("objective: 99\n", "objective: 0\n"))
        response = svc.post("/api/v1/config/reload")
        assert response.status_code == 422
        body = response.json()
        assert "previous config stays active" in body["message"]
        assert any(f"{config}:" in p and "objective" in p for p in body["problems"])
        assert svc.get("/api/v1/slos/checkout-model/availability").json()["objective"] == pytest.approx(0.99)

        # Unknown fields and YAML syntax errors through SIGHUP: refused, old config still served.
        config.write_text(good_text + "  - service: checkout-model\n    nme: typo\n")
        svc.signal(signal.SIGHUP)
        wait_for(lambda: svc.get("/api/v1/config").json()["last_reload"], what="SIGHUP reload")
        last = svc.get("/api/v1/config").json()["last_reload"]
        assert last["ok"] is False
        assert svc.get("/api/v1/slos").status_code == 200
        assert len(svc.get("/api/v1/slos").json()) == 2

        # A good reload adds the new SLO.
        extra = """  - service: checkout-model
    name: fast
    objective: 90
    period: 1d
    sli:
      latency: {source: target, histogram: req_duration_seconds, threshold: 0.1}
"""
        config.write_text(good_text + extra)
        response = svc.post("/api/v1/config/reload")
        assert response.status_code == 200, response.text
        assert response.json()["added"] == ["checkout-model/fast"]
        assert svc.get("/api/v1/slos/checkout-model/fast").status_code == 200


def test_api_errors_are_json_with_4xx(db_url: str, tmp_path: Path, httpserver: HTTPServer) -> None:
    target = Target(httpserver)
    target.serve(ok=1, errors=0, le_01=1, le_025=1, inf=1)
    config = write_config(tmp_path / "slo.yaml", target.url)
    with run_service([config], db_url, tmp_path) as svc:
        r = svc.get("/api/v1/slos/checkout-model/nope")
        assert r.status_code == 404 and "nope" in r.json()["message"]
        r = svc.get("/api/v1/slos/checkout-model/availability/history", params={"step": "banana"})
        assert r.status_code == 422 and "step" in r.json()["message"]
        r = svc.get("/api/v1/slos/checkout-model/availability/history", params={"start": "yesterday"})
        assert r.status_code == 422 and "start" in r.json()["message"]
        r = svc.get("/api/v1/slos", params={"label": "no-equals-sign"})
        assert r.status_code == 422
        r = svc.post("/api/v1/ingest", json={"source": "target", "samples": [{"metric": "x", "value": 1}]})
        assert r.status_code == 422 and "not push" in r.json()["message"]
        r = svc.post("/api/v1/ingest", json={"source": "target", "samples": [{"metric": "x", "value": "lots"}]})
        assert r.status_code == 422 and "samples[0].value" in r.json()["message"]
        r = svc.post("/api/v1/ingest", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422
        assert svc.get("/healthz").status_code == 200
