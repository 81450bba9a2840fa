"""SqlAlertStore: the AlertStore port (alerts, outbox, silences, acknowledgements, state) on SQLite or PostgreSQL.

Every public method is one transaction. Writes go through the engine's write option, so on SQLite they start
with BEGIN IMMEDIATE (the write lock is taken up front and concurrent writers queue on the busy timeout); on
PostgreSQL outbox claims use ``SELECT ... FOR UPDATE SKIP LOCKED``, so two workers never claim one message.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Table, and_, delete, exists, or_, select, text, update

from slo_service.adapters.sql.alert_models import (
    AcknowledgementRow,
    AlertActionRow,
    AlertRow,
    ClusterCounterRow,
    ComponentStateRow,
    OutboxRow,
    SilenceRow,
)
from slo_service.adapters.sql.base import SqlStoreBase
from slo_service.core.alerting.lifecycle import Alert, AlertState
from slo_service.core.alerting.ports import Acknowledgement, AlertQuery, StoredAction
from slo_service.core.notify import MessageStatus, OutboxMessage
from slo_service.core.ports import NotLeader
from slo_service.core.routing.silences import Silence
from slo_service.core.selector import Matcher, parse_selector

_alerts: Table = AlertRow.__table__  # type: ignore[assignment]
_outbox: Table = OutboxRow.__table__  # type: ignore[assignment]
_silences: Table = SilenceRow.__table__  # type: ignore[assignment]
_acks: Table = AcknowledgementRow.__table__  # type: ignore[assignment]
_states: Table = ComponentStateRow.__table__  # type: ignore[assignment]
_counters: Table = ClusterCounterRow.__table__  # type: ignore[assignment]
_actions: Table = AlertActionRow.__table__  # type: ignore[assignment]

LEADER_EPOCH = "leader_epoch"
CONFIG_GENERATION = "config_generation"

OPEN_STATES = (AlertState.PENDING.value, AlertState.FIRING.value)
_ALERT_UPDATE_COLUMNS = (
    "state",
    "alertname",
    "service",
    "severity",
    "labels",
    "annotations",
    "values",
    "fired_at",
    "resolved_at",
    "last_evaluated_at",
    "for_seconds",
)


def _aware(when: datetime, what: str = "datetime") -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive {what} {when!r}: the alert store only accepts aware datetimes")
    return when.astimezone(UTC)


def _finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity (PostgreSQL rejects them): store them as null."""
    return None if value is None or not math.isfinite(value) else float(value)


def _json(doc: Mapping[str, Any], what: str) -> dict[str, Any]:
    """A copy of `doc`, checked to be strict JSON up front so both backends fail alike, with ValueError, before
    anything is written (no NaN or infinity: PostgreSQL's json type rejects them)."""
    try:
        json.dumps(doc, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON-serialisable: {exc}") from exc
    return dict(doc)


def matcher_text(m: Matcher) -> str:
    """A matcher in selector syntax (`slo="availability"`), as stored in `silences.matchers`."""
    return str(m)


def parse_matcher(text_: str) -> Matcher:
    """The inverse of `matcher_text`."""
    matchers = parse_selector("{" + text_ + "}").matchers
    if len(matchers) != 1:
        raise ValueError(f"expected exactly one matcher, got {text_!r}")
    return matchers[0]


class SqlAlertStore(SqlStoreBase):
    """Durable alerting state in SQL; implements `slo_service.core.alerting.ports.AlertStore`.

    The schema must exist (`slo_service.adapters.sql.migrate.upgrade(url)`, revision 0002 or later). The
    clock stamps `updated_at` columns and decides which silences have expired in `silences()`.

    `fenced` (several replicas on PostgreSQL): `save_alerts` commits only under the current leader epoch, the one
    this process took with `take_epoch` when it became the leader; a replica that does not lead, or whose epoch
    another leader replaced, gets NotLeader and nothing is written.
    """

    fenced: bool = False
    epoch: int | None = None  # the leader epoch this process took; None while it does not lead

    # ---- shared counters: the leader epoch (fencing token) and the config generation

    def raise_counter(self, name: str, holder: str) -> int:
        """Add one to a shared counter (created at 1) in one transaction; its new value."""
        now = self._clock.now()
        ins = self._insert(_counters).values(name=name, value=1, holder=holder, updated_at=now)
        stmt = ins.on_conflict_do_update(
            index_elements=[_counters.c.name],
            set_={"value": _counters.c.value + 1, "holder": holder, "updated_at": now},
        ).returning(_counters.c.value)
        with self._write() as conn:
            return int(conn.execute(stmt).scalar_one())

    def counter(self, name: str) -> int:
        """A shared counter's value (0 before it was first raised)."""
        with self._read() as conn:
            value = conn.execute(select(_counters.c.value).where(_counters.c.name == name)).scalar()
        return int(value or 0)

    def take_epoch(self, holder: str) -> int:
        """This process became the leader: raise the leader epoch and save under the new one from now on.
        A transaction of the previous leader that checked the old epoch commits before this one (the check
        takes a share lock on the counter row), so the new leader loads the state after it."""
        self.epoch = self.raise_counter(LEADER_EPOCH, holder)
        return self.epoch

    def drop_epoch(self) -> None:
        """This process stepped down: it saves nothing until it leads again."""
        self.epoch = None

    def _check_fence(self, conn: Any) -> None:
        if not self.fenced:
            return
        if self.epoch is None:
            raise NotLeader("this replica does not lead: it commits no alert changes or notifications")
        row = conn.execute(
            select(_counters.c.value, _counters.c.holder)
            .where(_counters.c.name == LEADER_EPOCH)
            .with_for_update(read=True)
        ).first()
        if row is None or int(row.value) != self.epoch:
            holder = "?" if row is None else f"{row.holder} (epoch {row.value})"
            raise NotLeader(f"leader epoch {self.epoch} is over: {holder} leads now; nothing was committed")

    # ---- operator actions for the leader

    def submit_action(self, kind: str, args: Mapping[str, Any], replica: str) -> int:
        row = {
            "kind": kind,
            "args": _json(args, f"arguments of the {kind} action"),
            "replica": replica,
            "submitted_at": self._clock.now(),
        }
        with self._write() as conn:
            pk = conn.execute(_actions.insert(), row).inserted_primary_key
        assert pk is not None
        return int(pk[0])

    def pending_actions(self, limit: int = 100) -> list[StoredAction]:
        a = _actions.c
        stmt = select(_actions).where(a.applied_at.is_(None)).order_by(a.id).limit(max(limit, 0))
        with self._read() as conn:
            return [
                StoredAction(int(r.id), r.kind, dict(r.args), r.replica, r.submitted_at) for r in conn.execute(stmt)
            ]

    def action_result(self, action_id: int) -> Mapping[str, Any] | None:
        a = _actions.c
        with self._read() as conn:
            row = conn.execute(select(a.applied_at, a.result).where(a.id == action_id)).first()
        if row is None or row.applied_at is None:
            return None
        return dict(row.result or {})

    def finish_action(self, action_id: int, result: Mapping[str, Any]) -> None:
        with self._write() as conn:
            self._check_fence(conn)
            self._mark_applied(conn, {action_id: result})

    def _mark_applied(self, conn: Any, actions: Mapping[int, Mapping[str, Any]]) -> None:
        now = self._clock.now()
        for action_id, result in actions.items():
            conn.execute(
                update(_actions)
                .where(_actions.c.id == action_id, _actions.c.applied_at.is_(None))
                .values(applied_at=now, result=_json(result, "action result"))
            )

    # ---- alerts

    def save_alerts(
        self,
        alerts: Sequence[Alert],
        messages: Sequence[OutboxMessage] = (),
        dropped: Sequence[str] = (),
        states: Mapping[str, Mapping[str, Any]] | None = None,
        actions: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> None:
        """Upsert alert episodes on (fingerprint, active_since) and enqueue `messages`, in one transaction:
        if anything fails (a bad value, the database), nothing is written.

        `dropped` (an extension of the port): fingerprints whose PENDING episode the AlertBook dropped
        silently; those pending rows are deleted, so a restart does not revive them with an old active_since.
        Non-finite values (NaN, inf) are stored as null. `actions` are marked applied with their results.
        When `fenced`, the leader epoch is checked first (NotLeader: nothing is written).
        """
        by_episode: dict[tuple[str, datetime], dict[str, Any]] = {}
        for a in alerts:  # the last version of an episode in the batch wins
            row = _alert_row(a)
            by_episode[(row["fingerprint"], row["active_since"])] = row
        rows = [by_episode[k] for k in sorted(by_episode)]  # fixed order: concurrent writers cannot deadlock
        out_rows = [_message_row(m) for m in messages]
        state_rows = [
            {"name": name, "state": _json(doc, f"state of {name!r}"), "updated_at": self._clock.now()}
            for name, doc in (states or {}).items()
        ]
        if not rows and not out_rows and not dropped and not state_rows and not actions:
            return
        with self._write() as conn:
            self._check_fence(conn)  # first: a new leader's take_epoch waits for this transaction, or fences it
            if actions:
                self._mark_applied(conn, actions)
            if dropped:
                conn.execute(
                    delete(_alerts).where(
                        _alerts.c.fingerprint.in_(sorted(set(dropped))), _alerts.c.state == AlertState.PENDING.value
                    )
                )
            if rows:
                ins = self._insert(_alerts)
                upsert = ins.on_conflict_do_update(
                    index_elements=[_alerts.c.fingerprint, _alerts.c.active_since],
                    set_={c: ins.excluded[c] for c in _ALERT_UPDATE_COLUMNS},
                )
                conn.execute(upsert, rows)
            if out_rows:
                conn.execute(_outbox.insert(), out_rows)
            for state_row in state_rows:  # e.g. the dispatcher's "last sent": with its messages or not at all
                ins = self._insert(_states)
                conn.execute(
                    ins.on_conflict_do_update(
                        index_elements=[_states.c.name],
                        set_={"state": ins.excluded.state, "updated_at": ins.excluded.updated_at},
                    ),
                    state_row,
                )

    def load_open_alerts(self) -> list[Alert]:
        """The latest episode of each fingerprint, when it is pending or firing; oldest episode first."""
        newer = _alerts.alias("newer")
        query = (
            select(_alerts)
            .where(
                _alerts.c.state.in_(OPEN_STATES),
                ~exists().where(
                    newer.c.fingerprint == _alerts.c.fingerprint, newer.c.active_since > _alerts.c.active_since
                ),
            )
            .order_by(_alerts.c.active_since, _alerts.c.fingerprint)
        )
        with self._read() as conn:
            return [_alert(r) for r in conn.execute(query)]

    def query_alerts(self, query: AlertQuery) -> list[Alert]:
        """Episodes matching every given filter, newest (active_since) first, at most `query.limit`.

        `since` keeps the pending and firing episodes plus those evaluated at or after it (for a resolved
        episode: resolved at or after it).
        """
        stmt = select(_alerts)
        if query.state is not None:
            stmt = stmt.where(_alerts.c.state == AlertState(query.state).value)
        if query.service is not None:
            stmt = stmt.where(_alerts.c.service == query.service)
        if query.severity is not None:
            stmt = stmt.where(_alerts.c.severity == query.severity)
        if query.since is not None:
            since = _aware(query.since, "since")
            stmt = stmt.where(or_(_alerts.c.state.in_(OPEN_STATES), _alerts.c.last_evaluated_at >= since))
        stmt = stmt.order_by(_alerts.c.active_since.desc(), _alerts.c.id.desc()).limit(max(query.limit, 0))
        with self._read() as conn:
            return [_alert(r) for r in conn.execute(stmt)]

    def alert_history(self, fingerprint: str, limit: int = 100) -> list[Alert]:
        """Every episode of one fingerprint, newest first."""
        stmt = (
            select(_alerts)
            .where(_alerts.c.fingerprint == fingerprint)
            .order_by(_alerts.c.active_since.desc())
            .limit(max(limit, 0))
        )
        with self._read() as conn:
            return [_alert(r) for r in conn.execute(stmt)]

    # ---- outbox

    def enqueue(self, messages: Sequence[OutboxMessage]) -> None:
        """Insert messages (their `id` is ignored: the database assigns one)."""
        self.save_alerts((), messages)

    def claim_due(
        self, now: datetime, limit: int, lease: timedelta, receiver: str | None = None
    ) -> list[OutboxMessage]:
        """Pending messages due by `now` (next_attempt_at null or <= now) and not claimed (claimed_until null or
        < now), of `receiver` or of every receiver, oldest first; each is claimed until `now + lease`. A worker
        that crashes leaves its claims to expire, after which another worker claims them again, flagged
        `interrupted` (claimed_until is only cleared by an outcome). A message is not due while an older one of
        the same receiver and dedup key is pending: a group's messages reach each receiver in order, even when
        the first is backing off or held by another replica."""
        now = _aware(now, "now")
        if limit <= 0:
            return []
        if lease <= timedelta(0):
            raise ValueError(f"lease must be positive, got {lease}")
        o = _outbox.c
        older = _outbox.alias("older")
        due = (
            select(o.id, o.claimed_until)
            .where(
                o.status == MessageStatus.PENDING.value,
                or_(o.next_attempt_at.is_(None), o.next_attempt_at <= now),
                or_(o.claimed_until.is_(None), o.claimed_until < now),
                ~exists().where(
                    older.c.receiver == o.receiver,
                    older.c.dedup_key == o.dedup_key,
                    older.c.status == MessageStatus.PENDING.value,
                    older.c.id < o.id,
                ),
            )
            .order_by(o.id)
            .limit(limit)
        )
        if receiver is not None:
            due = due.where(o.receiver == receiver)
        with self._write() as conn:
            if self._dialect == "postgresql":
                # Rows another worker is claiming are skipped rather than waited for; a row it claimed and
                # committed meanwhile is re-checked against the WHERE clause (claimed_until) and dropped.
                due = due.with_for_update(skip_locked=True, of=_outbox)
            # SQLite: BEGIN IMMEDIATE holds the database write lock, so select-then-update is atomic.
            previous = {int(r.id): r.claimed_until for r in conn.execute(due)}
            if not previous:
                return []
            ids = list(previous)
            conn.execute(update(_outbox).where(o.id.in_(ids)).values(claimed_until=now + lease))
            rows = conn.execute(select(_outbox).where(o.id.in_(ids)).order_by(o.id)).all()
        return [replace(_message(r), interrupted=previous[int(r.id)] is not None) for r in rows]

    def due_receivers(self, now: datetime) -> list[str]:
        """Receivers with a pending, unclaimed message due by `now`, sorted (one cheap read per wake-up)."""
        now = _aware(now, "now")
        o = _outbox.c
        stmt = (
            select(o.receiver)
            .where(
                o.status == MessageStatus.PENDING.value,
                or_(o.next_attempt_at.is_(None), o.next_attempt_at <= now),
                or_(o.claimed_until.is_(None), o.claimed_until < now),
            )
            .distinct()
            .order_by(o.receiver)
        )
        with self._read() as conn:
            return list(conn.execute(stmt).scalars())

    def mark_delivered(self, message_id: int, at: datetime, external_ref: Mapping[str, Any]) -> None:
        """Delivered at `at` (one more attempt); `external_ref` is kept for later updates (e.g. Slack ts). The
        error of an earlier attempt is cleared: a delivered message shows none."""
        o = _outbox.c
        with self._write() as conn:
            conn.execute(
                update(_outbox)
                .where(o.id == message_id)
                .values(
                    status=MessageStatus.DELIVERED.value,
                    delivered_at=_aware(at, "at"),
                    external_ref=_json(external_ref, "external_ref"),
                    attempts=o.attempts + 1,
                    claimed_until=None,
                    last_error=None,
                )
            )

    def mark_retry(self, message_id: int, next_attempt_at: datetime, error: str) -> None:
        """One more failed attempt; try again at `next_attempt_at`. Ignored unless the message is pending (a
        worker whose lease expired must not undo another worker's delivery)."""
        o = _outbox.c
        with self._write() as conn:
            conn.execute(
                update(_outbox)
                .where(o.id == message_id, o.status == MessageStatus.PENDING.value)
                .values(
                    attempts=o.attempts + 1,
                    next_attempt_at=_aware(next_attempt_at, "next_attempt_at"),
                    last_error=error,
                    claimed_until=None,
                )
            )

    def release(self, message_ids: Sequence[int], now: datetime) -> int:
        """Claimable again from `now`. The claim is set to `now`, not cleared: the next claim sees it and flags
        the message `interrupted` (it may have reached the receiver). Ignored unless pending."""
        if not message_ids:
            return 0
        o = _outbox.c
        with self._write() as conn:
            result = conn.execute(
                update(_outbox)
                .where(
                    o.id.in_(list(message_ids)), o.status == MessageStatus.PENDING.value, o.claimed_until.is_not(None)
                )
                .values(claimed_until=_aware(now, "now"))
            )
        return int(result.rowcount)

    def mark_dead(self, message_id: int, at: datetime, error: str) -> None:
        """Give up (one more attempt, the last): the message goes to the dead-letter list. Ignored unless the
        message is pending."""
        o = _outbox.c
        with self._write() as conn:
            conn.execute(
                update(_outbox)
                .where(o.id == message_id, o.status == MessageStatus.PENDING.value)
                .values(
                    status=MessageStatus.DEAD.value,
                    dead_at=_aware(at, "at"),
                    attempts=o.attempts + 1,
                    last_error=error,
                    claimed_until=None,
                )
            )

    def external_ref(self, receiver: str, dedup_key: str) -> Mapping[str, Any]:
        """The non-empty external reference of the latest delivered message of this receiver and dedup key
        ({} if there is none)."""
        o = _outbox.c
        stmt = (
            select(o.external_ref)
            .where(o.receiver == receiver, o.dedup_key == dedup_key, o.status == MessageStatus.DELIVERED.value)
            .order_by(o.delivered_at.desc(), o.id.desc())
        )
        with self._read() as conn:
            for ref in conn.execute(stmt).scalars():
                if ref:
                    return dict(ref)
        return {}

    def messages(self, status: str | None = None, receiver: str | None = None, limit: int = 200) -> list[OutboxMessage]:
        """Outbox rows, newest first; status "dead" is the dead-letter list."""
        o = _outbox.c
        stmt = select(_outbox)
        if status is not None:
            stmt = stmt.where(o.status == MessageStatus(status).value)
        if receiver is not None:
            stmt = stmt.where(o.receiver == receiver)
        stmt = stmt.order_by(o.id.desc()).limit(max(limit, 0))
        with self._read() as conn:
            return [_message(r) for r in conn.execute(stmt)]

    def requeue(self, message_id: int, now: datetime) -> bool:
        """Put a dead message back in the queue, due at `now` (attempts are kept). False unless it was dead."""
        o = _outbox.c
        with self._write() as conn:
            result = conn.execute(
                update(_outbox)
                .where(o.id == message_id, o.status == MessageStatus.DEAD.value)
                .values(
                    status=MessageStatus.PENDING.value,
                    next_attempt_at=_aware(now, "now"),
                    claimed_until=None,
                    dead_at=None,
                )
            )
            return bool(result.rowcount)

    # ---- silences

    def save_silence(self, silence: Silence) -> None:
        """Create or replace a silence by id; an empty id gets a new uuid4 (see `upsert_silence`)."""
        self.upsert_silence(silence)

    def upsert_silence(self, silence: Silence) -> str:
        """`save_silence` returning the silence id (the generated one when `silence.id` is empty)."""
        silence_id = silence.id or str(uuid.uuid4())
        row = {
            "id": silence_id,
            "matchers": [matcher_text(m) for m in silence.matchers],
            "starts_at": _aware(silence.starts_at),
            "ends_at": _aware(silence.ends_at),
            "created_by": silence.created_by,
            "comment": silence.comment,
            "updated_at": self._clock.now(),
        }
        ins = self._insert(_silences)
        upsert = ins.on_conflict_do_update(
            index_elements=[_silences.c.id], set_={c: ins.excluded[c] for c in row if c != "id"}
        )
        with self._write() as conn:
            conn.execute(upsert, row)
        return silence_id

    def expire_silence(self, silence_id: str, at: datetime) -> bool:
        """End a silence at `at` (ends_at = min(ends_at, at)); False for an unknown id.

        A silence that had not started by `at` keeps a 1 microsecond window ending at `at` (a Silence needs
        starts_at < ends_at), so it is expired from `at` on and never muted anything.
        """
        at = _aware(at, "at")
        with self._write() as conn:
            row = conn.execute(select(_silences).where(_silences.c.id == silence_id)).first()
            if row is None:
                return False
            ends_at = min(row.ends_at, at)
            starts_at = min(row.starts_at, ends_at - timedelta(microseconds=1))
            conn.execute(
                update(_silences)
                .where(_silences.c.id == silence_id)
                .values(starts_at=starts_at, ends_at=ends_at, updated_at=self._clock.now())
            )
            return True

    def silences(self, include_expired_after: datetime | None = None) -> list[Silence]:
        """Active and pending silences (by the store's clock), plus expired ones that ended after
        `include_expired_after`; by starts_at, then id."""
        cutoff = self._clock.now()
        if include_expired_after is not None:
            cutoff = min(cutoff, _aware(include_expired_after, "include_expired_after"))
        stmt = select(_silences).where(_silences.c.ends_at > cutoff).order_by(_silences.c.starts_at, _silences.c.id)
        with self._read() as conn:
            return [
                Silence(
                    id=r.id,
                    matchers=tuple(parse_matcher(m) for m in r.matchers),
                    starts_at=r.starts_at,
                    ends_at=r.ends_at,
                    created_by=r.created_by,
                    comment=r.comment,
                )
                for r in conn.execute(stmt)
            ]

    # ---- acknowledgements and component state

    def acknowledge(self, ack: Acknowledgement) -> None:
        """Record an acknowledgement; a second one for the same target and time replaces the first."""
        row = {"target": ack.target, "at": _aware(ack.at), "acked_by": ack.by, "via": ack.via}
        ins = self._insert(_acks)
        upsert = ins.on_conflict_do_update(
            index_elements=[_acks.c.target, _acks.c.at],
            set_={"acked_by": ins.excluded.acked_by, "via": ins.excluded.via},
        )
        with self._write() as conn:
            conn.execute(upsert, row)

    def acknowledgements(self, targets: Sequence[str] | None = None) -> list[Acknowledgement]:
        """Acknowledgements (of `targets`, or all), oldest first."""
        if targets is not None and len(targets) == 0:
            return []
        stmt = select(_acks)
        if targets is not None:
            stmt = stmt.where(_acks.c.target.in_(sorted(set(targets))))
        stmt = stmt.order_by(_acks.c.at, _acks.c.target)
        with self._read() as conn:
            return [Acknowledgement(target=r.target, by=r.acked_by, at=r.at, via=r.via) for r in conn.execute(stmt)]

    def load_state(self, name: str) -> Mapping[str, Any] | None:
        with self._read() as conn:
            state = conn.execute(select(_states.c.state).where(_states.c.name == name)).scalar()
        return None if state is None else dict(state)

    def save_state(self, name: str, state: Mapping[str, Any]) -> None:
        """Replace a component's state document (must be JSON-serialisable, no NaN or infinity)."""
        row = {"name": name, "state": _json(state, f"state of {name!r}"), "updated_at": self._clock.now()}
        ins = self._insert(_states)
        upsert = ins.on_conflict_do_update(
            index_elements=[_states.c.name], set_={"state": ins.excluded.state, "updated_at": ins.excluded.updated_at}
        )
        with self._write() as conn:
            conn.execute(upsert, row)

    # ---- retention

    def prune(self, before: datetime) -> int:
        """Delete what is finished and older than `before`; return the number of rows deleted: resolved alerts
        (resolved_at), pending alerts not evaluated since (dropped episodes), delivered (delivered_at) and dead
        (dead_at) messages, expired silences (ends_at) and acknowledgements (at)."""
        before = _aware(before, "before")
        a, o = _alerts.c, _outbox.c
        statements = (
            delete(_alerts).where(
                or_(
                    and_(a.state == AlertState.RESOLVED.value, a.resolved_at < before),
                    and_(a.state == AlertState.PENDING.value, a.last_evaluated_at < before),
                )
            ),
            delete(_outbox).where(
                or_(
                    and_(o.status == MessageStatus.DELIVERED.value, o.delivered_at < before),
                    and_(o.status == MessageStatus.DEAD.value, o.dead_at < before),
                )
            ),
            delete(_silences).where(_silences.c.ends_at < before),
            delete(_acks).where(_acks.c.at < before),
        )
        with self._write() as conn:
            return sum(int(conn.execute(s).rowcount) for s in statements)

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1")).one()


def _alert_row(a: Alert) -> dict[str, Any]:
    labels = {str(k): str(v) for k, v in a.labels.items()}
    return {
        "fingerprint": a.fingerprint,
        "active_since": _aware(a.active_since, "active_since"),
        "state": AlertState(a.state).value,
        "alertname": labels.get("alertname"),
        "service": labels.get("service"),
        "severity": labels.get("severity"),
        "labels": labels,
        "annotations": {str(k): str(v) for k, v in a.annotations.items()},
        "values": {str(k): _finite_or_none(v) for k, v in a.values.items()},
        "fired_at": None if a.fired_at is None else _aware(a.fired_at, "fired_at"),
        "resolved_at": None if a.resolved_at is None else _aware(a.resolved_at, "resolved_at"),
        "last_evaluated_at": _aware(a.last_evaluated_at, "last_evaluated_at"),
        "for_seconds": a.for_.total_seconds(),
    }


def _alert(r: Row[Any]) -> Alert:
    return Alert(
        fingerprint=r.fingerprint,
        labels=dict(r.labels),
        annotations=dict(r.annotations),
        state=AlertState(r.state),
        active_since=r.active_since,
        fired_at=r.fired_at,
        resolved_at=r.resolved_at,
        values=dict(r.values),
        last_evaluated_at=r.last_evaluated_at,
        for_=timedelta(seconds=r.for_seconds),
    )


def _message_row(m: OutboxMessage) -> dict[str, Any]:
    return {
        "receiver": m.receiver,
        "action": m.action,
        "dedup_key": m.dedup_key,
        "payload": _json(m.payload, f"payload of the {m.receiver} message {m.dedup_key!r}"),
        "created_at": _aware(m.created_at, "created_at"),
        "attempts": m.attempts,
        "next_attempt_at": None if m.next_attempt_at is None else _aware(m.next_attempt_at, "next_attempt_at"),
        "status": MessageStatus(m.status).value,
        "claimed_until": None,
        "last_error": m.last_error,
        "delivered_at": None if m.delivered_at is None else _aware(m.delivered_at, "delivered_at"),
        "dead_at": None,
        "external_ref": _json(m.external_ref, "external_ref"),
    }


def _message(r: Row[Any]) -> OutboxMessage:
    return OutboxMessage(
        receiver=r.receiver,
        action=r.action,
        dedup_key=r.dedup_key,
        payload=dict(r.payload),
        created_at=r.created_at,
        id=int(r.id),
        attempts=r.attempts,
        next_attempt_at=r.next_attempt_at,
        status=MessageStatus(r.status),
        last_error=r.last_error,
        delivered_at=r.delivered_at,
        external_ref=dict(r.external_ref or {}),
    )
