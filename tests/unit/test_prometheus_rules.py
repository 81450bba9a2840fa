"""Prometheus rules generated from the SLO config: names, labels, expressions, factors, golden files."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from slo_service.core.alerting.config import AlertingConfig
from slo_service.core.alerting.policy import AlertPolicy, BurnRateTier, default_tiers
from slo_service.core.model import (
    SLO,
    Aggregation,
    Budgeting,
    BudgetingMethod,
    CalendarUnit,
    Comparison,
    Config,
    LatencySLI,
    Period,
    PromQLSource,
    RatioSLI,
    ScrapeSource,
    Service,
    ThresholdSLI,
)
from slo_service.core.windows import ALERT_WINDOWS
from slo_service.generate import dump_rules, prometheus_rules, self_alert_rules
from slo_service.generate.prometheus_rules import HEADER, num
from slo_service.specs.loader import load_config

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "prometheus-rules"
EXAMPLE = ROOT / "examples" / "slo-service.yaml"

RATIO_GOOD = RatioSLI("s", total="req_total", good='req_total{code!~"5.."}')


def _config(*slos: SLO, alerting: AlertingConfig | None = None, promql: bool = False) -> Config:
    source = PromQLSource("s", "http://127.0.0.1:9090") if promql else ScrapeSource("s", "http://127.0.0.1:1/metrics")
    return Config(
        services={"svc": Service("svc", labels={"team": "ml", "journey": "svc-level"})},
        sources={"s": source},
        slos=slos,
        alerting=alerting,
    )


def _slo(sli: Any = RATIO_GOOD, period: Period | None = None, name: str = "avail", **kw: Any) -> SLO:
    return SLO("svc", name, 0.999, period or Period.rolling(timedelta(days=30)), sli, **kw)


def _group(doc: dict[str, Any], kind: str, slo: str = "avail") -> list[dict[str, Any]]:
    name = f"slo-service-{kind}-svc-{slo}"
    (group,) = [g for g in doc["groups"] if g["name"] == name]
    rules: list[dict[str, Any]] = group["rules"]
    return rules


def _record(doc: dict[str, Any], record: str, slo: str = "avail") -> dict[str, Any]:
    kind = "sli-recordings" if record.startswith("slo:sli_error") else "meta-recordings"
    (rule,) = [r for r in _group(doc, kind, slo) if r["record"] == record]
    return rule


# ------------------------------------------------------------------------------------------- structure


def test_three_groups_per_slo_in_config_order() -> None:
    doc = prometheus_rules(_config(_slo(name="a"), _slo(name="b")))
    assert [g["name"] for g in doc["groups"]] == [
        "slo-service-sli-recordings-svc-a",
        "slo-service-meta-recordings-svc-a",
        "slo-service-alerts-svc-a",
        "slo-service-sli-recordings-svc-b",
        "slo-service-meta-recordings-svc-b",
        "slo-service-alerts-svc-b",
    ]


@pytest.mark.parametrize(
    ("days", "name", "tier_windows"),
    [(30, "30d", []), (28, "28d", []), (7, "7d", ["7m", "15m", "1h30m", "18h"])],
)
def test_sli_error_records_every_alert_window_the_tiers_and_the_period(
    days: int, name: str, tier_windows: list[str]
) -> None:
    doc = prometheus_rules(_config(_slo(period=Period.rolling(timedelta(days=days)))))
    records = [r["record"] for r in _group(doc, "sli-recordings")]
    expected = [*ALERT_WINDOWS, *tier_windows, name]  # a 7-day SLO's tiers read shrunk windows too
    assert records == [f"slo:sli_error:ratio_rate{w}" for w in expected]
    windows = [r["labels"]["sloth_window"] for r in _group(doc, "sli-recordings")]
    assert windows == expected


def test_calendar_periods_use_their_nominal_length() -> None:
    week = _slo(period=Period.calendar(CalendarUnit.WEEK, "Europe/Berlin"), name="w")
    month = _slo(period=Period.calendar(CalendarUnit.MONTH), name="m")
    doc = prometheus_rules(_config(week, month))
    assert _record(doc, "slo:sli_error:ratio_rate7d", "w")
    assert _record(doc, "slo:sli_error:ratio_rate30d", "m")
    assert _record(doc, "slo:time_period:days", "m")["expr"] == "vector(30)"
    assert _record(doc, "sloth_slo_info", "m")["labels"]["sloth_mode"] == "calendar"
    assert "calendar" in dump_rules(doc).splitlines()[1]


def test_labels_sloth_service_slo_and_config_labels() -> None:
    doc = prometheus_rules(_config(_slo(labels={"journey": "scoring"})))
    labels = _record(doc, "slo:sli_error:ratio_rate5m")["labels"]
    assert labels == {
        "team": "ml",
        "journey": "scoring",  # the SLO's label wins over the service's
        "service": "svc",
        "slo": "avail",
        "sloth_id": "svc-avail",
        "sloth_service": "svc",
        "sloth_slo": "avail",
        "sloth_window": "5m",
    }
    meta = _record(doc, "slo:objective:ratio")["labels"]
    assert "sloth_window" not in meta and meta["sloth_id"] == "svc-avail"


# ------------------------------------------------------------------------------------------- SLI expressions


def test_ratio_good_expr() -> None:
    doc = prometheus_rules(_config(_slo()))
    assert _record(doc, "slo:sli_error:ratio_rate1h")["expr"] == (
        '(1 - (sum(rate(req_total{code!~"5.."}[1h])) / sum(rate(req_total[1h]))))'
    )


def test_ratio_bad_expr_and_period_from_increase() -> None:
    sli = RatioSLI("s", total="req_total", bad='req_total{code=~"5.."}')
    doc = prometheus_rules(_config(_slo(sli)))
    assert _record(doc, "slo:sli_error:ratio_rate5m")["expr"] == (
        '(sum(rate(req_total{code=~"5.."}[5m])) / sum(rate(req_total[5m])))'
    )
    assert _record(doc, "slo:sli_error:ratio_rate30d")["expr"] == (
        '(sum(increase(req_total{code=~"5.."}[30d])) / sum(increase(req_total[30d])))'
    )


def test_promql_source_expressions() -> None:
    sli = RatioSLI("s", total="sum(rate(x_total[$window]))", bad='sum by (a) (y_total{code="500"})')
    doc = prometheus_rules(_config(_slo(sli), promql=True))
    assert _record(doc, "slo:sli_error:ratio_rate5m")["expr"] == (
        '(sum(rate((sum by (a) (y_total{code="500"}))[5m:])) / (sum(rate(x_total[5m]))))'
    )


def test_latency_expr_uses_bucket_le() -> None:
    sli = LatencySLI("s", "lat_seconds", 0.25, matchers='{route="/p"}')
    doc = prometheus_rules(_config(_slo(sli)))
    assert _record(doc, "slo:sli_error:ratio_rate5m")["expr"] == (
        '(1 - (sum(rate(lat_seconds_bucket{route="/p",le="0.25"}[5m]))'
        ' / sum(rate(lat_seconds_bucket{route="/p",le="+Inf"}[5m]))))'
    )


def test_latency_integral_threshold_matches_both_spellings() -> None:
    sli = LatencySLI("s", "lat_seconds", 1.0)
    expr = _record(prometheus_rules(_config(_slo(sli))), "slo:sli_error:ratio_rate5m")["expr"]
    assert 'lat_seconds_bucket{le=~"1|1\\\\.0"}' in expr


def test_threshold_slices_are_judged_on_scrape_samples_and_counted_per_window() -> None:
    sli = ThresholdSLI("s", 'fresh_seconds{set="u"}', Comparison.LT, 900, Aggregation.MAX)
    slo = _slo(sli, budgeting=Budgeting(BudgetingMethod.TIMESLICES, timedelta(minutes=5)))
    doc = prometheus_rules(_config(slo))
    # a 5m slice is good when every 15 s sample (the source's scrape interval) met the bound; the 1h
    # window is the share of bad slices among its 12 judged ones (1 ms short: Prometheus 2 ranges
    # include both ends)
    verdict = '(avg_over_time((max(fresh_seconds{set="u"}) < bool 900)[299999ms:15s]) < bool 1)'
    assert _record(doc, "slo:sli_error:ratio_rate1h")["expr"] == f"avg_over_time(({verdict})[3599999ms:5m])"
    assert _record(doc, "slo:sli_error:ratio_rate30d")["expr"].endswith("[2591999999ms:5m])")
    assert _record(doc, "sloth_slo_info")["labels"]["budgeting"] == "timeslices"


@pytest.mark.parametrize("sli", [RATIO_GOOD, RatioSLI("s", total="req_total", bad="err_total")])
def test_ratio_timeslices_count_bad_slices_not_events(sli: RatioSLI) -> None:
    slo = _slo(sli, budgeting=Budgeting(BudgetingMethod.TIMESLICES, timedelta(minutes=1), 0.99))
    expr = _record(prometheus_rules(_config(slo)), "slo:sli_error:ratio_rate5m")["expr"]
    assert expr.startswith("avg_over_time(((") and expr.endswith("[299999ms:1m])")
    assert "< bool 0.99) and on () (sum(increase(req_total[1m])) > 0)" in expr  # empty slices: no verdict
    assert "rate(" not in expr


def test_timeslice_guard_is_a_share_of_the_window_slices() -> None:
    sli = ThresholdSLI("s", "gpu", Comparison.GE, 0.5, Aggregation.AVG)
    slo = _slo(sli, budgeting=Budgeting(BudgetingMethod.TIMESLICES, timedelta(minutes=5)))
    # min_events counts events of occurrences SLOs; a timeslice SLO needs 70% of the 6 slices of its 30m
    # short window (page-slow, 6h/30m at 30 days) judged
    policy = AlertPolicy(min_events=100, min_slice_coverage=0.7)
    doc = prometheus_rules(_config(slo, alerting=AlertingConfig(policies={"default": policy})))
    expr = _group(doc, "alerts")[1]["expr"]
    verdict = "(avg_over_time((avg(gpu) >= bool 0.5)[299999ms:15s]) < bool 1)"
    assert f"\nand on () (count_over_time(({verdict})[1799999ms:5m]) >= 4.2)\n" in expr
    # and the long window holds data for 80% of the 30m short window: 4.8 five-minute slices
    assert expr.endswith("[6h:5m]) >= 4.8)")


# ------------------------------------------------------------------------------------------- meta


def test_meta_records() -> None:
    doc = prometheus_rules(_config(_slo()))
    assert _record(doc, "slo:objective:ratio")["expr"] == "vector(0.999)"
    assert _record(doc, "slo:error_budget:ratio")["expr"] == "vector(0.001)"
    assert _record(doc, "slo:time_period:days")["expr"] == "vector(30)"
    sel = '{sloth_id="svc-avail", sloth_service="svc", sloth_slo="avail"}'
    assert _record(doc, "slo:current_burn_rate:ratio")["expr"] == (
        f"max without (sloth_window) (slo:sli_error:ratio_rate5m{sel}) / 0.001"
    )
    assert _record(doc, "slo:period_burn_rate:ratio")["expr"] == (
        f"max without (sloth_window) (slo:sli_error:ratio_rate30d{sel}) / 0.001"
    )
    assert _record(doc, "slo:period_error_budget_remaining:ratio")["expr"] == f"1 - slo:period_burn_rate:ratio{sel}"
    info = _record(doc, "sloth_slo_info")
    assert info["expr"] == "vector(1)"
    assert info["labels"]["sloth_version"] == "slo-service"
    assert info["labels"]["sloth_mode"] == "rolling"
    assert info["labels"]["sloth_objective"] == "99.9"


# ------------------------------------------------------------------------------------------- alerts


@pytest.mark.parametrize(
    ("days", "factors"),
    [
        (30, ["14.4", "6", "3", "1.2"]),
        (28, ["13.44", "5.6", "2.8", "1.12"]),
        (7, ["13.44", "5.6", "2.8", "1.12"]),
    ],
)
def test_burn_alert_factors_and_windows_are_the_engines(days: int, factors: list[str]) -> None:
    period = timedelta(days=days)
    doc = prometheus_rules(_config(_slo(period=Period.rolling(period))))
    alerts = [r for r in _group(doc, "alerts") if r["alert"] == "SLOBurnRateHigh"]
    assert len(alerts) == 4
    for rule, factor, tier in zip(alerts, factors, default_tiers(), strict=True):
        effective = tier.effective(period)
        assert f"> ({factor} * 0.001)" in rule["expr"]
        assert f"slo:sli_error:ratio_rate{effective.long_window_name}{{" in rule["expr"]
        assert f"slo:sli_error:ratio_rate{effective.short_window_name}{{" in rule["expr"]
        assert num(effective.factor) == factor


def test_burn_alert_shape_labels_and_no_min_events_clause_by_default() -> None:
    doc = prometheus_rules(_config(_slo(labels={"journey": "scoring"})))
    rule = _group(doc, "alerts")[0]
    sel = '{sloth_id="svc-avail", sloth_service="svc", sloth_slo="avail"}'
    assert rule["expr"] == (
        f"max without (sloth_window) (slo:sli_error:ratio_rate1h{sel} > (14.4 * 0.001))\n"
        "and\n"
        f"max without (sloth_window) (slo:sli_error:ratio_rate5m{sel} > (14.4 * 0.001))\n"
        # the engine's rule: the 1h window holds at least 4 of the 5m short window's minutes of data
        f"and on () (count_over_time(max without (sloth_window) (slo:sli_error:ratio_rate5m{sel})[1h:1m]) >= 4)"
    )
    assert "for" not in rule
    assert rule["labels"] == {
        "team": "ml",
        "journey": "scoring",
        "service": "svc",
        "slo": "avail",
        "severity": "page",
        "burn_tier": "page-fast",
        "sloth_severity": "page",  # Sloth's dashboards select alerts on it
    }
    assert "svc/avail is burning its error budget at" in rule["annotations"]["summary"]


def test_every_alert_rule_carries_sloths_page_or_ticket_severity() -> None:
    doc = prometheus_rules(_config(_slo()))
    rules = _group(doc, "alerts")
    by_tier = {r["labels"].get("burn_tier", r["alert"]): r["labels"]["sloth_severity"] for r in rules}
    assert by_tier == {
        "page-fast": "page",
        "page-slow": "page",
        "ticket-fast": "ticket",
        "ticket-slow": "ticket",
        "SLOErrorBudgetExhausted": "ticket",
    }


def test_custom_policy_tiers_for_min_events_labels_and_annotations() -> None:
    tier = BurnRateTier("fast", "critical", timedelta(hours=1), timedelta(minutes=5), 0.02, for_=timedelta(minutes=2))
    policy = AlertPolicy(
        tiers=(tier,),
        min_events=100,
        budget_exhausted=False,
        labels={"team": "oncall"},
        annotations={"runbook_url": "https://rb.example/{service}/{slo}#{burn_tier}", "extra": "{key} {objective}"},
    )
    alerting = AlertingConfig(
        policies={"default": AlertPolicy(), "strict": policy}, slo_policies={"svc/avail": "strict"}
    )
    doc = prometheus_rules(_config(_slo(), _slo(name="other"), alerting=alerting))
    (rule,) = _group(doc, "alerts")
    assert "\nand on () (sum(increase(req_total[1h])) >= 100)\n" in rule["expr"]
    assert rule["for"] == "2m"
    assert rule["labels"]["team"] == "oncall" and rule["labels"]["severity"] == "critical"
    assert rule["labels"]["burn_tier"] == "fast"
    assert rule["annotations"]["runbook_url"] == "https://rb.example/svc/avail#fast"
    assert rule["annotations"]["extra"] == "svc/avail 99.9%"
    # the other SLO keeps the default policy: four tiers and the budget alert
    assert [r["alert"] for r in _group(doc, "alerts", "other")] == ["SLOBurnRateHigh"] * 4 + ["SLOErrorBudgetExhausted"]


def test_budget_exhausted_alert() -> None:
    policy = AlertPolicy(for_=timedelta(minutes=10), budget_exhausted_severity="page")
    doc = prometheus_rules(_config(_slo(), alerting=AlertingConfig(policies={"default": policy})))
    rule = _group(doc, "alerts")[-1]
    assert rule["alert"] == "SLOErrorBudgetExhausted"
    assert rule["expr"] == (
        'slo:period_error_budget_remaining:ratio{sloth_id="svc-avail", sloth_service="svc", sloth_slo="avail"} < 0'
    )
    assert rule["for"] == "10m"
    assert rule["labels"]["severity"] == "page"


def test_no_alert_group_when_the_policy_has_no_rules() -> None:
    policy = AlertPolicy(tiers=(), budget_exhausted=False)
    doc = prometheus_rules(_config(_slo(), alerting=AlertingConfig(policies={"default": policy})))
    assert [g["name"] for g in doc["groups"]] == [
        "slo-service-sli-recordings-svc-avail",
        "slo-service-meta-recordings-svc-avail",
    ]


# ------------------------------------------------------------------------------------------- self rules


def test_self_rules() -> None:
    doc = self_alert_rules()
    rules = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    assert rules["SLOServiceScrapeTargetDown"]["expr"] == "slo_service_scrape_up == 0"
    assert rules["SLOServiceScrapeTargetDown"]["for"] == "5m"
    assert (
        rules["SLOServiceEvaluationStalled"]["expr"] == "time() - slo_service_last_evaluation_timestamp_seconds > 300"
    )
    assert rules["SLOServiceNotificationsFailing"]["expr"] == (
        'increase(slo_service_notifications_total{outcome="retry"}[15m]) > 5'
    )
    assert rules["SLOServiceNotificationsDeadLettered"]["expr"] == (
        'increase(slo_service_notifications_total{outcome="dead"}[1h]) > 0'
    )
    assert rules["SLOServiceDatabaseWritesPending"]["expr"] == "slo_service_store_pending_writes > 0"
    assert rules["SLOServiceDatabaseWritesPending"]["for"] == "5m"
    assert rules["SLOServiceConfigReloadFailed"]["expr"] == "slo_service_config_last_reload_successful == 0"
    assert rules["SLOServiceDriftRunsFailing"]["expr"] == "increase(slo_drift_run_failed_total[1h]) > 0"
    assert all(r["labels"]["severity"] in {"page", "ticket"} for r in rules.values())


# ------------------------------------------------------------------------------------------- YAML + golden


def test_dump_is_stable_parseable_and_headed() -> None:
    doc = prometheus_rules(_config(_slo()))
    text = dump_rules(doc)
    assert text.splitlines()[0] == HEADER == "# generated by slo-service; do not edit"
    assert text == dump_rules(prometheus_rules(_config(_slo())))
    assert yaml.safe_load(text) == doc
    assert text.index("record:") < text.index("expr:")  # insertion order, not sorted keys


def golden_texts() -> dict[str, str]:
    return {
        "example.yml": dump_rules(prometheus_rules(load_config([EXAMPLE]))),
        "self.yml": dump_rules(self_alert_rules(), notes=()),
    }


@pytest.mark.parametrize("name", ["example.yml", "self.yml"])
def test_golden_files(name: str) -> None:
    text = golden_texts()[name]
    path = GOLDEN / name
    if os.environ.get("SLO_SERVICE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} missing; run with SLO_SERVICE_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{name} differs; if intended, rerun with SLO_SERVICE_UPDATE_GOLDEN=1"
