"""The demo model server: real HTTP on 127.0.0.1, ticks driven by hand with a seeded simulation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY

from slo_service.adapters.scrape import parse_text, scrape
from slo_service.core.extract import Observation, SLIExtractor
from slo_service.core.model import (
    SLO,
    Comparison,
    LatencySLI,
    Period,
    RatioSLI,
    ScrapeSource,
    ThresholdSLI,
)
from slo_service.core.samples import Sample
from slo_service.demo.model_server import DemoModelServer, main


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def demo(clock: FakeTime) -> Iterator[DemoModelServer]:
    server = DemoModelServer(port=0, seed=7, time_source=clock).start(simulate=False)
    yield server
    server.stop()


def metrics(server: DemoModelServer) -> list[Sample]:
    r = httpx.get(f"{server.url}/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return parse_text(r.text)


def value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def advance(server: DemoModelServer, clock: FakeTime, ticks: int) -> None:
    for _ in range(ticks):
        clock.now += 1
        server.tick(1.0)


def test_metrics_endpoint_exposes_every_series(demo: DemoModelServer) -> None:
    samples = metrics(demo)
    names = {s.name for s in samples}
    assert {
        "model_requests_total",
        "model_request_duration_seconds_bucket",
        "model_request_duration_seconds_count",
        "model_predictions_total",
        "model_feature_freshness_seconds",
        "model_gpu_memory_used_ratio",
    } <= names
    codes = {s.labels["code"] for s in samples if s.name == "model_requests_total"}
    assert codes == {"200", "500", "503"}  # present from the start, at 0
    les = sorted(float(s.labels["le"]) for s in samples if s.name == "model_request_duration_seconds_bucket")
    assert les == [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf")]
    one = next(s for s in samples if s.name == "model_requests_total")
    assert dict(one.labels) | {"code": "x"} == {
        "model": "fraud-detector",
        "version": "v3",
        "route": "/predict",
        "code": "x",
    }
    # its own registry, never the global one
    assert REGISTRY.get_sample_value("model_requests_total", dict(one.labels)) is None


def test_counters_grow_after_ticks(demo: DemoModelServer, clock: FakeTime) -> None:
    before = value(metrics(demo), "model_requests_total")
    advance(demo, clock, 5)
    after = metrics(demo)
    assert value(after, "model_requests_total") > before
    assert value(after, "model_request_duration_seconds_count") == value(after, "model_requests_total")
    assert value(after, "model_predictions_total") == value(after, "model_requests_total")


def run_sim(seed: int, ticks: int) -> tuple[int, int, int]:
    clock = FakeTime()
    server = DemoModelServer(port=0, seed=seed, time_source=clock)
    advance(server, clock, ticks)
    return server.sim.requests, server.sim.errors, server.sim.slow


def test_error_share_matches_error_rate_and_is_deterministic() -> None:
    a = run_sim(seed=11, ticks=3000)
    assert a == run_sim(seed=11, ticks=3000)  # seeded: same numbers every run
    requests, errors, slow = a
    assert 20 * 3000 * 0.95 < requests < 20 * 3000 * 1.05
    assert 0.003 < errors / requests < 0.007  # error_rate 0.005
    assert slow / requests < 0.03  # mostly under 0.25 s


def test_incident_raises_errors_slowness_and_stops_feature_refresh(demo: DemoModelServer, clock: FakeTime) -> None:
    advance(demo, clock, 60)
    base = demo.sim.requests, demo.sim.errors, demo.sim.slow
    demo.trigger_incident(duration_s=700)
    advance(demo, clock, 650)
    req = demo.sim.requests - base[0]
    err = demo.sim.errors - base[1]
    slow = demo.sim.slow - base[2]
    assert 0.25 < err / req < 0.35
    assert slow / req > 0.5
    samples = metrics(demo)
    assert value(samples, "model_feature_freshness_seconds") > 650  # no refresh during the incident
    assert value(samples, "model_gpu_memory_used_ratio") >= 0.9
    # after it ends, things recover
    advance(demo, clock, 100)
    assert demo.sim.active_incident() is None
    mark = demo.sim.requests, demo.sim.errors
    advance(demo, clock, 600)
    assert (demo.sim.errors - mark[1]) / (demo.sim.requests - mark[0]) < 0.02
    samples = metrics(demo)
    assert value(samples, "model_feature_freshness_seconds") < 650
    assert 0.6 <= value(samples, "model_gpu_memory_used_ratio") <= 0.8


def test_post_incident_and_status(demo: DemoModelServer, clock: FakeTime) -> None:
    assert httpx.get(demo.url + "/").json()["incident"] is None
    r = httpx.post(demo.url + "/incident?duration=120")
    assert r.status_code == 200
    assert r.json() == {"incident": True, "duration_seconds": 120.0, "error_rate": 0.3, "slow": True}
    status = httpx.get(demo.url + "/").json()
    assert status["model"] == "fraud-detector"
    assert status["incident"]["remaining_seconds"] == 120
    clock.now += 121
    assert httpx.get(demo.url + "/").json()["incident"] is None
    assert httpx.post(demo.url + "/incident?duration=-1").status_code == 400
    assert httpx.post(demo.url + "/nope").status_code == 404
    assert httpx.get(demo.url + "/nope").status_code == 404


def test_background_ticks_and_scrape_extract_end_to_end() -> None:
    """Real-time ticking at 20 Hz, scraped with scrape() and turned into observations."""
    server = DemoModelServer(port=0, seed=3, rate=200.0, tick_seconds=0.05).start()
    try:
        source = ScrapeSource(name="demo", url=f"{server.url}/metrics", timeout=timedelta(seconds=2))
        period = Period.rolling(timedelta(days=28))
        slos = [
            SLO(
                "fraud",
                "availability",
                0.99,
                period,
                RatioSLI("demo", total="model_requests_total", bad='model_requests_total{code=~"5.."}'),
            ),
            SLO(
                "fraud",
                "latency",
                0.95,
                period,
                LatencySLI("demo", "model_request_duration_seconds", 0.25, '{route="/predict"}'),
            ),
            SLO(
                "fraud",
                "gpu",
                0.9,
                period,
                ThresholdSLI("demo", "model_gpu_memory_used_ratio", Comparison.LT, 0.9),
            ),
        ]
        extractor = SLIExtractor(slos)

        async def two_scrapes() -> list[Observation]:
            async with httpx.AsyncClient() as client:
                first = await scrape(client, source, datetime.now(UTC))
                extractor.from_scrape(first.samples, first.health.at)
                await asyncio.sleep(0.5)
                second = await scrape(client, source, datetime.now(UTC))
                assert second.health.up, second.health.error
                r = extractor.from_scrape(second.samples, second.health.at)
                assert r.errors == {}
                return list(r.observations)

        observations = asyncio.run(two_scrapes())
        by_key = {o.key: o for o in observations}
        assert set(by_key) == {"fraud/availability", "fraud/latency", "fraud/gpu"}
        assert by_key["fraud/availability"].total > 0
        assert by_key["fraud/gpu"].good == 1
    finally:
        server.stop()


def test_main_runs_until_interrupted(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", interrupt)
    main(["--port", "0", "--incident", "--seed", "1"])
    assert "demo model server on http://127.0.0.1:" in capsys.readouterr().out


def test_healthy_simulation_never_breaches_freshness_or_gpu_in_a_day() -> None:
    # a low request rate keeps a simulated day fast; freshness and GPU do not depend on it
    clock = FakeTime()
    sim = DemoModelServer(port=0, seed=5, rate=0.2, time_source=clock).sim
    ages, gpus, refreshes = [], [], 0
    for _ in range(24 * 3600):
        clock.now += 1
        before = sim.feature_age
        sim.tick(1.0)
        refreshes += sim.feature_age < before
        ages.append(sim.feature_age)
        gpus.append(sim.gpu)
    assert max(ages) < 900 - 250  # refreshed every 10 min +- 30 s: far from the 900 s threshold
    assert 24 * 6 - 2 <= refreshes <= 24 * 6 + 2
    assert min(gpus) >= 0.6 and max(gpus) <= 0.8


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_an_incident_breaches_freshness_after_4_minutes_and_gpu_after_about_3(seed: int) -> None:
    clock = FakeTime()
    sim = DemoModelServer(port=0, seed=seed, time_source=clock).sim
    for _ in range(seed * 377):  # a different refresh phase for each seed
        clock.now += 1
        sim.tick(1.0)
    sim.trigger_incident()  # the default: 15 minutes
    ages, gpus = [], []
    for _ in range(899):
        clock.now += 1
        sim.tick(1.0)
        ages.append(sim.feature_age)
        gpus.append(sim.gpu)
    assert sim.active_incident() is not None
    first_stale = next(i for i, age in enumerate(ages) if age >= 900)
    assert 235 <= first_stale <= 240  # the fallback snapshot is 11 minutes old: 900 s four minutes in
    assert all(age >= 900 for age in ages[first_stale:])  # no refresh lands during the incident
    first_full = next(i for i, g in enumerate(gpus) if g > 0.9)
    assert 120 <= first_full <= 300
    assert sum(g > 0.9 for g in gpus[first_full:]) >= 0.95 * len(gpus[first_full:])
    clock.now += 1
    sim.tick(1.0)  # over: the refresh lands, GPU memory is freed
    assert sim.active_incident() is None
    assert sim.feature_age < 10 and sim.gpu <= 0.8


def test_alert_sink_prints_each_notification_as_one_line() -> None:
    from slo_service.adapters.receivers.webhook import WebhookReceiver
    from slo_service.demo.alert_sink import AlertSink, describe
    from tests.unit.test_alerting_pipeline import World, alerting_config

    sink = AlertSink(0, echo=False)
    sink.start()
    try:
        url = f"http://127.0.0.1:{sink.port}/alerts"
        world = World(alerting_config(), {name: WebhookReceiver(name, url) for name in ("pager", "tickets")})  # type: ignore[dict-item]
        world.minutes(60, ok=10_000, errors=0)
        world.minutes(15, ok=9_000, errors=1_000)  # 100x: the page tier fires
        fp = next(a.fingerprint for a in world.alerting.active_alerts() if a.labels["severity"] == "page")
        world.alerting.acknowledge(fp, "alice")
        world.minutes(1, ok=9_000, errors=1_000)
        world.minutes(20, ok=10_000, errors=0)
    finally:
        sink.stop()
    pages = [line for line in sink.lines if "severity=page" in line]
    assert [line.split()[0] for line in pages] == ["FIRING", "ACKNOWLEDGED", "RESOLVED"]
    assert pages[0].startswith("FIRING       fraud/availability SLOBurnRateHigh severity=page tier=page-fast burn=")
    assert pages[0].endswith("(> 14.4x)")
    assert pages[1].endswith("by alice")
    escalated = {**sink.received[0], "escalation": {"level": 2, "levels": 3, "repetition": 0}, "oncall": ["bob"]}
    assert describe(escalated).endswith("escalation level 2/3 on call: bob")
