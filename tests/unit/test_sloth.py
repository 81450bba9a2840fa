"""Sloth prometheus/v1 files read into the core model, refused features, and an OpenSLO round trip."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from slo_service.core.model import BudgetingMethod, Config, PeriodKind, RatioSLI
from slo_service.specs import ConfigError, load_config, validate_files
from slo_service.specs.openslo_export import dump_openslo, export_openslo
from slo_service.specs.sloth import sloth_query

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
"""


def _problems(tmp_path: Path, **files: str) -> list[str]:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return [str(p) for p in validate_files([tmp_path])]


def test_query_rewrite() -> None:
    assert sloth_query("sum(rate(x[{{.window}}])) / sum(irate(y[{{ .window }}]))") == (
        "sum(increase(x[$window])) / sum(irate(y[$window]))"
    )


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
    assert policy.labels == {"category": "availability"}
    assert policy.annotations == {"summary": "High error rate on 'myservice' requests responses"}
    assert {t.severity for t in policy.tiers} == {"page"}  # ticket_alert: {disable: true}


def test_round_trip_through_openslo(tmp_path: Path) -> None:
    config = load_config([EXAMPLES])
    out = tmp_path / "exported.yaml"
    out.write_text(dump_openslo(export_openslo(config)))
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
EVENTS = SLOTH[SLOTH.index("    sli:") :]

REFUSED = [
    pytest.param(SLOTH.replace(EVENTS, RAW), "s.yaml:9: slos[0].sli.raw: raw SLIs", id="raw"),
    pytest.param(
        SLOTH.replace(EVENTS, "    sli:\n      plugin: {id: sloth-common/availability}\n"),
        "s.yaml:9: slos[0].sli.plugin: SLI plugins are Sloth code and not supported",
        id="plugin",
    ),
    pytest.param(
        SLOTH + "    alerting:\n      name: MyAlert\n",
        "s.yaml:13: slos[0].alerting.name: alert names are fixed by slo-service",
        id="alert-name",
    ),
    pytest.param(
        SLOTH + "    alerting:\n      page_alert:\n        labels: {severity: pageteam}\n",
        "s.yaml:14: slos[0].alerting.page_alert.labels: per-severity labels are not supported",
        id="page-labels",
    ),
    pytest.param(
        SLOTH + "    alerting:\n      page_alert: {disable: true}\n      ticket_alert: {disable: true}\n",
        "s.yaml:12: slos[0].alerting: both page_alert and ticket_alert are disabled",
        id="both-disabled",
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
