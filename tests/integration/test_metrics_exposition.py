"""/metrics: the SLO families rendered once per evaluation from a cache, gzip when asked, the configured windows,
and every series the committed dashboards read."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.api.app import accepts_gzip
from slo_service.core import conventions as c
from slo_service.core.clock import ManualClock
from slo_service.core.model import Budgeting, BudgetingMethod, Config, Service
from slo_service.exporter.collector import SLOCollector, build_registry
from slo_service.exporter.exposition import ExportWindows, render_slo_families
from slo_service.pipeline.evaluate import Evaluator
from slo_service.pipeline.history import LiveHistory
from slo_service.pipeline.runtime import Adapters, Runtime
from tests.support.auth import admin_client, make_app
from tests.support.process import require_tool
from tests.unit.test_pipeline import SOURCE, START, FakeTarget, ratio_slo

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
WINDOWED = (c.SLO_SLI_RATIO, c.SLO_BURN_RATE, c.SLO_DATA_COVERAGE_RATIO)


def running(windows: ExportWindows | None = None) -> tuple[Runtime, ManualClock, FakeTarget]:
    """A runtime with two SLOs (one timeslices), labels that need escaping, and a few minutes of data."""
    sliced = replace(
        ratio_slo("latency", 0.999),
        budgeting=Budgeting(BudgetingMethod.TIMESLICES, slice=timedelta(minutes=5), slice_threshold=0.99),
        labels={"team": 'ml "core"\\ops', "tier": "1"},
    )
    config = Config({"fraud": Service("fraud", {"model": "m\nv2"})}, {"model": SOURCE}, (ratio_slo(), sliced))
    clock, store, target = ManualClock(START), InMemoryHistoryStore(), FakeTarget()
    history = LiveHistory(store, clock.now())
    adapters = Adapters(scrape=target.fetcher, promql=lambda source, slos: None)  # type: ignore[arg-type,return-value]
    runtime = Runtime(config, store, history, Evaluator(history), adapters, clock, lambda: replace(config))
    for _ in range(12):
        target.ok += 100
        target.errors += 1
        asyncio.run(runtime.collect("model"))
        clock.advance(timedelta(seconds=15))
    runtime.evaluate()
    return runtime, clock, target


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def slo_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {k: v for k, v in samples(text).items() if k[0].startswith("slo_") and not k[0].startswith("slo_service")}


@pytest.mark.parametrize("windows", [ExportWindows(), ExportWindows.every()], ids=["default", "every"])
def test_the_cached_text_is_what_prometheus_client_writes(windows: ExportWindows) -> None:
    runtime, _, _ = running()
    labels = ["team", "tier", "model", "model_version"]
    fast = render_slo_families(runtime, labels, windows).decode()
    reference = SLOCollector(runtime, labels, windows)
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(reference)
    want = slo_samples(generate_latest(registry).decode())
    assert slo_samples(fast) == want
    assert any(dict(k[1]).get("team") == 'ml "core"\\ops' for k in want)  # escaping was exercised
    # the same families, types and help texts
    types = {f.name: (f.type, f.documentation) for f in text_string_to_metric_families(fast)}
    ref_types = {
        f.name: (f.type, f.documentation)
        for f in text_string_to_metric_families(generate_latest(registry).decode())
        if f.name.startswith("slo_") and not f.name.startswith("slo_service")
    }
    assert types == ref_types


def test_promtool_accepts_the_exposition(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    runtime, _, _ = running()
    body = admin_client(make_app(runtime, build_registry(runtime, ["team", "tier"]))).get("/metrics").content
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
    # promtool lints names and help (exit 3 for lint problems only); a parse error is exit 1
    assert result.returncode in (0, 3), result.stderr.decode()
    assert b"error while linting" not in result.stderr and b"parse" not in result.stderr.lower()


def test_a_scrape_after_an_evaluation_shows_its_values_and_scrapes_between_reuse_the_text() -> None:
    runtime, clock, target = running()
    registry = build_registry(runtime)
    client = admin_client(make_app(runtime, registry))
    key = (c.SLO_EVENTS + "_total", (("outcome", "good"), ("service", "fraud"), ("slo", "availability")))

    def good_events() -> float:
        found = {
            (*k[:1], tuple(kv for kv in k[1] if kv[1])): v for k, v in samples(client.get("/metrics").text).items()
        }
        return found[key]

    before = good_events()
    assert good_events() == before and registry.slo_exposition.renders == 1
    target.ok += 500
    asyncio.run(runtime.collect("model"))
    assert good_events() == before  # collected, not evaluated yet: the cached text stands
    clock.advance(timedelta(seconds=15))
    runtime.evaluate()
    assert good_events() == before + 500
    assert registry.slo_exposition.renders == 2
    runtime.reload()  # a new config object: rendered again
    good_events()
    assert registry.slo_exposition.renders == 3


def test_gzip_is_served_when_accepted() -> None:
    runtime, _, _ = running()
    client = admin_client(make_app(runtime, build_registry(runtime)))
    plain = client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.headers["vary"] == "Accept-Encoding"
    with client.stream("GET", "/metrics", headers={"Accept-Encoding": "gzip"}) as zipped:
        assert zipped.headers["content-encoding"] == "gzip"
        raw = b"".join(zipped.iter_raw())
    text = gzip.decompress(raw).decode()  # one gzip member: any client can read it
    assert len(raw) < len(plain.content) / 3
    assert slo_samples(text) == slo_samples(plain.text)
    assert "slo_service_build_info" in text  # the live part follows the cached one
    with client.stream("GET", "/metrics", headers={"Accept-Encoding": "gzip;q=0"}) as refused:
        assert "content-encoding" not in refused.headers


@pytest.mark.parametrize(
    ("header", "want"),
    [
        ("gzip", True),
        ("deflate, gzip;q=1.0, *;q=0.5", True),
        ("br", False),
        ("gzip;q=0", False),
        ("*", True),
        ("", False),
    ],
)
def test_accept_encoding(header: str, want: bool) -> None:
    assert accepts_gzip(header) is want


def test_configured_windows_are_exported_and_no_others() -> None:
    windows = ExportWindows.parse({"burn_rate": ["1h"], "sli": ["all"]})
    runtime, _, _ = running()
    text = admin_client(make_app(runtime, build_registry(runtime, windows=windows))).get("/metrics").text
    exported: dict[str, set[str]] = {name: set() for name in WINDOWED}
    for name, labels in samples(text):
        if name in exported:
            exported[name].add(dict(labels)["window"])
    evaluated = set(runtime.statuses["fraud/availability"].windows)
    assert exported[c.SLO_BURN_RATE] == {"1h"}
    assert exported[c.SLO_SLI_RATIO] == evaluated  # "all"
    assert exported[c.SLO_DATA_COVERAGE_RATIO] == {"1h", "period"}  # left out: the default
    with pytest.raises(ValueError, match="unknown metric families"):
        ExportWindows.parse({"burn": ["1h"]})


def dashboard_windows() -> dict[str, set[str]]:
    """Every window a committed dashboard selects, by metric: window="x" and window=~"a|b"."""
    wanted: dict[str, set[str]] = {name: set() for name in WINDOWED}
    for path in DASHBOARDS.glob("*.json"):
        for expr in re.findall(r'"expr":\s*"((?:[^"\\]|\\.)*)"', path.read_text()):
            expr = json.loads(f'"{expr}"')
            for name, selector in re.findall(r"(slo_[a-z_]+)\{([^}]*)\}", expr):
                m = re.search(r'window=(~?)"([^"]*)"', selector)
                if name in wanted and m:
                    wanted[name] |= set(m.group(2).split("|"))
    return wanted


def test_every_window_a_dashboard_reads_is_exported_by_default() -> None:
    wanted = dashboard_windows()
    assert wanted[c.SLO_BURN_RATE] >= {"5m", "1h", "3d"}  # the parser found the panels
    runtime, _, _ = running()
    text = admin_client(make_app(runtime, build_registry(runtime))).get("/metrics").text
    exported: dict[str, set[str]] = {name: set() for name in WINDOWED}
    for name, labels in samples(text):
        if name in exported:
            exported[name].add(dict(labels)["window"])
    for name, windows in wanted.items():
        assert windows <= exported[name], f"{name}: dashboards read {sorted(windows - exported[name])}"


def test_the_slo_listing_is_rebuilt_after_an_evaluation() -> None:
    runtime, clock, target = running()
    client = admin_client(make_app(runtime, build_registry(runtime)))

    def period_total() -> float:
        listing = client.get("/api/v1/slos").json()
        (avail,) = [s for s in listing if s["slo"] == "availability"]
        filtered = client.get("/api/v1/slos", params={"service": "fraud"}).json()  # not cached: the same
        assert [s for s in filtered if s["slo"] == "availability"] == [avail]
        return float(avail["status"]["windows"]["period"]["total"])

    before = period_total()
    assert period_total() == before
    target.ok += 500
    asyncio.run(runtime.collect("model"))
    clock.advance(timedelta(seconds=15))
    runtime.evaluate()
    assert period_total() == before + 500
