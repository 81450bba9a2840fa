"""A PromQL source end to end: the real Prometheus scrapes a model server, the service queries it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support.process import prom_query, run_prometheus, run_service, wait_for

STARTED = time.time()


def counters(_: Request) -> Response:
    """10 good and 1 failed request per second since the test module was imported."""
    elapsed = time.time() - STARTED
    body = (
        "# TYPE requests_total counter\n"
        f'requests_total{{code="200"}} {10 * elapsed:.3f}\n'
        f'requests_total{{code="500"}} {1 * elapsed:.3f}\n'
    )
    return Response(body, content_type="text/plain; version=0.0.4")


def test_promql_source_backfills_and_collects(sqlite_url: str, tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/metrics").respond_with_handler(counters)
    target = f"127.0.0.1:{httpserver.port}"
    with run_prometheus(tmp_path, [target]) as prom:
        wait_for(
            lambda: (r := prom_query(prom, "count_over_time(requests_total[1m])")) and float(r[0]["value"][1]) >= 8,
            timeout=60,
            what="Prometheus to hold a few samples",
        )
        config = tmp_path / "slo.yaml"
        config.write_text(
            f"""apiVersion: slo-service/v1
services: [{{name: model}}]
sources:
  - {{name: prom, type: promql, url: "{prom}", interval: 5s, timeout: 4s, backfill: true}}
slos:
  - service: model
    name: availability
    objective: 95
    period: 7d
    sli:
      ratio:
        source: prom
        bad: 'requests_total{{code=~"5.."}}'
        total: requests_total
"""
        )
        with run_service([config], sqlite_url, tmp_path) as svc:

            def period() -> dict:
                status = svc.get("/api/v1/slos/model/availability").json().get("status") or {}
                return status.get("windows", {}).get("period") or {}

            first = wait_for(lambda: (p := period()).get("total", 0) > 0 and p, timeout=60, what="backfill")
            # 1 failed request in 11: whatever Prometheus extrapolates, the ratio is the served one.
            assert first["sli"] == pytest.approx(10 / 11, abs=0.02)
            later = wait_for(
                lambda: (p := period()).get("total", 0) > first["total"] + 50 and p, timeout=60, what="live collection"
            )
            assert later["sli"] == pytest.approx(10 / 11, abs=0.02)
            source = svc.get("/api/v1/sources").json()[0]
            assert source["type"] == "promql"
            assert source["health"]["up"] is True
            assert source["slo_errors"] == {}
