"""The alert store port: alerts, the notification outbox, silences, acknowledgements and dispatcher state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from slo_service.core.alerting.lifecycle import Alert, AlertState
from slo_service.core.notify import OutboxMessage
from slo_service.core.routing.silences import Silence


@dataclass(frozen=True)
class Acknowledgement:
    """Someone took an alert group (or a single alert fingerprint): escalation stops for it."""

    target: str  # alert fingerprint or notification group key
    by: str
    at: datetime
    via: str = "api"  # "api" | "slack" | "pagerduty"


@dataclass(frozen=True)
class StoredAction:
    """An operator action a replica that does not lead stored for the leader to apply (kind: "ack", "resolve",
    "external"); `args` is JSON."""

    id: int
    kind: str
    args: Mapping[str, Any]
    replica: str
    submitted_at: datetime


@dataclass(frozen=True)
class AlertQuery:
    state: AlertState | None = None
    service: str | None = None
    severity: str | None = None
    since: datetime | None = None
    limit: int = 500


class AlertStore(Protocol):
    """Durable alerting state. Every method is one transaction."""

    def save_alerts(
        self,
        alerts: Sequence[Alert],
        messages: Sequence[OutboxMessage] = (),
        dropped: Sequence[str] = (),
        states: Mapping[str, Mapping[str, Any]] | None = None,
        actions: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> None:
        """Upsert alert episodes (by fingerprint + active_since) and enqueue messages, atomically,
        so a crash never leaves an alert change without its notification or the reverse. `dropped`:
        fingerprints whose pending episode cleared before firing (deleted, so a restart does not
        revive them and skip their `for`). `states`: component state documents saved in the same
        transaction (the dispatcher's "last sent" must never disagree with the outbox). `actions`: stored
        operator actions this change applies, marked applied with their result in the same transaction (each
        takes effect once). With several replicas the transaction first checks the leader epoch (fencing) and
        raises NotLeader if another replica leads now."""
        ...

    # --- operator actions received by a replica that does not lead -------------------------------

    def submit_action(self, kind: str, args: Mapping[str, Any], replica: str) -> int:
        """Store an action for the leader; its id."""
        ...

    def pending_actions(self, limit: int = 100) -> list[StoredAction]:
        """Actions not applied yet, oldest first."""
        ...

    def action_result(self, action_id: int) -> Mapping[str, Any] | None:
        """The result the leader recorded, None while the action waits."""
        ...

    def finish_action(self, action_id: int, result: Mapping[str, Any]) -> None:
        """Mark an action applied that changed nothing to save (e.g. resolving an alert that is not firing)."""
        ...

    def load_open_alerts(self) -> list[Alert]:
        """Pending and firing alerts (to rebuild the AlertBook after a restart)."""
        ...

    def query_alerts(self, query: AlertQuery) -> list[Alert]:
        """Alert episodes, newest first."""
        ...

    def alert_history(self, fingerprint: str, limit: int = 100) -> list[Alert]:
        """Every episode of one fingerprint, newest first."""
        ...

    # --- outbox -----------------------------------------------------------------------------------

    def enqueue(self, messages: Sequence[OutboxMessage]) -> None: ...

    def claim_due(
        self, now: datetime, limit: int, lease: timedelta, receiver: str | None = None
    ) -> list[OutboxMessage]:
        """Pending messages due by `now` (of one `receiver`, or of all), oldest first, claimed until
        now + lease (PostgreSQL: FOR UPDATE SKIP LOCKED) so two workers never deliver the same message;
        a crashed worker's claims expire, and the message comes back with `interrupted` set. A message
        waits while an older one of the same receiver and dedup key is pending, so one group's
        trigger, updates and resolve reach a receiver in order."""
        ...

    def due_receivers(self, now: datetime) -> list[str]:
        """Receivers with a pending, unclaimed message due by `now` (read only: which lanes have work)."""
        ...

    def mark_delivered(self, message_id: int, at: datetime, external_ref: Mapping[str, Any]) -> None:
        """Delivered: keeps `external_ref` for later updates and clears the last attempt's error."""
        ...

    def mark_retry(self, message_id: int, next_attempt_at: datetime, error: str) -> None: ...

    def release(self, message_ids: Sequence[int], now: datetime) -> int:
        """Hand claimed messages back (a worker stopping mid-delivery): claimable again from `now`, flagged
        `interrupted` like after a crash, without waiting for the lease. Returns how many were pending."""
        ...

    def mark_dead(self, message_id: int, at: datetime, error: str) -> None: ...

    def external_ref(self, receiver: str, dedup_key: str) -> Mapping[str, Any]:
        """The reference of the last delivered message of this receiver and dedup key (e.g. Slack ts)."""
        ...

    def messages(self, status: str | None = None, receiver: str | None = None, limit: int = 200) -> list[OutboxMessage]:
        """Outbox rows, newest first; status "dead" is the dead-letter list."""
        ...

    def requeue(self, message_id: int, now: datetime) -> bool:
        """Put a dead message back in the queue (operator retry)."""
        ...

    # --- silences, acknowledgements, dispatcher state -----------------------------------------------

    def save_silence(self, silence: Silence) -> None: ...

    def expire_silence(self, silence_id: str, at: datetime) -> bool: ...

    def silences(self, include_expired_after: datetime | None = None) -> list[Silence]: ...

    def acknowledge(self, ack: Acknowledgement) -> None: ...

    def acknowledgements(self, targets: Sequence[str] | None = None) -> list[Acknowledgement]: ...

    def load_state(self, name: str) -> Mapping[str, Any] | None:
        """A JSON document of a component's state (the dispatcher's groups, escalation timers)."""
        ...

    def save_state(self, name: str, state: Mapping[str, Any]) -> None: ...

    def prune(self, before: datetime) -> int:
        """Delete resolved alerts, delivered/dead messages, expired silences and acks older than `before`."""
        ...
