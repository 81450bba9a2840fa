"""End to end: a Prometheus holding ONLY the generated rules (for examples/slo-service.yaml) over the demo
model server, no slo-service: every query of the rules-only dashboards returns data, for every SLO and
with "All" selected, and the generated alerts reach the dashboards' ALERTS selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from slo_service.demo.model_server import DemoModelServer
from slo_service.generate.prometheus_rules import SLO_INFO, dump_rules, prometheus_rules
from slo_service.generate.rules_dashboards import rules_dashboards
from slo_service.specs.loader import load_config
from tests.support.process import prom_query, run_prometheus, wait_for
from tests.unit.test_dashboards import EXAMPLE_CONFIG, all_panels, queries

pytestmark = pytest.mark.prometheus


def _slos(rules: dict[str, object]) -> list[tuple[str, str]]:
    """(sloth_service, sloth_slo) of every SLO the rules record, from their sloth_slo_info rules."""
    return [
        (r["labels"]["sloth_service"], r["labels"]["sloth_slo"])
        for g in rules["groups"]  # type: ignore[index]
        for r in g["rules"]
        if r.get("record") == SLO_INFO
    ]


def _fill(expr: str, service: str, slo: str) -> str:
    """Grafana's substitution of the dashboards' variables (the example's names need no regex escaping)."""
    return expr.replace("$service", service).replace("$slo", slo)


def _panel_queries() -> list[tuple[str, str]]:
    """(where, expr) of every panel target of the rules-only dashboards."""
    return [
        (f"{file} {p['title']!r} {t['refId']}", t["expr"])
        for file, board in rules_dashboards().items()
        for p in all_panels(board)
        for t in p.get("targets", [])
    ]


@pytest.mark.timeout(600)  # waits up to a 5-minute slice plus 150 s for the last panel's first sample
def test_every_panel_of_the_rules_only_dashboards_has_data(tmp_path: Path) -> None:
    config = load_config([EXAMPLE_CONFIG])
    doc = prometheus_rules(config)
    slos = _slos(doc)
    assert len(slos) >= 4
    rules = tmp_path / "slo-rules.yml"
    rules.write_text(dump_rules(doc))
    panels = _panel_queries()
    boards = rules_dashboards()
    # 5% errors: availability (99.5%) and prediction-success (99.9%) overspend their budget at once, so
    # SLOErrorBudgetExhausted (ticket, no `for`) fires and the ALERTS queries have real alerts to show.
    with DemoModelServer(port=0, rate=200.0, error_rate=0.05, tick_seconds=0.2) as model:
        host = model.url.removeprefix("http://")
        with run_prometheus(tmp_path, [host], rule_files=[rules]) as prom:
            cases = [(f"{where} [All]", _fill(expr, ".*", ".*")) for where, expr in panels]
            cases += [
                (f"{where} [{service}/{slo}]", _fill(expr, service, slo))
                for service, slo in slos
                for where, expr in panels
            ]

            def empty() -> list[str]:
                return [where for where, expr in cases if not prom_query(prom, expr)]

            # threshold SLIs sample on whole slices ([W:SLICE], aligned to the clock): a 5m-slice SLO (the example's
            # feature-freshness) may have no ratio until the next 5-minute boundary, up to 5 minutes away
            longest_slice = max(
                (s.budgeting.slice.total_seconds() for s in config.slos if s.budgeting.slice is not None), default=60
            )
            missing: list[str] = []

            def all_have_data() -> bool:
                missing[:] = empty()
                return not missing

            try:
                wait_for(
                    all_have_data, timeout=longest_slice + 150, interval=2, what="every panel query to return data"
                )
            except AssertionError as exc:
                pytest.fail(f"{len(missing)} of {len(cases)} panel queries without data: {missing[:20]} ({exc})")

            # the variables list every SLO
            for board in boards.values():
                for where, expr in queries(board):
                    if where.startswith("variable"):
                        found = prom_query(prom, _fill(expr, ".*", ".*"))
                        assert found, where
            info = {(s["metric"]["sloth_service"], s["metric"]["sloth_slo"]) for s in prom_query(prom, SLO_INFO)}
            assert info == set(slos)

            # the generated alerts carry the labels the ALERTS selectors use
            ticket = next(
                a["expr"]
                for a in boards["slo-rules-detail.json"]["annotations"]["list"]
                if a.get("name") == "Ticket alerts"
            )
            fired = wait_for(
                lambda: prom_query(prom, _fill(ticket, ".*", "availability")),
                timeout=60,
                what="SLOErrorBudgetExhausted for availability in the ticket-alert annotation",
            )
            assert {s["metric"]["alertname"] for s in fired} == {"SLOErrorBudgetExhausted"}
            (table,) = [p for p in all_panels(boards["slo-rules-overview.json"]) if p["title"] == "SLO status"]
            (count,) = [t["expr"] for t in table["targets"] if "ALERTS" in t["expr"]]
            counted = prom_query(prom, _fill(count, ".*", ".*"))
            per_slo = {s["metric"]["sloth_slo"]: float(s["value"][1]) for s in counted}
            assert per_slo["availability"] >= 1
            assert per_slo["latency"] == 0  # meets its objective: shown as 0, not left out
            assert set(per_slo) == {slo for _, slo in slos}
