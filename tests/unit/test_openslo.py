"""OpenSLO v1 documents read into the core model, refused features, and export / re-import round trips."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from slo_service.core.model import (
    BudgetingMethod,
    CalendarUnit,
    Comparison,
    Config,
    PeriodKind,
    PromQLSource,
    RatioSLI,
    ThresholdSLI,
)
from slo_service.core.routing.tree import RoutingTree
from slo_service.specs import ConfigError, load_config, validate_files
from slo_service.specs.openslo_export import dump_openslo, export_openslo
from slo_service.specs.yaml_lines import load_yaml_documents

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "openslo"

SERVICE = """\
apiVersion: openslo/v1
kind: Service
metadata: {name: svc}
spec: {description: A service}
---
apiVersion: openslo/v1
kind: DataSource
metadata: {name: prometheus}
spec: {type: prometheus, connectionDetails: {url: "http://prom:9090"}}
"""

SLO = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: avail
spec:
  service: svc
  indicator:
    metadata: {name: avail-sli}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource: {type: Prometheus, spec: {query: 'sum(increase(req_total{code!~"5.."}[$window]))'}}
        total:
          metricSource: {type: Prometheus, spec: {query: 'sum(increase(req_total[$window]))'}}
  timeWindow:
    - {duration: 28d, isRolling: true}
  budgetingMethod: Occurrences
  objectives:
    - {target: 0.999}
"""


def _load(tmp_path: Path, **files: str) -> Config:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return load_config([tmp_path])


def _problems(tmp_path: Path, **files: str) -> list[str]:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return [str(p) for p in validate_files([tmp_path])]


def test_examples_map_onto_the_core_model() -> None:
    config = load_config([EXAMPLES])
    service = config.services["my-rad-service"]
    assert service.labels == {"team": "ml-platform"}
    assert service.description == "Serves the ranking model behind the search page"
    assert config.sources["prometheus"] == PromQLSource(name="prometheus", url="http://prometheus:9090")
    slos = {s.name: s for s in config.slos}
    avail = slos["availability"]
    assert avail.key == "my-rad-service/availability"
    assert avail.objective == 0.999
    assert (avail.period.kind, avail.period.length) == (PeriodKind.ROLLING, timedelta(days=30))
    assert avail.labels == {"journey": "search"}
    assert avail.sli == RatioSLI(
        source="prometheus",
        total='sum(increase(http_requests_total{job="rad"}[$window]))',
        good='sum(increase(http_requests_total{job="rad",code!~"5.."}[$window]))',
    )
    month = slos["errors-this-month"]
    assert month.objective == 0.995  # targetPercent 99.5
    assert (month.period.kind, month.period.unit, month.period.timezone) == (
        PeriodKind.CALENDAR,
        CalendarUnit.MONTH,
        "Europe/Berlin",
    )
    assert isinstance(month.sli, RatioSLI) and month.sli.bad is not None and month.sli.good is None
    fresh = slos["index-freshness"]
    assert fresh.sli == ThresholdSLI("prometheus", 'max(search_index_age_seconds{job="rad"})', Comparison.LT, 3600)
    assert (fresh.period.unit, fresh.budgeting.method) == (CalendarUnit.WEEK, BudgetingMethod.TIMESLICES)
    assert (fresh.budgeting.slice, fresh.budgeting.slice_threshold) == (timedelta(minutes=5), 1.0)


def test_burnrate_alert_policy_becomes_a_tier_of_the_slo() -> None:
    config = load_config([EXAMPLES])
    assert config.alerting is not None
    (tier,) = config.alerting.policy_for("my-rad-service/availability").tiers
    assert (tier.name, tier.severity, tier.long_window, tier.short_window) == (
        "page-fast",
        "page",
        timedelta(hours=1),
        timedelta(minutes=5),
    )
    assert tier.factor(timedelta(days=30)) == pytest.approx(14.4)  # the burn rate of the condition
    assert tier.for_ == timedelta(minutes=2)
    assert len(config.alerting.policy_for("my-rad-service/errors-this-month").tiers) == 4  # the default
    hook = config.alerting.receivers["search-oncall"]  # the policy's AlertNotificationTarget
    assert hook.settings["url"] == "http://127.0.0.1:9095/hooks/search-oncall"
    assert config.alerting.route is not None
    alert = {
        "service": "my-rad-service",
        "slo": "availability",
        "alertname": "SLOBurnRateHigh",
        "burn_tier": "page-fast",
    }
    assert [r.receiver for r in RoutingTree(config.alerting.route).match(alert)] == ["search-oncall"]


def _roundtrip(config: Config, tmp_path: Path, *extra: Path) -> Config:
    text = dump_openslo(export_openslo(config).docs)
    out = tmp_path / "exported.yaml"
    out.write_text(text)
    return load_config([out, *extra])


def test_round_trip_of_the_examples(tmp_path: Path) -> None:
    config = load_config([EXAMPLES])
    again = _roundtrip(config, tmp_path)
    assert again.slos == config.slos
    assert again.services == config.services
    assert again.sources == config.sources


def test_round_trip_of_a_slo_service_file_with_a_scrape_source(tmp_path: Path) -> None:
    config = load_config([ROOT / "examples" / "slo-service.yaml"])
    again = _roundtrip(config, tmp_path)
    assert again.sources == config.sources  # the scrape source is a slo-service-scrape DataSource
    assert {s.key: s for s in again.slos} == {s.key: s for s in config.slos}  # latency SLIs stay latency SLIs


def test_dump_is_multi_document_yaml() -> None:
    config = load_config([EXAMPLES])
    docs = list(yaml.safe_load_all(dump_openslo(export_openslo(config).docs)))
    kinds = [d["kind"] for d in docs]
    assert kinds[:5] == ["Service", "DataSource", "SLO", "SLO", "SLO"]
    assert set(kinds[5:]) == {"AlertPolicy"}  # one per period the default policy is applied to
    assert all(d["apiVersion"] == "openslo/v1" for d in docs)
    threshold = docs[4]["spec"]
    assert threshold["objectives"] == [
        {"op": "lt", "value": 3600, "target": 0.99, "timeSliceTarget": 1, "timeSliceWindow": "5m"}
    ]
    assert threshold["timeWindow"][0]["calendar"]["timeZone"] == "UTC"


def test_slo_service_slos_may_use_openslo_services_and_sources(tmp_path: Path) -> None:
    native = """\
apiVersion: slo-service/v1
slos:
  - service: svc
    name: native
    objective: 99
    period: 7d
    sli: {ratio: {source: prometheus, bad: 'sum(increase(e[$window]))', total: 'sum(increase(t[$window]))'}}
"""
    config = _load(tmp_path, a=SERVICE, b=SLO, c=native)
    assert sorted(s.key for s in config.slos) == ["svc/avail", "svc/native"]


def test_documents_keep_file_wide_line_numbers() -> None:
    docs = load_yaml_documents(SERVICE)
    assert docs[1] is not None and docs[1].line_of(("spec", "type")) == 9


def _slo(replace: str, by: str) -> str:
    assert replace in SLO
    return SLO.replace(replace, by)


REFUSED = [
    pytest.param(
        _slo("budgetingMethod: Occurrences", "budgetingMethod: RatioTimeslices"),
        "b.yaml:18: spec.budgetingMethod: RatioTimeslices is not supported",
        id="ratio-timeslices",
    ),
    pytest.param(
        _slo("    - {target: 0.999}", "    - {target: 0.999}\n    - {target: 0.99}"),
        "b.yaml:19: spec.objectives: exactly one objective is supported",
        id="multiple-objectives",
    ),
    pytest.param(
        _slo("    - {target: 0.999}", "    - {target: 0.999, indicator: {metadata: {name: x}}, compositeWeight: 1}"),
        "spec.objectives[0].compositeWeight: field 'compositeWeight' is not supported",
        id="composite",
    ),
    pytest.param(
        _slo("        counter: true", "        counter: true\n        rawType: success"),
        "b.yaml:12: spec.indicator.spec.ratioMetric.rawType: raw ratio metrics",
        id="raw-type",
    ),
    pytest.param(
        _slo(
            "{type: Prometheus, spec: {query: 'sum(increase(req_total[$window]))'}}",
            "{type: Datadog, spec: {query: x}}",
        ),
        "spec.indicator.spec.ratioMetric.total.metricSource.type: metric source type str 'Datadog' is not supported",
        id="datadog-metric",
    ),
    pytest.param(
        _slo(
            "    - {duration: 28d, isRolling: true}",
            "    - {duration: 1Q, isRolling: false, calendar: {timeZone: UTC}}",
        ),
        "spec.timeWindow[0].duration: calendar duration '1Q' is not supported",
        id="quarter",
    ),
    pytest.param(
        _slo("  service: svc", "  service: nope"),
        "b.yaml:6: spec.service: unknown service 'nope'; known services: svc",
        id="unknown-service",
    ),
    pytest.param(
        _slo("  budgetingMethod: Occurrences", "  budgetingMethod: Occurrences\n  alertPolicies: [nope]"),
        "spec.alertPolicies[0]: unknown AlertPolicy 'nope'",
        id="unknown-alert-policy",
    ),
    pytest.param(
        _slo("metadata:\n  name: avail", "metadata:\n  name: avail\n  labels: {team: [a, b]}"),
        "metadata.labels.team: label values must be single strings",
        id="list-label",
    ),
    pytest.param(
        _slo("    - {target: 0.999}", "    - {target: 0.999, op: lt}"),
        "b.yaml:20: spec.objectives[0].op: op lt/lte on a ratioMetric would mean the objective is met while the good "
        "share is BELOW target",
        id="ratio-op-lt",
    ),
    pytest.param(
        _slo("    - {target: 0.999}", "    - {target: 0.999, op: gt, value: 1}"),
        "b.yaml:20: spec.objectives[0].value: value only applies to a thresholdMetric",
        id="ratio-value",
    ),
    pytest.param(
        "apiVersion: openslo/v1\nkind: Foo\nmetadata: {name: x}\nspec: {}\n",
        "b.yaml:2: kind: unsupported OpenSLO kind",
        id="unknown-kind",
    ),
    pytest.param(
        "apiVersion: openslo/v2alpha\nkind: SLO\nmetadata: {name: x}\nspec: {}\n",
        "b.yaml:1: apiVersion: unsupported OpenSLO apiVersion 'openslo/v2alpha'",
        id="v2",
    ),
    pytest.param(
        "apiVersion: openslo/v1\nkind: DataSource\nmetadata: {name: dd}\n"
        "spec: {type: datadog, connectionDetails: {}}\n",
        "b.yaml:4: spec.type: data source type str 'datadog' is not supported; types: Prometheus, slo-service-scrape, "
        "slo-service-push",
        id="datadog-source",
    ),
    pytest.param(
        _slo("  budgetingMethod: Occurrences", "  budgetingMethod: Occurrences\n  alertPolicies: [p]")
        + """---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: p}
spec:
  conditions:
    - kind: AlertCondition
      metadata: {name: c}
      spec: {severity: page, condition: {kind: timeout, threshold: 1, lookbackWindow: 1h}}
""",
        "spec.conditions[0].spec.condition.kind: only burnrate conditions are supported",
        id="non-burnrate-condition",
    ),
    pytest.param(
        _slo("    - {target: 0.999}", "    - {target: 0.999}").replace(
            "      ratioMetric:\n        counter: true\n        good:\n          metricSource: {type: Prometheus, "
            "spec: {query: 'sum(increase(req_total{code!~\"5..\"}[$window]))'}}\n        total:\n          "
            "metricSource: {type: Prometheus, spec: {query: 'sum(increase(req_total[$window]))'}}",
            "      thresholdMetric:\n        metricSource: {type: Prometheus, spec: {query: 'max(age)'}}",
        ),
        "b.yaml:16: spec.objectives[0]: a thresholdMetric needs op (lt, lte, gt, gte) and value",
        id="threshold-without-op",
    ),
]


@pytest.mark.parametrize(("slo", "expected"), REFUSED)
def test_unsupported_features_are_refused_with_the_field_named(tmp_path: Path, slo: str, expected: str) -> None:
    problems = _problems(tmp_path, a=SERVICE, b=slo)
    assert any(expected in p for p in problems), problems
    with pytest.raises(ConfigError):
        load_config([tmp_path])


def test_threshold_with_occurrences_is_refused(tmp_path: Path) -> None:
    slo = SLO.replace(
        "      ratioMetric:\n        counter: true\n        good:\n          metricSource: {type: Prometheus, "
        "spec: {query: 'sum(increase(req_total{code!~\"5..\"}[$window]))'}}\n        total:\n          "
        "metricSource: {type: Prometheus, spec: {query: 'sum(increase(req_total[$window]))'}}",
        "      thresholdMetric:\n        metricSource: {type: Prometheus, spec: {query: 'max(age)'}}",
    ).replace("{target: 0.999}", "{target: 0.999, op: lt, value: 5}")
    problems = _problems(tmp_path, a=SERVICE, b=slo)
    assert any("spec.budgetingMethod: a thresholdMetric needs budgetingMethod Timeslices" in p for p in problems)


def test_names_are_unique_across_formats(tmp_path: Path) -> None:
    native = "apiVersion: slo-service/v1\nservices:\n  - {name: svc}\n"
    problems = _problems(tmp_path, a=SERVICE, b=SLO, c=native)
    assert any("a.yaml:3: metadata.name: duplicate service name 'svc'; first defined at" in p for p in problems), (
        problems
    )
    (tmp_path / "c.yaml").unlink()
    (tmp_path / "d.yaml").write_text(SLO)
    problems = _problems(tmp_path)
    assert any("d.yaml:4: metadata.name: duplicate SLO svc/avail" in p for p in problems), problems


def test_yaml_error_in_a_later_document_is_reported(tmp_path: Path) -> None:
    problems = _problems(tmp_path, a=SERVICE + "---\napiVersion: openslo/v1\nkind: [\n")
    assert any(p.startswith(str(tmp_path / "a.yaml")) and "(yaml): invalid YAML" in p for p in problems), problems


def test_op_gt_on_a_ratio_objective_is_what_the_ratio_means(tmp_path: Path) -> None:
    # OpenSLO's own examples (examples/budgeting-method) write `op: gt` on ratio objectives
    with_op, plain = tmp_path / "with-op", tmp_path / "plain"
    with_op.mkdir()
    plain.mkdir()
    config = _load(with_op, a=SERVICE, b=_slo("    - {target: 0.999}", "    - {target: 0.999, op: gt}"))
    assert config.slos == _load(plain, a=SERVICE, b=SLO).slos
