"""Self-metrics exist from the first scrape of /metrics (through the app), so health panels are not
empty on a healthy service: reload success is 1 and every configured source has 0 collection errors."""

from __future__ import annotations

import asyncio

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.core.clock import ManualClock
from slo_service.core.model import Config, ScrapeSource
from slo_service.exporter.collector import build_registry
from slo_service.pipeline.evaluate import Evaluator
from slo_service.pipeline.history import LiveHistory
from slo_service.pipeline.runtime import Adapters, Runtime
from tests.integration.test_service_process import metric_value
from tests.support.auth import admin_client, make_app
from tests.unit.test_pipeline import SOURCE, START, FakeTarget, config_of, ratio_slo

RELOAD_OK = "slo_service_config_last_reload_successful"
ERRORS = "slo_service_collection_errors_total"


class Loader:
    """The config files as a reload reads them: valid, or refused."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.broken = False

    def __call__(self) -> Config:
        if self.broken:
            raise ValueError("slo.yaml:3: slos[0].objective: must be in (0, 1)")
        return self.config


def test_self_metrics_exist_from_the_first_scrape_and_follow_failures() -> None:
    spare = ScrapeSource("spare", "http://127.0.0.1:1/metrics")  # a source with no SLO yet
    base = config_of(ratio_slo())
    config = Config(base.services, {SOURCE.name: SOURCE, spare.name: spare}, base.slos)
    clock, store, target = ManualClock(START), InMemoryHistoryStore(), FakeTarget()
    history = LiveHistory(store, clock.now())
    adapters = Adapters(scrape=target.fetcher, promql=lambda source, slos: None)  # type: ignore[arg-type,return-value]
    loader = Loader(config)
    runtime = Runtime(config, store, history, Evaluator(history), adapters, clock, loader)
    client = admin_client(make_app(runtime, build_registry(runtime)))

    first = client.get("/metrics").text
    assert metric_value(first, RELOAD_OK) == 1.0
    assert metric_value(first, ERRORS, source="model") == 0.0
    assert metric_value(first, ERRORS, source="spare") == 0.0

    target.up = False
    asyncio.run(runtime.collect("model"))
    loader.broken = True
    assert client.post("/api/v1/config/reload").status_code >= 400
    after = client.get("/metrics").text
    assert metric_value(after, ERRORS, source="model") == 1.0
    assert metric_value(after, ERRORS, source="spare") == 0.0
    assert metric_value(after, RELOAD_OK) == 0.0

    loader.broken = False
    assert client.post("/api/v1/config/reload").status_code == 200
    assert metric_value(client.get("/metrics").text, RELOAD_OK) == 1.0
