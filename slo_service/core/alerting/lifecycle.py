"""The alert lifecycle, Prometheus-style: pending -> firing -> resolved, with `for`.

``AlertBook`` is pure and in memory; the caller persists ``book.alerts()`` (e.g. in SQL) after each
update and rebuilds the book with ``AlertBook.from_alerts(...)`` after a restart, so `for` timers and
firing alerts survive restarts.

For each condition of an ``update`` (identity = ``fingerprint(condition.labels)``):

* active, not known (or last episode RESOLVED) -> PENDING with ``active_since = now``; FIRING at once
  when its `for` is 0. A condition with ``started_at`` (an Alertmanager's startsAt) starts then
  instead, and one with ``ended_at`` resolves then (both clamped to the past and to the episode).
  A new episode after a resolved one starts a new alert (new active_since, transition ``previous=None``).
* PENDING, active for ``now - active_since >= for`` -> FIRING (``fired_at = now``).
* PENDING, inactive -> dropped silently: it never fired, so nobody is told (no transition); it just
  disappears from ``alerts()``.
* FIRING, inactive -> RESOLVED (``resolved_at = now``). The resolved alert keeps the values and
  annotations of its last ACTIVE evaluation (what the firing notification said), like Prometheus.
* FIRING, still active -> values and annotations refreshed, no transition.

Alerts NOT mentioned in an update are left alone by default: different evaluators own different
alerts (the SLO evaluator, the scrape health check). An evaluator that owns a set of alerts passes
``scope``: a predicate on labels (e.g. ``conditions.slo_scope()``: alertname is an SLO alert). Every
pending or firing alert inside the scope that the update did not mention is then treated as
inactive: pending ones are dropped, firing ones RESOLVED. That is how alerts of an SLO removed from
the config, of a tier removed from a policy, or of an SLO whose labels changed (new fingerprint) get
resolved. The scope is a parameter of ``update`` rather than a separate ``resolve_missing`` call so
that "what I evaluated" and "what I own" are stated together, atomically, in one call.

Transitions returned: ``(None, PENDING)``, ``(None, FIRING)``, ``(PENDING, FIRING)``,
``(FIRING, RESOLVED)``. Notifiers normally act on ``Transition.notify`` (-> FIRING and -> RESOLVED).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from slo_service.core.alerting.conditions import AlertCondition, condition_for
from slo_service.core.alerting.fingerprint import fingerprint

Scope = Callable[[Mapping[str, str]], bool]
"""Which alerts (by labels) an evaluator owns; see the module docstring."""


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Alert:
    """One episode of one alert (one fingerprint)."""

    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: AlertState
    active_since: datetime  # first evaluation of this episode that found the condition active
    fired_at: datetime | None  # None until firing
    resolved_at: datetime | None
    values: Mapping[str, float | None]
    last_evaluated_at: datetime
    for_: timedelta = field(default=timedelta(0))

    @property
    def active(self) -> bool:
        """Pending or firing."""
        return self.state is not AlertState.RESOLVED


@dataclass(frozen=True)
class Transition:
    """A state change of an alert during one update; `alert` is the alert after the change."""

    alert: Alert
    previous: AlertState | None  # None: a new episode
    current: AlertState

    @property
    def notify(self) -> bool:
        """True for the transitions people are told about: -> FIRING and FIRING -> RESOLVED."""
        return self.current is AlertState.FIRING or (
            self.previous is AlertState.FIRING and self.current is AlertState.RESOLVED
        )


class AlertBook:
    """Pure, in-memory alert states by fingerprint: pending and firing alerts plus the last resolved
    episode of each fingerprint (until `prune_resolved`)."""

    def __init__(self, alerts: Iterable[Alert] = ()) -> None:
        self._alerts: dict[str, Alert] = {}
        for a in alerts:
            if fingerprint(a.labels) != a.fingerprint:
                raise ValueError(f"alert {a.fingerprint} does not match the fingerprint of its labels")
            if a.fingerprint in self._alerts:
                raise ValueError(f"duplicate alert fingerprint {a.fingerprint}")
            self._alerts[a.fingerprint] = a

    @classmethod
    def from_alerts(cls, alerts: Iterable[Alert]) -> AlertBook:
        """Rebuild a book from persisted alerts (the output of `alerts()`)."""
        return cls(alerts)

    def update(
        self,
        conditions: Sequence[AlertCondition],
        now: datetime,
        for_of: Callable[[AlertCondition], timedelta] = condition_for,
        scope: Scope | None = None,
    ) -> list[Transition]:
        """Apply one evaluation's conditions at `now`; return the state changes, in condition order
        (then scope resolutions). See the module docstring for the rules and `scope`."""
        seen: set[str] = set()
        out: list[Transition] = []
        for c in conditions:
            fp = fingerprint(c.labels)
            if fp in seen:
                raise ValueError(f"two conditions with the same labels in one update: {dict(c.labels)}")
            seen.add(fp)
            t = self._apply(fp, c, now, for_of(c))
            if t is not None:
                out.append(t)
        if scope is not None:
            for fp, a in list(self._alerts.items()):
                if fp not in seen and a.active and scope(a.labels):
                    t = self._deactivate(a, now)
                    if t is not None:
                        out.append(t)
        return out

    def _apply(self, fp: str, c: AlertCondition, now: datetime, for_: timedelta) -> Transition | None:
        old = self._alerts.get(fp)
        if not c.active:
            if old is None:
                return None
            if old.state is AlertState.RESOLVED:
                return None
            return self._deactivate(old, now, c.ended_at)
        if old is None or old.state is AlertState.RESOLVED:
            firing = for_ <= timedelta(0)
            # an external alert keeps its own start (never in the future, never before the last episode)
            since = now if c.started_at is None else min(c.started_at, now)
            if old is not None and old.resolved_at is not None:
                since = max(since, old.resolved_at)
            new = Alert(
                fingerprint=fp,
                labels=dict(c.labels),
                annotations=dict(c.annotations),
                state=AlertState.FIRING if firing else AlertState.PENDING,
                active_since=since,
                fired_at=since if firing else None,
                resolved_at=None,
                values=dict(c.values),
                last_evaluated_at=now,
                for_=for_,
            )
            self._alerts[fp] = new
            return Transition(new, None, new.state)
        refreshed = replace(
            old,
            annotations=dict(c.annotations),
            values=dict(c.values),
            last_evaluated_at=now,
            for_=for_,
        )
        if old.state is AlertState.PENDING and now - old.active_since >= for_:
            fired = replace(refreshed, state=AlertState.FIRING, fired_at=now)
            self._alerts[fp] = fired
            return Transition(fired, AlertState.PENDING, AlertState.FIRING)
        self._alerts[fp] = refreshed
        return None

    def _deactivate(self, old: Alert, now: datetime, ended_at: datetime | None = None) -> Transition | None:
        if old.state is AlertState.PENDING:
            del self._alerts[old.fingerprint]  # never fired: dropped silently
            return None
        # an external alert keeps its own end, within [fired, now]
        end = now if ended_at is None else min(max(ended_at, old.fired_at or old.active_since), now)
        resolved = replace(old, state=AlertState.RESOLVED, resolved_at=end, last_evaluated_at=now)
        self._alerts[old.fingerprint] = resolved
        return Transition(resolved, AlertState.FIRING, AlertState.RESOLVED)

    def active(self) -> list[Alert]:
        """Pending and firing alerts, oldest episode first."""
        return sorted((a for a in self._alerts.values() if a.active), key=lambda a: (a.active_since, a.fingerprint))

    def firing(self) -> list[Alert]:
        return [a for a in self.active() if a.state is AlertState.FIRING]

    def alerts(self) -> list[Alert]:
        """Everything the book holds (what to persist), including the last resolved episodes."""
        return sorted(self._alerts.values(), key=lambda a: (a.active_since, a.fingerprint))

    def get(self, fingerprint: str) -> Alert | None:
        return self._alerts.get(fingerprint)

    def prune_resolved(self, before: datetime) -> list[Alert]:
        """Forget resolved alerts resolved before `before`; return them."""
        gone = [
            a
            for a in self._alerts.values()
            if a.state is AlertState.RESOLVED and a.resolved_at is not None and a.resolved_at < before
        ]
        for a in gone:
            del self._alerts[a.fingerprint]
        return gone

    def __len__(self) -> int:
        return len(self._alerts)
