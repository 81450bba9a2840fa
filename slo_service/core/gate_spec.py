"""What a quality gate checks: objectives on SLOs and drift monitors, Keptn-style criteria, score thresholds.

A criterion is an operator and a target: `<=0.01`, `>=objective` (the indicator's value at the SLO's
objective: the objective itself for `sli`, 1 - objective for `error_ratio`, 1 for `burn_rate`), or a change
relative to the baseline, the same indicator over the same-length window before the deployment:
`<=+10%` (at most 10% above the baseline), `>=-1%`. Pure: parsing raises GateSpecError naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

INDICATORS = ("sli", "error_ratio", "burn_rate")
DEFAULT_PASS = {"sli": ">=objective", "error_ratio": "<=objective", "burn_rate": "<=1"}
DEFAULT_PASS_THRESHOLD = 90.0
DEFAULT_WARNING_THRESHOLD = 75.0
MAX_OBJECTIVES = 500
MAX_CRITERIA = 10

_CRITERION = re.compile(
    r"^\s*(?P<op><=|>=|<|>|=)\s*(?:(?P<objective>objective)|(?P<rel>[+-]\d+(?:\.\d+)?)\s*%|(?P<abs>[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))\s*$"
)


class GateSpecError(ValueError):
    """A gate request that cannot be evaluated; the message starts with the field, e.g. `objectives[1].pass[0]`."""


@dataclass(frozen=True)
class Criterion:
    """`op` against an absolute `value`, the indicator at the SLO's objective, or the baseline changed by
    `relative` (a fraction: 0.1 for +10%)."""

    text: str
    op: str
    value: float | None = None
    relative: float | None = None
    objective: bool = False

    @property
    def needs_baseline(self) -> bool:
        return self.relative is not None

    def target(self, at_objective: float, baseline: float | None) -> float | None:
        """The number the indicator is compared with; None if it needs a baseline and there is none."""
        if self.objective:
            return at_objective
        if self.relative is not None:
            return None if baseline is None else baseline * (1.0 + self.relative)
        return self.value

    def holds(self, value: float, target: float) -> bool:
        if self.op == "<":
            return value < target
        if self.op == "<=":
            return value <= target
        if self.op == ">":
            return value > target
        if self.op == ">=":
            return value >= target
        return math.isclose(value, target, rel_tol=1e-9, abs_tol=1e-12)


def parse_criterion(text: object, where: str) -> Criterion:
    """One criterion such as `<=+10%`; GateSpecError naming `where`."""
    if not isinstance(text, str):
        raise GateSpecError(f"{where}: a criterion is a string such as '>=objective', '<=0.01' or '<=+10%'")
    m = _CRITERION.match(text)
    if m is None:
        raise GateSpecError(
            f"{where}: {text!r} is not a criterion: an operator (<, <=, >, >=, =) and a number, 'objective' "
            "or a change from the baseline such as '+10%'"
        )
    op = m["op"]
    if m["objective"]:
        return Criterion(text.strip(), op, objective=True)
    if m["rel"] is not None:
        return Criterion(text.strip(), op, relative=float(m["rel"]) / 100.0)
    value = float(m["abs"])
    if not math.isfinite(value):
        raise GateSpecError(f"{where}: {text!r} is not a finite number")
    return Criterion(text.strip(), op, value=value)


@dataclass(frozen=True)
class SloObjective:
    """Check SLO `slo` (a key, `service/name`) over the gate's window."""

    slo: str
    indicator: str = "sli"
    pass_criteria: tuple[Criterion, ...] = ()
    warning_criteria: tuple[Criterion, ...] = ()
    key: bool = False
    weight: float = 1.0


@dataclass(frozen=True)
class MonitorObjective:
    """Drift monitor `monitor` passes when it ran in the window and no run found drift."""

    monitor: str
    key: bool = False
    weight: float = 1.0


@dataclass(frozen=True)
class GateSpec:
    objectives: tuple[SloObjective, ...]
    monitors: tuple[MonitorObjective, ...] = ()
    pass_threshold: float = DEFAULT_PASS_THRESHOLD
    warning_threshold: float = DEFAULT_WARNING_THRESHOLD


def _number(data: Mapping[str, Any], name: str, where: str, default: float, low: float, high: float) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= float(value) <= high:
        raise GateSpecError(f"{where}{name}: a number from {low:g} to {high:g}")
    return float(value)


def _flag(data: Mapping[str, Any], name: str, where: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise GateSpecError(f"{where}{name}: true or false")
    return value


def _criteria(data: Mapping[str, Any], name: str, where: str, default: tuple[str, ...]) -> tuple[Criterion, ...]:
    raw = data.get(name, list(default))
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or len(raw) > MAX_CRITERIA:
        raise GateSpecError(f"{where}{name}: a list of at most {MAX_CRITERIA} criteria")
    return tuple(parse_criterion(c, f"{where}{name}[{i}]") for i, c in enumerate(raw))


def _known(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise GateSpecError(f"{where}{unknown[0]}: unknown field (expected one of {', '.join(sorted(allowed))})")


def parse_objective(data: object, index: int, service: str) -> SloObjective:
    """One entry of `objectives`: a string (an SLO name, defaults for the rest) or a mapping."""
    where = f"objectives[{index}]."
    if isinstance(data, str):
        data = {"slo": data}
    if not isinstance(data, Mapping):
        raise GateSpecError(f"objectives[{index}]: an SLO name or a mapping with 'slo'")
    _known(data, {"slo", "indicator", "pass", "warning", "key", "weight"}, where)
    name = data.get("slo")
    if not isinstance(name, str) or not name.strip():
        raise GateSpecError(f"{where}slo: the SLO's name (or service/name)")
    indicator = data.get("indicator", "sli")
    if indicator not in INDICATORS:
        raise GateSpecError(f"{where}indicator: one of {', '.join(INDICATORS)}")
    pass_criteria = _criteria(data, "pass", where, (DEFAULT_PASS[indicator],))
    if not pass_criteria:
        raise GateSpecError(f"{where}pass: at least one criterion")
    return SloObjective(
        slo=name if "/" in name else f"{service}/{name}",
        indicator=indicator,
        pass_criteria=pass_criteria,
        warning_criteria=_criteria(data, "warning", where, ()),
        key=_flag(data, "key", where),
        weight=_number(data, "weight", where, 1.0, 0.0, 1000.0),
    )


def parse_monitor(data: object, index: int) -> MonitorObjective:
    where = f"monitors[{index}]."
    if isinstance(data, str):
        data = {"monitor": data}
    if not isinstance(data, Mapping):
        raise GateSpecError(f"monitors[{index}]: a monitor name or a mapping with 'monitor'")
    _known(data, {"monitor", "key", "weight"}, where)
    name = data.get("monitor")
    if not isinstance(name, str) or not name.strip():
        raise GateSpecError(f"{where}monitor: the drift monitor's name")
    return MonitorObjective(name, _flag(data, "key", where), _number(data, "weight", where, 1.0, 0.0, 1000.0))


def parse_gate_spec(data: Mapping[str, Any], service: str, default_slos: tuple[str, ...] = ()) -> GateSpec:
    """The checks of a gate request (fields objectives, monitors, pass_threshold, warning_threshold);
    without `objectives`, every SLO in `default_slos` with its default criterion."""
    raw = data.get("objectives")
    if raw is None:
        raw = list(default_slos)
    if not isinstance(raw, list) or len(raw) > MAX_OBJECTIVES:
        raise GateSpecError(f"objectives: a list of at most {MAX_OBJECTIVES} SLOs")
    monitors_raw = data.get("monitors") or []
    if not isinstance(monitors_raw, list) or len(monitors_raw) > MAX_OBJECTIVES:
        raise GateSpecError(f"monitors: a list of at most {MAX_OBJECTIVES} drift monitors")
    objectives = tuple(parse_objective(o, i, service) for i, o in enumerate(raw))
    monitors = tuple(parse_monitor(m, i) for i, m in enumerate(monitors_raw))
    if not objectives and not monitors:
        raise GateSpecError("objectives: nothing to check (the service has no SLOs and no monitors were given)")
    pass_threshold = _number(data, "pass_threshold", "", DEFAULT_PASS_THRESHOLD, 0.0, 100.0)
    warning_threshold = _number(data, "warning_threshold", "", DEFAULT_WARNING_THRESHOLD, 0.0, 100.0)
    if warning_threshold > pass_threshold:
        raise GateSpecError("warning_threshold: must not exceed pass_threshold")
    return GateSpec(objectives, monitors, pass_threshold, warning_threshold)


def spec_json(spec: GateSpec) -> dict[str, Any]:
    """The canonical JSON of a spec (what is stored; `parse_gate_spec` reads it back unchanged)."""
    return {
        "objectives": [
            {
                "slo": o.slo,
                "indicator": o.indicator,
                "pass": [c.text for c in o.pass_criteria],
                "warning": [c.text for c in o.warning_criteria],
                "key": o.key,
                "weight": o.weight,
            }
            for o in spec.objectives
        ],
        "monitors": [{"monitor": m.monitor, "key": m.key, "weight": m.weight} for m in spec.monitors],
        "pass_threshold": spec.pass_threshold,
        "warning_threshold": spec.warning_threshold,
    }
