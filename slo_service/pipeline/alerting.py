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

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
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
from slo_service.core.alerting.config import NO_RECEIVER, AlertingConfig, ReceiverKind
from slo_service.core.alerting.drift_conditions import drift_conditions, drift_scope
from slo_service.core.alerting.lifecycle import Alert, AlertBook, AlertState, Transition
from slo_service.core.alerting.ports import Acknowledgement, AlertQuery, AlertStore, StoredAction
from slo_service.core.drift.monitor import DriftRun
from slo_service.core.durations import format_duration
from slo_service.core.model import Config
from slo_service.core.notify import OutboxMessage
from slo_service.core.ports import ScrapeHealth, StoreUnavailable
from slo_service.core.routing.grouping import Dispatcher, Notification, RoutableAlert
from slo_service.core.routing.silences import Silence
from slo_service.core.routing.tree import Route
from slo_service.core.slo_math import SLOStatus
from slo_service.pipeline.episodes import (
    GroupEpisode,
    current_step,
    dedup_key,
    edits_messages,
    escalation_block,
)

__all__ = ["ActionQueued", "AlertingService", "CycleResult", "GroupEpisode", "dedup_key"]

log = logging.getLogger(__name__)

DISPATCHER_STATE = "dispatcher"
GROUPS_STATE = "notification_groups"
EXTERNAL_SCOPE_LABEL = "alert_source"  # alerts received from an Alertmanager carry alert_source=alertmanager
_NO_ROUTE = Route(receiver=NO_RECEIVER)


def _iso(t: datetime | None) -> str:
    return t.isoformat().replace("+00:00", "Z") if t is not None else "0001-01-01T00:00:00Z"


class ActionQueued(Exception):
    """An operator action a replica that does not lead stored for the leader, which did not apply it within the
    wait (no leader right now: a failover): it is applied once when a leader takes it."""

    def __init__(self, action_id: int, waited: float) -> None:
        super().__init__(f"action {action_id} is stored; the leader applies it (it did not within {waited:g}s)")
        self.action_id = action_id


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
        # What the store holds (as of the last save): a save that fails puts memory back to it, so the
        # changes and notifications of that cycle are derived again once the store answers, not lost.
        self._saved: tuple[list[Alert], Mapping[str, Any], Mapping[str, Any]] = (
            self.book.alerts(),
            self.dispatcher.state(),
            self._groups_state(),
        )
        self.first_seen: dict[str, datetime] = {}
        self.last_data: dict[str, datetime] = {}
        self.external_alerts: dict[str, Alert] = {}
        # Several replicas: whether this one leads now (no database call), its name, and how long an operator
        # action received here waits for the leader to apply it before the caller hears "queued".
        self.leads: Callable[[], bool] = lambda: True
        self.replica = "single"
        self.action_wait = 10.0
        self.action_poll = 0.05

    def take_over(self) -> None:
        """This replica became the leader: take the open alerts, notification groups and dispatcher state
        from the store, where the last leader left them."""
        self.refresh()

    def refresh(self) -> None:
        """Load the open alerts, notification groups and dispatcher state from the store: a new leader takes
        the work over; a replica that does not lead does it every evaluation, so its alert gauges and
        notification groups are the leader's."""
        alerts = self.store.load_open_alerts()
        groups = self.store.load_state(GROUPS_STATE) or {}
        dispatcher = self.store.load_state(DISPATCHER_STATE)
        with self._lock:
            self.book = AlertBook.from_alerts(alerts)
            self.episodes = {e["group_key"]: GroupEpisode.from_json(e) for e in groups.get("groups", [])}
            self.dispatcher = self._dispatcher(self.config, dispatcher)
            self._saved = (self.book.alerts(), self.dispatcher.state(), self._groups_state())

    # --- operator actions on a replica that does not lead ------------------------------------------

    def _forward(self, kind: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
        """Store the action for the leader and wait for its result (ActionQueued after `action_wait`)."""
        action_id = self.store.submit_action(kind, args, self.replica)
        deadline = time.monotonic() + self.action_wait
        while True:
            result = self.store.action_result(action_id)
            if result is not None:
                break
            if time.monotonic() >= deadline:
                raise ActionQueued(action_id, self.action_wait)
            time.sleep(self.action_poll)
        if "error" in result:
            raise RuntimeError(f"the leader could not apply {kind} action {action_id}: {result['error']}")
        try:  # answer from the leader's new state (the groups API of this replica shows the change at once)
            self.refresh()
        except Exception:
            log.debug("could not refresh alert state after action %d", action_id, exc_info=True)
        return result

    def apply_actions(self) -> int:
        """The leader: apply the actions other replicas stored, oldest first, each once (marked applied in the
        transaction that saves its effect). How many were applied."""
        applied = 0
        for action in self.store.pending_actions():
            try:
                self._apply_action(action)
            except (StoreUnavailable, ActionQueued):
                raise  # the database or the leadership went away: the action waits for the next try
            except Exception as exc:  # a bug or a bad argument: report it to the caller, never retry forever
                log.exception("could not apply %s action %d from %s", action.kind, action.id, action.replica)
                self.store.finish_action(action.id, {"error": f"{type(exc).__name__}: {exc}"})
            applied += 1
        return applied

    def _apply_action(self, action: StoredAction) -> None:
        args = action.args
        log.info("applying %s action %d received by replica %s", action.kind, action.id, action.replica)
        if action.kind == "ack":
            self.acknowledge(str(args["target"]), str(args["by"]), str(args.get("via", "api")), action=action.id)
        elif action.kind == "resolve":
            self.resolve(str(args["fingerprint"]), str(args["by"]), action=action.id)
        elif action.kind == "external":
            conditions = [_condition_from_json(c) for c in args["conditions"]]
            self.receive_external_json(conditions, datetime.fromisoformat(str(args["at"])), action=action.id)
        else:
            raise ValueError(f"unknown action kind {action.kind!r}")

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

    def receive_external(
        self, conditions: Sequence[AlertCondition], now: datetime, action: int | None = None
    ) -> CycleResult:
        """Alerts pushed by an Alertmanager: same lifecycle, routing and delivery as our own (the leader's)."""
        with self._lock:
            pending = {a.fingerprint for a in self.book.active() if a.state is AlertState.PENDING}
            transitions = self.book.update(conditions, now)
            done = None if action is None else {action: {"transitions": _transitions_json(transitions)}}
            return self._route_and_save(transitions, now, self._dropped(pending), done)

    def receive_external_json(
        self, conditions: Sequence[AlertCondition], now: datetime, action: int | None = None
    ) -> list[dict[str, Any]]:
        """`receive_external` on any replica: the leader applies it (once); the transitions as JSON."""
        if action is None and not self.leads():
            args = {"conditions": [_condition_json(c) for c in conditions], "at": now.isoformat()}
            return list(self._forward("external", args)["transitions"])
        return _transitions_json(self.receive_external(conditions, now, action).transitions)

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

    def _route_and_save(
        self,
        transitions: list[Transition],
        now: datetime,
        dropped: Sequence[str] = (),
        actions: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> CycleResult:
        try:
            return self._route_and_save_or_fail(transitions, now, dropped, actions)
        except Exception:
            self._restore()
            raise

    def _groups_state(self) -> dict[str, Any]:
        return {"groups": [e.to_json() for e in self.episodes.values()]}

    def _restore(self) -> None:
        """Back to what the store holds: the failed cycle's transitions and notifications come again."""
        alerts, dispatcher, groups = self._saved
        self.book = AlertBook.from_alerts(alerts)
        self.dispatcher = self._dispatcher(self.config, dispatcher)
        self.episodes = {e["group_key"]: GroupEpisode.from_json(e) for e in groups.get("groups", [])}

    def _route_and_save_or_fail(
        self,
        transitions: list[Transition],
        now: datetime,
        dropped: Sequence[str] = (),
        actions: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> CycleResult:
        routable = [
            RoutableAlert(a.fingerprint, a.labels, a.fired_at or a.active_since, a.resolved_at)
            for a in self.book.alerts()
            if a.state is AlertState.FIRING or (a.state is AlertState.RESOLVED and a.fired_at is not None)
        ]
        silences = self.store.silences()
        notes = self.dispatcher.tick(routable, silences, now)
        messages = [m for n in notes for m in self._messages_for(n, now)]
        messages += self._close_finished(now)
        messages += self._escalations(silences, now)
        _log_transitions(transitions)
        changed = [t.alert for t in transitions]
        # Values of firing alerts change every cycle; keep them current for the API.
        changed += [a for a in self.book.active() if a.fingerprint not in {c.fingerprint for c in changed}]
        # One transaction: a crash can never leave a notification enqueued while the dispatcher state
        # says it was not sent (a second page after restart), or the reverse (a lost page).
        dispatcher_state, groups_state = self.dispatcher.state(), self._groups_state()
        self.store.save_alerts(
            changed,
            messages,
            dropped,
            states={DISPATCHER_STATE: dispatcher_state, GROUPS_STATE: groups_state},
            actions=actions,
        )
        self.book.prune_resolved(now - timedelta(hours=1))
        self._saved = (self.book.alerts(), dispatcher_state, groups_state)
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
        spec = self.config.receivers.get(note.receiver)
        if spec is None:
            log.warning("route names receiver %r, which is not configured; notification dropped", note.receiver)
            return []
        status = "firing" if note.firing else "resolved"
        episode = self.episodes.get(note.group_key)
        if episode is None:
            if not note.firing:
                return []
            episode = GroupEpisode(note.group_key, note.receiver, dedup_key(note.receiver, note.group_key, now), now)
            found = current_step(self.config, episode, now)
            block: dict[str, Any] = {}
            if found is not None:
                policy, step = found
                episode.escalation_level, episode.escalation_repetition = step.level_index, step.repetition
                block = escalation_block(self.config, policy, step, now)
            episode.posts[episode.dedup_key] = block
            self.episodes[note.group_key] = episode
        payload = self._payload(note, status, now)
        payload["acknowledgedBy"] = episode.acknowledged_by
        episode.payload = payload
        if not note.firing:
            return self._finish(episode, payload, now)
        return [
            OutboxMessage(note.receiver, "trigger", episode.dedup_key, _with_escalation(payload, episode, None), now)
        ]

    def _finish(self, episode: GroupEpisode, payload: Mapping[str, Any], now: datetime) -> list[OutboxMessage]:
        """The episode is over: every message it posted says so (Slack escalation posts included)."""
        del self.episodes[episode.group_key]
        return self._updates(episode, "resolve", payload, now)

    def _updates(
        self, episode: GroupEpisode, action: str, payload: Mapping[str, Any], now: datetime
    ) -> list[OutboxMessage]:
        """One message per message of the episode (each under its own dedup key, so the receiver
        updates the post it made under that key), each keeping its own escalation level."""
        keys = episode.message_keys(self.config.receivers.get(episode.receiver))
        return [
            OutboxMessage(episode.receiver, action, key, _with_escalation(payload, episode, key), now) for key in keys
        ]

    def _close_finished(self, now: datetime) -> list[OutboxMessage]:
        """Episodes whose group the dispatcher closed without a resolved notification: its alerts were
        silenced or inhibited when they resolved, or the receiver has send_resolved off. Alertmanager
        sends nothing then and leaves the page open forever; here the receivers that can close it get
        the resolve (PagerDuty resolve, Slack update), and the episode leaves the groups API either way."""
        open_groups = self.dispatcher.groups()
        out: list[OutboxMessage] = []
        for key, episode in list(self.episodes.items()):
            if key in open_groups:
                continue
            spec = self.config.receivers.get(episode.receiver)
            payload = self._resolved_payload(episode, now)
            episode.payload = payload
            if spec is not None and (spec.send_resolved or edits_messages(spec)):
                log.info("notification group %s closed without a resolved notification: resolving it", key)
                out += self._finish(episode, payload, now)
            else:
                del self.episodes[key]
        return out

    def _resolved_payload(self, episode: GroupEpisode, now: datetime) -> dict[str, Any]:
        alerts = []
        for item in episode.payload.get("alerts") or []:
            alert = self.book.get(str(item.get("fingerprint")))
            ended = alert.resolved_at if alert is not None and alert.resolved_at is not None else now
            alerts.append({**item, "status": "resolved", "endsAt": _iso(ended)})
        return {**episode.payload, "status": "resolved", "alerts": alerts}

    def _escalations(self, silences: Sequence[Silence], now: datetime) -> list[OutboxMessage]:
        """Unacknowledged, un-muted groups whose escalation moved to another level: notify that level,
        naming its on-call people. A group whose alerts are all silenced or inhibited does not escalate;
        the time it spends muted does not count towards the next level."""
        candidates = [
            e for e in self.episodes.values() if e.acknowledged_at is None and current_step(self.config, e, now)
        ]
        if not candidates:
            return []
        muted = self.dispatcher.muted_groups(silences, now, keys=[e.group_key for e in candidates])
        out: list[OutboxMessage] = []
        for episode in candidates:
            episode.set_muted(episode.group_key in muted, now)
            found = current_step(self.config, episode, now)
            if episode.muted_since is not None or found is None:
                continue
            policy, step = found
            # Only forward: two jobs can call in with `now` read before the lock, slightly out of order.
            if (step.repetition, step.level_index) <= (episode.escalation_repetition, episode.escalation_level):
                continue
            episode.escalation_level, episode.escalation_repetition = step.level_index, step.repetition
            block = escalation_block(self.config, policy, step, now)
            spec = self.config.receivers[episode.receiver]
            if spec.kind is ReceiverKind.PAGERDUTY:
                # one incident per dedup key: the same key updates its details (PagerDuty escalates itself)
                key = episode.dedup_key
                episode.posts[key] = block
            else:
                key = f"{episode.dedup_key}:L{step.level_index + 1}R{step.repetition}"
                episode.posts[key if edits_messages(spec) else episode.dedup_key] = block
            payload = {**episode.payload, "escalation": block, "oncall": [c["user"] for c in block["oncall"]]}
            log.info(
                "escalating notification group %s to level %d of %d (policy %s): %s",
                episode.group_key,
                block["level"],
                block["levels"],
                policy,
                ", ".join(str(c["user"]) for c in block["oncall"]) or "nobody on call",
            )
            out.append(OutboxMessage(episode.receiver, "trigger", key, payload, now))
        return out

    # --- operator actions --------------------------------------------------------------------------

    def acknowledge(self, target: str, by: str, via: str = "api", action: int | None = None) -> list[str]:
        """Acknowledge a notification group (group key) or every group holding an alert fingerprint.

        A group key also acknowledges every other open group sharing one of its alerts, so the Slack
        button acknowledges the PagerDuty incident of the same page. Stops escalation and tells the
        receivers: every message of each group is updated (Slack escalation posts included, buttons
        removed), PagerDuty gets `acknowledge`. Returns the matching group keys; empty when none is open.
        On a replica that does not lead, the leader applies it (`action`: the stored action being applied).
        """
        if action is None and not self.leads():
            return list(self._forward("ack", {"target": target, "by": by, "via": via})["groups"])
        with self._lock:
            now = self.now()
            groups = self.dispatcher.groups()

            def alerts_of(key: str) -> set[str]:
                return set(groups.get(key, ())) | self.episodes[key].fingerprints()

            if target in self.episodes:
                mine = alerts_of(target)
                keys = [target, *(k for k in self.episodes if k != target and alerts_of(k) & mine)]
            else:
                keys = [k for k in self.episodes if target in alerts_of(k)]
            try:
                self._acknowledge(target, keys, by, via, now, None if action is None else {action: {"groups": keys}})
            except Exception:  # the store is down: the acknowledgement did not happen (the caller gets 503)
                self._restore()
                raise
            return keys

    def _acknowledge(
        self,
        target: str,
        keys: Sequence[str],
        by: str,
        via: str,
        now: datetime,
        actions: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> None:
        messages: list[OutboxMessage] = []
        for key in keys:
            episode = self.episodes[key]
            if episode.acknowledged_at is not None:
                continue
            episode.acknowledged_by, episode.acknowledged_at = by, now
            episode.payload = {**episode.payload, "acknowledgedBy": by}
            messages += self._updates(episode, "acknowledge", episode.payload, now)
            log.info("notification group %s (%s) acknowledged by %s via %s", key, episode.receiver, by, via)
        self.store.acknowledge(Acknowledgement(target, by, now, via))
        groups_state = self._groups_state()
        self.store.save_alerts([], messages, states={GROUPS_STATE: groups_state}, actions=actions)
        alerts, dispatcher, _ = self._saved
        self._saved = (alerts, dispatcher, groups_state)

    def resolve(self, fingerprint: str, by: str, action: int | None = None) -> Alert | None:
        """Resolve a firing alert by hand (it fires again if its condition still holds next cycle). On a replica
        that does not lead, the leader applies it; the resolved episode is read back from the store."""
        if action is None and not self.leads():
            episode = self._forward("resolve", {"fingerprint": fingerprint, "by": by}).get("resolved")
            if episode is None:
                return None
            since = datetime.fromisoformat(str(episode))
            return next((a for a in self.store.alert_history(fingerprint) if a.active_since == since), None)
        with self._lock:
            alert = self.book.get(fingerprint)
            if alert is None or not alert.active:
                if action is not None:
                    self.store.finish_action(action, {"resolved": None})
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
            done = None if action is None else {action: {"resolved": resolved.active_since.isoformat()}}
            self._route_and_save([Transition(resolved, alert.state, AlertState.RESOLVED)], now, (), done)
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


def _with_escalation(payload: Mapping[str, Any], episode: GroupEpisode, key: str | None) -> dict[str, Any]:
    """`payload` for the message under `key` (None: the main one): its escalation level and on-call."""
    block = episode.posts.get(key or episode.dedup_key) or {}
    out = {k: v for k, v in payload.items() if k not in ("escalation", "oncall")}
    out["oncall"] = [c["user"] for c in block.get("oncall", [])]
    if block:
        out["escalation"] = block
    return out


def _log_transitions(transitions: Sequence[Transition]) -> None:
    """One line per alert that starts firing or resolves: the service's own record of its alerts."""
    for t in transitions:
        labels = t.alert.labels
        what = labels.get("alertname", "?")
        subject = "/".join(x for x in (labels.get("service"), labels.get("slo") or labels.get("monitor")) if x)
        extra = f" {subject}" if subject else ""
        severity = labels.get("severity", "")
        if t.current is AlertState.FIRING:
            log.info("alert firing: %s%s severity=%s fingerprint=%s", what, extra, severity, t.alert.fingerprint)
        elif t.previous is AlertState.FIRING and t.current is AlertState.RESOLVED:
            log.info("alert resolved: %s%s severity=%s fingerprint=%s", what, extra, severity, t.alert.fingerprint)


def _transitions_json(transitions: Sequence[Transition]) -> list[dict[str, Any]]:
    return [
        {
            "fingerprint": t.alert.fingerprint,
            "previous": None if t.previous is None else str(t.previous),
            "current": str(t.current),
        }
        for t in transitions
    ]


def _condition_json(c: AlertCondition) -> dict[str, Any]:
    """An Alertmanager alert as stored for the leader (its values are empty; times ISO 8601)."""
    return {
        "labels": dict(c.labels),
        "annotations": dict(c.annotations),
        "active": c.active,
        "started_at": None if c.started_at is None else c.started_at.isoformat(),
        "ended_at": None if c.ended_at is None else c.ended_at.isoformat(),
    }


def _condition_from_json(doc: Mapping[str, Any]) -> AlertCondition:
    def when(key: str) -> datetime | None:
        value = doc.get(key)
        return None if value is None else datetime.fromisoformat(str(value))

    return AlertCondition(
        labels=dict(doc["labels"]),
        annotations=dict(doc["annotations"]),
        active=bool(doc["active"]),
        values={},
        started_at=when("started_at"),
        ended_at=when("ended_at"),
    )


def _common(maps: Iterable[Mapping[str, str]]) -> dict[str, str]:
    items = list(maps)
    if not items:
        return {}
    first = dict(items[0])
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in items[1:])}
