"""Quality gates, Keptn style: what a gate checks, the stored gate, and its pure evaluation (see below)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from slo_service.core.clock import Clock
from slo_service.core.gate_spec import Criterion, GateSpec, MonitorObjective, SloObjective


class GateStatus(StrEnum):
    """A gate's answer; pending until its verification window has passed and it was evaluated."""

    PENDING = "pending"
    PASS = "pass"
    WARNING = "warning"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class StoredGate:
    """A gate as stored: its request (`spec`, JSON) and, once evaluated, its result (JSON)."""

    id: str
    service: str
    deployment_id: str | None
    created_at: datetime
    window_start: datetime
    window_end: datetime
    spec: Mapping[str, Any]
    status: GateStatus = GateStatus.PENDING
    result: Mapping[str, Any] | None = None
    evaluated_at: datetime | None = None


class GateStore(Protocol):
    """Durable quality gates, so every replica answers for every gate and a restart loses none."""

    def add_gate(self, gate: StoredGate) -> StoredGate: ...

    def get_gate(self, gate_id: str) -> StoredGate | None: ...

    def due_gates(self, now: datetime, limit: int = 100) -> list[StoredGate]:
        """Pending gates whose window ended at or before `now`, oldest window end first."""
        ...

    def finish_gate(self, gate_id: str, status: GateStatus, result: Mapping[str, Any], at: datetime) -> StoredGate:
        """Store the result of a pending gate; a gate already finished keeps its first result (returned)."""
        ...


# --- evaluation -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """Good and total events of an SLO over a window."""

    good: float
    total: float


@dataclass(frozen=True)
class SloWindow:
    """What the gate needs of one SLO: its objective, its counts in the window and in the baseline window
    (the same length, just before the deployment); None for an SLO the config does not have."""

    objective: float
    window: Counts
    baseline: Counts | None = None


@dataclass(frozen=True)
class MonitorWindow:
    """Drift runs of a monitor that finished in the window with a verdict, and how many found drift."""

    runs: int
    drifted: int


def indicator_value(indicator: str, counts: Counts | None, objective: float) -> float | None:
    """The indicator over `counts` (None without events): sli, error_ratio, or burn_rate (error ratio over the
    error budget, 1 - objective)."""
    if counts is None or counts.total <= 0:
        return None
    ratio = counts.good / counts.total
    if indicator == "sli":
        return ratio
    error = 1.0 - ratio
    return error if indicator == "error_ratio" else error / (1.0 - objective)


def at_objective(indicator: str, objective: float) -> float:
    """The indicator's value exactly at the SLO's objective (what `objective` in a criterion means)."""
    return {"sli": objective, "error_ratio": 1.0 - objective}.get(indicator, 1.0)


def _check(
    criteria: tuple[Criterion, ...], value: float, anchor: float, baseline: float | None
) -> tuple[bool | None, list[dict[str, Any]]]:
    """Whether all criteria hold (None: one needs a baseline that has no data), and each one's detail."""
    met: bool | None = True
    details = []
    for c in criteria:
        target = c.target(anchor, baseline)
        ok = None if target is None else c.holds(value, target)
        details.append({"criterion": c.text, "target": target, "met": ok})
        if ok is None:
            met = None
        elif not ok and met is not None:
            met = False
    return met, details


def _slo_result(o: SloObjective, data: SloWindow | None) -> dict[str, Any]:
    result: dict[str, Any] = {"name": o.slo, "kind": "slo", "indicator": o.indicator, "key": o.key, "weight": o.weight}
    if data is None:
        return {**result, "status": GateStatus.INCONCLUSIVE, "value": None, "reason": "no such SLO"}
    value = indicator_value(o.indicator, data.window, data.objective)
    baseline = indicator_value(o.indicator, data.baseline, data.objective)
    anchor = at_objective(o.indicator, data.objective)
    result.update(value=value, baseline=baseline, good=data.window.good, total=data.window.total)
    if value is None:
        return {**result, "status": GateStatus.INCONCLUSIVE, "reason": "no events in the window"}
    passed, details = _check(o.pass_criteria, value, anchor, baseline)
    result["pass"] = details
    if passed is None:
        return {**result, "status": GateStatus.INCONCLUSIVE, "reason": "no events in the baseline window"}
    if passed:
        return {**result, "status": GateStatus.PASS}
    if o.warning_criteria:
        warned, details = _check(o.warning_criteria, value, anchor, baseline)
        result["warning"] = details
        if warned:
            return {**result, "status": GateStatus.WARNING}
    return {**result, "status": GateStatus.FAIL}


def _monitor_result(m: MonitorObjective, data: MonitorWindow | None) -> dict[str, Any]:
    result: dict[str, Any] = {"name": m.monitor, "kind": "monitor", "key": m.key, "weight": m.weight}
    if data is None or data.runs == 0:
        return {**result, "status": GateStatus.INCONCLUSIVE, "value": None, "reason": "no drift run in the window"}
    result.update(value=data.drifted / data.runs, runs=data.runs, drifted=data.drifted)
    return {**result, "status": GateStatus.FAIL if data.drifted else GateStatus.PASS}


_POINTS = {GateStatus.PASS: 1.0, GateStatus.WARNING: 0.5, GateStatus.FAIL: 0.0}


def evaluate_gate(
    spec: GateSpec,
    slos: Mapping[str, SloWindow],
    monitors: Mapping[str, MonitorWindow],
    window_end: datetime,
    clock: Clock,
) -> dict[str, Any]:
    """The gate's answer, Keptn style: an objective scores its weight on pass, half on warning, nothing on
    fail; objectives without data (inconclusive) are left out of the score. The gate is
    - pending before `window_end`;
    - inconclusive if no objective had data, or a key objective had none;
    - fail if a key objective failed;
    - otherwise pass / warning / fail by the score against the pass and warning thresholds (percent)."""
    if clock.now() < window_end:
        return {"result": GateStatus.PENDING, "score": None, "objectives": []}
    results = [_slo_result(o, slos.get(o.slo)) for o in spec.objectives]
    results += [_monitor_result(m, monitors.get(m.monitor)) for m in spec.monitors]
    conclusive = [r for r in results if r["status"] is not GateStatus.INCONCLUSIVE]
    weight = sum(r["weight"] for r in conclusive)
    points = sum(r["weight"] * _POINTS[r["status"]] for r in conclusive)
    score: float | None = None
    if conclusive:  # all weights 0 counts as a full score: nothing weighed against the deploy
        score = points / weight if weight > 0 else 1.0
    key_statuses = {r["status"] for r in results if r["key"]}
    if score is None or GateStatus.INCONCLUSIVE in key_statuses:
        status = GateStatus.INCONCLUSIVE
        reason = "no objective had data" if score is None else "a key objective had no data"
    elif GateStatus.FAIL in key_statuses:
        status, reason = GateStatus.FAIL, "a key objective failed"
    elif score * 100.0 >= spec.pass_threshold:
        status, reason = GateStatus.PASS, f"score {score * 100:.1f}% >= pass threshold {spec.pass_threshold:g}%"
    elif score * 100.0 >= spec.warning_threshold:
        status = GateStatus.WARNING
        reason = f"score {score * 100:.1f}% >= warning threshold {spec.warning_threshold:g}%"
    else:
        status, reason = GateStatus.FAIL, f"score {score * 100:.1f}% < warning threshold {spec.warning_threshold:g}%"
    for r in results:
        r["status"] = str(r["status"])
    return {"result": str(status), "score": score, "reason": reason, "objectives": results}
