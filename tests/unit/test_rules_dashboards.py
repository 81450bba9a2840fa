"""The rules-only dashboards: every query reads only what the generated rules produce, for every SLO of
the example config, and only names and labels Sloth's rules carry too, so the dashboards work on both.

What "Sloth produces" is written down here from Sloth's generated examples (its metadata rules, its SLI
windows and its labels), not derived from our generator: that is the point of the comparison.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import promql_parser as pp
import pytest
import yaml

from slo_service.core.windows import ALERT_WINDOWS
from slo_service.generate import prometheus_rules
from slo_service.generate.rules_dashboards import SLOTH_LABELS, rules_dashboards
from slo_service.specs.loader import load_config
from tests.support.process import require_tool
from tests.unit.test_dashboards import (
    EXAMPLE_CONFIG,
    all_panels,
    exported_metric_names,
    metric_names_in,
    queries,
    substitute,
)

BOARDS = rules_dashboards()
CASES = [(file, where, expr) for file, board in BOARDS.items() for where, expr in queries(board)]
IDS = [f"{f}:{w}" for f, w, _ in CASES]

# Sloth's recording rules for every SLO: the SLI windows of its default (30d and 28d) alert windows plus
# the period's own window (named after the period), and its metadata rules.
SLOTH_SLI_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
SLOTH_RECORDS = frozenset(
    {f"slo:sli_error:ratio_rate{w}" for w in SLOTH_SLI_WINDOWS}
    | {
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:time_period:days",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
        "sloth_slo_info",
    }
)
PROMETHEUS_ALERT_LABELS = frozenset({"alertstate"})  # Prometheus adds it (and alertname) to ALERTS


def records_per_slo() -> dict[str, set[str]]:
    """sloth_id -> the record names the generated rules produce for that SLO (example config)."""
    out: dict[str, set[str]] = defaultdict(set)
    for group in prometheus_rules(load_config([EXAMPLE_CONFIG]))["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                out[rule["labels"]["sloth_id"]].add(rule["record"])
    return dict(out)


def labels_in(expr: str) -> set[str]:
    """Every label name a query selects, groups or joins on (matchers, by/without, on/ignoring, group_x)."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, pp.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, pp.VectorSelector):
            names.update(m.name for m in node.matchers.matchers if m.name != "__name__")
        elif isinstance(node, pp.BinaryExpr):
            if node.modifier is not None:
                names.update(node.modifier.matching.labels if node.modifier.matching else [])
                names.update(node.modifier.group_labels or [])
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(node, pp.AggregateExpr):
            names.update(node.modifier.labels if node.modifier else [])
            walk(node.expr)
        elif isinstance(node, pp.Call):
            for arg in node.args:
                walk(arg)
        elif isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
            walk(node.expr)

    walk(pp.parse(expr))
    return names


def test_there_are_two_rules_only_dashboards_with_panels() -> None:
    assert sorted(BOARDS) == ["slo-rules-detail.json", "slo-rules-overview.json"]
    for board in BOARDS.values():
        assert sum(1 for p in all_panels(board) if p["type"] != "row") >= 8


@pytest.mark.parametrize(("file", "where", "expr"), CASES, ids=IDS)
def test_every_query_reads_only_generated_records_or_alerts(file: str, where: str, expr: str) -> None:
    """Each name is recorded for EVERY SLO of the example config (or is ALERTS of the generated alert
    rules): a name only some SLOs record would leave the other SLOs' rows empty."""
    per_slo = records_per_slo()
    assert len(per_slo) >= 4  # the example's SLOs with 7d, 28d and 30d periods
    names = metric_names_in(substitute(expr))
    assert names
    for sloth_id, records in per_slo.items():
        assert names - {"ALERTS"} <= records, f"{file} {where}: {sorted(names - records)} not recorded for {sloth_id}"


@pytest.mark.parametrize(("file", "where", "expr"), CASES, ids=IDS)
def test_every_query_reads_only_names_and_labels_sloth_produces(file: str, where: str, expr: str) -> None:
    names = metric_names_in(substitute(expr))
    assert names <= SLOTH_RECORDS | {"ALERTS"}, f"{file} {where}: {sorted(names - SLOTH_RECORDS)}"
    labels = labels_in(substitute(expr))
    assert labels <= set(SLOTH_LABELS) | PROMETHEUS_ALERT_LABELS, f"{file} {where}: {sorted(labels)}"


def test_no_query_reads_a_service_metric() -> None:
    used = {name for _, _, expr in CASES for name in metric_names_in(substitute(expr))}
    assert not used & exported_metric_names()


def test_sloth_windows_are_the_windows_recorded_for_every_slo() -> None:
    assert set(SLOTH_SLI_WINDOWS) == set(ALERT_WINDOWS)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_sloth_variables(name: str) -> None:
    variables = {v["name"]: v for v in BOARDS[name]["templating"]["list"]}
    assert variables["service"]["definition"] == "label_values(sloth_slo_info, sloth_service)"
    assert variables["slo"]["definition"] == 'label_values(sloth_slo_info{sloth_service=~"$service"}, sloth_slo)'
    for _, expr in queries(BOARDS[name]):
        assert ("$service" in expr and "$slo" in expr) or expr.startswith("sloth_slo_info"), expr


def test_alert_counts_never_leave_a_panel_empty() -> None:
    """A count of ALERTS is empty while nothing fires: every panel query reading ALERTS has a fallback."""
    for board in BOARDS.values():
        for p in all_panels(board):
            for t in p.get("targets", []):
                if "ALERTS" in t["expr"]:
                    assert " or vector(0)" in t["expr"] or " or 0 * " in t["expr"], (p["title"], t["expr"])


def _instant(file: str, title: str) -> list[str]:
    (panel,) = [p for p in all_panels(BOARDS[file]) if p["title"] == title]
    return [substitute(t["expr"], ".*") for t in panel["targets"]]


@pytest.mark.prometheus
def test_queries_on_series_labelled_as_sloth_labels_them(tmp_path: Path) -> None:
    """promtool test rules: Sloth-shaped input (only sloth_* labels, a 30d period window, an alert with a
    team's own name) gives the values worked out by hand below."""
    promtool = require_tool("promtool")
    a = 'sloth_id="shop-checkout",sloth_service="shop",sloth_slo="checkout"'
    b = 'sloth_id="shop-search",sloth_service="shop",sloth_slo="search"'
    series = {
        f"slo:objective:ratio{{{a}}}": "0.999",
        f"slo:objective:ratio{{{b}}}": "0.99",
        f"slo:error_budget:ratio{{{a}}}": "0.001",
        f"slo:error_budget:ratio{{{b}}}": "0.01",
        f"slo:period_burn_rate:ratio{{{a}}}": "0.5",  # half the budget spent: SLI 1 - 0.5 * 0.001
        f"slo:period_burn_rate:ratio{{{b}}}": "2",  # overspent: SLI 1 - 2 * 0.01 = 0.98 < 0.99
        f"slo:period_error_budget_remaining:ratio{{{a}}}": "0.5",
        f"slo:period_error_budget_remaining:ratio{{{b}}}": "-1",
        f'slo:sli_error:ratio_rate1h{{{a},sloth_window="1h"}}': "0.006",  # 6x the budget
        f'slo:sli_error:ratio_rate1h{{{b},sloth_window="1h"}}': "0.01",
        f'sloth_slo_info{{{a},sloth_objective="99.9"}}': "1",
        f'sloth_slo_info{{{b},sloth_objective="99"}}': "1",
        f'ALERTS{{alertname="ShopCheckoutHighErrorRate",alertstate="firing",sloth_severity="page",{a}}}': "1",
    }
    overview = "slo-rules-overview.json"
    table = _instant(overview, "SLO status")
    sli, burn_1h, alerts = (
        next(e for e in table if e.startswith("1 - ")),
        next(e for e in table if "ratio_rate1h" in e),
        next(e for e in table if "ALERTS" in e),
    )
    checkout = {"sloth_service": "shop", "sloth_slo": "checkout"}
    search = {"sloth_service": "shop", "sloth_slo": "search"}
    tests: list[tuple[str, list[tuple[dict[str, str], float]]]] = [
        (_instant(overview, "SLOs")[0], [({}, 2)]),
        (_instant(overview, "SLOs meeting objective")[0], [({}, 1)]),
        (_instant(overview, "SLOs with budget < 0")[0], [({}, 1)]),
        (_instant(overview, "Firing page alerts")[0], [({}, 1)]),
        (_instant(overview, "Firing ticket alerts")[0], [({}, 0)]),
        (sli, [(checkout, 0.9995), (search, 0.98)]),
        (burn_1h, [(checkout, 6), (search, 1)]),
        (alerts, [(checkout, 1), (search, 0)]),
    ]
    spec = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": k, "values": f"{v}+0x10"} for k, v in series.items()],
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "5m",
                        "exp_samples": [{"labels": _labels(labels), "value": value} for labels, value in samples],
                    }
                    for expr, samples in tests
                ],
            }
        ],
    }
    path = tmp_path / "sloth-shaped.yml"
    path.write_text(yaml.safe_dump(spec))
    done = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
