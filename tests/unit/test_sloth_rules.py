"""The rules generated for the importable Sloth corpus have Sloth's rule names, labels, windows and factors.

The expectation is read straight from each spec by Sloth's rules (its alert_rules, sli_rules and
metadata_rules plugins, with its default 30d windows), independently of the reader under test:

* one alert per enabled severity, named ``alerting.name``, labelled ``alerting.labels`` + the severity's
  own labels + ``sloth_severity``, annotated with Sloth's title and summary under ``alerting.annotations``
  and the severity's own, firing when both windows of a tier burn above factor x budget:
  page 14.4x over 1h and 5m or 6x over 6h and 30m; ticket 3x over 1d and 2h or 1x over 3d and 6h;
* ``slo:sli_error:ratio_rate<W>`` for 5m, 30m, 1h, 2h, 6h, 1d, 3d and the 30d period, labelled with the
  spec's and the SLO's labels, sloth_id, sloth_service, sloth_slo and sloth_window;
* the metadata recordings (objective, error budget, 30 days, burn rates, budget remaining, info).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from slo_service.generate.prometheus_rules import prometheus_rules
from slo_service.specs import load_config
from tests.unit.test_sloth_corpus import CORPUS, TABLE, Imports

IMPORTED = sorted(name for name, want in TABLE.items() if isinstance(want, Imports))

SLOTH_TIERS = {
    "page": {("1h", "5m", 14.4), ("6h", "30m", 6.0)},
    "ticket": {("1d", "2h", 3.0), ("3d", "6h", 1.0)},
}
SLI_WINDOWS = {"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"}
META = {
    "slo:objective:ratio",
    "slo:error_budget:ratio",
    "slo:time_period:days",
    "slo:current_burn_rate:ratio",
    "slo:period_burn_rate:ratio",
    "slo:period_error_budget_remaining:ratio",
    "sloth_slo_info",
}
_BURN = re.compile(r"slo:sli_error:ratio_rate(\w+)\{[^}]*\} > \(([\d.e+-]+) \* ([\d.e+-]+)\)")


def sloth_expectations(path: Path) -> dict[str, dict[str, Any]]:
    """sloth_id -> what Sloth generates for it, read from the spec (both shapes, every document)."""
    out: dict[str, dict[str, Any]] = {}
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc:
            continue
        crd = "apiVersion" in doc
        root = doc["spec"] if crd else doc
        page_key, ticket_key = ("pageAlert", "ticketAlert") if crd else ("page_alert", "ticket_alert")
        for slo in root["slos"]:
            alerting = slo.get("alerting") or {}
            alerts = {}
            for key, severity in ((page_key, "page"), (ticket_key, "ticket")):
                alert = alerting.get(key) or {}
                if alert.get("disable"):
                    continue
                labels = {**(alerting.get("labels") or {}), **(alert.get("labels") or {}), "sloth_severity": severity}
                annotations = {
                    "title": f"({severity}) {root['service']} {slo['name']} SLO error budget burn rate is too fast.",
                    "summary": f"{root['service']} {slo['name']} SLO error budget burn rate is over expected.",
                    **(alerting.get("annotations") or {}),
                    **(alert.get("annotations") or {}),
                }
                alerts[severity] = {"name": alerting["name"], "labels": labels, "annotations": annotations}
            out[f"{root['service']}-{slo['name']}"] = {
                "service": root["service"],
                "slo": slo["name"],
                "labels": {**(root.get("labels") or {}), **(slo.get("labels") or {})},
                "budget": 1 - slo["objective"] / 100,
                "alerts": alerts,
            }
    return out


def _rules(tmp_path: Path, name: str) -> dict[str, Any]:
    shutil.copy(CORPUS / "prometheus.yaml", tmp_path / "prometheus.yaml")
    shutil.copy(CORPUS / name, tmp_path / name)
    return prometheus_rules(load_config([tmp_path]))


def _group(doc: dict[str, Any], kind: str, sloth_id: str) -> list[dict[str, Any]]:
    groups = [g for g in doc["groups"] if g["name"] == f"slo-service-{kind}-{sloth_id}"]
    return groups[0]["rules"] if groups else []


@pytest.mark.parametrize("name", IMPORTED)
def test_alert_rules_are_sloths(tmp_path: Path, name: str) -> None:
    doc = _rules(tmp_path, name)
    for sloth_id, want in sloth_expectations(CORPUS / name).items():
        rules = _group(doc, "alerts", sloth_id)
        got: dict[str, dict[str, Any]] = {}
        for rule in rules:
            severity = rule["labels"]["sloth_severity"]
            entry = got.setdefault(severity, {"names": set(), "labels": [], "tiers": set(), "annotations": []})
            entry["names"].add(rule["alert"])
            entry["annotations"].append(rule["annotations"])
            entry["labels"].append(rule["labels"])
            windows = _BURN.findall(rule["expr"])
            assert len(windows) == 2, rule["expr"]
            (long_w, factor, budget), (short_w, factor_s, _) = windows
            assert factor == factor_s
            assert float(budget) == pytest.approx(want["budget"], rel=1e-9)
            entry["tiers"].add((long_w, short_w, float(factor)))
        assert set(got) == set(want["alerts"]), sloth_id
        for severity, alert in want["alerts"].items():
            assert got[severity]["names"] == {alert["name"]}
            assert got[severity]["tiers"] == SLOTH_TIERS[severity]
            for rendered in got[severity]["annotations"]:
                # Sloth's (its {{$labels.sloth_service}} ... rendered), plus our description
                assert {k: rendered.get(k) for k in alert["annotations"]} == alert["annotations"]
                assert set(rendered) - set(alert["annotations"]) <= {"description"}
            for labels in got[severity]["labels"]:
                # Sloth's labels, equal; ours add service, slo and burn_tier, the SLO's labels that a Sloth
                # alert gets from its recording series at evaluation time, and severity (page or ticket,
                # as sloth_severity) when Sloth's labels have none
                assert {k: labels.get(k) for k in alert["labels"]} == alert["labels"]
                extra = set(labels) - set(alert["labels"])
                assert extra <= {"service", "slo", "burn_tier", "severity", *want["labels"]}, extra
                if "severity" in extra:
                    assert labels["severity"] == severity


@pytest.mark.parametrize("name", IMPORTED)
def test_recording_rules_are_sloths(tmp_path: Path, name: str) -> None:
    doc = _rules(tmp_path, name)
    for sloth_id, want in sloth_expectations(CORPUS / name).items():
        sli = _group(doc, "sli-recordings", sloth_id)
        by_window = {r["labels"]["sloth_window"]: r for r in sli}
        assert set(by_window) == SLI_WINDOWS
        ids = {"sloth_id": sloth_id, "sloth_service": want["service"], "sloth_slo": want["slo"]}
        for window, rule in by_window.items():
            assert rule["record"] == f"slo:sli_error:ratio_rate{window}"
            assert {k: rule["labels"].get(k) for k in {**want["labels"], **ids}} == {**want["labels"], **ids}
            assert rule["labels"]["sloth_window"] == window
        meta = {r["record"]: r for r in _group(doc, "meta-recordings", sloth_id)}
        # Sloth's meta rules, plus the consumed share slo-service also records (docs/api.md)
        assert set(meta) == META | {"slo:period_error_budget_consumed:ratio"}
        assert meta["slo:time_period:days"]["expr"] == "vector(30)"
        objective = float(meta["slo:objective:ratio"]["expr"].removeprefix("vector(").removesuffix(")"))
        assert objective == pytest.approx(1 - want["budget"], rel=1e-12)
        assert meta["sloth_slo_info"]["labels"]["sloth_objective"] == f"{(1 - want['budget']) * 100:.10g}"
