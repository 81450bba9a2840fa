"""Alertmanager's routing tree: matchers, `continue`, and inheritance of options from the parent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slo_service.core.durations import parse_duration
from slo_service.core.selector import Matcher, parse_selector

DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)
GROUP_BY_ALL = "..."


@dataclass(frozen=True)
class Route:
    """One node of the tree as configured; None means "inherit from the parent".

    `group_by=("...",)` groups by all labels. mute/active time intervals are not inherited (as in
    Alertmanager); they name entries of the dispatcher's time_intervals mapping.
    """

    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    group_by: tuple[str, ...] | None = None
    group_wait: timedelta | None = None
    group_interval: timedelta | None = None
    repeat_interval: timedelta | None = None
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()

    def __post_init__(self) -> None:
        if self.group_by is not None and GROUP_BY_ALL in self.group_by and len(self.group_by) > 1:
            raise ValueError("group_by '...' cannot be combined with other labels")
        for name, value in (
            ("group_wait", self.group_wait),
            ("group_interval", self.group_interval),
            ("repeat_interval", self.repeat_interval),
        ):
            if value is not None and value < timedelta(0):
                raise ValueError(f"{name} must not be negative")
        if self.group_interval is not None and self.group_interval <= timedelta(0):
            raise ValueError("group_interval must be positive")


@dataclass(frozen=True)
class ResolvedRoute:
    """A matched route with its options after inheritance. group_by None means all labels ('...')."""

    path: tuple[int, ...]
    receiver: str
    group_by: frozenset[str] | None
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Stable id of the route: its child indexes from the root, e.g. "0.2.1" ("" is the root)."""
        return ".".join(str(i) for i in self.path)

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels that define the alert's group on this route (missing labels are left out)."""
        if self.group_by is None:
            return dict(labels)
        return {k: labels[k] for k in sorted(self.group_by) if k in labels}


def _resolve(route: Route, parent: ResolvedRoute | None, path: tuple[int, ...]) -> ResolvedRoute:
    receiver = route.receiver if route.receiver is not None else (parent.receiver if parent else None)
    if receiver is None:
        raise ValueError("the root route needs a receiver")
    group_by: frozenset[str] | None
    if route.group_by is not None:
        group_by = None if GROUP_BY_ALL in route.group_by else frozenset(route.group_by)
    else:
        group_by = parent.group_by if parent else frozenset()

    def pick(own: timedelta | None, inherited: timedelta | None, default: timedelta) -> timedelta:
        return own if own is not None else (inherited if inherited is not None else default)

    return ResolvedRoute(
        path=path,
        receiver=receiver,
        group_by=group_by,
        group_wait=pick(route.group_wait, parent.group_wait if parent else None, DEFAULT_GROUP_WAIT),
        group_interval=pick(route.group_interval, parent.group_interval if parent else None, DEFAULT_GROUP_INTERVAL),
        repeat_interval=pick(
            route.repeat_interval, parent.repeat_interval if parent else None, DEFAULT_REPEAT_INTERVAL
        ),
        mute_time_intervals=route.mute_time_intervals,
        active_time_intervals=route.active_time_intervals,
    )


class RoutingTree:
    """A Route with every node's inherited options computed once; `match` is then cheap."""

    def __init__(self, root: Route) -> None:
        if root.mute_time_intervals or root.active_time_intervals:
            raise ValueError("the root route cannot have mute_time_intervals or active_time_intervals")
        self.root = root
        self._nodes: list[tuple[tuple[Matcher, ...], bool, ResolvedRoute, list[int]]] = []
        self._build(root, None, ())

    def _build(self, route: Route, parent: ResolvedRoute | None, path: tuple[int, ...]) -> int:
        resolved = _resolve(route, parent, path)
        index = len(self._nodes)
        children: list[int] = []
        self._nodes.append((route.matchers, route.continue_, resolved, children))
        for i, child in enumerate(route.routes):
            children.append(self._build(child, resolved, (*path, i)))
        return index

    def match(self, labels: Mapping[str, str]) -> list[ResolvedRoute]:
        """Alertmanager semantics: depth-first; the first matching child wins unless it has `continue`;
        a node with no matching child is itself the match. The root matches every alert."""
        return self._match(0, labels, root=True)

    def _match(self, index: int, labels: Mapping[str, str], root: bool = False) -> list[ResolvedRoute]:
        matchers, _, resolved, children = self._nodes[index]
        if not root and not all(m.matches(labels) for m in matchers):
            return []
        found: list[ResolvedRoute] = []
        for child in children:
            hits = self._match(child, labels)
            found.extend(hits)
            if hits and not self._nodes[child][1]:
                break
        return found or [resolved]

    def routes(self) -> list[ResolvedRoute]:
        """Every node, resolved, in depth-first order."""
        return [node[2] for node in self._nodes]


def match_routes(root: Route, labels: Mapping[str, str]) -> list[ResolvedRoute]:
    """The routes an alert with these labels is dispatched to (see RoutingTree.match)."""
    return RoutingTree(root).match(labels)


# ---------------------------------------------------------------- parsing Alertmanager's YAML shape

_UNQUOTED = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*([^\"'`]*?)\s*$")
_ROUTE_KEYS = {
    "receiver", "matchers", "continue", "group_by", "group_wait", "group_interval", "repeat_interval",
    "mute_time_intervals", "active_time_intervals", "routes",
}  # fmt: skip


def parse_matcher(text: str) -> Matcher:
    """One Alertmanager matcher string: `severity="page"`, `service=~"rank.*"` or unquoted `team=ml`."""
    if not isinstance(text, str):
        raise ValueError(f"matcher must be a string, got {text!r}")
    m = _UNQUOTED.match(text)
    if m:
        label, op, value = m.groups()
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex in matcher {text!r}: {exc}") from exc
        return Matcher(label, op, value)
    inner = text.strip()
    selector = parse_selector(inner if inner.startswith("{") else "{" + inner + "}")
    if selector.metric is not None or len(selector.matchers) != 1:
        raise ValueError(f"matcher {text!r} must be exactly one label matcher")
    return selector.matchers[0]


def parse_route(spec: Mapping[str, Any], *, _where: str = "route") -> Route:
    """Parse an Alertmanager `route:` block (dict as loaded from YAML); ValueError names the sub-route."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"{_where}: must be a mapping, got {spec!r}")
    unknown = sorted(set(spec) - _ROUTE_KEYS)
    if unknown:
        raise ValueError(f"{_where}: unknown field(s) {unknown}")
    try:
        matchers = tuple(parse_matcher(m) for m in _strings(spec, "matchers"))
        group_by = tuple(_strings(spec, "group_by")) if "group_by" in spec else None
        durations = {
            key: parse_duration(str(spec[key]), allow_zero=key == "group_wait") if spec.get(key) is not None else None
            for key in ("group_wait", "group_interval", "repeat_interval")
        }
        children = spec.get("routes") or []
        if not isinstance(children, list):
            raise ValueError("routes must be a list")
        receiver = spec.get("receiver")
        if receiver is not None and not isinstance(receiver, str):
            raise ValueError(f"receiver must be a string, got {receiver!r}")
        route = Route(
            receiver=receiver,
            matchers=matchers,
            continue_=bool(spec.get("continue", False)),
            group_by=group_by,
            mute_time_intervals=tuple(_strings(spec, "mute_time_intervals")),
            active_time_intervals=tuple(_strings(spec, "active_time_intervals")),
            routes=tuple(parse_route(c, _where=f"{_where}.routes[{i}]") for i, c in enumerate(children)),
            **durations,
        )
    except ValueError as exc:
        if str(exc).startswith(_where):
            raise
        raise ValueError(f"{_where}: {exc}") from exc
    return route


def _strings(spec: Mapping[str, Any], key: str) -> list[str]:
    value = spec.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings, got {value!r}")
    return value
