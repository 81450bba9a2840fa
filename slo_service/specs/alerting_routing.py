"""The `alerting` route, inhibit rules and time intervals (Alertmanager's shapes, parsed by the core)."""

from __future__ import annotations

import re
from typing import Any

from slo_service.core.routing.inhibit import InhibitRule, parse_inhibit_rule
from slo_service.core.routing.time_intervals import TimeInterval, parse_named_time_intervals, parse_time_interval
from slo_service.core.routing.tree import Route, RoutingTree, parse_route
from slo_service.specs.alerting_common import SECTION, entries, refine, repeated_names
from slo_service.specs.problems import SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["build_inhibit_rules", "build_route", "build_time_intervals"]


def build_time_intervals(file: SpecFile, items: list[Any]) -> dict[str, tuple[TimeInterval, ...]]:
    """The named time intervals, parsed by the core; a refused one is reported at the entry at fault."""
    repeated = repeated_names(file, "time_intervals", "time interval", items)
    out: dict[str, tuple[TimeInterval, ...]] = {}
    for path, item in entries(file, "time_intervals", items):
        try:
            parsed = parse_named_time_intervals([item])
        except ValueError as exc:
            file.add(_interval_error_path(path, item), str(exc))
            continue
        if path[-1] not in repeated:
            out.update(parsed)
    return out


def _interval_error_path(path: YPath, item: dict[str, Any]) -> YPath:
    """The entry of a named time interval the core parser refused, found by parsing entries one by one."""
    if not isinstance(item.get("name"), str) or not item.get("name"):
        return (*path, "name")
    listed = item.get("time_intervals")
    if not isinstance(listed, list):
        return (*path, "time_intervals")
    for j, entry in enumerate(listed):
        try:
            parse_time_interval(entry)
        except (ValueError, TypeError, AttributeError):
            return (*path, "time_intervals", j)
    return path


def build_route(file: SpecFile, raw: Any, receivers: set[str], intervals: set[str]) -> Route | None:
    """The routing tree, parsed by the core, with its receivers and time intervals checked by name."""
    path: YPath = (*SECTION, "route")
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping, got {describe(raw)}")
        return None
    try:
        route = parse_route(raw)
    except ValueError as exc:
        _route_error(file, raw, str(exc))
        return None
    ok = _route_refs(file, route, raw, path, receivers, intervals)
    try:
        RoutingTree(route)
    except ValueError as exc:
        message = str(exc)
        file.add((*path, "receiver") if "receiver" in message else path, message)
        return None
    return route if ok else None


def _route_error(file: SpecFile, raw: dict[str, Any], message: str) -> None:
    """Locate the core parser's `route.routes[1]: ...` message at the sub-route (or field) it names."""
    path: YPath = (*SECTION, "route")
    node: Any = raw
    m = re.match(r"^route((?:\.routes\[\d+\])*): (.*)$", message, re.DOTALL)
    if m is None:
        file.add(path, message)
        return
    for index in re.findall(r"\[(\d+)\]", m.group(1)):
        path = (*path, "routes", int(index))
        node = node["routes"][int(index)]
    rest = m.group(2)
    file.add(refine(path, node, rest), rest)


def _route_refs(
    file: SpecFile, route: Route, raw: dict[str, Any], path: YPath, receivers: set[str], intervals: set[str]
) -> bool:
    ok = True
    if route.receiver is not None and route.receiver not in receivers:
        known = ", ".join(sorted(receivers)) if receivers else "none are defined"
        file.add((*path, "receiver"), f"unknown receiver {route.receiver!r}; known receivers: {known}")
        ok = False
    for key, names in (
        ("mute_time_intervals", route.mute_time_intervals),
        ("active_time_intervals", route.active_time_intervals),
    ):
        for i, name in enumerate(names):
            if name not in intervals:
                known = ", ".join(sorted(intervals)) if intervals else "none are defined"
                file.add((*path, key, i), f"unknown time interval {name!r}; known time intervals: {known}")
                ok = False
    for i, child in enumerate(route.routes):
        ok = _route_refs(file, child, raw["routes"][i], (*path, "routes", i), receivers, intervals) and ok
    return ok


def build_inhibit_rules(file: SpecFile, items: list[Any]) -> list[InhibitRule]:
    """The inhibit rules, parsed by the core; a refused one is reported at the field its message names."""
    out: list[InhibitRule] = []
    for path, item in entries(file, "inhibit_rules", items):
        try:
            out.append(parse_inhibit_rule(item))
        except ValueError as exc:
            message = str(exc).removeprefix("inhibit rule: ")
            file.add(refine(path, item, message), message)
    return out
