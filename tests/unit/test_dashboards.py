"""Generated Grafana dashboards: every query parses and reads only metrics that exist; golden files.

Known metric names are the ones something PRODUCES, with no allow-list for names nothing produces yet
(such a list once let a "Deployments" annotation read a metric no code exported):

* exported by the service: the constants of `slo_service.core.conventions` that the exporter modules
  (`slo_service/exporter/*.py`) actually use, read at call time (so a monkeypatched constant counts),
  with the exposition suffixes: counters ``_total``, histograms ``_bucket``/``_sum``/``_count``; info
  and gauge names as written. A constant is a counter or histogram when its line in conventions.py
  says so in its comment. A constant declared in conventions but used by no exporter is not exported.
* recorded by the generated Prometheus rules: the ``record`` names of the rules generated for the
  example config and of the self-monitoring rules,
* Prometheus' own series (``ALERTS`` for the generated alert rules, ``up``).
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser as pp
import pytest
import yaml

from slo_service.core import conventions
from slo_service.core.alerting.conditions import BURN_TIER_LABEL
from slo_service.core.alerting.policy import default_tiers
from slo_service.generate import dashboards as dash
from slo_service.generate import prometheus_rules, self_alert_rules
from slo_service.generate.dashboards import (
    UIDS,
    burn_rate_thresholds,
    dashboards,
    drift_metrics,
    dump_dashboard,
)
from slo_service.generate.rules_dashboards import rules_dashboards
from slo_service.specs.loader import load_config
from tests.support.process import require_tool

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "dashboards"
PROVISIONING_DIR = DASHBOARD_DIR / "provisioning"
PROMETHEUS_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

PROMETHEUS_OWN = frozenset({"ALERTS", "ALERTS_FOR_STATE", "up"})
EXPORTER_DIR = ROOT / "slo_service" / "exporter"
EXAMPLE_CONFIG = ROOT / "examples" / "slo-service.yaml"

GRAFANA_VARIABLES = {
    "${datasource}": "prometheus",
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}


# --- helpers --------------------------------------------------------------------------------------


def metric_names_in(expr: str) -> set[str]:
    """Every metric name a PromQL expression selects (vector, range and subquery selectors, at any depth).

    Raises `ValueError` when `expr` does not parse. A selector without a name (``{__name__="..."}``)
    contributes its ``__name__`` equality matcher. Lives here, not in slo_service.generate: promql-parser
    is a development dependency and the generate layer may import core, json and yaml only.
    """
    try:
        root = pp.parse(expr)
    except ValueError as exc:
        raise ValueError(f"invalid PromQL {expr!r}: {exc}") from exc
    names: set[str] = set()
    _collect(root, names)
    return names


def _collect(node: pp.Expr, names: set[str]) -> None:
    """Walk the AST explicitly (every node type the parser has), so an unknown node fails loudly."""
    if isinstance(node, pp.MatrixSelector):
        _collect(node.vector_selector, names)
    elif isinstance(node, pp.VectorSelector):
        if node.name:
            names.add(node.name)
        else:
            for group in [node.matchers.matchers, *node.matchers.or_matchers]:
                names.update(m.value for m in group if m.name == "__name__" and m.op == pp.MatchOp.Equal)
    elif isinstance(node, pp.BinaryExpr):
        _collect(node.lhs, names)
        _collect(node.rhs, names)
    elif isinstance(node, pp.AggregateExpr):
        _collect(node.expr, names)
        if isinstance(node.param, pp.Expr):  # topk(scalar(x), ...), quantile(0.9, ...), count_values("v", ...)
            _collect(node.param, names)
    elif isinstance(node, pp.Call):
        for arg in node.args:
            _collect(arg, names)
    elif isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
        _collect(node.expr, names)
    elif not isinstance(node, pp.NumberLiteral | pp.StringLiteral):
        raise TypeError(f"unexpected PromQL node {type(node).__name__}")


def recording_names() -> frozenset[str]:
    """Every series name the generated recording rules produce (example config + self rules)."""
    docs = [prometheus_rules(load_config([EXAMPLE_CONFIG])), self_alert_rules()]
    return frozenset(r["record"] for doc in docs for g in doc["groups"] for r in g["rules"] if "record" in r)


def exporter_constants() -> frozenset[str]:
    """Names of the conventions constants the exporter modules use (`c.SLO_BURN_RATE`, ...)."""
    used: set[str] = set()
    for path in sorted(EXPORTER_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        aliases = {
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "slo_service.core"
            for a in node.names
            if a.name == "conventions"
        }
        used |= {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
        }
    return frozenset(used)


def _kinds() -> dict[str, str]:
    """Constant name -> "counter" | "histogram" | "gauge", from the comments in conventions.py."""
    kinds: dict[str, str] = {}
    for line in inspect.getsource(conventions).splitlines():
        m = re.match(r'^([A-Z][A-Z0-9_]*) = "[^"]*"\s*(?:#\s*(.*))?$', line)
        if not m:
            continue
        comment = (m.group(2) or "").lower()
        kinds[m.group(1)] = "histogram" if "histogram" in comment else "counter" if "counter" in comment else "gauge"
    return kinds


def exported_metric_names() -> frozenset[str]:
    """Every series name the service exposes, from the CURRENT values of the conventions constants."""
    out: set[str] = set()
    exported = exporter_constants()
    for const, kind in _kinds().items():
        if const not in exported:
            continue  # declared, but no exporter module produces it
        name = getattr(conventions, const)
        if not name.startswith("slo_"):  # label names (service, slo, window, outcome)
            continue
        if kind == "counter":
            out.add(f"{name}_total")
        elif kind == "histogram":
            out.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            out.add(name)  # gauges; info metrics already end in _info
    return frozenset(out)


def known_metric_names() -> frozenset[str]:
    return exported_metric_names() | RECORDED | PROMETHEUS_OWN


def substitute(expr: str, value: str = "x") -> str:
    """Grafana's variables replaced by PromQL-valid text; `value` for the dashboard's own ($service...)."""
    for var, replacement in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, replacement)
    return re.sub(r"\$\{?\w+(?::\w+)?\}?", value, expr)  # $service, ${slo}, ${slo:regex} ...


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in dashboard["panels"]:
        yield p
        yield from p.get("panels", [])  # collapsed rows hold their panels


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every target, annotation and query variable of a dashboard."""
    for p in all_panels(dashboard):
        for t in p.get("targets", []):
            yield f"panel {p['title']!r} {t['refId']}", t["expr"]
    for a in dashboard["annotations"]["list"]:
        if "expr" in a:
            yield f"annotation {a['name']!r}", a["expr"]
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            m = re.fullmatch(r"label_values\((.*), *(\w+)\)", v["definition"])
            assert m, f"variable {v['name']}: expected label_values(selector, label), got {v['definition']!r}"
            yield f"variable {v['name']!r}", m.group(1)


def unknown_metrics(boards: dict[str, dict[str, Any]], known: frozenset[str]) -> list[tuple[str, str, str]]:
    return sorted(
        (file, where, name)
        for file, board in boards.items()
        for where, expr in queries(board)
        for name in metric_names_in(substitute(expr))
        if name not in known
    )


def committed() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


BOARDS = dashboards()
RECORDED = recording_names()
QUERY_CASES = [(file, where, expr) for file, board in BOARDS.items() for where, expr in queries(board)]


# --- metric_names_in ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('rate(a_total{x="1"}[5m] offset 1h)', {"a_total"}),
        ("sum by (slo) (a) / on (slo) group_left () b > bool 1", {"a", "b"}),
        ("max_over_time((a - b)[1h:5m] @ 100)", {"a", "b"}),
        ("topk(scalar(k), v)", {"k", "v"}),
        ('count_values("value", c)', {"c"}),
        ("quantile(0.9, q)", {"q"}),
        (
            "histogram_quantile(0.99, sum by (le) (rate(h_bucket[$__rate_interval])))".replace(
                "$__rate_interval", "5m"
            ),
            {"h_bucket"},
        ),
        ('{__name__="by_matcher", job="j"} + -(neg)', {"by_matcher", "neg"}),
        ("time() - vector(1) or absent(gone)", {"gone"}),
        ('label_replace(z, "a", "$1", "b", "(.*)")', {"z"}),
    ],
)
def test_metric_names_in_walks_every_node_type(expr: str, names: set[str]) -> None:
    assert metric_names_in(expr) == names


def test_metric_names_in_rejects_invalid_promql() -> None:
    with pytest.raises(ValueError, match="invalid PromQL"):
        metric_names_in("sum(rate(x[5m])")


# --- every query parses and reads known metrics ---------------------------------------------------


@pytest.mark.parametrize(("file", "where", "expr"), QUERY_CASES, ids=[f"{f}:{w}" for f, w, _ in QUERY_CASES])
def test_every_query_parses(file: str, where: str, expr: str) -> None:
    assert metric_names_in(substitute(expr)), f"{file} {where}: {expr!r} selects no metric"


@pytest.mark.prometheus
def test_every_query_passes_promtool(tmp_path: Path) -> None:
    """Prometheus' own parser (promtool check rules) accepts every query, as a recording rule."""
    promtool = require_tool("promtool")
    rules = [{"record": f"dashboard:check{i}", "expr": substitute(expr)} for i, (_, _, expr) in enumerate(QUERY_CASES)]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def _expr(file: str, title: str, ref_id: str = "A") -> str:
    (t,) = [t for t in _panel(file, title)["targets"] if t["refId"] == ref_id]
    return substitute(t["expr"], ".*")  # "All" selected


@pytest.mark.prometheus
def test_overview_queries_on_sample_data(tmp_path: Path) -> None:
    """promtool test rules: the overview's stats and table columns on two SLOs, one overspent and alerting."""
    promtool = require_tool("promtool")
    api = 'service="api",slo="avail"'
    lat = 'service="api",slo="latency"'
    series = {
        f"slo_objective_ratio{{{api}}}": "0.99",
        f"slo_objective_ratio{{{lat}}}": "0.95",
        f'slo_sli_ratio{{{api},window="period"}}': "0.995",
        f'slo_sli_ratio{{{lat},window="period"}}': "0.9",
        f"slo_error_budget_remaining_ratio{{{api}}}": "0.5",
        f"slo_error_budget_remaining_ratio{{{lat}}}": "-1",
        f'ALERTS{{alertname="SLOBurnRateHigh",alertstate="firing",severity="page",{lat}}}': "1",
        'slo_service_notification_delivery_seconds_bucket{receiver="slack",le="1"}': "0+9x10",
        'slo_service_notification_delivery_seconds_bucket{receiver="slack",le="+Inf"}': "0+10x10",
    }
    table = _panel("slo-overview.json", "SLO status")
    firing = next(t["refId"] for t in table["targets"] if "ALERTS" in t["expr"])
    tests: list[tuple[str, list[tuple[dict[str, str], float]]]] = [
        (_expr("slo-overview.json", "SLOs total"), [({}, 2)]),
        (_expr("slo-overview.json", "SLOs meeting objective"), [({}, 1)]),
        (_expr("slo-overview.json", "SLOs with budget < 0"), [({}, 1)]),
        (
            _expr("slo-overview.json", "SLO status", firing),
            [({"service": "api", "slo": "avail"}, 0), ({"service": "api", "slo": "latency"}, 1)],
        ),
        (
            _expr("service-health.json", "Notification delivery latency").replace("[5m]", "[2m]"),
            [({"receiver": "slack"}, 5 / 9)],  # rank 5 of the 9 in bucket (0, 1]: 5/9 s
        ),
    ]
    spec = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": k, "values": v} for k, v in series.items()],
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
    path = tmp_path / "overview-test.yml"
    path.write_text(yaml.safe_dump(spec))
    done = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def test_every_metric_is_exported_recorded_or_prometheus_own() -> None:
    assert unknown_metrics(BOARDS, known_metric_names()) == []


def test_committed_dashboards_read_only_known_metrics() -> None:
    assert unknown_metrics(committed(), known_metric_names()) == []


def test_exported_names_follow_the_exposition_suffixes() -> None:
    names = exported_metric_names()
    assert {"slo_events_total", "slo_service_notifications_total", "slo_service_collection_errors_total"} <= names
    assert "slo_events" not in names  # a counter is only exposed with _total
    assert {f"slo_service_notification_delivery_seconds{s}" for s in ("_bucket", "_sum", "_count")} <= names
    assert {"slo_info", "slo_service_build_info", "slo_burn_rate", "slo_service_alerts"} <= names


def test_a_declared_but_unexported_name_is_unknown() -> None:
    """What let the Deployments annotation through: a name being declared (or allow-listed) is not
    enough. conventions.CONFIG_RELOADS is declared, but no exporter module produces it."""
    assert "CONFIG_RELOADS" not in exporter_constants()
    assert f"{conventions.CONFIG_RELOADS}_total" not in known_metric_names()
    # slo_deployments_total is produced since deployments are recorded (exporter/deployments.py); a name
    # declared nowhere stands in for the unproduced one
    assert "slo_deployments_total" in known_metric_names()
    deployments = 'sum by (service) (increase(slo_rollbacks_total{service=~"$service"}[2m])) > 0'
    board = {
        "panels": [
            {
                "type": "timeseries",
                "title": "Reloads",
                "targets": [{"refId": "A", "expr": "slo_service_config_reloads_total"}],
            }
        ],
        "annotations": {"list": [{"name": "Deployments", "expr": deployments}]},
        "templating": {"list": []},
    }
    assert unknown_metrics({"x.json": board}, known_metric_names()) == [
        ("x.json", "annotation 'Deployments'", "slo_rollbacks_total"),
        ("x.json", "panel 'Reloads' A", "slo_service_config_reloads_total"),
    ]


def test_exporter_constants_are_read_from_the_exporter_source() -> None:
    used = exporter_constants()
    assert {"SLO_BURN_RATE", "COLLECTION_ERRORS", "CONFIG_LAST_RELOAD_SUCCESS", "NOTIFICATIONS", "DRIFT_SHARE"} <= used


def test_drift_names_match_the_other_generators() -> None:
    """The self-alert rules read the drift monitor's failure counter too: one name on both sides."""
    from slo_service.generate import self_rules

    assert f"{self_rules.DRIFT_RUN_FAILED}_total" == drift_metrics()["runs_failed_total"]


def test_sloth_names_come_from_the_generated_rules() -> None:
    """The Sloth-style names Grafana's Sloth dashboards read are among the generated records."""
    sloth = {f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")}
    sloth |= {"slo:objective:ratio", "slo:error_budget:ratio", "slo:period_error_budget_remaining:ratio"}
    assert sloth | {"sloth_slo_info", "slo:current_burn_rate:ratio"} <= RECORDED


def test_renaming_a_metric_in_the_exporter_only_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The committed dashboards still read slo_burn_rate; the exporter now calls it something else."""
    stale = committed()
    monkeypatch.setattr(conventions, "SLO_BURN_RATE", "slo_burn_rate_v2")
    unknown = {name for _, _, name in unknown_metrics(stale, known_metric_names())}
    assert unknown == {"slo_burn_rate"}


def test_renaming_a_metric_in_the_dashboards_only_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboards follow a renamed constant; an exporter still exposing the old name does not match."""
    known_before = known_metric_names()
    monkeypatch.setattr(conventions, "SLO_EVENTS", "slo_outcomes")
    unknown = {name for _, _, name in unknown_metrics(dashboards(), known_before)}
    assert unknown == {"slo_outcomes_total"}
    # Renamed on both sides (the normal case: one constant) the check passes again.
    assert unknown_metrics(dashboards(), known_metric_names()) == []


# --- golden files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_committed_dashboard_is_the_generated_one(name: str) -> None:
    path = DASHBOARD_DIR / name
    assert path.read_text(encoding="utf-8") == dump_dashboard(BOARDS[name]), (
        f"{path} is stale: regenerate with `python -m slo_service.generate.dashboards dashboards`"
    )


def test_committed_files_are_exactly_the_generated_dashboards() -> None:
    assert sorted(p.name for p in DASHBOARD_DIR.glob("*.json")) == sorted(BOARDS)


def test_dump_is_canonical_json() -> None:
    text = dump_dashboard(BOARDS["slo-overview.json"])
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert json.loads(text) == BOARDS["slo-overview.json"]
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_generation_is_deterministic() -> None:
    assert {k: dump_dashboard(v) for k, v in dashboards().items()} == {k: dump_dashboard(v) for k, v in BOARDS.items()}


def test_write_dashboards(tmp_path: Path) -> None:
    paths = dash.write_dashboards(tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted(BOARDS)
    assert all(p.read_text() == dump_dashboard(BOARDS[p.name]) for p in paths)


# --- structure ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_structure(name: str) -> None:
    board = BOARDS[name]
    assert board["uid"] == UIDS[name]
    assert board["schemaVersion"] == 39
    assert "__inputs" not in board and "__requires" not in board
    assert board["id"] is None
    panels = list(all_panels(board))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    cells: set[tuple[int, int]] = set()
    for p in panels:
        pos = p["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, p["title"]
        area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & area, f"{name}: panel {p['title']!r} overlaps another"
        cells |= area
        if p["type"] != "row":
            assert p["datasource"] == PROMETHEUS_DATASOURCE, p["title"]
            assert p["targets"], p["title"]
            assert all(t["datasource"] == PROMETHEUS_DATASOURCE for t in p["targets"]), p["title"]
            assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])
    for a in board["annotations"]["list"]:
        if "expr" in a:
            assert a["datasource"] == PROMETHEUS_DATASOURCE


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_panel_titles_are_unique(name: str) -> None:
    titles = [p["title"] for p in all_panels(BOARDS[name]) if p["type"] != "row"]
    assert len(titles) == len(set(titles))


SERVICE_METRIC_BOARDS = sorted(set(BOARDS) - set(rules_dashboards()))


@pytest.mark.parametrize("name", SERVICE_METRIC_BOARDS)
def test_templating(name: str) -> None:
    """The service-metric dashboards; the rules-only ones have Sloth's variables (test_rules_dashboards)."""
    variables = {v["name"]: v for v in BOARDS[name]["templating"]["list"]}
    ds = variables["datasource"]
    assert (ds["type"], ds["query"]) == ("datasource", "prometheus")
    assert variables["service"]["definition"] == "label_values(slo_objective_ratio, service)"
    assert variables["slo"]["definition"] == 'label_values(slo_objective_ratio{service=~"$service"}, slo)'
    for var in ("service", "slo"):
        assert variables[var]["multi"] and variables[var]["includeAll"]
        assert variables[var]["datasource"] == PROMETHEUS_DATASOURCE
        assert variables[var]["query"]["query"] == variables[var]["definition"]


def test_uids_are_stable() -> None:
    assert UIDS == {
        "slo-overview.json": "slo-service-overview",
        "slo-detail.json": "slo-service-detail",
        "drift-quality.json": "slo-service-drift-quality",
        "service-health.json": "slo-service-health",
        "slo-rules-overview.json": "slo-service-rules-overview",
        "slo-rules-detail.json": "slo-service-rules-detail",
    }


# --- content --------------------------------------------------------------------------------------


def _panel(name: str, title: str) -> dict[str, Any]:
    matches = [p for p in all_panels(BOARDS[name]) if p["title"] == title]
    assert len(matches) == 1, f"{name}: {len(matches)} panels titled {title!r}"
    return matches[0]


def _steps(thresholds: dict[str, Any]) -> list[tuple[float | None, str]]:
    return [(s["value"], s["color"]) for s in thresholds["steps"]]


def test_burn_rate_thresholds_come_from_the_default_tiers() -> None:
    from datetime import timedelta

    expected = sorted((t.factor(timedelta(days=30)) for t in default_tiers()), reverse=True)
    assert [v for _, v in burn_rate_thresholds()] == pytest.approx(expected)
    assert [v for _, v in burn_rate_thresholds()] == pytest.approx([14.4, 6, 3, 1.2])
    burn = _panel("slo-detail.json", "Burn rate by window")
    values = [v for v, _ in _steps(burn["fieldConfig"]["defaults"]["thresholds"])][1:]
    assert values == pytest.approx([1.2, 3, 6, 14.4])
    assert burn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"


def test_overview_table() -> None:
    table = _panel("slo-overview.json", "SLO status")
    assert table["type"] == "table"
    exprs = [t["expr"] for t in table["targets"]]
    assert all(t["format"] == "table" and t["instant"] for t in table["targets"])
    for window in ("1h", "6h", "1d", "3d"):
        assert any(f'slo_burn_rate{{service=~"$service",slo=~"$slo",window="{window}"}}' in e for e in exprs)
    assert any('window="period"' in e and "slo_sli_ratio" in e for e in exprs)
    assert any('ALERTS{alertstate="firing"' in e for e in exprs)
    budget = next(o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "Budget remaining")
    props = {p["id"]: p["value"] for p in budget["properties"]}
    assert props["custom.cellOptions"]["type"] == "gauge"
    assert _steps(props["thresholds"]) == [(None, "red"), (0, "yellow"), (0.25, "green")]
    renamed = table["transformations"][1]["options"]["renameByName"]
    assert set(renamed.values()) >= {"Objective", "SLI (period)", "Budget remaining", "Firing alerts"}
    titles = {p["title"] for p in all_panels(BOARDS["slo-overview.json"])}
    assert {"SLOs meeting objective", "SLOs with budget < 0"} <= titles


def test_detail_repeats_per_slo_and_has_annotations() -> None:
    board = BOARDS["slo-detail.json"]
    rows = [p for p in board["panels"] if p["type"] == "row"]
    assert [r.get("repeat") for r in rows] == ["slo"]
    annotations = {a["name"]: a for a in board["annotations"]["list"]}
    # burn alerts by their burn_tier label, so alerts named per SLO (Sloth's alerting.name) show too
    assert f'{BURN_TIER_LABEL}!=""' in annotations["Burn-rate alerts"]["expr"]
    # the first entry is Grafana's built-in one; deployment markers from the last-deploy timestamp
    assert list(annotations) == ["Annotations & Alerts", "Burn-rate alerts", "Deployments"]
    assert annotations["Deployments"]["expr"].startswith("changes(slo_last_deployment_timestamp_seconds{")
    events = _panel("slo-detail.json", "Events")["targets"][0]["expr"]
    assert "rate(slo_events_total{" in events


def test_service_health_latency_quantiles() -> None:
    exprs = [t["expr"] for t in _panel("service-health.json", "Notification delivery latency")["targets"]]
    assert [e.split(",")[0] for e in exprs] == ["histogram_quantile(0.5", "histogram_quantile(0.99"]
    assert all("slo_service_notification_delivery_seconds_bucket" in e for e in exprs)


def test_drift_dashboard_reads_only_the_drift_metrics() -> None:
    used = {name for _, expr in queries(BOARDS["drift-quality.json"]) for name in metric_names_in(substitute(expr))}
    assert used == set(drift_metrics().values()) | {"slo_objective_ratio"}  # + the service/slo variables


# --- provisioning examples ------------------------------------------------------------------------


def test_provisioning_examples() -> None:
    ds = yaml.safe_load((PROVISIONING_DIR / "datasources.yaml").read_text())
    (prom,) = ds["datasources"]
    assert (ds["apiVersion"], prom["type"], prom["uid"]) == (1, "prometheus", "prometheus")
    boards = yaml.safe_load((PROVISIONING_DIR / "dashboards.yaml").read_text())
    (provider,) = boards["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
