"""Quality gate scoring (core/gates.py, core/gate_spec.py): each answer from data where it is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from slo_service.core.clock import ManualClock
from slo_service.core.gate_spec import GateSpecError, parse_criterion, parse_gate_spec, spec_json
from slo_service.core.gates import Counts, MonitorWindow, SloWindow, evaluate_gate

END = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
AFTER = ManualClock(END + timedelta(seconds=1))


def _gate(
    spec: dict[str, Any], slos: dict[str, SloWindow], monitors: dict[str, MonitorWindow] | None = None
) -> dict[str, Any]:
    return evaluate_gate(parse_gate_spec(spec, "api"), slos, monitors or {}, END, AFTER)


def _w(good: float, total: float, objective: float = 0.99, before: tuple[float, float] | None = None) -> SloWindow:
    return SloWindow(objective, Counts(good, total), None if before is None else Counts(*before))


def test_all_objectives_met_pass_with_full_score() -> None:
    out = _gate(
        {"objectives": ["availability", "latency"]}, {"api/availability": _w(999, 1000), "api/latency": _w(995, 1000)}
    )
    assert (out["result"], out["score"]) == ("pass", 1.0)
    assert [o["status"] for o in out["objectives"]] == ["pass", "pass"]
    assert out["objectives"][0]["pass"] == [{"criterion": ">=objective", "target": 0.99, "met": True}]


def test_one_of_five_failing_scores_80_percent_a_warning() -> None:
    slos = {f"api/s{i}": _w(1000, 1000) for i in range(4)} | {"api/s4": _w(900, 1000)}
    out = _gate({"objectives": [f"s{i}" for i in range(5)]}, slos)
    assert (out["result"], out["score"]) == ("warning", pytest.approx(0.8))


def test_two_of_five_failing_scores_60_percent_a_fail() -> None:
    slos = {f"api/s{i}": _w(1000, 1000) for i in range(3)} | {"api/s3": _w(1, 10), "api/s4": _w(1, 10)}
    out = _gate({"objectives": [f"s{i}" for i in range(5)]}, slos)
    assert (out["result"], out["score"]) == ("fail", pytest.approx(0.6))


def test_a_failing_key_objective_fails_a_gate_whose_score_would_pass() -> None:
    slos = {f"api/s{i}": _w(1000, 1000) for i in range(9)} | {"api/key": _w(1, 10)}
    objectives: list[Any] = [f"s{i}" for i in range(9)] + [{"slo": "key", "key": True}]
    out = _gate({"objectives": objectives}, slos)
    assert out["result"] == "fail" and out["score"] == pytest.approx(0.9)
    assert out["reason"] == "a key objective failed"


def test_warning_criteria_score_half() -> None:
    spec = {"objectives": [{"slo": "a", "pass": [">=0.99"], "warning": [">=0.95"]}, "b"]}
    out = _gate(spec, {"api/a": _w(96, 100), "api/b": _w(100, 100)})
    assert [o["status"] for o in out["objectives"]] == ["warning", "pass"]
    assert (out["result"], out["score"]) == ("warning", pytest.approx(0.75))


def test_no_events_anywhere_is_inconclusive() -> None:
    out = _gate({"objectives": ["a", "b"]}, {"api/a": _w(0, 0)})
    assert out["result"] == "inconclusive" and out["score"] is None
    assert [o["reason"] for o in out["objectives"]] == ["no events in the window", "no such SLO"]


def test_a_key_objective_without_data_is_inconclusive_and_others_score_without_it() -> None:
    spec = {"objectives": [{"slo": "a", "key": True}, "b"]}
    assert _gate(spec, {"api/a": _w(0, 0), "api/b": _w(100, 100)})["result"] == "inconclusive"
    out = _gate({"objectives": ["a", "b"]}, {"api/a": _w(0, 0), "api/b": _w(100, 100)})
    assert (out["result"], out["score"]) == ("pass", 1.0)


@pytest.mark.parametrize(
    ("after", "before", "expected"),
    [
        ((990, 1000), (988, 1000), "pass"),  # error ratio 1.0% vs 1.2% before: better
        ((991, 1000), (992, 1000), "pass"),  # 0.9% vs 0.8%: +12.5%, within the +25% allowed
        ((985, 1000), (992, 1000), "fail"),  # 1.5% vs 0.8%: +87.5%
        ((992, 1000), (0, 0), "inconclusive"),  # no baseline
    ],
    ids=["better", "within", "worse", "no-baseline"],
)
def test_comparison_with_the_window_before_the_deploy(
    after: tuple[float, float], before: tuple[float, float], expected: str
) -> None:
    spec = {"objectives": [{"slo": "a", "indicator": "error_ratio", "pass": ["<=+25%"]}]}
    out = _gate(spec, {"api/a": _w(*after, objective=0.9, before=before)})
    assert out["result"] == expected


def test_relative_criterion_target_is_the_baseline_scaled() -> None:
    spec = {"objectives": [{"slo": "a", "indicator": "error_ratio", "pass": ["<=+10%"]}]}
    out = _gate(spec, {"api/a": _w(980, 1000, before=(980, 1000))})
    assert out["objectives"][0]["pass"][0]["target"] == pytest.approx(0.022)
    assert out["result"] == "pass"


def test_burn_rate_indicator_divides_by_the_budget() -> None:
    spec = {"objectives": [{"slo": "a", "indicator": "burn_rate", "pass": ["<=2"]}]}
    out = _gate(spec, {"api/a": _w(970, 1000, objective=0.99)})
    assert out["objectives"][0]["value"] == pytest.approx(3.0)
    assert out["result"] == "fail"


def test_monitors_pass_without_drift_fail_with_it_and_need_a_run() -> None:
    spec = {"objectives": [], "monitors": ["clean", "drifting", {"monitor": "silent", "key": False}]}
    monitors = {"clean": MonitorWindow(3, 0), "drifting": MonitorWindow(3, 1)}
    out = _gate(spec, {}, monitors)
    assert [o["status"] for o in out["objectives"]] == ["pass", "fail", "inconclusive"]
    assert (out["result"], out["score"]) == ("fail", 0.5)


def test_pending_until_the_window_has_passed() -> None:
    out = evaluate_gate(
        parse_gate_spec({"objectives": ["a"]}, "api"), {}, {}, END, ManualClock(END - timedelta(seconds=1))
    )
    assert out["result"] == "pending"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"objectives": [{"slo": "a", "pass": ["~1"]}]}, "objectives[0].pass[0]"),
        ({"objectives": [{"slo": "a", "indicator": "p99"}]}, "objectives[0].indicator"),
        ({"objectives": [{"slo": "a", "weight": -1}]}, "objectives[0].weight"),
        ({"objectives": [{"slo": "a", "colour": 1}]}, "objectives[0].colour"),
        ({"objectives": [{"name": "a"}]}, "objectives[0].name"),
        ({"objectives": [], "monitors": [{"monitor": ""}]}, "monitors[0].monitor"),
        ({"objectives": []}, "objectives"),
        ({"objectives": ["a"], "pass_threshold": 50, "warning_threshold": 60}, "warning_threshold"),
        ({"objectives": ["a"], "pass_threshold": 150}, "pass_threshold"),
    ],
)
def test_bad_specs_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(GateSpecError) as caught:
        parse_gate_spec(spec, "api")
    assert str(caught.value).startswith(field + ":")


def test_criteria_syntax() -> None:
    assert parse_criterion("<=+10%", "x").relative == pytest.approx(0.1)
    assert parse_criterion(">= -5%", "x").relative == pytest.approx(-0.05)
    assert parse_criterion("<0.01", "x").value == 0.01
    assert parse_criterion(">=objective", "x").objective


def test_stored_spec_reads_back_unchanged() -> None:
    spec = parse_gate_spec({"objectives": [{"slo": "a", "pass": ["<=+10%"], "key": True}], "monitors": ["m"]}, "api")
    assert parse_gate_spec(spec_json(spec), "other") == spec
