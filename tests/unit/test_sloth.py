"""Sloth specs read into the core model, their alerting as Sloth defines it, refused features, and an
OpenSLO round trip (the corpus of every shape is in test_sloth_corpus.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slo_service.core.alerting.conditions import BURN_TIER_LABEL, slo_conditions, slo_scope
from slo_service.core.model import BudgetingMethod, Config, ErrorRatioSLI, PeriodKind, RatioSLI
from slo_service.generate.prometheus_rules import prometheus_rules
from slo_service.specs import ConfigError, load_config, validate_files
from slo_service.specs.openslo_export import dump_openslo, export_openslo
from slo_service.specs.sloth import is_plain_rate, sloth_query

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "sloth"

PROMETHEUS = "apiVersion: slo-service/v1\nsources:\n  - {name: prometheus, type: promql, url: 'http://prom:9090'}\n"

SLOTH = """\
version: "prometheus/v1"
service: "svc"
labels:
  owner: "team"
slos:
  - name: "avail"
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(req_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(req_total[{{ .window }}]))
    alerting:
      name: AvailAlert
"""


def _problems(tmp_path: Path, **files: str) -> list[str]:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return [str(p) for p in validate_files([tmp_path])]


def test_query_rewrite() -> None:
    assert sloth_query("sum(rate(x[{{.window}}])) / sum(irate(y[{{ .window }}]))") == (
        "sum(increase(x[$window])) / sum(irate(y[$window]))"
    )
    assert sloth_query("avg_over_time((sum(rate(x[1m])))[{{.window}}:])", plain=False) == (
        "avg_over_time((sum(rate(x[1m])))[$window:])"
    )


@pytest.mark.parametrize(
    ("query", "plain"),
    [
        ("sum(rate(x[{{.window}}]))", True),
        ('sum by (code) (rate(x{a="1"}[{{ .window }}]))', True),
        ("(sum(rate(a[{{.window}}])) - sum(increase(b[{{.window}}])))", True),
        ("sum(rate(x[{{.window}}])) * 2", False),
        ("sum(rate(x[5m]))", False),  # not over the window
        ("sum(rate(x[{{.window}}] offset 1h))", False),
        ("avg_over_time((sum(rate(x[1m])))[{{.window}}:])", False),
        ("sum_over_time((count(x < 0.5))[{{.window}}:]) OR on() vector(0)", False),
        ("max(rate(x[{{.window}}]))", False),
        ("sum(rate(x[{{.window}}]", False),  # not PromQL
    ],
)
def test_plain_counter_rates(query: str, plain: bool) -> None:
    assert is_plain_rate(query) is plain


def test_example_maps_onto_the_core_model() -> None:
    config = load_config([EXAMPLES])
    assert "myservice" in config.services
    (slo,) = config.slos
    assert slo.key == "myservice/requests-availability"
    assert slo.objective == 0.999
    assert (slo.period.kind, slo.period.length) == (PeriodKind.ROLLING, timedelta(days=30))  # Sloth's default
    assert slo.budgeting.method is BudgetingMethod.OCCURRENCES
    assert slo.description == "Common SLO based on availability for HTTP request responses."
    assert slo.labels == {"owner": "myteam", "repo": "myorg/myservice", "tier": "2", "category": "availability"}
    assert slo.sli == RatioSLI(
        source="prometheus",
        bad='sum(increase(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[$window]))',
        total='sum(increase(http_request_duration_seconds_count{job="myservice"}[$window]))',
    )


def test_example_alerting_maps_onto_the_slo_policy() -> None:
    config = load_config([EXAMPLES])
    assert config.alerting is not None
    policy = config.alerting.policy_for("myservice/requests-availability")
    assert policy.alert_name == "MyServiceHighErrorRate"  # Sloth requires alerting.name
    assert policy.labels == {"category": "availability"}
    assert policy.annotations == {"summary": "High error rate on 'myservice' requests responses"}
    assert {t.severity for t in policy.tiers} == {"page"}  # ticket_alert: {disable: true}
    assert all(t.labels == {"severity": "pageteam", "routing_key": "myteam"} for t in policy.tiers)
    assert not policy.budget_exhausted and policy.no_data_after is None  # Sloth generates neither


def test_engine_alerts_carry_sloths_name_and_labels() -> None:
    config = load_config([EXAMPLES])
    assert config.alerting is not None
    (slo,) = config.slos
    policy = config.alerting.policy_for(slo.key)
    conditions = slo_conditions(slo, None, policy, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert {c.labels["alertname"] for c in conditions} == {"MyServiceHighErrorRate"}
    for condition in conditions:
        labels = condition.labels
        assert (labels["severity"], labels["routing_key"], labels["category"]) == ("pageteam", "myteam", "availability")
        assert labels[BURN_TIER_LABEL] in {"page-fast", "page-slow"}
        assert condition.annotations["summary"] == "High error rate on 'myservice' requests responses"
        assert slo_scope()(labels)  # the evaluator resolves them like its own SLOBurnRateHigh
    rules = [r for g in prometheus_rules(config)["groups"] for r in g["rules"] if "alert" in r]
    assert [(r["alert"], r["labels"]["severity"], r["labels"]["sloth_severity"]) for r in rules] == [
        ("MyServiceHighErrorRate", "pageteam", "page")
    ] * 2


def test_round_trip_through_openslo(tmp_path: Path) -> None:
    config = load_config([EXAMPLES])
    out = tmp_path / "exported.yaml"
    out.write_text(dump_openslo(export_openslo(config).docs))
    again = load_config([out])
    assert again.slos == config.slos
    assert again.sources == config.sources


def test_sloth_files_share_a_service_with_each_other_and_with_native_files(tmp_path: Path) -> None:
    second = SLOTH.replace('name: "avail"', 'name: "avail-2"')
    native = PROMETHEUS + "services:\n  - {name: svc, description: defined here}\n"
    for extra in ({}, {"n": native}):
        for f in tmp_path.iterdir():
            f.unlink()
        files = {"p": PROMETHEUS, "a": SLOTH, "b": second, **extra}
        if extra:
            del files["p"]
        config: Config = load_config([_write(tmp_path, files)])
        assert sorted(s.key for s in config.slos) == ["svc/avail", "svc/avail-2"]
    assert config.services["svc"].description == "defined here"


def _write(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


def _sloth(replace: str, by: str) -> str:
    assert replace in SLOTH
    return SLOTH.replace(replace, by)


RAW = "    sli:\n      raw:\n        error_ratio_query: sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))\n"
EVENTS = SLOTH[SLOTH.index("    sli:") : SLOTH.index("    alerting:")]


def test_raw_sli_is_an_error_ratio(tmp_path: Path) -> None:
    config = load_config([_write(tmp_path, {"p": PROMETHEUS, "s": SLOTH.replace(EVENTS, RAW)})])
    (slo,) = config.slos
    assert slo.sli == ErrorRatioSLI(source="prometheus", error="sum(rate(e[$window])) / sum(rate(t[$window]))")


def test_both_alerts_disabled_means_no_alert(tmp_path: Path) -> None:
    text = SLOTH.replace(
        "    alerting:\n      name: AvailAlert\n",
        "    alerting:\n      page_alert: {disable: true}\n      ticket_alert: {disable: true}\n",
    )
    config = load_config([_write(tmp_path, {"p": PROMETHEUS, "s": text})])
    assert config.alerting is not None
    (slo,) = config.slos
    policy = config.alerting.policy_for(slo.key)
    assert slo_conditions(slo, None, policy, now=datetime(2026, 1, 1, tzinfo=UTC)) == []
    assert not any("alerts" in g["name"] for g in prometheus_rules(config)["groups"])


REFUSED = [
    pytest.param(
        SLOTH.replace(EVENTS, "    sli:\n      plugin: {id: sloth-common/availability}\n"),
        "s.yaml:9: slos[0].sli.plugin: SLI plugin 'sloth-common/availability' is Sloth code and cannot run here",
        id="plugin",
    ),
    pytest.param(
        SLOTH.replace("      name: AvailAlert\n", "      labels: {team: a}\n"),
        "s.yaml:12: slos[0].alerting: alerting.name is required unless page and ticket alerts are both disabled",
        id="alert-name-missing",
    ),
    pytest.param(
        SLOTH.replace("name: AvailAlert", "name: Avail-Alert"),
        "s.yaml:13: slos[0].alerting.name: alert_name 'Avail-Alert' is not a Prometheus metric name",
        id="alert-name-invalid",
    ),
    pytest.param(
        SLOTH + "      page_alert:\n        labels: {slo: x}\n",
        "s.yaml:15: slos[0].alerting.page_alert.labels.slo: label name 'slo' is reserved",
        id="page-labels-reserved",
    ),
    pytest.param(
        SLOTH.replace(EVENTS, EVENTS + "      raw: {error_ratio_query: 'x[{{.window}}]'}\n"),
        "s.yaml:8: slos[0].sli: only one SLI type is allowed",
        id="two-sli-types",
    ),
    pytest.param(
        _sloth("    objective: 99.5", "    objective: 99.5\n    period: 7d"),
        "s.yaml:8: slos[0].period: field 'period' is not supported",
        id="unknown-field",
    ),
    pytest.param(
        _sloth("    objective: 99.5", "    objective: 100"),
        "s.yaml:7: slos[0].objective: objective 100 leaves no error budget",
        id="objective-100",
    ),
    pytest.param(
        _sloth('  owner: "team"', '  service: "x"'),
        "s.yaml:4: labels.service: label name 'service' is reserved",
        id="reserved-label",
    ),
]


@pytest.mark.parametrize(("text", "expected"), REFUSED)
def test_unsupported_features_are_refused_with_the_field_named(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, p=PROMETHEUS, s=text)
    assert any(expected in p for p in problems), problems
    with pytest.raises(ConfigError):
        load_config([tmp_path])


def test_the_prometheus_source_must_be_defined_as_promql(tmp_path: Path) -> None:
    problems = _problems(tmp_path, s=SLOTH)
    assert any(
        "s.yaml:1: version: Sloth SLOs read the promql source named 'prometheus', which is not defined" in p
        for p in problems
    )
    scrape = "apiVersion: slo-service/v1\nsources:\n  - {name: prometheus, type: scrape, url: 'http://x:1/metrics'}\n"
    problems = _problems(tmp_path, p=scrape)
    assert any("which is a scrape source" in p for p in problems), problems


def test_duplicate_slo_across_formats(tmp_path: Path) -> None:
    native = PROMETHEUS + (
        "services: [{name: svc}]\nslos:\n  - service: svc\n    name: avail\n    objective: 99\n    period: 7d\n"
        "    sli: {ratio: {source: prometheus, bad: 'e', total: 't'}}\n"
    )
    problems = _problems(tmp_path, a=native, s=SLOTH)
    assert any("s.yaml:6: slos[0].name: duplicate SLO svc/avail" in p for p in problems), problems
