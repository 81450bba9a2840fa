"""The drift report directory cannot be written any more: the run's verdicts are still stored and served with the
reason, the drift SLOs still count the run, and the service keeps scraping and evaluating."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.integration.test_drift_service import drift_config, write_current  # noqa: F401 (fixture)
from tests.integration.test_service_process import metric_value
from tests.support.process import run_service, wait_for

pytestmark = pytest.mark.timeout(240)


def test_an_unwritable_report_directory_keeps_the_verdicts_and_says_why(
    drift_config: Path,  # noqa: F811
    sqlite_url: str,
    tmp_path: Path,
    httpserver: HTTPServer,
) -> None:
    write_current(drift_config.parent / "data" / "current.csv", rows=300, income_factor=3.0)
    # A scrape SLO next to the monitors, to see evaluation go on.
    scrapes = iter(range(10**6))
    httpserver.expect_request("/metrics").respond_with_handler(
        lambda _: Response(f"# TYPE requests_total counter\nrequests_total {10 * next(scrapes)}\n")
    )
    scrape = tmp_path / "scrape.yaml"
    scrape.write_text(
        f"""apiVersion: slo-service/v1
services: [{{name: web}}]
sources: [{{name: web, type: scrape, url: '{httpserver.url_for("/metrics")}', interval: 1s, timeout: 900ms}}]
slos:
  - {{service: web, name: availability, objective: 99, period: 7d,
     sli: {{ratio: {{source: web, good: requests_total, total: requests_total}}}}}}
"""
    )
    data = tmp_path / "data"
    data.mkdir()
    with run_service([drift_config, scrape], sqlite_url, tmp_path, env={"SLO_SERVICE_DATA_DIR": str(data)}) as svc:
        # Broken while the service runs (one broken at start is refused then: test_cli_errors). Where the
        # reports directory should be is a file: mkdir fails, even for root (chmod would not stop root).
        shutil.rmtree(data / "reports")
        (data / "reports").write_text("not a directory\n")
        response = svc.post("/api/v1/monitors/fraud-features/run", timeout=180)
        assert response.status_code == 200, response.text
        run = response.json()
        assert run["status"] == "ok", run
        assert "income" in {c["column"] for c in run["columns"] if c["drifted"]}
        assert run["reason"].startswith("HTML report not written ("), run
        assert str(data / "reports") in run["reason"]
        assert run["has_report"] is False

        stored = svc.get(f"/api/v1/drift/runs/{run['id']}").json()
        assert stored["reason"] == run["reason"] and stored["drifted_share"] == run["drifted_share"]
        missing = svc.get(f"/api/v1/drift/runs/{run['id']}/report")
        assert missing.status_code == 404 and "has no report" in missing.json()["message"]
        assert "drift run of fraud-features: HTML report not written" in svc.log()

        # The run counts for its SLO and on /metrics; it is not a failed run; scraping and evaluation go on.
        metrics = svc.get("/metrics").text
        assert metric_value(metrics, "slo_drift_share", monitor="fraud-features") == pytest.approx(run["drifted_share"])
        assert not metric_value(metrics, "slo_drift_run_failed_total", monitor="fraud-features")

        def total(service: str, slo: str) -> float:
            status = svc.get(f"/api/v1/slos/{service}/{slo}").json().get("status") or {}
            return float(((status.get("windows") or {}).get("period") or {}).get("total", 0))

        wait_for(lambda: total("fraud-scoring", "no-dataset-drift") == 1, timeout=30, what="the run as an SLO event")
        first = wait_for(lambda: total("web", "availability"), timeout=30, what="the scrape SLO's events")
        wait_for(lambda: total("web", "availability") > first, timeout=30, what="more scrape SLO events")
        evaluated = metric_value(svc.get("/metrics").text, "slo_service_last_evaluation_timestamp_seconds") or 0
        wait_for(
            lambda: (
                (metric_value(svc.get("/metrics").text, "slo_service_last_evaluation_timestamp_seconds") or 0)
                > evaluated
            ),
            timeout=30,
            what="another evaluation",
        )
        assert svc.get("/api/v1/sources").json()[0]["health"]["up"] is True
