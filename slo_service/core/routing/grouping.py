"""A pure, tick-driven Alertmanager dispatcher: aggregation groups, group_wait / group_interval /
repeat_interval, silences, inhibition, mute/active time intervals and resolved notifications.

The caller passes the full current set of alerts (firing and recently resolved) on every tick
together with the silences and the time; no clock is read and no I/O is done. An alert that was in
a group and is missing from a later tick is treated as resolved at that tick.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from slo_service.core.routing.inhibit import InhibitionIndex, InhibitRule
from slo_service.core.routing.silences import Silence
from slo_service.core.routing.time_intervals import TimeInterval, in_named_intervals
from slo_service.core.routing.tree import ResolvedRoute, Route, RoutingTree

STATE_VERSION = 1


@dataclass(frozen=True)
class RoutableAlert:
    """What routing needs of an alert; ends_at None (or in the future) means firing."""

    fingerprint: str
    labels: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None

    def resolved(self, now: datetime) -> bool:
        return self.ends_at is not None and self.ends_at <= now


@dataclass(frozen=True)
class Notification:
    """One message for a receiver: the group's un-muted firing alerts, plus its newly resolved ones
    when the receiver has send_resolved."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[RoutableAlert, ...]
    route: ResolvedRoute
    firing: int
    resolved: int


def group_key(route: ResolvedRoute, group_labels: Mapping[str, str]) -> str:
    """Stable key of an aggregation group: route path, receiver and the grouping label values."""
    inner = ",".join(f"{k}={v!r}" for k, v in sorted(group_labels.items()))
    return f"{route.key or 'root'}:{route.receiver}:{{{inner}}}"


@dataclass
class _Group:
    key: str
    route: ResolvedRoute
    group_labels: dict[str, str]
    created_at: datetime
    next_flush_at: datetime
    has_flushed: bool = False
    last_notified_at: datetime | None = None
    sent_firing: frozenset[str] = frozenset()
    sent_resolved: frozenset[str] = frozenset()
    members: dict[str, RoutableAlert] = field(default_factory=dict)


@dataclass
class _Cached:
    labels: Mapping[str, str]
    placements: list[tuple[ResolvedRoute, dict[str, str], str]]


class Dispatcher:
    """Groups alerts per matched route and decides, on each tick, which notifications to send."""

    def __init__(
        self,
        root: Route,
        time_intervals: Mapping[str, TimeInterval | Sequence[TimeInterval]] | None = None,
        inhibit_rules: Sequence[InhibitRule] = (),
        receivers_send_resolved: Mapping[str, bool] | None = None,
    ) -> None:
        self.tree = RoutingTree(root)
        self.time_intervals: dict[str, tuple[TimeInterval, ...]] = {
            name: (value,) if isinstance(value, TimeInterval) else tuple(value)
            for name, value in (time_intervals or {}).items()
        }
        for route in self.tree.routes():
            for name in (*route.mute_time_intervals, *route.active_time_intervals):
                if name not in self.time_intervals:
                    raise ValueError(f"route {route.key or 'root'} references undefined time interval {name!r}")
        self.inhibit_rules = tuple(inhibit_rules)
        self.send_resolved = dict(receivers_send_resolved or {})
        self._groups: dict[str, _Group] = {}
        self._cache: dict[str, _Cached] = {}
        self._firing_labels: list[Mapping[str, str]] = []  # of the last tick: the inhibition sources

    # ------------------------------------------------------------------ ticking

    def tick(self, alerts: Sequence[RoutableAlert], silences: Sequence[Silence], now: datetime) -> list[Notification]:
        """Take the current alerts in, flush the groups that are due, return what to send (by group key)."""
        if now.tzinfo is None:
            raise ValueError("Dispatcher.tick needs an aware datetime")
        seen: dict[str, set[str]] = {}
        cache: dict[str, _Cached] = {}
        for alert in alerts:
            placements = self._placements(alert, cache)
            resolved = alert.resolved(now)
            for route, labels, key in placements:
                group = self._groups.get(key)
                if group is None:
                    if resolved:
                        continue  # a resolved alert never opens a group
                    group = _Group(key, route, labels, created_at=now, next_flush_at=now + route.group_wait)
                    self._groups[key] = group
                elif resolved and alert.fingerprint not in group.members:
                    continue  # already resolved and flushed out of the group
                group.route = route
                group.members[alert.fingerprint] = alert
                seen.setdefault(key, set()).add(alert.fingerprint)
                if not group.has_flushed and not resolved and alert.starts_at + route.group_wait <= now:
                    group.next_flush_at = min(group.next_flush_at, now)  # old alert: don't wait again
        self._cache = cache
        self._firing_labels = [a.labels for a in alerts if not a.resolved(now)]
        for key, group in self._groups.items():
            present = seen.get(key, set())
            for fp, member in list(group.members.items()):
                if fp not in present and not member.resolved(now):
                    group.members[fp] = replace(member, ends_at=now)

        due = sorted(k for k, g in self._groups.items() if g.next_flush_at <= now)
        if not due:
            return []
        index = self._inhibition()
        active = [s for s in silences if s.active(now)]
        out: list[Notification] = []
        muted: dict[str, bool] = {}  # fingerprint -> silenced or inhibited, shared by the alert's groups
        for key in due:
            group = self._groups[key]
            note = self._flush(group, now, index, active, muted)
            if note is not None:
                out.append(note)
            group.has_flushed = True
            group.next_flush_at = now + group.route.group_interval
            for fp, member in list(group.members.items()):
                if member.resolved(now):
                    del group.members[fp]
            if not group.members:
                del self._groups[key]
        return out

    def _inhibition(self) -> InhibitionIndex | None:
        return InhibitionIndex(self.inhibit_rules, self._firing_labels) if self.inhibit_rules else None

    def muted_groups(self, silences: Sequence[Silence], now: datetime, keys: Iterable[str] | None = None) -> set[str]:
        """Keys of the groups nobody may be notified about now: every firing member silenced or
        inhibited, or the route outside its active / inside its mute time intervals (as of the last
        tick). Escalation pauses for these groups: a silence is a promise that nobody is paged.
        `keys` limits the check to those groups (the ones that may escalate)."""
        index = self._inhibition()
        active = [s for s in silences if s.active(now)]
        out: set[str] = set()
        wanted = self._groups.keys() if keys is None else [k for k in keys if k in self._groups]
        for key in wanted:
            group = self._groups[key]
            if self._time_muted(group.route, now):
                out.add(key)
                continue
            firing = [a for a in group.members.values() if not a.resolved(now)]
            if all(
                any(s.mutes(a.labels, now) for s in active) or (index is not None and index.inhibited(a.labels))
                for a in firing
            ):
                out.add(key)
        return out

    def _time_muted(self, route: ResolvedRoute, now: datetime) -> bool:
        named = self.time_intervals
        if route.active_time_intervals and not in_named_intervals(route.active_time_intervals, named, now):
            return True
        return bool(route.mute_time_intervals) and in_named_intervals(route.mute_time_intervals, named, now)

    def _placements(
        self, alert: RoutableAlert, cache: dict[str, _Cached]
    ) -> list[tuple[ResolvedRoute, dict[str, str], str]]:
        cached = cache.get(alert.fingerprint) or self._cache.get(alert.fingerprint)
        if cached is None or cached.labels != alert.labels:
            placements = []
            for route in self.tree.match(alert.labels):
                labels = route.group_labels(alert.labels)
                placements.append((route, labels, group_key(route, labels)))
            cached = _Cached(dict(alert.labels), placements)
        cache[alert.fingerprint] = cached
        return cached.placements

    def _flush(
        self,
        group: _Group,
        now: datetime,
        index: InhibitionIndex | None,
        silences: Sequence[Silence],
        muted: dict[str, bool],
    ) -> Notification | None:
        route = group.route
        if self._time_muted(route, now):
            return None
        firing: list[RoutableAlert] = []
        resolved: list[RoutableAlert] = []
        for fp in sorted(group.members):
            alert = group.members[fp]
            mute = muted.get(fp)
            if mute is None:
                mute = any(s.mutes(alert.labels, now) for s in silences) or (
                    index is not None and index.inhibited(alert.labels)
                )
                muted[fp] = mute
            if mute:
                continue
            (resolved if alert.resolved(now) else firing).append(alert)
        if not firing and not resolved:
            # Every member is muted: like Alertmanager's pipeline (MultiStage stops on no alerts), the
            # notification log is left alone, so when a silence expires on an unchanged alert that was
            # notified before, the next notification waits for repeat_interval instead of coming at once.
            return None
        firing_fps = frozenset(a.fingerprint for a in firing)
        resolved_fps = frozenset(a.fingerprint for a in resolved)
        send_resolved = self.send_resolved.get(route.receiver, True)
        if not self._needs_update(group, firing_fps, resolved_fps, send_resolved, now):
            return None
        group.last_notified_at = now
        group.sent_firing = firing_fps
        group.sent_resolved = resolved_fps if send_resolved else frozenset()
        sent = firing + resolved if send_resolved else firing
        if not sent:
            return None
        return Notification(
            receiver=route.receiver,
            group_key=group.key,
            group_labels=dict(group.group_labels),
            alerts=tuple(sent),
            route=route,
            firing=len(firing),
            resolved=len(sent) - len(firing),
        )

    @staticmethod
    def _needs_update(
        group: _Group, firing: frozenset[str], resolved: frozenset[str], send_resolved: bool, now: datetime
    ) -> bool:
        # Alertmanager's DedupStage.needsUpdate
        if group.last_notified_at is None:
            return bool(firing)
        if not firing <= group.sent_firing:
            return True
        if not firing:
            return bool(group.sent_firing)
        if send_resolved and not resolved <= group.sent_resolved:
            return True
        return group.last_notified_at + group.route.repeat_interval <= now

    # ------------------------------------------------------------------ introspection and persistence

    def next_flush_at(self) -> datetime | None:
        """When the earliest group is next due (tick then, or on new alerts); None with no groups."""
        return min((g.next_flush_at for g in self._groups.values()), default=None)

    def groups(self) -> dict[str, tuple[str, ...]]:
        """Group key -> fingerprints currently in the group (for debugging and the API)."""
        return {k: tuple(sorted(g.members)) for k, g in sorted(self._groups.items())}

    def state(self) -> dict[str, Any]:
        """Plain JSON-able dict of every group's timers and last-sent sets, to persist across restarts."""
        return {
            "version": STATE_VERSION,
            "groups": [_group_to_dict(g) for _, g in sorted(self._groups.items())],
        }

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        root: Route,
        time_intervals: Mapping[str, TimeInterval | Sequence[TimeInterval]] | None = None,
        inhibit_rules: Sequence[InhibitRule] = (),
        receivers_send_resolved: Mapping[str, bool] | None = None,
    ) -> Dispatcher:
        """A dispatcher that continues where `state()` left off (no group_wait again, no re-page)."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported dispatcher state version {state.get('version')!r}")
        dispatcher = cls(root, time_intervals, inhibit_rules, receivers_send_resolved)
        for raw in state.get("groups", []):
            group = _group_from_dict(raw)
            dispatcher._groups[group.key] = group
        return dispatcher


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: Any) -> datetime:
    result = datetime.fromisoformat(value)
    if result.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} in dispatcher state")
    return result


def _group_to_dict(g: _Group) -> dict[str, Any]:
    r = g.route
    return {
        "key": g.key,
        "route": {
            "path": list(r.path),
            "receiver": r.receiver,
            "group_by": None if r.group_by is None else sorted(r.group_by),
            "group_wait": r.group_wait.total_seconds(),
            "group_interval": r.group_interval.total_seconds(),
            "repeat_interval": r.repeat_interval.total_seconds(),
            "mute_time_intervals": list(r.mute_time_intervals),
            "active_time_intervals": list(r.active_time_intervals),
        },
        "group_labels": dict(g.group_labels),
        "created_at": _iso(g.created_at),
        "next_flush_at": _iso(g.next_flush_at),
        "has_flushed": g.has_flushed,
        "last_notified_at": _iso(g.last_notified_at),
        "sent_firing": sorted(g.sent_firing),
        "sent_resolved": sorted(g.sent_resolved),
        "members": [
            {
                "fingerprint": a.fingerprint,
                "labels": dict(a.labels),
                "starts_at": _iso(a.starts_at),
                "ends_at": _iso(a.ends_at),
            }
            for _, a in sorted(g.members.items())
        ],
    }


def _group_from_dict(raw: Mapping[str, Any]) -> _Group:
    try:
        r = raw["route"]
        route = ResolvedRoute(
            path=tuple(int(i) for i in r["path"]),
            receiver=str(r["receiver"]),
            group_by=None if r["group_by"] is None else frozenset(r["group_by"]),
            group_wait=timedelta(seconds=r["group_wait"]),
            group_interval=timedelta(seconds=r["group_interval"]),
            repeat_interval=timedelta(seconds=r["repeat_interval"]),
            mute_time_intervals=tuple(r.get("mute_time_intervals", ())),
            active_time_intervals=tuple(r.get("active_time_intervals", ())),
        )
        members = {
            m["fingerprint"]: RoutableAlert(
                fingerprint=m["fingerprint"],
                labels=dict(m["labels"]),
                starts_at=_dt(m["starts_at"]),
                ends_at=None if m["ends_at"] is None else _dt(m["ends_at"]),
            )
            for m in raw["members"]
        }
        return _Group(
            key=raw["key"],
            route=route,
            group_labels=dict(raw["group_labels"]),
            created_at=_dt(raw["created_at"]),
            next_flush_at=_dt(raw["next_flush_at"]),
            has_flushed=bool(raw["has_flushed"]),
            last_notified_at=None if raw["last_notified_at"] is None else _dt(raw["last_notified_at"]),
            sent_firing=frozenset(raw["sent_firing"]),
            sent_resolved=frozenset(raw["sent_resolved"]),
            members=members,
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed dispatcher group state: {exc!r}") from exc
