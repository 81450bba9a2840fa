"""The `alerting` users, on-call schedules and escalation policies (PagerDuty's shapes)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from slo_service.core.oncall.escalation import EscalationLevel, EscalationPolicy
from slo_service.core.oncall.schedule import Layer, Override, Restriction, Rotation, Schedule
from slo_service.core.routing.time_intervals import WEEKDAYS
from slo_service.specs.alerting_common import SECTION, entries, refine, repeated_names
from slo_service.specs.alerting_schema import (
    EscalationLevelSpec,
    EscalationPolicySpec,
    LayerSpec,
    RestrictionSpec,
    ScheduleSpec,
    UserSpec,
)
from slo_service.specs.checks import check_name, duration_at, valid_timezone
from slo_service.specs.problems import SpecFile, describe, validate_spec
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["build_escalation_policies", "build_schedules", "build_users"]


def build_users(file: SpecFile, raw: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The users on-call schedules and escalation levels name, with their contact fields."""
    out: dict[str, dict[str, str]] = {}
    for name, value in raw.items():
        path: YPath = (*SECTION, "users", name)
        ok = check_name(file, path, name)
        spec = validate_spec(file, UserSpec, {} if value is None else value, path)
        if ok and spec is not None:
            out[name] = {k: v for k, v in spec.model_dump().items() if v is not None}
    return out


def build_schedules(file: SpecFile, items: list[Any], users: set[str]) -> dict[str, Schedule]:
    """The on-call schedules: layers of rotations (with restrictions) and overrides, by name."""
    repeated = repeated_names(file, "schedules", "schedule", items)
    out: dict[str, Schedule] = {}
    for path, item in entries(file, "schedules", items):
        spec = validate_spec(file, ScheduleSpec, item, path)
        if spec is None:
            continue
        schedule = _schedule(file, path, spec, users)
        if schedule is not None and path[-1] not in repeated:
            out[schedule.name] = schedule
    return out


def _member(file: SpecFile, path: YPath, member: str, users: set[str]) -> bool:
    if member in users:
        return True
    known = ", ".join(sorted(users)) if users else "none are defined"
    file.add(path, f"unknown user {member!r}; known users (alerting.users): {known}")
    return False


def _schedule(file: SpecFile, path: YPath, spec: ScheduleSpec, users: set[str]) -> Schedule | None:
    ok = check_name(file, (*path, "name"), spec.name)
    if not valid_timezone(spec.timezone):
        file.add(
            (*path, "timezone"),
            f"unknown timezone {spec.timezone!r}; use an IANA time zone name such as UTC or Europe/Berlin",
        )
        return None
    zone = ZoneInfo(spec.timezone)
    if not spec.layers:
        file.add((*path, "layers"), "a schedule needs at least one layer")
        ok = False
    layers: list[Layer] = []
    for i, layer_spec in enumerate(spec.layers):
        layer = _layer(file, (*path, "layers", i), layer_spec, spec.timezone, zone, users)
        ok = ok and layer is not None
        if layer is not None:
            layers.append(layer)
    overrides: list[Override] = []
    for i, ov in enumerate(spec.overrides):
        ov_path: YPath = (*path, "overrides", i)
        start = _datetime(file, (*ov_path, "start"), ov.start, zone)
        end = _datetime(file, (*ov_path, "end"), ov.end, zone)
        member_ok = _member(file, (*ov_path, "member"), ov.member, users)
        if start is None or end is None or not member_ok:
            ok = False
            continue
        try:
            overrides.append(Override(start, end, ov.member))
        except ValueError as exc:
            file.add((*ov_path, "end"), str(exc))
            ok = False
    if not ok:
        return None
    return Schedule(spec.name, spec.timezone, tuple(layers), tuple(overrides))


def _layer(
    file: SpecFile, path: YPath, spec: LayerSpec, timezone: str, zone: ZoneInfo, users: set[str]
) -> Layer | None:
    rot = spec.rotation
    rot_path: YPath = (*path, "rotation")
    ok = bool(spec.name.strip())
    if not ok:
        file.add((*path, "name"), "a layer needs a non-empty name")
    if not rot.members:
        file.add((*rot_path, "members"), "a rotation needs at least one member")
        ok = False
    for i, member in enumerate(rot.members):
        ok = _member(file, (*rot_path, "members", i), member, users) and ok
    length = duration_at(file, (*rot_path, "length"), rot.length)
    start = _datetime(file, (*rot_path, "start"), rot.start, zone)
    end = None if spec.end is None else _datetime(file, (*path, "end"), spec.end, zone)
    restrictions: list[Restriction] = []
    for i, r in enumerate(spec.restrictions):
        restriction = _restriction(file, (*path, "restrictions", i), r)
        ok = ok and restriction is not None
        if restriction is not None:
            restrictions.append(restriction)
    if not ok or length is None or start is None or (spec.end is not None and end is None):
        return None
    try:
        rotation = Rotation(tuple(rot.members), length, start, tuple(restrictions))
        return Layer(spec.name, rotation, timezone, end)
    except ValueError as exc:
        file.add(rot_path, str(exc))
        return None


def _restriction(file: SpecFile, path: YPath, spec: RestrictionSpec) -> Restriction | None:
    ok = True
    days: list[int] = []
    for i, day in enumerate(spec.weekdays if spec.weekdays is not None else WEEKDAYS):
        if day.strip().lower() in WEEKDAYS:
            days.append(WEEKDAYS.index(day.strip().lower()))
        else:
            file.add((*path, "weekdays", i), f"unknown weekday {day!r}; use monday..sunday")
            ok = False
    start = _clock(file, (*path, "start"), spec.start)
    end = _clock(file, (*path, "end"), spec.end)
    if not ok or start is None or end is None:
        return None
    try:
        return Restriction(start, end, tuple(sorted(set(days))))
    except ValueError as exc:
        file.add((*path, "weekdays"), str(exc))
        return None


def build_escalation_policies(
    file: SpecFile, items: list[Any], schedules: set[str], users: set[str]
) -> dict[str, EscalationPolicy]:
    """The escalation policies, whose levels name schedules and users."""
    repeated = repeated_names(file, "escalation_policies", "escalation policy", items)
    out: dict[str, EscalationPolicy] = {}
    for path, item in entries(file, "escalation_policies", items):
        spec = validate_spec(file, EscalationPolicySpec, item, path)
        if spec is None:
            continue
        ok = check_name(file, (*path, "name"), spec.name)
        levels: list[EscalationLevel] = []
        for i, level in enumerate(spec.levels):
            lvl = _level(file, (*path, "levels", i), level, schedules, users)
            ok = ok and lvl is not None
            if lvl is not None:
                levels.append(lvl)
        if not ok:
            continue
        try:
            policy = EscalationPolicy(spec.name, tuple(levels), spec.repeat)
        except ValueError as exc:
            field = "repeat" if "repeat" in str(exc) else "levels"
            file.add((*path, field), str(exc))
            continue
        if path[-1] not in repeated:
            out[spec.name] = policy
    return out


def _level(
    file: SpecFile, path: YPath, spec: EscalationLevelSpec, schedules: set[str], users: set[str]
) -> EscalationLevel | None:
    ok = True
    for i, target in enumerate(spec.targets):
        kind, sep, name = target.partition(":")
        if not sep:
            kind, name = "user", target
        t_path: YPath = (*path, "targets", i)
        if kind == "schedule":
            if name not in schedules:
                known = ", ".join(sorted(schedules)) if schedules else "none are defined"
                file.add(t_path, f"unknown schedule {name!r}; known schedules: {known}")
                ok = False
        elif kind == "user":
            ok = _member(file, t_path, name, users) and ok
        # other kinds are refused by EscalationLevel below, with its message
    delay = duration_at(file, (*path, "delay"), spec.delay)
    if not ok or delay is None:
        return None
    try:
        return EscalationLevel(tuple(spec.targets), delay)
    except ValueError as exc:
        file.add(refine(path, {"targets": spec.targets}, str(exc)), str(exc))
        return None


def _datetime(file: SpecFile, path: YPath, value: Any, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 date-time (or date: midnight); one without an offset is read in the schedule's time zone."""
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):  # an unquoted 2026-11-02: midnight
        parsed = datetime.combine(value, time(0))
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        file.add(
            path,
            f'expected an ISO 8601 date-time such as "2026-11-02T09:00:00+01:00", got {describe(value)}',
        )
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def _clock(file: SpecFile, path: YPath, value: Any) -> time | None:
    """A local time of day "HH:MM"; "24:00" is the end of the day."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip()) if isinstance(value, str) else None
    if m is None:
        hint = " (quote it: YAML reads an unquoted 9:00 as a number)" if isinstance(value, int) else ""
        file.add(path, f'expected a time of day such as "09:00", got {describe(value)}{hint}')
        return None
    hours, minutes = int(m.group(1)), int(m.group(2))
    if (hours, minutes) == (24, 0):
        return time(0)
    if hours > 23 or minutes > 59:
        file.add(path, f"time {value!r} is outside 00:00..24:00")
        return None
    return time(hours, minutes)
