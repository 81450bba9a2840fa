"""End to end: the real Prometheus scrapes the service's /metrics and PromQL returns the SLO values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.integration.test_service_process import Target, period, write_config
from tests.support.process import prom_query, run_prometheus, run_service, wait_for


def test_prometheus_scrapes_service_metrics(sqlite_url: str, tmp_path: Path, httpserver: HTTPServer) -> None:
    target = Target(httpserver)
    target.serve(ok=100, errors=0, le_01=10, le_025=10, inf=10)
    config = write_config(tmp_path / "slo.yaml", target.url)
    with run_service([config], sqlite_url, tmp_path) as svc:
        wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
        target.serve(ok=195, errors=5, le_01=10, le_025=10, inf=10)
        wait_for(lambda: period(svc, "availability").get("total") == 100, what="events")
        with run_prometheus(tmp_path, [f"127.0.0.1:{svc.port}"]) as base:
            result = wait_for(
                lambda: prom_query(base, 'slo_sli_ratio{slo="availability",window="period"}'),
                timeout=60,
                what="Prometheus to scrape slo_sli_ratio",
            )
            assert float(result[0]["value"][1]) == pytest.approx(0.95)
            assert result[0]["metric"]["service"] == "checkout-model"
            assert result[0]["metric"]["team"] == "ml-platform"
            remaining = prom_query(base, 'slo_error_budget_remaining_ratio{slo="availability"}')
            assert float(remaining[0]["value"][1]) == pytest.approx(1 - 0.05 / 0.01)
            events = prom_query(base, 'sum by (outcome) (slo_events_total{slo="availability"})')
            by_outcome = {r["metric"]["outcome"]: float(r["value"][1]) for r in events}
            assert by_outcome == {"good": 95.0, "bad": 5.0}
            up = prom_query(base, "slo_service_scrape_up")
            assert float(up[0]["value"][1]) == 1.0
