"""Alert identity and the pending -> firing -> resolved lifecycle, with an injected clock."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo_service.core.alerting.conditions import (
    TARGET_DOWN,
    AlertCondition,
    slo_scope,
    target_down_conditions,
    target_scope,
)
from slo_service.core.alerting.fingerprint import fingerprint
from slo_service.core.alerting.lifecycle import Alert, AlertBook, AlertState, Transition
from slo_service.core.clock import ManualClock
from slo_service.core.ports import ScrapeHealth

MIN = timedelta(minutes=1)
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PAGE = {
    "alertname": "SLOBurnRateHigh",
    "service": "fraud-detector",
    "slo": "availability",
    "severity": "page",
    "burn_tier": "page-fast",
}
P, F, R = AlertState.PENDING, AlertState.FIRING, AlertState.RESOLVED


def cond(
    active: bool,
    labels: Mapping[str, str] = PAGE,
    for_: timedelta = timedelta(0),
    burn: float = 15.0,
) -> AlertCondition:
    return AlertCondition(dict(labels), {"summary": f"burning at {burn}x"}, active, {"burn_rate_long": burn}, for_)


def moves(transitions: list[Transition]) -> list[tuple[AlertState | None, AlertState]]:
    return [(t.previous, t.current) for t in transitions]


# ---------------------------------------------------------------------------------------------- fingerprint


def _reference_fingerprint(labels: Mapping[str, str]) -> str:
    """Written separately: join sorted 'name 0xFF value 0xFF' and hash."""
    blob = bytearray()
    for name, value in sorted(labels.items()):
        blob += bytes(name, "utf-8") + bytes([255]) + bytes(value, "utf-8") + bytes([255])
    return hashlib.sha256(bytes(blob)).hexdigest()[:16]


def test_fingerprint_is_a_known_stable_value() -> None:
    assert fingerprint(PAGE) == "512284b5c746dc45"  # computed once; must never change (stored in SQL)
    assert _reference_fingerprint(PAGE) == "512284b5c746dc45"
    assert fingerprint({}) == "e3b0c44298fc1c14"  # sha256 of nothing


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=6))
def test_fingerprint_matches_the_reference_and_ignores_order(labels: dict[str, str]) -> None:
    assert fingerprint(labels) == _reference_fingerprint(labels)
    assert fingerprint(dict(reversed(list(labels.items())))) == fingerprint(labels)
    assert len(fingerprint(labels)) == 16


def test_fingerprint_is_not_fooled_by_separators() -> None:
    assert fingerprint({"a": "b", "c": "d"}) != fingerprint({"a": "b,c=d"})
    assert fingerprint({"a": "bc"}) != fingerprint({"ab": "c"})
    assert fingerprint({"a": ""}) != fingerprint({})


# ---------------------------------------------------------------------------------------------- lifecycle


def test_for_zero_fires_at_once_and_resolves() -> None:
    book, clock = AlertBook(), ManualClock(T0)
    t = book.update([cond(True)], clock.now())
    assert moves(t) == [(None, F)] and t[0].notify
    alert = t[0].alert
    assert alert.fingerprint == fingerprint(PAGE)
    assert alert.active_since == alert.fired_at == T0 and alert.resolved_at is None
    clock.advance(MIN)
    assert book.update([cond(True, burn=20.0)], clock.now()) == []  # still firing: values refresh silently
    refreshed = book.get(fingerprint(PAGE))
    assert refreshed is not None and refreshed.values["burn_rate_long"] == 20.0
    assert refreshed.annotations["summary"] == "burning at 20.0x" and refreshed.last_evaluated_at == T0 + MIN
    clock.advance(MIN)
    t = book.update([cond(False, burn=3.0)], clock.now())
    assert moves(t) == [(F, R)] and t[0].notify
    resolved = t[0].alert
    assert resolved.resolved_at == T0 + 2 * MIN and resolved.fired_at == T0
    # like Prometheus, the resolved alert says what the firing one said last
    assert resolved.values["burn_rate_long"] == 20.0 and resolved.annotations["summary"] == "burning at 20.0x"
    assert book.active() == [] and book.alerts() == [resolved]
    clock.advance(MIN)
    assert book.update([cond(False)], clock.now()) == []  # stays resolved, no repeat


def test_pending_then_firing_after_for() -> None:
    book, clock = AlertBook(), ManualClock(T0)
    five = timedelta(minutes=5)
    history = []
    for _ in range(7):
        history.append(moves(book.update([cond(True, for_=five)], clock.now())))
        clock.advance(MIN)
    assert history == [[(None, P)], [], [], [], [], [(P, F)], []]
    alert = book.firing()[0]
    assert alert.active_since == T0 and alert.fired_at == T0 + five
    t = book.update([cond(True, for_=five)], T0)
    assert t == []
    assert not Transition(alert, None, P).notify and Transition(alert, P, F).notify


def test_pending_that_clears_is_dropped_silently() -> None:
    book = AlertBook()
    assert moves(book.update([cond(True, for_=5 * MIN)], T0)) == [(None, P)]
    assert moves(book.update([cond(False, for_=5 * MIN)], T0 + 2 * MIN)) == []
    assert book.get(fingerprint(PAGE)) is None and book.alerts() == [] and len(book) == 0
    # a new activation starts its own `for` from scratch
    assert moves(book.update([cond(True, for_=5 * MIN)], T0 + 3 * MIN)) == [(None, P)]
    assert moves(book.update([cond(True, for_=5 * MIN)], T0 + 7 * MIN)) == []
    assert moves(book.update([cond(True, for_=5 * MIN)], T0 + 8 * MIN)) == [(P, F)]


def test_a_resolved_alert_that_comes_back_is_a_new_episode() -> None:
    book = AlertBook()
    book.update([cond(True)], T0)
    book.update([cond(False)], T0 + MIN)
    t = book.update([cond(True, for_=2 * MIN)], T0 + 10 * MIN)
    assert moves(t) == [(None, P)]
    alert = t[0].alert
    assert alert.active_since == T0 + 10 * MIN and alert.fired_at is None and alert.resolved_at is None
    assert moves(book.update([cond(True, for_=2 * MIN)], T0 + 12 * MIN)) == [(P, F)]


def test_alerts_not_mentioned_are_left_alone_without_scope() -> None:
    book = AlertBook()
    other = {"alertname": TARGET_DOWN, "source": "model", "target": "a:9100", "severity": "ticket"}
    book.update([cond(True), cond(True, other)], T0)
    assert book.update([cond(False)], T0 + MIN) != []  # the SLO alert resolves ...
    assert [a.labels["alertname"] for a in book.active()] == [TARGET_DOWN]  # ... the target one is untouched
    assert book.update([], T0 + 2 * MIN) == []


def test_scope_resolves_alerts_of_removed_slos_only() -> None:
    book = AlertBook()
    removed = {**PAGE, "slo": "latency"}
    pending_removed = {**PAGE, "slo": "freshness"}
    target = {"alertname": TARGET_DOWN, "source": "model", "target": "a:9100", "severity": "ticket"}
    book.update([cond(True), cond(True, removed), cond(True, pending_removed, for_=5 * MIN), cond(True, target)], T0)
    # next evaluation: only "availability" is still configured
    t = book.update([cond(True)], T0 + MIN, scope=slo_scope())
    assert [(a.alert.labels["slo"], a.previous, a.current) for a in t] == [("latency", F, R)]
    assert book.get(fingerprint(pending_removed)) is None  # pending: dropped silently
    assert {a.labels["alertname"] for a in book.active()} == {"SLOBurnRateHigh", TARGET_DOWN}
    # the scrape check owns ScrapeTargetDown: a target gone from the config resolves there
    health = [ScrapeHealth("model", "b:9100", T0 + MIN, True, 0.1)]
    t = book.update(target_down_conditions(health), T0 + 2 * MIN, scope=target_scope())
    assert [(a.alert.labels["target"], a.current) for a in t] == [("a:9100", R)]


def test_custom_for_of_and_duplicate_conditions() -> None:
    book = AlertBook()
    t = book.update([cond(True)], T0, for_of=lambda c: timedelta(minutes=10))
    assert moves(t) == [(None, P)] and t[0].alert.for_ == timedelta(minutes=10)
    with pytest.raises(ValueError, match="same labels"):
        book.update([cond(True), cond(False)], T0)


def test_rebuilt_book_continues_where_the_old_one_stopped() -> None:
    book = AlertBook()
    target = {"alertname": TARGET_DOWN, "source": "model", "target": "a:9100", "severity": "ticket"}
    book.update([cond(True, for_=5 * MIN), cond(True, target)], T0)
    persisted = book.alerts()  # what the lead stores in SQL
    restarted = AlertBook.from_alerts(persisted)
    assert restarted.alerts() == persisted
    assert moves(restarted.update([cond(True, for_=5 * MIN)], T0 + 5 * MIN)) == [(P, F)]  # the `for` timer survived
    assert moves(restarted.update([cond(False, target)], T0 + 6 * MIN)) == [(F, R)]
    bad = Alert("0000000000000000", PAGE, {}, P, T0, None, None, {}, T0)
    with pytest.raises(ValueError, match="fingerprint"):
        AlertBook([bad])
    with pytest.raises(ValueError, match="duplicate"):
        AlertBook([persisted[0], persisted[0]])


def test_prune_resolved() -> None:
    book = AlertBook()
    book.update([cond(True)], T0)
    book.update([cond(False)], T0 + MIN)
    assert book.prune_resolved(T0 + MIN) == []
    gone = book.prune_resolved(T0 + 2 * MIN)
    assert [a.state for a in gone] == [R] and len(book) == 0


def test_active_lists_pending_and_firing_oldest_first() -> None:
    book = AlertBook()
    second = {**PAGE, "burn_tier": "page-slow"}
    book.update([cond(True)], T0)
    book.update([cond(True), cond(True, second, for_=5 * MIN)], T0 + MIN)
    assert [(a.labels["burn_tier"], a.state) for a in book.active()] == [("page-fast", F), ("page-slow", P)]
    assert [a.labels["burn_tier"] for a in book.firing()] == ["page-fast"]


@given(
    actives=st.lists(st.booleans(), min_size=1, max_size=40),
    for_minutes=st.integers(min_value=0, max_value=6),
)
def test_lifecycle_matches_a_simple_model(actives: list[bool], for_minutes: int) -> None:
    """Evaluated every minute: firing iff active now and the current active run started >= for ago;
    a notification for every firing and for every resolution of a fired run, nothing else."""
    book = AlertBook()
    for_ = timedelta(minutes=for_minutes)
    run_start: int | None = None
    fired = False
    for i, active in enumerate(actives):
        now = T0 + i * MIN
        got = moves(book.update([cond(active, for_=for_)], now))
        expected: list[tuple[AlertState | None, AlertState]] = []
        if active:
            if run_start is None:
                run_start = i
                expected.append((None, F if for_minutes == 0 else P))
                fired = for_minutes == 0
            elif not fired and i - run_start >= for_minutes:
                expected.append((P, F))
                fired = True
        else:
            if run_start is not None and fired:
                expected.append((F, R))
            run_start, fired = None, False
        assert got == expected, (i, actives[: i + 1])
        alert = book.get(fingerprint(PAGE))
        state = None if alert is None else alert.state
        if active:
            assert state == (F if fired else P)
            assert alert is not None and alert.active_since == T0 + (run_start or 0) * MIN
            if fired:
                assert alert.fired_at is not None and alert.fired_at - alert.active_since >= for_
        else:
            assert state in (None, R)


def test_an_external_alert_keeps_its_own_start_and_end_clamped_to_the_past() -> None:
    from datetime import UTC, datetime, timedelta

    from slo_service.core.alerting.conditions import AlertCondition
    from slo_service.core.alerting.lifecycle import AlertBook, AlertState

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    labels = {"alertname": "GPUMemoryHigh"}
    book = AlertBook()
    book.update([AlertCondition(labels, {}, True, {}, started_at=now - timedelta(minutes=30))], now)
    [alert] = book.alerts()
    started = now - timedelta(minutes=30)
    assert (alert.state, alert.active_since, alert.fired_at) == (AlertState.FIRING, started, started)
    later = now + timedelta(minutes=5)
    book.update([AlertCondition(labels, {}, False, {}, ended_at=now + timedelta(minutes=2))], later)
    assert book.alerts()[0].resolved_at == now + timedelta(minutes=2)
    # a start in the future is now; an end before the start is the start
    other = {"alertname": "Other"}
    book.update([AlertCondition(other, {}, True, {}, started_at=later + timedelta(hours=1))], later)
    assert next(a for a in book.alerts() if a.labels == other).active_since == later
    book.update(
        [AlertCondition(other, {}, False, {}, ended_at=later - timedelta(days=1))], later + timedelta(minutes=1)
    )
    assert next(a for a in book.alerts() if a.labels == other).resolved_at == later
