"""A faulty world against the service as a real process: scrape targets that hang, trickle or answer garbage,
Prometheus APIs that hang, fail or answer garbage, and a broken config reload. Each fault is reported for its
own source (health error, `slo_service_scrape_up` 0, the SLO's collection error) while the healthy source
keeps being scraped, its SLO evaluated, and the evaluation job keeps running."""

from __future__ import annotations

import gzip
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.integration.test_service_process import metric_value
from tests.support.process import ServiceProcess, run_service, start_local_server, wait_for
from tests.support.stand_ins import StallingServer

pytestmark = pytest.mark.timeout(180)

STARTED = time.time()
EXPOSITION = "text/plain; version=0.0.4"


def counters(_: Request) -> Response:
    """The healthy target: 10 requests per second since import, 1 in 10 failing."""
    n = int(10 * (time.time() - STARTED))
    body = (
        "# TYPE requests_total counter\n"
        f'requests_total{{code="200"}} {n - n // 10}\nrequests_total{{code="500"}} {n // 10}\n'
    )
    return Response(body, content_type=EXPOSITION)


TRUNCATED_GZIP = gzip.compress(b'requests_total{code="200"} 1\n' * 200)[:-20]
GARBAGE: dict[str, tuple[bytes, dict[str, str]]] = {
    # source name: (body, headers)
    "html": (b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>\n", {"Content-Type": "text/html"}),
    "binary": (bytes(range(256)) * 8, {"Content-Type": "application/octet-stream"}),
    "gzip-cut": (TRUNCATED_GZIP, {"Content-Type": EXPOSITION, "Content-Encoding": "gzip"}),
    "json": (b'{"requests_total": 5}', {"Content-Type": "application/json"}),
}
# what each faulty source's health error must say
EXPECTED_ERRORS = {
    "silent": "timeout after 0.5s",
    "trickle": "timeout after 0.5s",
    "html": "parse error",
    "binary": "parse error",
    "gzip-cut": "gzip body is truncated",
    "json": "parse error",
    "prom-hang": "timeout after 0.5s",
    "prom-5xx": "HTTP 503: overloaded",
    "prom-garbage": "HTTP 200: not a JSON answer: <html>nope</html>",
}


def _scrape_slo(source: str) -> str:
    return f"""  - service: model
    name: {source}
    objective: 90
    period: 7d
    sli: {{ratio: {{source: {source}, bad: 'requests_total{{code="500"}}', total: requests_total}}}}
"""


def write_config(path: Path, urls: dict[str, str], promql: dict[str, str]) -> str:
    sources = "".join(
        f"  - {{name: {name}, type: scrape, url: '{url}', interval: 1s, timeout: 500ms}}\n"
        for name, url in urls.items()
    )
    sources += "".join(
        f"  - {{name: {name}, type: promql, url: '{url}', interval: 1s, timeout: 500ms, backfill: false}}\n"
        for name, url in promql.items()
    )
    text = "apiVersion: slo-service/v1\nservices: [{name: model}]\nsources:\n" + sources + "slos:\n"
    text += "".join(_scrape_slo(name) for name in [*urls, *promql])
    path.write_text(text)
    return text


def _health(svc: ServiceProcess) -> dict[str, dict]:
    return {s["name"]: s.get("health") or {} for s in svc.get("/api/v1/sources").json()}


def _period(svc: ServiceProcess, name: str) -> dict:
    status = svc.get(f"/api/v1/slos/model/{name}").json().get("status") or {}
    return (status.get("windows") or {}).get("period") or {}


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    """Threaded: eleven sources scrape it at once every second."""
    s = start_local_server()
    yield s
    s.stop()


def test_hanging_and_garbage_sources_are_reported_while_the_healthy_one_keeps_working(
    sqlite_url: str, tmp_path: Path, server: HTTPServer
) -> None:
    httpserver = server
    httpserver.expect_request("/metrics").respond_with_handler(counters)
    for name, (body, headers) in GARBAGE.items():
        httpserver.expect_request(f"/{name}").respond_with_response(Response(body, headers=headers))
    httpserver.expect_request("/prom5xx/api/v1/query").respond_with_data("overloaded", status=503)
    httpserver.expect_request("/promgarbage/api/v1/query").respond_with_data("<html>nope</html>", status=200)

    with StallingServer() as silent, StallingServer(trickle=0.1) as trickle, StallingServer() as prom_hang:
        urls = {
            "good": httpserver.url_for("/metrics"),
            "silent": silent.url + "/metrics",
            "trickle": trickle.url + "/metrics",
            **{name: httpserver.url_for(f"/{name}") for name in GARBAGE},
        }
        promql = {
            "prom-hang": prom_hang.url,
            "prom-5xx": httpserver.url_for("/prom5xx"),
            "prom-garbage": httpserver.url_for("/promgarbage"),
        }
        config = tmp_path / "slo.yaml"
        good_text = write_config(config, urls, promql)
        with run_service([config], sqlite_url, tmp_path) as svc:
            # Every faulty source is reported with its own reason, and the stalling servers were asked.
            def all_reported() -> dict[str, dict] | None:
                health = _health(svc)
                ok = all(EXPECTED_ERRORS[n] in (health[n].get("error") or "") for n in EXPECTED_ERRORS)
                return health if ok and health["good"].get("up") else None

            try:
                health = wait_for(all_reported, timeout=60, what="every source's health")
            except AssertionError:
                raise AssertionError(f"{_health(svc)}\n{svc.log()[-4000:]}") from None
            assert all(health[n]["up"] is False for n in EXPECTED_ERRORS), health
            assert silent.accepted and trickle.accepted and prom_hang.accepted
            # a binary body quoted in the error is escaped, not copied into logs and JSON
            assert "\\x00\\x01" in health["binary"]["error"] and "\x00" not in health["binary"]["error"]

            metrics = svc.get("/metrics").text
            assert metric_value(metrics, "slo_service_scrape_up", source="good") == 1
            for name in EXPECTED_ERRORS:
                assert metric_value(metrics, "slo_service_scrape_up", source=name) == 0, name

            # The faulty sources' SLOs say why they have no data; the healthy SLO counts events, and keeps
            # counting: its total grows over several more scrapes while the others keep failing.
            for name in EXPECTED_ERRORS:
                body = svc.get(f"/api/v1/slos/model/{name}").json()
                assert EXPECTED_ERRORS[name] in (body.get("collection_error") or ""), body
                assert not _period(svc, name).get("total"), name
            first = wait_for(lambda: _period(svc, "good").get("total"), timeout=30, what="the healthy SLO's events")
            good_at = health["good"]["last_attempt"]
            evaluated = metric_value(metrics, "slo_service_last_evaluation_timestamp_seconds")
            wait_for(lambda: _period(svc, "good").get("total", 0) > first, timeout=30, what="more healthy events")
            later = _health(svc)
            assert later["good"]["last_attempt"] > good_at and later["good"]["up"] is True
            assert metric_value(svc.get("/metrics").text, "slo_service_last_evaluation_timestamp_seconds") > (
                evaluated or 0
            )
            assert _period(svc, "good")["good"] < _period(svc, "good")["total"]  # the 500s count as bad

            # A broken reload (SIGHUP) is refused with file:line, reported on /metrics, and changes nothing.
            config.write_text(good_text.replace("objective: 90", "objective: 900", 1))
            svc.signal(signal.SIGHUP)
            last = wait_for(
                lambda: (r := svc.get("/api/v1/config").json()["last_reload"]) and r["ok"] is False and r,
                timeout=30,
                what="the SIGHUP reload to be refused",
            )
            assert any(p.startswith(f"{config}:") and "objective" in p for p in last["problems"]), last
            assert metric_value(svc.get("/metrics").text, "slo_service_config_last_reload_successful") == 0
            before = _period(svc, "good")["total"]
            wait_for(lambda: _period(svc, "good")["total"] > before, timeout=30, what="collection after the reload")
            assert svc.get("/api/v1/slos/model/good").json()["objective"] == pytest.approx(0.9)
            assert svc.proc.poll() is None
            log = svc.log()
            assert "Traceback" not in log
            # one line per failing source (the first failure), not one per scrape
            for name in EXPECTED_ERRORS:
                assert log.count(f"collection from {name} failed:") == 1, (name, log[-3000:])
