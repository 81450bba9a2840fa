"""Scrapes that follow Prometheus, end to end: a real local target serving repeated series, a negative
counter, NaN and a gzip bomb, scraped by the real adapter into a real SQL store (both backends), and the
service as a real process whose peak RSS must stay far below what the bomb inflates to."""

from __future__ import annotations

import asyncio
import gzip
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.clock import ManualClock
from slo_service.core.model import (
    DEFAULT_BODY_SIZE_LIMIT,
    SLO,
    Config,
    Period,
    RatioSLI,
    ScrapeSource,
    Service,
)
from slo_service.exporter.collector import build_registry
from slo_service.pipeline.evaluate import Evaluator
from slo_service.pipeline.history import LiveHistory
from slo_service.pipeline.runtime import Adapters, Runtime
from slo_service.wiring import promql_fetcher, scrape_fetcher
from tests.integration.test_service_process import metric_value
from tests.support.auth import admin_client, make_app
from tests.support.bodies import BOMB_INFLATED_BYTES, gzip_bomb
from tests.support.memory import peak_of
from tests.support.process import run_service, wait_for

KEY = "checkout/availability"
MIB = 1024 * 1024
LIMIT_ERROR = "body size limit exceeded: the decompressed body is larger than body_size_limit 10MiB"


class Target:
    """A model server stand-in: each scrape gets the body the test set last (text, gzip, or the bomb)."""

    def __init__(self, server: HTTPServer) -> None:
        self.body = b""
        self.gzip = False
        server.expect_request("/metrics").respond_with_handler(self._handle)
        self.url = server.url_for("/metrics")

    def _handle(self, _: Request) -> Response:
        headers = {"Content-Encoding": "gzip"} if self.gzip else {}
        return Response(self.body, headers=headers, content_type="text/plain; version=0.0.4")

    def serve(self, ok: str, errors: str, repeated: int = 0, compress: bool = False) -> None:
        """requests_total by code; `repeated` series exposed twice, the second copy with a wild value."""
        lines = ["# TYPE requests_total counter", f'requests_total{{code="200"}} {ok}']
        lines += [f'requests_total{{code="500"}} {errors}', 'requests_total{code="200"} 999999']
        lines += [f'queue_depth{{shard="{i}"}} {v}' for i in range(repeated) for v in (1, 2)]
        text = ("\n".join(lines) + "\n").encode()
        self.body, self.gzip = (gzip.compress(text), True) if compress else (text, False)

    def serve_bomb(self) -> None:
        self.body, self.gzip = gzip_bomb(), True


def config_for(url: str) -> Config:
    sli = RatioSLI("model", total="requests_total", good='requests_total{code!~"5.."}')
    slo = SLO("checkout", "availability", 0.99, Period.rolling(timedelta(days=7)), sli)
    return Config({"checkout": Service("checkout")}, {"model": ScrapeSource("model", url)}, (slo,))


def test_repeats_invalid_counters_and_a_gzip_bomb_count_exactly_what_prometheus_would(
    httpserver: HTTPServer, sql_store: SqlHistoryStore, sql_store_clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    target = Target(httpserver)
    config = config_for(target.url)
    clock = sql_store_clock
    history = LiveHistory(sql_store, clock.now())
    adapters = Adapters(scrape=scrape_fetcher, promql=promql_fetcher)
    runtime = Runtime(config, sql_store, history, Evaluator(history), adapters, clock, lambda: config)
    client = admin_client(make_app(runtime, build_registry(runtime)))
    start = clock.now()

    def scrape() -> dict[str, Any]:
        """One scrape a minute after the previous one, and the source as /api/v1/sources shows it then."""
        clock.advance(timedelta(minutes=1))
        asyncio.run(runtime.collect("model"))
        [source] = client.get("/api/v1/sources").json()
        assert isinstance(source, dict)
        return source

    def metric(name: str, **labels: str) -> float | None:
        return metric_value(client.get("/metrics").text, name, source="model", **labels)

    # every scrape also exposes requests_total{code="200"} a second time with 999999: never counted
    target.serve("100", "5", repeated=50)
    with caplog.at_level(logging.WARNING, logger="slo_service.pipeline.collect"):
        first = scrape()  # minute 1: the baseline
    assert first["duplicate_series"] == 51 and first["body_size_limit_bytes"] == DEFAULT_BODY_SIZE_LIMIT
    repeats = [r.getMessage() for r in caplog.records if "repeat a series" in r.getMessage()]
    assert repeats == [
        "source model: 51 samples repeat a series already in the scrape; kept the first of each "
        '(as Prometheus does), e.g. requests_total{code="200"}'
    ]  # one line for the scrape, not one per series

    target.serve("190", "15")
    assert scrape()["slo_errors"] == {}  # minute 2: 90 good of 100

    target.serve("-7", "20")  # minute 3, a broken exporter: the counter went negative
    source = scrape()
    assert source["invalid_counters"] == {'requests_total{code="200"}': "-7"}
    assert source["slo_errors"][KEY].startswith('invalid counter value -7 in requests_total{code="200"}')
    assert source["health"]["up"] is True

    target.serve("NaN", "25")  # minute 4
    assert scrape()["invalid_counters"] == {'requests_total{code="200"}': "NaN"}

    target.serve("290", "30")
    scrape()  # minute 5: the whole increase since the last valid scrape (minute 2), 100 good of 115, spread
    # over the minutes it covers: (12:02, 12:05] is all of minutes 2, 3 and 4

    target.serve_bomb()  # minute 6
    source, peak = peak_of(scrape)
    assert peak < 3 * DEFAULT_BODY_SIZE_LIMIT, f"peak {peak / MIB:.0f} MiB for a {BOMB_INFLATED_BYTES // MIB} MiB bomb"
    assert source["health"]["up"] is False and source["health"]["error"] == LIMIT_ERROR
    assert source["slo_errors"] == {KEY: f"source down: {LIMIT_ERROR}"}
    assert source["health"]["consecutive_failures"] == 1

    target.serve("300", "30", compress=True)
    assert scrape()["health"]["up"] is True  # minute 7: 10 good of 10 since minute 5, read through gzip

    rows = sql_store.load_counts([KEY], start, clock.now() + timedelta(minutes=1))
    assert [(int((r.start - start) / timedelta(minutes=1)), r.good, r.total) for r in rows] == [
        (2, 90 + 33, 100 + 38),
        (3, 33, 38),
        (4, 34, 39),
        (5, 5, 5),  # the scrapes came at the start of minutes 5 and 7: those get no share of their gaps
        (6, 5, 5),
        (7, 0, 0),
    ]
    assert sum(r.total for r in rows) == 100 + 115 + 10
    assert history.refused_increments == 0
    assert metric("slo_service_scrape_duplicate_series_total") == 51 + 5
    assert metric("slo_service_scrape_invalid_counter_samples_total", reason="negative") == 1
    assert metric("slo_service_scrape_invalid_counter_samples_total", reason="nan") == 1
    assert metric("slo_service_scrape_invalid_counter_samples_total", reason="inf") == 0
    assert metric("slo_service_collection_errors_total") == 3  # negative, NaN, bomb


def _peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


def test_the_service_survives_a_gzip_bomb_and_says_why_the_source_is_down(
    httpserver: HTTPServer, sqlite_url: str, tmp_path: Path
) -> None:
    target = Target(httpserver)
    target.serve("100", "5")
    config = tmp_path / "slo.yaml"
    config.write_text(f"""apiVersion: slo-service/v1
services: [{{name: checkout}}]
sources:
  - {{name: model, type: scrape, url: "{target.url}", interval: 1s, timeout: 900ms}}
slos:
  - service: checkout
    name: availability
    objective: 99
    period: 7d
    sli: {{ratio: {{source: model, good: 'requests_total{{code!~"5.."}}', total: requests_total}}}}
""")
    with run_service([config], sqlite_url, tmp_path) as svc:

        def source() -> dict[str, Any]:
            [item] = svc.get("/api/v1/sources").json()
            assert isinstance(item, dict)
            return item

        wait_for(lambda: (source()["health"] or {}).get("up"), what="a first good scrape")
        before = _peak_rss(svc.proc.pid)
        target.serve_bomb()
        health = wait_for(lambda: (h := source()["health"]) and h["consecutive_failures"] >= 3 and h, what="3 bombs")
        growth = _peak_rss(svc.proc.pid) - before
        assert health["up"] is False and health["error"] == LIMIT_ERROR
        errors = metric_value(svc.get("/metrics").text, "slo_service_collection_errors_total", source="model")
        assert errors is not None and errors >= 3
        # inflating it whole would take a GiB (twice that as text); the limit holds a scrape to ~10 MiB
        assert growth < 64 * MIB, f"peak RSS grew by {growth / MIB:.0f} MiB"
        target.serve("200", "5")
        wait_for(lambda: (source()["health"] or {}).get("up"), what="the target to recover")
