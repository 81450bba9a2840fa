"""The generated rule files pass `promtool check rules`, and the generated alerts fire in Prometheus exactly
when the service's own engine says they should (`promtool test rules` on a synthetic scenario).

Scenario: a 99.9% / 30d ratio SLO fed by two counters sampled every minute (1000 requests/minute):
clean for 2h, a 30x burn (3% errors) for 90m, clean for 2.5h, then a 2x burn (0.2% errors) for 3h.
The counters are linear within each stretch and start at 0, so Prometheus' rate() is exact where a
window lies inside one stretch and does not extrapolate before the series start.

The engine (CountsMatrix + evaluate + slo_conditions, with the same AlertPolicy) is run over the same
per-minute counts; at every eval time chosen at least `MARGIN` minutes from a change of the engine's
set of active alerts, the test file asserts exactly that set (and no alert at all where it is empty).
Near a change the two legitimately differ by a minute or so: rate() over [W] sees W-1 minute increments
(extrapolated), the engine's window holds W minutes; and the engine allows a 1e-9 relative slack.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from slo_service.core.alerting.conditions import alert_windows, slo_conditions
from slo_service.core.alerting.config import AlertingConfig
from slo_service.core.alerting.policy import AlertPolicy
from slo_service.core.counts_matrix import CountsMatrix
from slo_service.core.evaluation import evaluate
from slo_service.core.model import SLO, Config, Period, RatioSLI, ScrapeSource, Service
from slo_service.generate import dump_rules, prometheus_rules, self_alert_rules
from slo_service.specs.loader import load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "slo-service.yaml"

PER_MINUTE = 1000
STRETCHES = [(120, 0.0), (90, 0.03), (150, 0.0), (180, 0.002)]  # (minutes, error ratio)
MARGIN = 5  # minutes kept clear of every change of the engine's active set
T0 = datetime(2026, 1, 5, tzinfo=UTC)  # engine time of promtool's t=0 (hour-aligned; only differences matter)

Active = frozenset[tuple[str, str]]  # (alertname, burn_tier or "")


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        reason = "promtool not installed (needed to check the generated Prometheus rules)"
        if os.environ.get("SLO_SERVICE_REQUIRE_ALL") == "1":
            pytest.fail(f"{reason} (SLO_SERVICE_REQUIRE_ALL=1)")
        pytest.skip(reason)
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), *args], capture_output=True, text=True, timeout=300, check=False)


# ------------------------------------------------------------------------------------------- check rules


@pytest.mark.parametrize("which", ["example", "self"])
def test_promtool_check_rules(tmp_path: Path, which: str) -> None:
    doc = prometheus_rules(load_config([EXAMPLE])) if which == "example" else self_alert_rules()
    path = tmp_path / f"{which}.yml"
    path.write_text(dump_rules(doc))
    result = _run("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


# ------------------------------------------------------------------------------------------- scenario


def _config() -> Config:
    slo = SLO(
        "checkout",
        "availability",
        0.999,
        Period.rolling(timedelta(days=30)),
        RatioSLI("s", total="http_requests_total", bad="http_request_errors_total"),
        labels={"journey": "pay"},
    )
    # min_budget_coverage 0: the engine's wait for 10% of the period is the one documented difference
    # Prometheus rules cannot express; everything else must agree minute by minute
    policy = AlertPolicy(min_events=100, labels={"team": "web"}, min_budget_coverage=0.0)
    return Config(
        services={"checkout": Service("checkout", labels={"tier": "1"})},
        sources={"s": ScrapeSource("s", "http://127.0.0.1:1/metrics")},
        slos=(slo,),
        alerting=AlertingConfig(policies={"default": policy}),
    )


def _increments() -> list[tuple[float, float]]:
    """(bad, total) counted in each minute of the scenario."""
    out: list[tuple[float, float]] = []
    for minutes, ratio in STRETCHES:
        out += [(PER_MINUTE * ratio, float(PER_MINUTE))] * minutes
    return out


def _engine_active(config: Config, incs: list[tuple[float, float]]) -> list[Active]:
    """The engine's active alerts at t = m minutes for m = 0..len(incs): index m."""
    slo = config.slos[0]
    assert config.alerting is not None
    policy = config.alerting.policy_for(slo.key)
    matrix = CountsMatrix([slo.key], T0)
    out: list[Active] = []
    for m in range(len(incs) + 1):
        now = T0 + timedelta(minutes=m)
        matrix.advance(now)
        if m > 0:  # the counter samples at m-1 and m bound the increment of minute m-1
            bad, total = incs[m - 1]
            assert matrix.add(slo.key, now - timedelta(minutes=1), total - bad, total)
        status = evaluate(matrix, [slo], now, lambda s: alert_windows(s, policy))[slo.key]
        conds = slo_conditions(slo, status, policy, now)
        out.append(
            frozenset(
                (c.labels["alertname"], c.labels.get("burn_tier", ""))
                for c in conds
                if c.active and c.labels["alertname"] != "SLONoData"
            )
        )
    return out


def _series(incs: list[tuple[float, float]], which: int) -> str:
    values = [0.0]
    for inc in incs:
        values.append(values[-1] + inc[which])
    return " ".join(f"{v:g}" for v in values)


def _expected_alerts(doc: dict[str, Any], active: Active) -> dict[str, list[dict[str, Any]]]:
    """promtool exp_alerts per alertname for an active set, labels taken from the generated rules."""
    series = next(r for g in doc["groups"] for r in g["rules"] if r.get("record") == "slo:sli_error:ratio_rate1h")
    series_labels = {k: v for k, v in series["labels"].items() if k != "sloth_window"}
    out: dict[str, list[dict[str, Any]]] = {}
    for g in doc["groups"]:
        for rule in g.get("rules", []):
            if "alert" not in rule:
                continue
            key = (rule["alert"], rule["labels"].get("burn_tier", ""))
            bucket = out.setdefault(rule["alert"], [])
            if key in active:
                bucket.append({"exp_labels": {**series_labels, **rule["labels"]}})
    return out


def test_engine_scenario_is_not_vacuous() -> None:
    active = _engine_active(_config(), _increments())
    burn_end = 120 + 90
    assert ("SLOBurnRateHigh", "page-fast") in active[burn_end - 1]
    assert not any(a for a in active[:120])
    two_x = active[360 + 30 :]  # inside the 2x burn: nothing pages
    assert all(tier not in {"page-fast", "page-slow"} for a in two_x for _, tier in a)


def _promtool_test(tmp_path: Path, doc: dict[str, Any], active: list[Active]) -> subprocess.CompletedProcess[str]:
    """Write `doc` (annotations stripped) and a promtool test asserting `active` at stable times; run it."""
    promtool = _promtool()
    incs = _increments()
    # Annotations render live query values; `check rules` covers their syntax. Here: labels and timing.
    for g in doc["groups"]:
        for rule in g["rules"]:
            rule.pop("annotations", None)
    rules_path = tmp_path / "rules.yml"
    rules_path.write_text(dump_rules(doc))

    stable = [
        m
        for m in range(MARGIN, len(incs) - MARGIN + 1)
        if m % 5 == 0 and len(set(active[m - MARGIN : m + MARGIN + 1])) == 1
    ]
    assert len(stable) > 40
    assert any(("SLOBurnRateHigh", "page-fast") in active[m] for m in stable)
    assert any(not active[m] for m in stable)
    alert_tests = []
    for m in stable:
        for alertname, exp in sorted(_expected_alerts(doc, active[m]).items()):
            alert_tests.append({"eval_time": f"{m}m", "alertname": alertname, "exp_alerts": exp})
    labels = 'job="app"'
    test_doc = {
        "rule_files": [rules_path.name],
        "evaluation_interval": "1m",
        # recordings before the alerts that read them, as listed (promtool's default order is by name)
        "group_eval_order": [g["name"] for g in doc["groups"]],
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f"http_requests_total{{{labels}}}", "values": _series(incs, 1)},
                    {"series": f"http_request_errors_total{{{labels}}}", "values": _series(incs, 0)},
                ],
                "alert_rule_test": alert_tests,
            }
        ],
    }
    test_path = tmp_path / "test.yml"
    test_path.write_text(yaml.safe_dump(test_doc, sort_keys=False))
    return subprocess.run(
        [promtool, "test", "rules", str(test_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )


def test_promtool_alerts_match_the_engine(tmp_path: Path) -> None:
    config = _config()
    result = _promtool_test(tmp_path, prometheus_rules(config), _engine_active(config, _increments()))
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    assert "SUCCESS" in result.stdout


def test_promtool_test_catches_a_wrong_factor(tmp_path: Path) -> None:
    """The comparison has teeth: a page-fast rule with 40x instead of 14.4x fails the same test."""
    config = _config()
    doc = prometheus_rules(config)
    for g in doc["groups"]:
        for rule in g["rules"]:
            rule["expr"] = rule["expr"].replace("(14.4 * 0.001)", "(40 * 0.001)")
    result = _promtool_test(tmp_path, doc, _engine_active(config, _increments()))
    assert result.returncode != 0
    assert "page-fast" in result.stdout + result.stderr


def test_annotation_templates_render_in_prometheus(tmp_path: Path) -> None:
    """Burn rates and budget in the annotations come from live queries of the recorded series."""
    promtool = _promtool()
    base = _config()
    assert base.alerting is not None
    tier = base.alerting.policy_for(base.slos[0].key).tiers[0]
    policy = AlertPolicy(
        tiers=(tier,), budget_exhausted=False, annotations={"runbook_url": "https://rb/{service}/{slo}"}
    )
    config = Config(base.services, base.sources, base.slos, alerting=AlertingConfig(policies={"default": policy}))
    doc = prometheus_rules(config)
    (rule,) = [r for g in doc["groups"] for r in g["rules"] if "alert" in r]
    (series,) = [r for g in doc["groups"] for r in g["rules"] if r.get("record") == "slo:sli_error:ratio_rate1h"]
    (tmp_path / "rules.yml").write_text(dump_rules(doc))
    incs = _increments()
    test_doc = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "group_eval_order": [g["name"] for g in doc["groups"]],
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": "http_requests_total", "values": _series(incs, 1)},
                    {"series": "http_request_errors_total", "values": _series(incs, 0)},
                ],
                "alert_rule_test": [
                    {
                        # end of the 30x burn: 1h and 5m at 30x; 1800 bad of 180000 so far: 10x over the period
                        "eval_time": "180m",
                        "alertname": "SLOBurnRateHigh",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    **{k: v for k, v in series["labels"].items() if k != "sloth_window"},
                                    **rule["labels"],
                                },
                                "exp_annotations": {
                                    "runbook_url": "https://rb/checkout/availability",
                                    "summary": "checkout/availability is burning its error budget at 30x (page-fast)",
                                    "description": "Burn rate 30x over 1h and 30x over 5m; threshold 14.4x "
                                    "(2.0% of the 30d error budget in 1h). Error budget remaining: -900%. "
                                    "Objective 99.9%.",
                                },
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test_doc, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "test.yml"], capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]


COMMITTED_SCENARIO = Path(__file__).resolve().parents[2] / "alert_rules" / "tests" / "burn-scenario"


def test_committed_promtool_unit_tests_are_current_and_pass(tmp_path: Path) -> None:
    """alert_rules/tests/burn-scenario/ holds the engine-derived promtool test next to the rules, for
    anyone to run with `promtool test rules alert_rules/tests/burn-scenario/test.yml`."""
    config = _config()
    result = _promtool_test(tmp_path, prometheus_rules(config), _engine_active(config, _increments()))
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    for name in ("rules.yml", "test.yml"):
        generated = (tmp_path / name).read_text()
        committed = COMMITTED_SCENARIO / name
        if os.environ.get("SLO_SERVICE_UPDATE_GOLDEN") == "1":
            committed.parent.mkdir(parents=True, exist_ok=True)
            committed.write_text(generated)
        assert committed.read_text() == generated, f"{committed} is stale: rerun with SLO_SERVICE_UPDATE_GOLDEN=1"
    rerun = _run("test", "rules", str(COMMITTED_SCENARIO / "test.yml"))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
