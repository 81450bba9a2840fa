"""An in-memory AlertStore: the fake for pipeline tests; same semantics as the SQL store, minus durability."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slo_service.core.alerting.lifecycle import Alert, AlertState
from slo_service.core.alerting.ports import Acknowledgement, AlertQuery, StoredAction
from slo_service.core.notify import MessageStatus, OutboxMessage
from slo_service.core.routing.silences import Silence


class InMemoryAlertStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.episodes: dict[tuple[str, datetime], Alert] = {}
        self.outbox: dict[int, OutboxMessage] = {}
        self.claims: dict[int, datetime] = {}
        self._next_id = 1
        self._silences: dict[str, Silence] = {}
        self.acks: list[Acknowledgement] = []
        self.state: dict[str, Any] = {}
        self.actions: dict[int, tuple[StoredAction, dict[str, Any] | None]] = {}

    def save_alerts(
        self,
        alerts: Sequence[Alert],
        messages: Sequence[OutboxMessage] = (),
        dropped: Sequence[str] = (),
        states: Mapping[str, Mapping[str, Any]] | None = None,
        actions: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> None:
        with self._lock:
            for action_id, result in (actions or {}).items():
                self._finish(action_id, result)
            for name, doc in (states or {}).items():
                self.state[name] = copy.deepcopy(dict(doc))
            for key in [k for k, a in self.episodes.items() if k[0] in dropped and a.state is AlertState.PENDING]:
                del self.episodes[key]
            for a in alerts:
                self.episodes[(a.fingerprint, a.active_since)] = a
            self._enqueue(messages)

    def submit_action(self, kind: str, args: Mapping[str, Any], replica: str) -> int:
        with self._lock:
            action_id = len(self.actions) + 1
            stored = StoredAction(action_id, kind, copy.deepcopy(dict(args)), replica, datetime.now().astimezone())
            self.actions[action_id] = (stored, None)
            return action_id

    def pending_actions(self, limit: int = 100) -> list[StoredAction]:
        with self._lock:
            return [a for a, result in self.actions.values() if result is None][:limit]

    def action_result(self, action_id: int) -> Mapping[str, Any] | None:
        with self._lock:
            found = self.actions.get(action_id)
            return None if found is None else found[1]

    def finish_action(self, action_id: int, result: Mapping[str, Any]) -> None:
        with self._lock:
            self._finish(action_id, result)

    def _finish(self, action_id: int, result: Mapping[str, Any]) -> None:
        stored, done = self.actions[action_id]
        if done is None:
            self.actions[action_id] = (stored, dict(result))

    def load_open_alerts(self) -> list[Alert]:
        with self._lock:
            latest: dict[str, Alert] = {}
            for a in self.episodes.values():
                if a.fingerprint not in latest or a.active_since > latest[a.fingerprint].active_since:
                    latest[a.fingerprint] = a
            return [a for a in latest.values() if a.state is not AlertState.RESOLVED]

    def query_alerts(self, query: AlertQuery) -> list[Alert]:
        with self._lock:
            out = [
                a
                for a in self.episodes.values()
                if (query.state is None or a.state is query.state)
                and (query.service is None or a.labels.get("service") == query.service)
                and (query.severity is None or a.labels.get("severity") == query.severity)
                and (query.since is None or a.last_evaluated_at >= query.since)
            ]
        return sorted(out, key=lambda a: a.active_since, reverse=True)[: query.limit]

    def alert_history(self, fingerprint: str, limit: int = 100) -> list[Alert]:
        with self._lock:
            out = [a for (fp, _), a in self.episodes.items() if fp == fingerprint]
        return sorted(out, key=lambda a: a.active_since, reverse=True)[:limit]

    def enqueue(self, messages: Sequence[OutboxMessage]) -> None:
        with self._lock:
            self._enqueue(messages)

    def _enqueue(self, messages: Sequence[OutboxMessage]) -> None:
        for m in messages:
            copy.deepcopy(dict(m.payload))  # like JSON serialisation: fails loudly on odd payloads
            self.outbox[self._next_id] = replace(m, id=self._next_id, interrupted=False)
            self._next_id += 1

    def claim_due(
        self, now: datetime, limit: int, lease: timedelta, receiver: str | None = None
    ) -> list[OutboxMessage]:
        if limit <= 0:
            return []
        if lease <= timedelta(0):
            raise ValueError(f"lease must be positive, got {lease}")
        with self._lock:
            blocked: set[tuple[str, str]] = set()  # (receiver, dedup key) with an older pending message
            due: list[OutboxMessage] = []
            for i, m in sorted(self.outbox.items()):
                if m.status is not MessageStatus.PENDING:
                    continue
                key = (m.receiver, m.dedup_key)
                if key in blocked:
                    continue
                blocked.add(key)
                if (
                    (receiver is None or m.receiver == receiver)
                    and (m.next_attempt_at is None or m.next_attempt_at <= now)
                    and (i not in self.claims or self.claims[i] < now)
                    and len(due) < limit
                ):
                    due.append(replace(m, interrupted=i in self.claims))
            for m in due:
                assert m.id is not None
                self.claims[m.id] = now + lease
            return due

    def due_receivers(self, now: datetime) -> list[str]:
        with self._lock:
            return sorted(
                {
                    m.receiver
                    for i, m in self.outbox.items()
                    if m.status is MessageStatus.PENDING
                    and (m.next_attempt_at is None or m.next_attempt_at <= now)
                    and (i not in self.claims or self.claims[i] < now)
                }
            )

    def mark_delivered(self, message_id: int, at: datetime, external_ref: Mapping[str, Any]) -> None:
        with self._lock:
            m = self.outbox[message_id]
            self.outbox[message_id] = replace(
                m,
                status=MessageStatus.DELIVERED,
                delivered_at=at,
                external_ref=dict(external_ref),
                attempts=m.attempts + 1,
                last_error=None,
            )
            self.claims.pop(message_id, None)

    def release(self, message_ids: Sequence[int], now: datetime) -> int:
        with self._lock:
            released = [i for i in message_ids if i in self.claims and self.outbox[i].status is MessageStatus.PENDING]
            for i in released:
                self.claims[i] = now
            return len(released)

    def mark_retry(self, message_id: int, next_attempt_at: datetime, error: str) -> None:
        with self._lock:
            m = self.outbox[message_id]
            if m.status is not MessageStatus.PENDING:
                return  # a worker whose lease expired must not undo another worker's delivery
            self.outbox[message_id] = replace(
                m, attempts=m.attempts + 1, next_attempt_at=next_attempt_at, last_error=error
            )
            self.claims.pop(message_id, None)

    def mark_dead(self, message_id: int, at: datetime, error: str) -> None:
        with self._lock:
            m = self.outbox[message_id]
            if m.status is not MessageStatus.PENDING:
                return
            self.outbox[message_id] = replace(m, status=MessageStatus.DEAD, last_error=error, attempts=m.attempts + 1)
            self.claims.pop(message_id, None)

    def external_ref(self, receiver: str, dedup_key: str) -> Mapping[str, Any]:
        with self._lock:
            refs = [
                m.external_ref
                for _, m in sorted(self.outbox.items())
                if m.receiver == receiver
                and m.dedup_key == dedup_key
                and m.status is MessageStatus.DELIVERED
                and m.external_ref
            ]
        return refs[-1] if refs else {}

    def messages(self, status: str | None = None, receiver: str | None = None, limit: int = 200) -> list[OutboxMessage]:
        with self._lock:
            out = [
                m
                for _, m in sorted(self.outbox.items(), reverse=True)
                if (status is None or m.status == status) and (receiver is None or m.receiver == receiver)
            ]
        return out[:limit]

    def requeue(self, message_id: int, now: datetime) -> bool:
        with self._lock:
            m = self.outbox.get(message_id)
            if m is None or m.status is not MessageStatus.DEAD:
                return False
            self.outbox[message_id] = replace(m, status=MessageStatus.PENDING, next_attempt_at=now)
            self.claims.pop(message_id, None)
            return True

    def save_silence(self, silence: Silence) -> None:
        with self._lock:
            self._silences[silence.id] = silence

    def expire_silence(self, silence_id: str, at: datetime) -> bool:
        with self._lock:
            s = self._silences.get(silence_id)
            if s is None:
                return False
            if s.ends_at > at:
                self._silences[silence_id] = replace(s, ends_at=max(at, s.starts_at + timedelta(microseconds=1)))
            return True

    def silences(self, include_expired_after: datetime | None = None) -> list[Silence]:
        with self._lock:
            items = list(self._silences.values())
        if include_expired_after is None:
            return items
        return [s for s in items if s.ends_at >= include_expired_after]

    def acknowledge(self, ack: Acknowledgement) -> None:
        with self._lock:
            self.acks.append(ack)

    def acknowledgements(self, targets: Sequence[str] | None = None) -> list[Acknowledgement]:
        with self._lock:
            return [a for a in self.acks if targets is None or a.target in targets]

    def load_state(self, name: str) -> Mapping[str, Any] | None:
        with self._lock:
            value = self.state.get(name)
            return copy.deepcopy(value) if value is not None else None

    def save_state(self, name: str, state: Mapping[str, Any]) -> None:
        with self._lock:
            self.state[name] = copy.deepcopy(dict(state))

    def prune(self, before: datetime) -> int:
        with self._lock:
            old = [k for k, a in self.episodes.items() if a.resolved_at is not None and a.resolved_at < before]
            for k in old:
                del self.episodes[k]
            done = [
                i
                for i, m in self.outbox.items()
                if m.status is not MessageStatus.PENDING and (m.delivered_at or m.created_at) < before
            ]
            for i in done:
                del self.outbox[i]
            return len(old) + len(done)
