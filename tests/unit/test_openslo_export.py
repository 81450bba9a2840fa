"""`export` then `import` gives back the same configuration; what cannot be exported is named.

The property test generates slo-service configurations (every source kind, ratio / latency / threshold
SLIs, rolling and calendar periods, both budgeting methods, alerting policies with tiers the service
scales for short periods, names that are no DNS label), loads them with the real loader, exports them as
OpenSLO, loads the export again and compares the whole model, each SLO's alert policy included.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slo_service.core.model import Config
from slo_service.specs.loader import load_config
from slo_service.specs.openslo_export import dump_openslo, export_openslo
from slo_service.specs.problems import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# --------------------------------------------------------------------------------------------------------
# Generated configurations

names = st.from_regex(r"[a-z][a-z0-9_.-]{0,70}[a-z0-9]", fullmatch=True)
label_maps = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), st.text("abc xyz-1", max_size=8), max_size=3
)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
SCRAPE_INTERVALS = [("15s", "5s"), ("30s", "10s"), ("1m", "20s")]
PROMQL_INTERVALS = [("1m", "10s"), ("2m", "30s"), ("5m", "1m")]
BODY_SIZE_LIMITS = ["0", "512KB", "1.5MB", "10MiB", "1000B", "2GB"]  # "0": no limit
PERIODS: list[Any] = ["1d", "7d", "14d", "28d", "30d", "90d", {"calendar": "week", "timezone": "Europe/Berlin"},
                      {"calendar": "month", "timezone": "UTC"}]  # fmt: skip
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
WINDOWS = {"5m": 5, "30m": 30, "1h": 60, "2h": 120, "6h": 360, "1d": 1440, "3d": 4320}
TWENTY_EIGHT_DAYS = 28 * 1440


@st.composite
def sources(draw: st.DrawFn) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, kind in enumerate(draw(st.lists(st.sampled_from(["scrape", "promql", "push"]), min_size=1, max_size=3))):
        name = draw(names.filter(lambda n: n not in {s["name"] for s in out}))
        source: dict[str, Any] = {"name": name, "type": kind}
        if kind == "scrape":
            source["url"] = f"http://127.0.0.1:{9100 + i}/metrics"
            source["interval"], source["timeout"] = draw(st.sampled_from(SCRAPE_INTERVALS))
            limit = draw(st.sampled_from([None, *BODY_SIZE_LIMITS]))
            if limit is not None:  # None: the default, which export writes out
                source["body_size_limit"] = limit
            max_gap = draw(st.sampled_from([None, "10m", "2h", "1d"]))
            if max_gap is not None:
                source["max_gap"] = max_gap
        elif kind == "promql":
            source["url"] = f"http://127.0.0.1:{9090 + i}"
            source["interval"], source["timeout"] = draw(st.sampled_from(PROMQL_INTERVALS))
            source["backfill"] = draw(st.booleans())
            source["headers"] = draw(st.dictionaries(st.sampled_from(["X-Scope-OrgID", "X-Tenant"]), names, max_size=2))
        out.append(source)
    return out


@st.composite
def slis(draw: st.DrawFn, source: dict[str, Any]) -> dict[str, Any]:
    selector = source["type"] != "promql"
    metric = draw(st.sampled_from(["http_requests_total", "model_predictions_total", "jobs_total"]))
    kind = draw(st.sampled_from(["ratio", "latency", "threshold"]))
    if kind == "latency":
        buckets = draw(st.lists(st.sampled_from(BUCKETS), min_size=1, max_size=5, unique=True).map(sorted))
        sli: dict[str, Any] = {"source": source["name"], "histogram": "request_duration_seconds"}
        sli["threshold"] = draw(st.sampled_from(buckets))
        if draw(st.booleans()):
            sli["buckets"] = buckets
        if draw(st.booleans()):
            sli["matchers"] = '{route="/predict"}'
        return {"latency": sli}
    if kind == "threshold":
        query = "model_feature_age_seconds" if selector else 'max(model_feature_age_seconds{set="user"})'
        op = draw(st.sampled_from(["<", "<=", ">", ">="]))
        value = draw(st.sampled_from([0.9, 900, 3600.5]))
        aggregate = draw(st.sampled_from(["max", "min", "avg", "sum"]))
        return {"threshold": {"source": source["name"], "metric": query, "op": op, "value": value,
                              "aggregate": aggregate}}  # fmt: skip
    if selector:
        bad, total = f'{metric}{{code=~"5.."}}', metric
    else:
        bad, total = f'sum(rate({metric}{{code=~"5.."}}[5m]))', f"sum(rate({metric}[5m]))"
    which = draw(st.sampled_from(["good", "bad"]))
    good = f'{metric}{{code!~"5.."}}' if selector else f'sum(rate({metric}{{code!~"5.."}}[5m]))'
    return {"ratio": {"source": source["name"], which: good if which == "good" else bad, "total": total}}


@st.composite
def tiers(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    chosen = draw(st.lists(st.sampled_from(sorted(WINDOWS)[:]), min_size=1, max_size=4, unique=True))
    for i, long_name in enumerate(chosen):
        long = WINDOWS[long_name]
        if long < 60:
            continue
        short = draw(st.sampled_from([n for n, m in WINDOWS.items() if m <= long]))
        least = long / TWENTY_EIGHT_DAYS  # a tier must fire only above 1x for 28 days
        share = draw(st.sampled_from([round(least * f, 4) for f in (1.5, 3, 14.4)]))
        tier: dict[str, Any] = {"name": draw(st.sampled_from(["page_fast", "Page", "t"])) + str(i)}
        tier.update({"severity": draw(st.sampled_from(["page", "ticket", "critical"])), "long_window": long_name})
        tier.update({"short_window": short, "budget_share": share})
        if draw(st.booleans()):
            tier["for"] = "2m"
        if draw(st.booleans()):
            tier["labels"] = {"team": "search"}
            tier["annotations"] = {"runbook": "https://runbooks.example/{service}"}
        out.append(tier)
    return out or [{"name": "p", "severity": "page", "long_window": "1h", "short_window": "5m", "budget_share": 0.02}]


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    if draw(st.booleans()):
        policy["tiers"] = draw(tiers())
    policy["min_events"] = draw(st.sampled_from([0, 10, 250.5]))
    policy["no_data_after"] = draw(st.sampled_from([None, "30m", "1h"]))
    policy["budget_exhausted"] = draw(st.booleans())
    if draw(st.booleans()):
        policy["labels"] = draw(label_maps)
        policy["annotations"] = {"summary": "{service} {slo} burns"}
    if draw(st.booleans()):
        policy["alert_name"] = "SearchBurn"
        policy["for"] = "1m"
    return policy


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    services = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    srcs = draw(sources())
    slos: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 4))):
        service = draw(st.sampled_from(services))
        taken = {o["name"] for o in slos if o["service"] == service}
        name = draw(names.filter(lambda n: n not in taken))  # noqa: B023 (drawn at once, in this iteration)
        sli = draw(slis(draw(st.sampled_from(srcs))))
        slo: dict[str, Any] = {"service": service, "name": name, "objective": draw(st.sampled_from([90, 99, 99.95]))}
        slo.update({"period": draw(st.sampled_from(PERIODS)), "sli": sli, "labels": draw(label_maps)})
        slo["description"] = draw(texts)
        if "threshold" in sli or draw(st.booleans()):
            slo["budgeting"] = {"method": "timeslices", "slice": draw(st.sampled_from(["1m", "5m"]))}
            slo["budgeting"]["slice_threshold"] = draw(st.sampled_from([1.0, 0.95]))
        if draw(st.booleans()):
            slo["alerting"] = draw(policies())
        slos.append(slo)
    config: dict[str, Any] = {"apiVersion": "slo-service/v1", "kind": "Config"}
    config["services"] = [{"name": s, "labels": draw(label_maps), "description": draw(texts)} for s in services]
    config.update({"sources": srcs, "slos": slos})
    if draw(st.booleans()):
        config["alerting"] = {"policies": {"default": draw(policies()), "strict": draw(policies())}}
        for slo in slos:
            if "alerting" not in slo and draw(st.booleans()):
                slo["alerting"] = {"policy": "strict"}
    return config


# --------------------------------------------------------------------------------------------------------
# Helpers


def _load(tmp: Path, name: str, data: dict[str, Any] | str) -> Config:
    path = tmp / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return load_config([path])


def assert_same(again: Config, config: Config) -> None:
    """The whole model: services, sources, SLOs, and the alert policy every SLO runs with."""
    assert again.services == config.services
    assert again.sources == config.sources
    assert {s.key: s for s in again.slos} == {s.key: s for s in config.slos}
    assert config.alerting is not None and again.alerting is not None
    for slo in config.slos:
        assert again.alerting.policy_for(slo.key) == config.alerting.policy_for(slo.key), slo.key


# --------------------------------------------------------------------------------------------------------
# Tests


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=configs())
def test_export_then_import_gives_back_the_same_configuration(tmp_path: Path, raw: dict[str, Any]) -> None:
    try:
        config = _load(tmp_path, "config.yaml", raw)
    except ConfigError as exc:  # the generator only writes valid configurations
        pytest.fail(f"generated config refused: {exc}")
    exported = export_openslo(config)
    assert exported.lossy == []
    text = dump_openslo(exported.docs)
    for doc in yaml.safe_load_all(text):
        name = doc["metadata"]["name"]
        assert DNS_LABEL.match(name) and len(name) <= 63, name  # OpenSLO's own rule for names
    assert_same(_load(tmp_path, "exported.yaml", text), config)


def test_names_that_are_no_dns_label_keep_the_original_as_display_name_and_annotation(tmp_path: Path) -> None:
    long = "a" * 70
    config = _load(
        tmp_path,
        "c.yaml",
        {
            "apiVersion": "slo-service/v1",
            "services": [{"name": "search_api.v2"}, {"name": long}],
            "sources": [{"name": "prom_main", "type": "promql", "url": "http://127.0.0.1:9090"}],
            "slos": [
                {
                    "service": svc,
                    "name": "avail_ability",
                    "objective": 99,
                    "period": "28d",
                    "sli": {"ratio": {"source": "prom_main", "bad": "sum(rate(e[5m]))", "total": "sum(rate(t[5m]))"}},
                }
                for svc in ("search_api.v2", long)
            ],
        },
    )
    docs = list(yaml.safe_load_all(dump_openslo(export_openslo(config).docs)))
    service = next(d for d in docs if d["kind"] == "Service")
    assert service["metadata"]["name"] == "search-api-v2"
    assert service["metadata"]["displayName"] == "search_api.v2"
    assert service["metadata"]["annotations"] == {"slo-service/name": "search_api.v2"}
    slo_names = [d["metadata"]["name"] for d in docs if d["kind"] == "SLO"]
    assert len(set(slo_names)) == 2 and all(len(n) <= 63 for n in slo_names)  # same SLO name, two services
    source = next(d for d in docs if d["kind"] == "DataSource")
    assert source["metadata"]["name"] == "prom-main"
    slo = next(d for d in docs if d["kind"] == "SLO")
    assert slo["spec"]["service"] == "search-api-v2"  # references use the exported names
    assert slo["spec"]["indicator"]["spec"]["ratioMetric"]["bad"]["metricSource"]["metricSourceRef"] == "prom-main"


def test_scaled_tiers_are_written_as_evaluated_with_their_definition_in_annotations(tmp_path: Path) -> None:
    config = _load(tmp_path, "c.yaml", (ROOT / "examples" / "slo-service.yaml").read_text())
    docs = list(yaml.safe_load_all(dump_openslo(export_openslo(config).docs)))
    latency = next(d for d in docs if d["kind"] == "SLO" and d["metadata"]["name"] == "latency")  # 7 days
    ref = latency["spec"]["alertPolicies"][0]["alertPolicyRef"]
    policy = next(d for d in docs if d["kind"] == "AlertPolicy" and d["metadata"]["name"] == ref)
    fast = policy["spec"]["conditions"][0]
    # 1h/5m at 2% of a 28-day budget is evaluated over 15m (1m short) at 14.4x * 28/7 / 4 for a 7-day SLO
    assert config.alerting is not None
    tier = config.alerting.policy_for("fraud-detector/latency").effective_tiers(config.slos[1].period.nominal_length)[0]
    assert fast["spec"]["condition"]["lookbackWindow"] == "15m" == tier.long_window_name
    assert fast["spec"]["condition"]["threshold"] == pytest.approx(tier.factor, rel=1e-12)
    assert fast["metadata"]["annotations"] == {
        "slo-service/long_window": "1h",
        "slo-service/short_window": "5m",
        "slo-service/budget_share": "0.02",
    }
    assert policy["metadata"]["annotations"]["slo-service/min_events"] == "100.0"
    assert policy["spec"]["notificationTargets"][0]["spec"] == {"target": "slo-service"}


def test_export_with_the_alerting_section_beside_it_is_the_whole_configuration(tmp_path: Path) -> None:
    original = yaml.safe_load((ROOT / "examples" / "slo-service.yaml").read_text())
    config = _load(tmp_path, "c.yaml", original)
    exported = export_openslo(config)
    assert exported.lossy == [
        "alerting receivers: OpenSLO has no form for them; keep the alerting: section beside the export",
        "alerting routing tree: OpenSLO has no form for them; keep the alerting: section beside the export",
    ]
    section = tmp_path / "alerting.yaml"
    section.write_text(yaml.safe_dump({"apiVersion": "slo-service/v1", "alerting": original["alerting"]}))
    out = tmp_path / "exported.yaml"
    out.write_text(dump_openslo(exported.docs))
    again = load_config([out, section])
    assert_same(again, config)
    assert config.alerting is not None and again.alerting is not None
    assert again.alerting.receivers == config.alerting.receivers
    assert again.alerting.route == config.alerting.route


def test_what_openslo_cannot_hold_is_listed(tmp_path: Path) -> None:
    config = load_config([ROOT / "examples" / "slo-service.yaml", ROOT / "examples" / "drift"])
    lossy = export_openslo(config).lossy
    assert "SLO fraud-scoring/accuracy: drift SLIs have no OpenSLO form slo-service reads back" in lossy
    assert any(line.startswith("drift monitor ") for line in lossy)
    sloth = load_config([ROOT / "tests" / "corpus" / "sloth" / "getting-started.yml", _prometheus(tmp_path)])
    [line] = export_openslo(sloth).lossy
    assert line.startswith("SLO checkout/requests-availability: alerting tiers ticket-slow fire below a 1x burn rate")


def _prometheus(tmp: Path) -> Path:
    path = tmp / "prometheus.yaml"
    path.write_text(
        "apiVersion: slo-service/v1\nsources:\n  - {name: prometheus, type: promql, url: 'http://127.0.0.1:9090'}\n"
    )
    return path


BAD = [
    (
        "kind: DataSource\nmetadata:\n  name: prom\n  annotations:\n    slo-service/interval: 10x\n"
        "spec: {type: Prometheus, connectionDetails: {url: 'http://127.0.0.1:9090'}}\n",
        "x.yaml:6: metadata.annotations.slo-service/interval: invalid duration '10x'",
    ),
    (
        "kind: DataSource\nmetadata:\n  name: push\n  annotations:\n    slo-service/interval: 1m\n"
        "spec: {type: slo-service-push}\n",
        "x.yaml:6: metadata.annotations.slo-service/interval: a slo-service-push DataSource takes no annotation",
    ),
    (
        "kind: DataSource\nmetadata:\n  name: scraped\n  annotations:\n    slo-service/body_size_limit: 10mb\n"
        "spec: {type: slo-service-scrape, connectionDetails: {url: 'http://127.0.0.1:9100/metrics'}}\n",
        "x.yaml:6: metadata.annotations.slo-service/body_size_limit: unknown unit 'mb' in size '10mb'",
    ),
    (
        "kind: DataSource\nmetadata:\n  name: prom\n  annotations:\n    slo-service/body_size_limit: 10MB\n"
        "spec: {type: Prometheus, connectionDetails: {url: 'http://127.0.0.1:9090'}}\n",
        "x.yaml:6: metadata.annotations.slo-service/body_size_limit: a Prometheus DataSource takes no annotation",
    ),
    (
        "kind: Service\nmetadata:\n  name: checkout\n  annotations:\n    slo-service/team: x\nspec: {}\n",
        "x.yaml:6: metadata.annotations.slo-service/team: a Service takes no annotation 'slo-service/team'",
    ),
    (
        "kind: Service\nmetadata:\n  name: checkout\n  annotations:\n    slo-service/name: Bad Name\nspec: {}\n",
        "x.yaml:6: metadata.annotations.slo-service/name: invalid name 'Bad Name'",
    ),
]


@pytest.mark.parametrize(("doc", "expected"), BAD)
def test_bad_slo_service_annotations_are_refused_where_they_are(tmp_path: Path, doc: str, expected: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("apiVersion: openslo/v1\n" + doc)
    with pytest.raises(ConfigError) as info:
        load_config([path])
    assert any(expected in str(p) for p in info.value.problems), info.value.problems


def test_a_latency_annotation_that_disagrees_with_the_ratio_is_refused(tmp_path: Path) -> None:
    config = _load(tmp_path, "c.yaml", (ROOT / "examples" / "slo-service.yaml").read_text())
    text = dump_openslo(export_openslo(config).docs).replace(
        "slo-service/threshold: '0.25'", "slo-service/threshold: '0.5'"
    )
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "exported.yaml", text)
    messages = [p.message for p in info.value.problems]
    assert any("the ratioMetric is not the histogram the slo-service/ annotations name" in m for m in messages), (
        messages
    )
