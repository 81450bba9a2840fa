"""SqlAlertStore against a real SQLite file and a real PostgreSQL schema (fixtures in conftest.py)."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import IntegrityError

from slo_service.adapters.memory_alerts import InMemoryAlertStore
from slo_service.adapters.sql import migrate
from slo_service.adapters.sql.alert_models import AlertRow, OutboxRow
from slo_service.adapters.sql.alert_store import SqlAlertStore, matcher_text, parse_matcher
from slo_service.adapters.sql.engine import make_engine
from slo_service.core.alerting.conditions import AlertCondition
from slo_service.core.alerting.fingerprint import fingerprint
from slo_service.core.alerting.lifecycle import Alert, AlertBook, AlertState
from slo_service.core.alerting.ports import Acknowledgement, AlertQuery, AlertStore
from slo_service.core.clock import ManualClock
from slo_service.core.notify import MessageStatus, OutboxMessage
from slo_service.core.routing.silences import Silence
from slo_service.core.selector import Matcher
from tests.integration.test_sql_migrations import HEAD_REVISION

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))
ALERT_TABLES = {"alerts", "notification_outbox", "silences", "acknowledgements", "component_state"}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(db_engine: Engine, clock: ManualClock) -> SqlAlertStore:
    return SqlAlertStore(db_engine, clock=clock)


def make_alert(
    state: AlertState = AlertState.FIRING,
    active_since: datetime = T0,
    *,
    service: str = "checkout",
    severity: str = "page",
    alertname: str = "SLOBurnRateHigh",
    extra: dict[str, str] | None = None,
    last_evaluated_at: datetime | None = None,
    values: dict[str, float | None] | None = None,
) -> Alert:
    labels = {"alertname": alertname, "service": service, "severity": severity, "slo": "availability"}
    labels |= extra or {}
    return Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        annotations={"summary": f"{service} burns its budget"},
        state=state,
        active_since=active_since,
        fired_at=active_since + timedelta(minutes=5) if state is not AlertState.PENDING else None,
        resolved_at=active_since + timedelta(minutes=30) if state is AlertState.RESOLVED else None,
        values={"burn_rate_long": 14.4, "threshold": 14.4} if values is None else values,
        last_evaluated_at=last_evaluated_at
        or (active_since + timedelta(minutes=30 if state is AlertState.RESOLVED else 5)),
        for_=timedelta(minutes=5),
    )


def make_message(
    receiver: str = "slack",
    dedup_key: str = "group-1",
    *,
    action: str = "trigger",
    created_at: datetime = T0,
    payload: dict[str, Any] | None = None,
    next_attempt_at: datetime | None = None,
) -> OutboxMessage:
    return OutboxMessage(
        receiver=receiver,
        action=action,
        dedup_key=dedup_key,
        payload={"text": "checkout burns", "alerts": [1, 2]} if payload is None else payload,
        created_at=created_at,
        next_attempt_at=next_attempt_at,
    )


def make_silence(
    id_: str = "s1",
    starts_at: datetime = T0,
    ends_at: datetime | None = None,
    matchers: tuple[Matcher, ...] = (Matcher("slo", "=", "availability"),),
) -> Silence:
    return Silence(
        id=id_,
        matchers=matchers,
        starts_at=starts_at,
        ends_at=ends_at or starts_at + timedelta(hours=2),
        created_by="alice",
        comment="maintenance",
    )


def count(engine: Engine, model: type[AlertRow] | type[OutboxRow]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_is_an_alert_store(store: SqlAlertStore) -> None:
    port: AlertStore = store
    assert port.load_open_alerts() == []
    store.ping()


# ---- schema


def test_upgrade_head_creates_alert_tables_without_drift(db_url: str) -> None:
    migrate.upgrade(db_url)
    assert migrate.current_revision(db_url) == HEAD_REVISION
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= ALERT_TABLES
    finally:
        engine.dispose()
    assert migrate.check_no_drift(db_url) == []


def test_downgrade_to_0001_drops_only_alert_tables(db_url: str) -> None:
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "0001")
    engine = make_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables & ALERT_TABLES == set()
    assert "slo_slices" in tables
    migrate.upgrade(db_url)
    assert migrate.check_no_drift(db_url) == []


# ---- alerts


def test_alert_round_trip(store: SqlAlertStore) -> None:
    a = make_alert(values={"burn_rate_long": 14.4, "events_long": None, "ratio": 0.1 + 0.2})
    store.save_alerts([a])
    assert store.alert_history(a.fingerprint) == [a]
    assert store.load_open_alerts() == [a]


def test_datetimes_come_back_aware_utc(store: SqlAlertStore) -> None:
    a = make_alert(active_since=T0.astimezone(CET))
    store.save_alerts([a])
    (back,) = store.alert_history(a.fingerprint)
    assert back == a  # aware datetimes compare by instant
    for when in (back.active_since, back.fired_at, back.last_evaluated_at):
        assert when is not None and when.tzinfo is not None and when.utcoffset() == timedelta(0)
    assert back.active_since == T0


def test_naive_datetimes_are_refused(store: SqlAlertStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.save_alerts([make_alert(active_since=datetime(2026, 1, 5, 12, 0))])
    with pytest.raises(ValueError, match="naive"):
        store.claim_due(datetime(2026, 1, 5, 12, 0), 10, timedelta(minutes=1))
    assert store.query_alerts(AlertQuery()) == []


def test_non_finite_values_are_stored_as_none(store: SqlAlertStore) -> None:
    a = make_alert(values={"nan": math.nan, "inf": math.inf, "ok": 1.5})
    store.save_alerts([a])
    assert store.alert_history(a.fingerprint)[0].values == {"nan": None, "inf": None, "ok": 1.5}


def test_save_upserts_one_row_per_episode(store: SqlAlertStore, db_engine: Engine) -> None:
    pending = make_alert(AlertState.PENDING)
    store.save_alerts([pending])
    firing = make_alert(AlertState.FIRING)
    store.save_alerts([firing])
    resolved = make_alert(AlertState.RESOLVED)
    store.save_alerts([resolved])
    assert count(db_engine, AlertRow) == 1
    assert store.alert_history(pending.fingerprint) == [resolved]
    assert store.load_open_alerts() == []


def test_new_episode_gets_a_new_row_and_history_is_newest_first(store: SqlAlertStore) -> None:
    first = make_alert(AlertState.RESOLVED, at(0))
    second = make_alert(AlertState.FIRING, at(60))
    store.save_alerts([first])
    store.save_alerts([second])
    assert store.alert_history(first.fingerprint) == [second, first]
    assert store.alert_history(first.fingerprint, limit=1) == [second]
    assert store.alert_history("nope") == []
    assert store.load_open_alerts() == [second]


def test_load_open_alerts_takes_the_latest_episode_per_fingerprint(store: SqlAlertStore) -> None:
    stale_firing = make_alert(AlertState.FIRING, at(0), service="a")  # superseded by a newer episode
    newer_resolved = make_alert(AlertState.RESOLVED, at(60), service="a")
    pending = make_alert(AlertState.PENDING, at(30), service="b")
    firing = make_alert(AlertState.FIRING, at(10), service="c")
    store.save_alerts([stale_firing, newer_resolved, pending, firing])
    assert store.load_open_alerts() == [firing, pending]  # oldest episode first
    book = AlertBook.from_alerts(store.load_open_alerts())
    assert len(book) == 2


def test_alert_book_survives_a_restart(store: SqlAlertStore) -> None:
    labels = {"alertname": "SLOBurnRateHigh", "service": "checkout", "severity": "page"}
    cond = AlertCondition(labels, {"summary": "burn"}, True, {"burn_rate_long": 20.0}, timedelta(minutes=5))
    book = AlertBook()
    book.update([cond], at(0))
    store.save_alerts(book.alerts())
    restarted = AlertBook.from_alerts(store.load_open_alerts())
    transitions = restarted.update([cond], at(5))
    assert [(t.previous, t.current) for t in transitions] == [(AlertState.PENDING, AlertState.FIRING)]
    assert transitions[0].alert.active_since == at(0)


def test_dropped_pending_episodes_are_deleted(store: SqlAlertStore) -> None:
    pending = make_alert(AlertState.PENDING, service="a")
    firing = make_alert(AlertState.FIRING, service="b")
    store.save_alerts([pending, firing])
    store.save_alerts([], dropped=[pending.fingerprint, firing.fingerprint])  # only pending rows go
    assert store.load_open_alerts() == [firing]


def test_query_alerts_filters_and_orders(store: SqlAlertStore) -> None:
    # `a` is still firing although its evaluator has not looked at it for a while: `since` keeps it.
    a = make_alert(AlertState.FIRING, at(0), service="checkout", severity="page", last_evaluated_at=at(-500))
    b = make_alert(AlertState.RESOLVED, at(10), service="checkout", severity="ticket")
    c = make_alert(AlertState.PENDING, at(20), service="search", severity="page")
    d = make_alert(AlertState.RESOLVED, at(-600), service="search", severity="page")  # resolved long ago
    store.save_alerts([a, b, c, d])
    assert store.query_alerts(AlertQuery()) == [c, b, a, d]
    assert store.query_alerts(AlertQuery(state=AlertState.FIRING)) == [a]
    assert store.query_alerts(AlertQuery(service="checkout")) == [b, a]
    assert store.query_alerts(AlertQuery(severity="page")) == [c, a, d]
    assert store.query_alerts(AlertQuery(state=AlertState.RESOLVED, service="search")) == [d]
    assert store.query_alerts(AlertQuery(since=at(-60))) == [c, b, a]
    assert store.query_alerts(AlertQuery(since=at(15), state=AlertState.RESOLVED)) == [b]
    assert store.query_alerts(AlertQuery(since=at(100), state=AlertState.RESOLVED)) == []
    assert store.query_alerts(AlertQuery(limit=2)) == [c, b]
    assert store.query_alerts(AlertQuery(service="nope")) == []


def test_alert_without_service_labels(store: SqlAlertStore) -> None:
    labels = {"alertname": "ScrapeDown"}
    a = Alert(fingerprint(labels), labels, {}, AlertState.FIRING, T0, T0, None, {}, T0)
    store.save_alerts([a])
    assert store.query_alerts(AlertQuery()) == [a]
    assert store.query_alerts(AlertQuery(service="checkout")) == []


# ---- atomicity


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(make_message(payload={"not json": object()}), id="unserialisable-payload"),
        pytest.param(replace(make_message(), attempts=-1), id="database-check-constraint"),
    ],
)
def test_save_alerts_is_atomic(store: SqlAlertStore, db_engine: Engine, bad: OutboxMessage) -> None:
    before = make_alert(AlertState.PENDING)
    store.save_alerts([before])
    # An unserialisable payload is refused before the transaction starts; the check constraint fails inside
    # it, after the alert upsert ran, so the rollback must undo that.
    with pytest.raises(ValueError if bad.attempts >= 0 else IntegrityError):
        store.save_alerts(
            [make_alert(AlertState.FIRING), make_alert(service="other")], [make_message(), bad, make_message()]
        )
    assert store.alert_history(before.fingerprint) == [before]  # not updated
    assert count(db_engine, AlertRow) == 1  # the new alert was not inserted
    assert count(db_engine, OutboxRow) == 0  # nor the good messages


def test_alerts_and_messages_are_written_together(store: SqlAlertStore) -> None:
    a = make_alert()
    store.save_alerts([a], [make_message(), make_message("pagerduty")])
    assert store.load_open_alerts() == [a]
    assert [m.receiver for m in store.messages()] == ["pagerduty", "slack"]


# ---- outbox


def test_enqueue_and_list_messages(store: SqlAlertStore) -> None:
    store.enqueue([make_message("slack", "g1"), make_message("pagerduty", "g1"), make_message("slack", "g2")])
    msgs = store.messages()
    assert [(m.receiver, m.dedup_key) for m in msgs] == [("slack", "g2"), ("pagerduty", "g1"), ("slack", "g1")]
    assert all(isinstance(m.id, int) for m in msgs)
    assert len({m.id for m in msgs}) == 3
    first = msgs[-1]
    assert first.payload == {"text": "checkout burns", "alerts": [1, 2]}
    assert first.status is MessageStatus.PENDING
    assert first.attempts == 0 and first.external_ref == {} and first.last_error is None
    assert first.created_at == T0 and first.created_at.tzinfo is not None
    assert [m.dedup_key for m in store.messages(receiver="slack")] == ["g2", "g1"]
    assert store.messages(limit=1) == [msgs[0]]
    assert store.messages(status="dead") == []
    store.enqueue([])


def test_claim_due_claims_due_messages_once(store: SqlAlertStore) -> None:
    store.enqueue(
        [
            make_message(dedup_key="now"),
            make_message(dedup_key="later", next_attempt_at=at(10)),
            make_message(dedup_key="due", next_attempt_at=at(0)),
        ]
    )
    claimed = store.claim_due(at(0), 10, timedelta(hours=1))
    assert [m.dedup_key for m in claimed] == ["now", "due"]
    assert store.claim_due(at(0.5), 10, timedelta(hours=1)) == []  # still leased
    assert [m.dedup_key for m in store.claim_due(at(10), 10, timedelta(hours=1))] == ["later"]


def test_claim_due_respects_limit(store: SqlAlertStore) -> None:
    store.enqueue([make_message(dedup_key=str(i)) for i in range(5)])
    assert [m.dedup_key for m in store.claim_due(T0, 2, timedelta(minutes=1))] == ["0", "1"]
    assert [m.dedup_key for m in store.claim_due(T0, 2, timedelta(minutes=1))] == ["2", "3"]
    assert [m.dedup_key for m in store.claim_due(T0, 2, timedelta(minutes=1))] == ["4"]
    assert store.claim_due(T0, 0, timedelta(minutes=1)) == []


def test_expired_lease_is_claimed_again(store: SqlAlertStore) -> None:
    store.enqueue([make_message()])
    (m,) = store.claim_due(T0, 10, timedelta(seconds=30))
    assert store.claim_due(T0 + timedelta(seconds=30), 10, timedelta(seconds=30)) == []  # lease ends at +30s
    (again,) = store.claim_due(T0 + timedelta(seconds=31), 10, timedelta(seconds=30))  # the worker crashed
    assert again.id == m.id


def test_mark_delivered_and_external_ref(store: SqlAlertStore) -> None:
    store.enqueue([make_message("slack", "g1"), make_message("slack", "g1", action="update")])
    (first,) = store.claim_due(T0, 10, timedelta(minutes=1))  # the update waits for the trigger
    assert first.id is not None
    assert store.external_ref("slack", "g1") == {}
    store.mark_delivered(first.id, at(1), {"channel": "C1", "ts": "1.0"})
    assert store.external_ref("slack", "g1") == {"channel": "C1", "ts": "1.0"}
    (second,) = store.claim_due(at(1), 10, timedelta(minutes=1))
    assert second.id is not None and second.action == "update"
    store.mark_delivered(second.id, at(2), {})  # an empty reference does not hide the earlier one
    assert store.external_ref("slack", "g1") == {"channel": "C1", "ts": "1.0"}
    assert store.external_ref("slack", "g2") == {}
    assert store.external_ref("pagerduty", "g1") == {}
    (d,) = [m for m in store.messages() if m.id == first.id]
    assert d.status is MessageStatus.DELIVERED and d.delivered_at == at(1) and d.attempts == 1
    assert store.claim_due(at(100), 10, timedelta(minutes=1)) == []  # delivered: never claimed again


def test_external_ref_takes_the_latest_delivery(store: SqlAlertStore) -> None:
    store.enqueue([make_message(), make_message(action="update")])
    (a,) = store.claim_due(T0, 10, timedelta(minutes=1))
    assert a.id is not None
    store.mark_delivered(a.id, at(1), {"ts": "1"})
    (b,) = store.claim_due(at(1), 10, timedelta(minutes=1))
    assert b.id is not None
    store.mark_delivered(b.id, at(2), {"ts": "2"})
    assert store.external_ref("slack", "group-1") == {"ts": "2"}


def test_mark_retry(store: SqlAlertStore) -> None:
    store.enqueue([make_message()])
    (m,) = store.claim_due(T0, 10, timedelta(minutes=10))
    assert m.id is not None
    store.mark_retry(m.id, at(2), "HTTP 503")
    (r,) = store.messages()
    assert (r.status, r.attempts, r.next_attempt_at, r.last_error) == (MessageStatus.PENDING, 1, at(2), "HTTP 503")
    assert store.claim_due(at(1), 10, timedelta(minutes=10)) == []  # not due yet (the claim was released)
    (again,) = store.claim_due(at(2), 10, timedelta(minutes=10))
    assert again.attempts == 1


def test_mark_dead_and_requeue(store: SqlAlertStore) -> None:
    store.enqueue([make_message(), make_message("pagerduty")])
    m, other = store.claim_due(T0, 10, timedelta(minutes=10))
    assert m.id is not None and other.id is not None
    store.mark_dead(m.id, at(1), "HTTP 400: invalid blocks")
    (dead,) = store.messages(status="dead")
    assert (dead.id, dead.attempts, dead.last_error) == (m.id, 1, "HTTP 400: invalid blocks")
    (reclaimed,) = store.claim_due(at(20), 10, timedelta(hours=1))  # the lease of `other` ran out
    assert reclaimed == replace(store.messages(receiver="pagerduty")[0], interrupted=True)
    assert store.requeue(other.id, at(20)) is False  # not dead
    assert store.requeue(10**9, at(20)) is False  # unknown
    assert store.requeue(m.id, at(30)) is True
    assert store.messages(status="dead") == []
    (again,) = store.claim_due(at(30), 10, timedelta(minutes=1))
    assert (again.id, again.status, again.next_attempt_at, again.attempts) == (m.id, MessageStatus.PENDING, at(30), 1)


def test_a_late_worker_does_not_undo_a_delivery(store: SqlAlertStore) -> None:
    store.enqueue([make_message()])
    (m,) = store.claim_due(T0, 10, timedelta(seconds=10))
    (m2,) = store.claim_due(at(1), 10, timedelta(seconds=10))  # first worker's lease expired
    assert m.id is not None and m.id == m2.id
    store.mark_delivered(m.id, at(1.1), {"ts": "9"})
    store.mark_retry(m.id, at(5), "timeout")  # the first worker finally gives up
    store.mark_dead(m.id, at(5), "timeout")
    (final,) = store.messages()
    assert final.status is MessageStatus.DELIVERED and final.last_error is None


@dataclass
class ModelMessage:
    id: int
    receiver: str
    dedup_key: str
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claimed_until: datetime | None = None
    last_error: str | None = None


def random_outbox_operations(store: SqlAlertStore | InMemoryAlertStore, seed: int) -> None:
    """Random enqueue/claim/deliver/retry/dead/requeue sequences against a dictionary model of the outbox:
    two receivers, few dedup keys (so one group's messages queue behind each other), claims of one receiver
    or of all."""
    rng = random.Random(seed)
    model: dict[int, ModelMessage] = {}
    now = T0
    for step in range(150):
        now += timedelta(seconds=rng.choice([0, 1, 5, 30, 90]))
        op = rng.choice(["enqueue", "claim", "claim", "deliver", "retry", "dead", "requeue"])
        ids = sorted(model)
        if op == "enqueue" or not ids:
            nat = rng.choice([None, now, now + timedelta(seconds=60)])
            receiver, key = rng.choice(["slack", "pagerduty"]), f"k{rng.randint(0, 5)}"
            store.enqueue([make_message(receiver, key, next_attempt_at=nat)])
            new_id = max(m.id or 0 for m in store.messages(limit=1))
            model[new_id] = ModelMessage(new_id, receiver, key, next_attempt_at=nat)
        elif op == "claim":
            limit, lease = rng.randint(1, 4), timedelta(seconds=rng.choice([10, 60, 300]))
            only = rng.choice([None, "slack", "pagerduty"])
            due, seen = [], set()
            for _, m in sorted(model.items()):
                if m.status != "pending" or (m.receiver, m.dedup_key) in seen:
                    continue
                seen.add((m.receiver, m.dedup_key))  # an older pending message of the group holds the rest
                if (
                    (only is None or m.receiver == only)
                    and (m.next_attempt_at is None or m.next_attempt_at <= now)
                    and (m.claimed_until is None or m.claimed_until < now)
                ):
                    due.append(m)
            due = due[:limit]
            expected_due = sorted(
                {
                    m.receiver
                    for m in model.values()
                    if m.status == "pending"
                    and (m.next_attempt_at is None or m.next_attempt_at <= now)
                    and (m.claimed_until is None or m.claimed_until < now)
                }
            )
            assert store.due_receivers(now) == expected_due, step
            expected = [(m.id, m.claimed_until is not None) for m in due]
            for m in due:
                m.claimed_until = now + lease
            claimed = store.claim_due(now, limit, lease, receiver=only)
            assert [(m.id, m.interrupted) for m in claimed] == expected, step
        else:
            m = model[rng.choice(ids)]
            if op == "deliver":
                store.mark_delivered(m.id, now, {"ts": str(step)})
                m.status, m.attempts, m.claimed_until, m.last_error = "delivered", m.attempts + 1, None, None
            elif op == "retry":
                store.mark_retry(m.id, now + timedelta(seconds=30), f"e{step}")
                if m.status == "pending":
                    m.attempts, m.claimed_until = m.attempts + 1, None
                    m.next_attempt_at, m.last_error = now + timedelta(seconds=30), f"e{step}"
            elif op == "dead":
                store.mark_dead(m.id, now, f"d{step}")
                if m.status == "pending":
                    m.status, m.attempts, m.claimed_until, m.last_error = "dead", m.attempts + 1, None, f"d{step}"
            else:
                assert store.requeue(m.id, now) is (m.status == "dead")
                if m.status == "dead":
                    m.status, m.next_attempt_at, m.claimed_until = "pending", now, None
    stored = {m.id: (m.status.value, m.attempts, m.next_attempt_at, m.last_error) for m in store.messages(limit=1000)}
    assert stored == {i: (m.status, m.attempts, m.next_attempt_at, m.last_error) for i, m in model.items()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_outbox_matches_a_model_under_random_operations(store: SqlAlertStore, seed: int) -> None:
    random_outbox_operations(store, seed)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_in_memory_outbox_matches_the_same_model(seed: int) -> None:
    random_outbox_operations(InMemoryAlertStore(), seed)


@pytest.mark.parametrize("memory", [False, True], ids=["sql", "memory"])
def test_one_groups_messages_reach_a_receiver_in_order(store: SqlAlertStore, memory: bool) -> None:
    s: SqlAlertStore | InMemoryAlertStore = InMemoryAlertStore() if memory else store
    s.enqueue(
        [
            make_message("slack", "g1"),
            make_message("slack", "g1", action="resolve"),
            make_message("pagerduty", "g1"),
            make_message("slack", "g2"),
        ]
    )
    trigger, pd, other = s.claim_due(T0, 10, timedelta(minutes=1))
    assert [(m.receiver, m.dedup_key, m.action) for m in (trigger, pd, other)] == [
        ("slack", "g1", "trigger"),
        ("pagerduty", "g1", "trigger"),
        ("slack", "g2", "trigger"),
    ]
    assert trigger.id is not None and pd.id is not None and other.id is not None
    s.mark_delivered(pd.id, T0, {})
    s.mark_delivered(other.id, T0, {})
    # The trigger backs off (Slack throttles): the resolve must not overtake it, even when due.
    s.mark_retry(trigger.id, at(5), "HTTP 429")
    assert s.claim_due(at(1), 10, timedelta(minutes=1)) == []
    (again,) = s.claim_due(at(5), 10, timedelta(minutes=1))
    assert again.id == trigger.id
    s.mark_delivered(trigger.id, at(5), {"ts": "1"})
    (resolve,) = s.claim_due(at(5), 10, timedelta(minutes=1))
    assert resolve.action == "resolve"
    # A dead trigger no longer holds the group back (the resolve is the best the receiver can still get).
    s.enqueue([make_message("webhook", "g3"), make_message("webhook", "g3", action="resolve")])
    (first,) = s.claim_due(at(6), 10, timedelta(minutes=1), receiver="webhook")
    assert first.id is not None
    s.mark_dead(first.id, at(6), "HTTP 400")
    assert [m.action for m in s.claim_due(at(6), 10, timedelta(minutes=1), receiver="webhook")] == ["resolve"]


@pytest.mark.parametrize("memory", [False, True], ids=["sql", "memory"])
def test_claims_of_one_receiver_and_due_receivers(store: SqlAlertStore, memory: bool) -> None:
    s: SqlAlertStore | InMemoryAlertStore = InMemoryAlertStore() if memory else store
    s.enqueue([make_message("slack", "a"), make_message("pagerduty", "b"), make_message("slack", "c")])
    s.enqueue([make_message("webhook", "d", next_attempt_at=at(10))])
    assert s.due_receivers(T0) == ["pagerduty", "slack"]
    assert [m.dedup_key for m in s.claim_due(T0, 10, timedelta(hours=1), receiver="pagerduty")] == ["b"]
    assert s.due_receivers(T0) == ["slack"]  # pagerduty's only message is claimed
    assert [m.dedup_key for m in s.claim_due(T0, 1, timedelta(hours=1), receiver="slack")] == ["a"]
    assert s.claim_due(T0, 10, timedelta(hours=1), receiver="webhook") == []  # not due yet
    assert s.due_receivers(at(10)) == ["slack", "webhook"]


@pytest.mark.parametrize("memory", [False, True], ids=["sql", "memory"])
def test_a_claim_that_ended_without_an_outcome_comes_back_interrupted(store: SqlAlertStore, memory: bool) -> None:
    s: SqlAlertStore | InMemoryAlertStore = InMemoryAlertStore() if memory else store
    s.enqueue([make_message()])
    (m,) = s.claim_due(T0, 10, timedelta(seconds=30))
    assert m.interrupted is False and m.maybe_sent is False
    (again,) = s.claim_due(T0 + timedelta(seconds=31), 10, timedelta(seconds=30))  # the worker was SIGKILLed
    assert again.id == m.id and again.interrupted is True and again.attempts == 0 and again.maybe_sent
    assert again.id is not None
    s.mark_retry(again.id, at(1), "timeout")
    (third,) = s.claim_due(at(1), 10, timedelta(seconds=30))
    assert third.interrupted is False and third.attempts == 1 and third.maybe_sent  # an attempt was made


@pytest.mark.parametrize("memory", [False, True], ids=["sql", "memory"])
def test_a_delivered_message_shows_no_stale_error(store: SqlAlertStore, memory: bool) -> None:
    s: SqlAlertStore | InMemoryAlertStore = InMemoryAlertStore() if memory else store
    s.enqueue([make_message()])
    (m,) = s.claim_due(T0, 10, timedelta(minutes=1))
    assert m.id is not None
    s.mark_retry(m.id, at(1), "timeout (ReadTimeout): timed out")
    assert s.messages()[0].last_error == "timeout (ReadTimeout): timed out"
    s.claim_due(at(1), 10, timedelta(minutes=1))
    s.mark_delivered(m.id, at(2), {"ts": "1"})
    (done,) = s.messages()
    assert (done.status, done.last_error, done.attempts) == (MessageStatus.DELIVERED, None, 2)


@pytest.mark.parametrize("workers", [4])
def test_concurrent_claims_never_overlap(migrated_db_url: str, workers: int) -> None:
    setup = make_engine(migrated_db_url)
    try:
        SqlAlertStore(setup).enqueue([make_message(dedup_key=str(i)) for i in range(120)])
    finally:
        setup.dispose()
    engines = [make_engine(migrated_db_url) for _ in range(workers)]
    claims: list[list[int]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def work(i: int) -> None:
        s = SqlAlertStore(engines[i])
        try:
            barrier.wait()
            while batch := s.claim_due(T0, 7, timedelta(hours=1)):
                claims[i].extend(m.id for m in batch if m.id is not None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        for e in engines:
            e.dispose()
    assert not errors, errors
    every = [i for c in claims for i in c]
    assert len(every) == len(set(every)) == 120


# ---- silences


def test_silence_round_trip_and_update(store: SqlAlertStore) -> None:
    s = make_silence(
        matchers=(
            Matcher("slo", "=", "availability"),
            Matcher("service", "=~", "check.*|pay"),
            Matcher("severity", "!=", "ticket"),
            Matcher("team", "!~", "a\\.b"),
            Matcher("note", "=", 'say "hi"\\n\n\t'),
        ),
        starts_at=T0.astimezone(CET),
    )
    store.save_silence(s)
    assert store.silences() == [s]
    assert store.silences()[0].starts_at.utcoffset() == timedelta(0)
    updated = make_silence(ends_at=at(30))
    store.save_silence(updated)
    assert store.silences() == [updated]


def test_silence_with_empty_id_gets_a_uuid(store: SqlAlertStore) -> None:
    new_id = store.upsert_silence(make_silence(""))
    assert len(new_id) == 36
    store.save_silence(make_silence(""))
    ids = {s.id for s in store.silences()}
    assert new_id in ids and len(ids) == 2 and "" not in ids


def test_silences_lists_active_pending_and_recently_expired(store: SqlAlertStore, clock: ManualClock) -> None:
    expired_long_ago = make_silence("old", at(-300), at(-200))
    expired_recently = make_silence("recent", at(-100), at(-10))
    active = make_silence("active", at(-5), at(60))
    pending = make_silence("pending", at(30), at(90))
    for s in (pending, active, expired_recently, expired_long_ago):
        store.save_silence(s)
    assert [s.id for s in store.silences()] == ["active", "pending"]
    assert [s.id for s in store.silences(include_expired_after=at(-60))] == ["recent", "active", "pending"]
    assert len(store.silences(include_expired_after=at(-1000))) == 4
    assert [s.id for s in store.silences(include_expired_after=at(1000))] == ["active", "pending"]
    clock.set(at(61))
    assert [s.id for s in store.silences()] == ["pending"]


def test_expire_silence(store: SqlAlertStore) -> None:
    store.save_silence(make_silence("active", at(-5), at(60)))
    store.save_silence(make_silence("pending", at(30), at(90)))
    assert store.expire_silence("nope", T0) is False
    assert store.expire_silence("active", T0) is True
    assert store.expire_silence("pending", T0) is True
    assert [s.id for s in store.silences()] == []
    expired = {s.id: s for s in store.silences(include_expired_after=at(-1))}
    assert expired["active"].ends_at == T0 and expired["active"].starts_at == at(-5)
    assert expired["pending"].ends_at == T0 and expired["pending"].expired(T0)
    assert store.expire_silence("active", at(10)) is True  # later expiry does not extend it
    assert store.silences(include_expired_after=at(-1))[0].ends_at == T0


@pytest.mark.parametrize(
    "matcher",
    [Matcher("a", "=", ""), Matcher("a", "=~", ".+"), Matcher("b_1", "!=", "x'y`z"), Matcher("c", "=", "\\\\")],
)
def test_matcher_text_round_trip(matcher: Matcher) -> None:
    assert parse_matcher(matcher_text(matcher)) == matcher


# ---- acknowledgements and component state


def test_acknowledgements(store: SqlAlertStore) -> None:
    a1 = Acknowledgement("group-1", "alice", at(1))
    a2 = Acknowledgement("fp-2", "bob", at(2).astimezone(CET), via="slack")
    store.acknowledge(a2)
    store.acknowledge(a1)
    assert store.acknowledgements() == [a1, a2]
    assert store.acknowledgements(["fp-2", "other"]) == [a2]
    assert store.acknowledgements([]) == []
    again = Acknowledgement("group-1", "carol", at(1), via="pagerduty")
    store.acknowledge(again)  # same target and time: replaced
    assert store.acknowledgements(["group-1"]) == [again]
    assert store.acknowledgements()[1].at.utcoffset() == timedelta(0)


def test_documents_must_be_strict_json(store: SqlAlertStore) -> None:
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        store.save_state("x", {"v": math.nan})
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        store.enqueue([make_message(payload={"when": T0})])
    assert store.load_state("x") is None and store.messages() == []


def test_component_state(store: SqlAlertStore) -> None:
    assert store.load_state("dispatcher") is None
    doc = {"groups": {"g1": {"alerts": ["a", "b"], "next_flush": "2026-01-05T12:00:00+00:00"}}, "n": 3, "x": None}
    store.save_state("dispatcher", doc)
    assert store.load_state("dispatcher") == doc
    store.save_state("dispatcher", {"groups": {}})
    assert store.load_state("dispatcher") == {"groups": {}}
    assert store.load_state("escalation") is None


json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_docs = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
    max_leaves=12,
)
label_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(st.text(max_size=10), json_docs, max_size=5))
def test_json_documents_round_trip(store: SqlAlertStore, doc: dict[str, Any]) -> None:
    store.save_state("doc", doc)
    assert store.load_state("doc") == doc


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.dictionaries(label_text, label_text, max_size=5), annotations=st.dictionaries(label_text, label_text))
def test_labels_and_annotations_round_trip(
    store: SqlAlertStore, labels: dict[str, str], annotations: dict[str, str]
) -> None:
    a = Alert(fingerprint(labels), labels, annotations, AlertState.FIRING, T0, T0, None, {"v": 1.0}, T0)
    store.save_alerts([a])
    assert store.alert_history(a.fingerprint)[0] == a


# ---- retention


def test_prune(store: SqlAlertStore, clock: ManualClock) -> None:
    old_resolved = make_alert(AlertState.RESOLVED, at(-600), service="a")
    new_resolved = make_alert(AlertState.RESOLVED, at(-10), service="b")
    old_firing = make_alert(AlertState.FIRING, at(-600), service="c", last_evaluated_at=at(0))
    stale_pending = make_alert(AlertState.PENDING, at(-600), service="d")
    store.save_alerts([old_resolved, new_resolved, old_firing, stale_pending])
    store.enqueue([make_message(dedup_key=str(i), created_at=at(-600)) for i in range(4)])
    m0, m1, m2, m3 = store.claim_due(T0, 10, timedelta(minutes=1))
    for m in (m0, m1, m2, m3):
        assert m.id is not None
    store.mark_delivered(m0.id or 0, at(-500), {"ts": "1"})  # old delivery: pruned
    store.mark_delivered(m1.id or 0, at(-1), {})  # recent delivery: kept
    store.mark_dead(m2.id or 0, at(-500), "400")  # old dead letter: pruned
    # m3 stays pending however old
    store.save_silence(make_silence("old", at(-600), at(-500)))
    store.save_silence(make_silence("current", at(-600), at(60)))
    store.acknowledge(Acknowledgement("g", "alice", at(-500)))
    store.acknowledge(Acknowledgement("g", "bob", at(-1)))

    assert store.prune(at(-60)) == 2 + 2 + 1 + 1
    assert {a.labels["service"] for a in store.query_alerts(AlertQuery())} == {"b", "c"}
    assert {m.id for m in store.messages()} == {m1.id, m3.id}
    assert [s.id for s in store.silences(include_expired_after=at(-10000))] == ["current"]
    assert [a.by for a in store.acknowledgements()] == ["bob"]
    assert store.prune(at(-60)) == 0


@pytest.fixture
def two_stores(migrated_db_url: str) -> Iterator[tuple[SqlAlertStore, SqlAlertStore]]:
    e1, e2 = make_engine(migrated_db_url), make_engine(migrated_db_url)
    yield SqlAlertStore(e1), SqlAlertStore(e2)
    e1.dispose()
    e2.dispose()


def test_two_processes_share_the_outbox(two_stores: tuple[SqlAlertStore, SqlAlertStore]) -> None:
    producer, worker = two_stores
    producer.save_alerts([make_alert()], [make_message()])
    (m,) = worker.claim_due(T0, 10, timedelta(minutes=1))
    assert m.id is not None
    worker.mark_delivered(m.id, at(1), {"ts": "1"})
    assert producer.external_ref("slack", "group-1") == {"ts": "1"}
