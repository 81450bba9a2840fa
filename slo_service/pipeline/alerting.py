"""The alert → route → notify steps: conditions from SLO status, lifecycle, routing into the outbox.

One `AlertingService.cycle()` after each evaluation:

1. conditions: every SLO's burn-rate / budget / no-data rules and every scrape target's health;
2. lifecycle: the AlertBook turns them into pending / firing / resolved episodes (persisted);
3. route: the Dispatcher groups firing alerts per route (group_wait, group_interval,
   repeat_interval, silences, inhibition, time intervals) and returns notifications;
4. outbox: each notification becomes an OutboxMessage, saved in the same transaction as the alert
   changes; the DeliveryWorker (pipeline/delivery.py) sends them.

Nothing here talks to Slack or PagerDuty: receivers are behind the core Receiver port.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from slo_service.core.alerting.conditions import (
    AlertCondition,
    freshness_window,
    slo_conditions,
    slo_scope,
    target_down_conditions,
    target_scope,
)
from slo_service.core.alerting.config import AlertingConfig, ReceiverKind
from slo_service.core.alerting.drift_conditions import drift_conditions, drift_scope
from slo_service.core.alerting.lifecycle import Alert, AlertBook, AlertState, Transition
from slo_service.core.alerting.ports import Acknowledgement, AlertQuery, AlertStore
from slo_service.core.drift.monitor import DriftRun
from slo_service.core.durations import format_duration
from slo_service.core.model import Config
from slo_service.core.notify import OutboxMessage
from slo_service.core.oncall.escalation import escalation_step, resolve_targets
from slo_service.core.ports import ScrapeHealth
from slo_service.core.routing.grouping import Dispatcher, Notification, RoutableAlert
from slo_service.core.routing.silences import Silence
from slo_service.core.routing.tree import Route
from slo_service.core.slo_math import SLOStatus

log = logging.getLogger(__name__)

DISPATCHER_STATE = "dispatcher"
GROUPS_STATE = "notification_groups"
EXTERNAL_SCOPE_LABEL = "alert_source"  # alerts received from an Alertmanager carry alert_source=alertmanager
_NO_ROUTE = Route(receiver="__nobody__")


@dataclass
class GroupEpisode:
    """One firing episode of one notification group: what was sent, to whom, under which dedup key."""

    group_key: str
    receiver: str
    dedup_key: str
    started_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    escalation_level: int = -1
    escalation_repetition: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "group_key": self.group_key,
            "receiver": self.receiver,
            "dedup_key": self.dedup_key,
            "started_at": self.started_at.isoformat(),
            "payload": self.payload,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "escalation_level": self.escalation_level,
            "escalation_repetition": self.escalation_repetition,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> GroupEpisode:
        return GroupEpisode(
            group_key=data["group_key"],
            receiver=data["receiver"],
            dedup_key=data["dedup_key"],
            started_at=datetime.fromisoformat(data["started_at"]),
            payload=dict(data.get("payload") or {}),
            acknowledged_by=data.get("acknowledged_by"),
            acknowledged_at=datetime.fromisoformat(data["acknowledged_at"]) if data.get("acknowledged_at") else None,
            escalation_level=int(data.get("escalation_level", -1)),
            escalation_repetition=int(data.get("escalation_repetition", 0)),
        )


def dedup_key(receiver: str, group_key: str, started_at: datetime) -> str:
    """Stable per receiver, group and episode: redelivery is harmless, a new episode is a new incident."""
    raw = f"{receiver}\x00{group_key}\x00{started_at.isoformat()}".encode()
    return "slo-" + hashlib.sha256(raw).hexdigest()[:32]


def _iso(t: datetime | None) -> str:
    return t.isoformat().replace("+00:00", "Z") if t is not None else "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class CycleResult:
    transitions: list[Transition]
    notifications: int
    messages: list[OutboxMessage]


class AlertingService:
    """Owns the AlertBook and the Dispatcher; thread-safe; rebuilt from the store after a restart."""

    def __init__(self, store: AlertStore, clock_now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = clock_now
        self._lock = threading.RLock()
        self.config = AlertingConfig()
        self.book = AlertBook.from_alerts(store.load_open_alerts())
        self.episodes: dict[str, GroupEpisode] = {
            e["group_key"]: GroupEpisode.from_json(e) for e in (store.load_state(GROUPS_STATE) or {}).get("groups", [])
        }
        self.dispatcher = self._dispatcher(self.config, store.load_state(DISPATCHER_STATE))
        self.first_seen: dict[str, datetime] = {}
        self.last_data: dict[str, datetime] = {}
        self.external_alerts: dict[str, Alert] = {}

    # --- configuration ----------------------------------------------------------------------------

    def _dispatcher(self, config: AlertingConfig, state: Mapping[str, Any] | None) -> Dispatcher:
        root = config.route or _NO_ROUTE
        send_resolved = {name: spec.send_resolved for name, spec in config.receivers.items()}
        args = (root, config.time_intervals, config.inhibit_rules, send_resolved)
        if state:
            try:
                return Dispatcher.from_state(state, *args)
            except (ValueError, KeyError) as exc:  # an old state format: start the groups afresh
                log.warning("dropping stored dispatcher state: %s", exc)
        return Dispatcher(*args)

    def apply(self, config: Config) -> None:
        """Use a newly loaded config; the dispatcher keeps its groups (no re-page on reload)."""
        alerting = config.alerting or AlertingConfig()
        with self._lock:
            now = self.now()
            for slo in config.slos:
                self.first_seen.setdefault(slo.key, now)
            self.dispatcher = self._dispatcher(alerting, self.dispatcher.state())
            self.config = alerting

    # --- the cycle --------------------------------------------------------------------------------

    def cycle(
        self,
        config: Config,
        statuses: Mapping[str, SLOStatus],
        health: Sequence[ScrapeHealth],
        down_since: Mapping[tuple[str, str], datetime],
        now: datetime,
    ) -> CycleResult:
        """Conditions → lifecycle → routing → outbox, persisted in one transaction."""
        with self._lock:
            alerting = self.config
            conditions: list[AlertCondition] = []
            services = config.services
            for slo in config.slos:
                svc = services.get(slo.service)
                status = statuses.get(slo.key)
                # "No data" counts from the newest data, or from when the SLO was configured: a new
                # SLO, or a fresh start, must not page for the minutes before its first scrape. Data in
                # the freshness window (5m, or the newest completed slice of a timeslice SLO) counts as
                # "now", so the alert errs late (by < 5m or one slice), never early.
                fresh = status.windows.get(format_duration(freshness_window(slo))) if status is not None else None
                if fresh is not None and fresh.total > 0:
                    self.last_data[slo.key] = now
                last = self.last_data.get(slo.key) or self.first_seen.get(slo.key)
                conditions.extend(
                    slo_conditions(
                        slo,
                        status,
                        alerting.policy_for(slo.key),
                        now,
                        extra_labels=svc.labels if svc else None,
                        last_data_at=last,
                    )
                )
            pending = {a.fingerprint for a in self.book.active() if a.state is AlertState.PENDING}
            transitions = self.book.update(conditions, now, scope=slo_scope())
            transitions += self.book.update(target_down_conditions(health, down_since), now, scope=target_scope())
            return self._route_and_save(transitions, now, self._dropped(pending))

    def receive_external(self, conditions: Sequence[AlertCondition], now: datetime) -> CycleResult:
        """Alerts pushed by an Alertmanager: same lifecycle, routing and delivery as our own."""
        with self._lock:
            pending = {a.fingerprint for a in self.book.active() if a.state is AlertState.PENDING}
            transitions = self.book.update(conditions, now)
            return self._route_and_save(transitions, now, self._dropped(pending))

    def _dropped(self, pending_before: set[str]) -> list[str]:
        """Pending alerts the update dropped silently (they cleared before `for` elapsed)."""
        return sorted(fp for fp in pending_before if self.book.get(fp) is None)

    def drift_runs(self, runs: Sequence[DriftRun], config: Config, now: datetime) -> CycleResult:
        """After a drift run: DriftDetected / DriftRunFailed from each monitor's newest run, routed."""
        monitors = config.monitors
        conditions = drift_conditions(
            runs,
            {name: m.drift_share for name, m in monitors.items()},
            labels_of={name: m.labels for name, m in monitors.items()},
        )
        with self._lock:
            pending = {a.fingerprint for a in self.book.active() if a.state is AlertState.PENDING}
            transitions = self.book.update(conditions, now, scope=drift_scope())
            return self._route_and_save(transitions, now, self._dropped(pending))

    def tick(self, now: datetime) -> CycleResult:
        """Flush due groups and escalations without new conditions (called between evaluations)."""
        with self._lock:
            return self._route_and_save([], now)

    def _route_and_save(self, transitions: list[Transition], now: datetime, dropped: Sequence[str] = ()) -> CycleResult:
        routable = [
            RoutableAlert(a.fingerprint, a.labels, a.fired_at or a.active_since, a.resolved_at)
            for a in self.book.alerts()
            if a.state is AlertState.FIRING or (a.state is AlertState.RESOLVED and a.fired_at is not None)
        ]
        silences = self.store.silences()
        notes = self.dispatcher.tick(routable, silences, now)
        messages = [m for n in notes for m in self._messages_for(n, now)]
        messages += self._escalations(now)
        changed = [t.alert for t in transitions]
        # Values of firing alerts change every cycle; keep them current for the API.
        changed += [a for a in self.book.active() if a.fingerprint not in {c.fingerprint for c in changed}]
        # One transaction: a crash can never leave a notification enqueued while the dispatcher state
        # says it was not sent (a second page after restart), or the reverse (a lost page).
        self.store.save_alerts(
            changed,
            messages,
            dropped,
            states={
                DISPATCHER_STATE: self.dispatcher.state(),
                GROUPS_STATE: {"groups": [e.to_json() for e in self.episodes.values()]},
            },
        )
        self.book.prune_resolved(now - timedelta(hours=1))
        return CycleResult(transitions, len(notes), messages)

    # --- notifications -----------------------------------------------------------------------------

    def _payload(self, note: Notification, status: str, now: datetime) -> dict[str, Any]:
        alerts_by_fp = {a.fingerprint: a for a in self.book.alerts()}
        items = []
        annotation_maps: list[Mapping[str, str]] = []
        for r in note.alerts:
            alert = alerts_by_fp.get(r.fingerprint)
            annotation_maps.append(alert.annotations if alert else {})
            resolved = r.resolved(now)
            items.append(
                {
                    "status": "resolved" if resolved else "firing",
                    "labels": dict(r.labels),
                    "annotations": dict(alert.annotations) if alert else {},
                    "startsAt": _iso(r.starts_at),
                    "endsAt": _iso(r.ends_at if resolved else None),
                    "generatorURL": f"{self.config.external_url}/api/v1/alerts/{r.fingerprint}",
                    "fingerprint": r.fingerprint,
                    "values": dict(alert.values) if alert else {},
                }
            )
        common = _common([dict(r.labels) for r in note.alerts])
        annotations = _common(annotation_maps)
        return {
            "version": "4",
            "receiver": note.receiver,
            "status": status,
            "groupKey": note.group_key,
            "truncatedAlerts": 0,
            "groupLabels": dict(note.group_labels),
            "commonLabels": common,
            "commonAnnotations": annotations,
            "externalURL": self.config.external_url,
            "alerts": items,
        }

    def _messages_for(self, note: Notification, now: datetime) -> list[OutboxMessage]:
        if note.receiver == _NO_ROUTE.receiver:
            return []  # no route configured: alerts are kept and shown, nobody is notified
        if note.receiver not in self.config.receivers:
            log.warning("route names receiver %r, which is not configured; notification dropped", note.receiver)
            return []
        status = "firing" if note.firing else "resolved"
        episode = self.episodes.get(note.group_key)
        if episode is None:
            if not note.firing:
                return []
            episode = GroupEpisode(note.group_key, note.receiver, dedup_key(note.receiver, note.group_key, now), now)
            self.episodes[note.group_key] = episode
        payload = self._payload(note, status, now)
        payload["acknowledgedBy"] = episode.acknowledged_by
        payload["oncall"] = self._oncall_for(note.receiver, episode, now)
        episode.payload = payload
        action = "trigger" if note.firing else "resolve"
        if not note.firing:
            del self.episodes[note.group_key]
        return [OutboxMessage(note.receiver, action, episode.dedup_key, payload, now)]

    def _oncall_for(self, receiver: str, episode: GroupEpisode, now: datetime) -> list[str]:
        spec = self.config.receivers.get(receiver)
        if spec is None or spec.escalation_policy is None:
            return []
        policy = self.config.escalation_policies.get(spec.escalation_policy)
        if policy is None:
            return []
        step = escalation_step(policy, episode.started_at, episode.acknowledged_at, now)
        episode.escalation_level, episode.escalation_repetition = step.level_index, step.repetition
        return resolve_targets(step.targets, self.config.schedules, now)

    def _escalations(self, now: datetime) -> list[OutboxMessage]:
        """Unacknowledged groups whose escalation moved to another level: notify that level."""
        out: list[OutboxMessage] = []
        for episode in self.episodes.values():
            spec = self.config.receivers.get(episode.receiver)
            if spec is None or spec.escalation_policy is None or episode.acknowledged_at is not None:
                continue
            if spec.kind is ReceiverKind.PAGERDUTY:
                continue  # PagerDuty runs its own escalation on the incident; the on-call list rides along

            policy = self.config.escalation_policies.get(spec.escalation_policy)
            if policy is None or not episode.payload:
                continue
            step = escalation_step(policy, episode.started_at, None, now)
            if (step.level_index, step.repetition) == (episode.escalation_level, episode.escalation_repetition):
                continue
            episode.escalation_level, episode.escalation_repetition = step.level_index, step.repetition
            payload = {
                **episode.payload,
                "oncall": resolve_targets(step.targets, self.config.schedules, now),
                "escalation": {
                    "level": step.level_index + 1,
                    "repetition": step.repetition,
                    "exhausted": step.exhausted,
                },
            }
            key = f"{episode.dedup_key}:L{step.level_index + 1}R{step.repetition}"
            out.append(OutboxMessage(episode.receiver, "trigger", key, payload, now))
        return out

    # --- operator actions --------------------------------------------------------------------------

    def acknowledge(self, target: str, by: str, via: str = "api") -> list[str]:
        """Acknowledge a notification group (group key) or every group holding an alert fingerprint.

        Stops escalation and tells the receivers (Slack message updated, PagerDuty acknowledged).
        Returns the acknowledged group keys; empty when nothing open matches.
        """
        with self._lock:
            now = self.now()
            groups = self.dispatcher.groups()
            keys = [k for k in self.episodes if k == target or target in groups.get(k, ())]
            messages = []
            for key in keys:
                episode = self.episodes[key]
                if episode.acknowledged_at is not None:
                    continue
                episode.acknowledged_by, episode.acknowledged_at = by, now
                payload = {**episode.payload, "acknowledgedBy": by}
                episode.payload = payload
                messages.append(OutboxMessage(episode.receiver, "acknowledge", episode.dedup_key, payload, now))
            self.store.acknowledge(Acknowledgement(target, by, now, via))
            self.store.save_alerts([], messages)
            self.store.save_state(GROUPS_STATE, {"groups": [e.to_json() for e in self.episodes.values()]})
            return keys

    def resolve(self, fingerprint: str, by: str) -> Alert | None:
        """Resolve a firing alert by hand (it fires again if its condition still holds next cycle)."""
        with self._lock:
            alert = self.book.get(fingerprint)
            if alert is None or not alert.active:
                return None
            now = self.now()
            resolved = replace(
                alert,
                state=AlertState.RESOLVED,
                resolved_at=now,
                annotations={**alert.annotations, "resolved_by": by},
            )
            self.book = AlertBook.from_alerts(
                [resolved if a.fingerprint == fingerprint else a for a in self.book.alerts()]
            )
            self._route_and_save([Transition(resolved, alert.state, AlertState.RESOLVED)], now)
            return resolved

    def add_silence(self, silence: Silence) -> Silence:
        self.store.save_silence(silence)
        return silence

    def expire_silence(self, silence_id: str) -> bool:
        return self.store.expire_silence(silence_id, self.now())

    # --- read side ----------------------------------------------------------------------------------

    def alerts(self, query: AlertQuery) -> list[Alert]:
        return self.store.query_alerts(query)

    def history(self, fingerprint: str) -> list[Alert]:
        return self.store.alert_history(fingerprint)

    def active_alerts(self) -> list[Alert]:
        with self._lock:
            return self.book.active()

    def open_group_count(self) -> int:
        return len(self.episodes)

    def open_groups(self) -> list[GroupEpisode]:
        with self._lock:
            return list(self.episodes.values())


def _common(maps: Iterable[Mapping[str, str]]) -> dict[str, str]:
    items = list(maps)
    if not items:
        return {}
    first = dict(items[0])
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in items[1:])}
