"""Escalation, acknowledgement and silences through the AlertingService, on a ManualClock.

Alerts come in as conditions (as from an Alertmanager), so each test states exactly when an alert
fires and resolves; the outbox is what the receivers would get.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from slo_service.adapters.memory_alerts import InMemoryAlertStore
from slo_service.core.alerting.conditions import AlertCondition
from slo_service.core.alerting.config import AlertingConfig, ReceiverKind, ReceiverSpec
from slo_service.core.clock import ManualClock
from slo_service.core.model import Config
from slo_service.core.notify import OutboxMessage
from slo_service.core.oncall.escalation import EscalationLevel, EscalationPolicy
from slo_service.core.oncall.schedule import Layer, Rotation, Schedule
from slo_service.core.routing.inhibit import InhibitRule
from slo_service.core.routing.silences import Silence
from slo_service.core.routing.tree import Route
from slo_service.core.selector import Matcher
from slo_service.pipeline.alerting import AlertingService

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)
PAGE = {"alertname": "SLOBurnRateHigh", "service": "search", "slo": "latency", "severity": "page"}
TICKET = {**PAGE, "alertname": "SLOBurnRateHigh", "severity": "ticket", "tier": "ticket-slow"}

SCHEDULE = Schedule("primary", "UTC", (Layer("weekly", Rotation(("alice", "bob"), timedelta(days=7), T0 - M)),))
POLICY = EscalationPolicy(
    "search-primary",
    (
        EscalationLevel(("schedule:primary",), timedelta(minutes=10)),
        EscalationLevel(("user:carol", "user:dave"), timedelta(minutes=10)),
    ),
)
USERS = {
    "alice": {"slack": "U0ALICE", "email": "alice@example.com"},
    "carol": {"email": "carol@example.com", "name": "Carol C."},
    "dave": {"slack": "U0DAVE"},
}


def receivers(**send_resolved: bool) -> dict[str, ReceiverSpec]:
    def spec(name: str, kind: ReceiverKind, **settings: Any) -> ReceiverSpec:
        return ReceiverSpec(name, kind, send_resolved.get(name, True), settings, "search-primary")

    return {
        "slack": spec("slack", ReceiverKind.SLACK, token="xoxb", channel="#alerts"),
        "pagerduty": spec("pagerduty", ReceiverKind.PAGERDUTY, routing_key="k"),
        "hook": spec("hook", ReceiverKind.WEBHOOK, url="http://127.0.0.1:1/x"),
    }


def route(*, repeat: timedelta = timedelta(hours=3)) -> Route:
    """Pages go to Slack, PagerDuty and the webhook; each receiver has its own group."""
    timing: dict[str, Any] = {
        "group_wait": timedelta(0),
        "group_interval": M,
        "repeat_interval": repeat,
    }
    page = (Matcher("severity", "=", "page"),)
    return Route(
        receiver="hook",
        group_by=("service", "slo"),
        routes=(
            Route(receiver="slack", matchers=page, continue_=True, **timing),
            Route(receiver="pagerduty", matchers=page, continue_=True, **timing),
            Route(receiver="hook", matchers=page, **timing),
        ),
        **timing,
    )


class Harness:
    def __init__(self, **config: Any) -> None:
        settings: dict[str, Any] = {
            "receivers": receivers(),
            "route": route(),
            "schedules": {"primary": SCHEDULE},
            "escalation_policies": {"search-primary": POLICY},
            "users": USERS,
        }
        settings.update(config)
        self.config = Config({}, {}, (), alerting=AlertingConfig(**settings))
        self.clock = ManualClock(T0)
        self.store = InMemoryAlertStore()
        self.service = self.restart()

    def restart(self) -> AlertingService:
        self.service = AlertingService(self.store, self.clock.now)
        self.service.apply(self.config)
        return self.service

    def alert(self, labels: dict[str, str], active: bool = True) -> None:
        self.service.receive_external(
            [AlertCondition(labels, {"summary": "p99 too slow"}, active, {})], self.clock.now()
        )

    def run(self, until: timedelta, step: timedelta = M) -> None:
        """Tick every `step` until T0 + until, as the flush job does."""
        while self.clock.now() + step <= T0 + until:
            self.clock.advance(step)
            self.service.tick(self.clock.now())

    def sent(self, receiver: str | None = None) -> list[OutboxMessage]:
        return sorted(self.store.messages(receiver=receiver, limit=10_000), key=lambda m: m.id or 0)

    def silence(self, start: timedelta, end: timedelta, **labels: str) -> None:
        matchers = tuple(Matcher(k, "=", v) for k, v in labels.items())
        self.service.add_silence(Silence(f"s{start}", matchers, T0 + start, T0 + end, "sre", "maintenance"))


def level(m: OutboxMessage) -> tuple[int, int] | None:
    esc = m.payload.get("escalation")
    return (esc["level"], esc["levels"]) if esc else None


def test_each_level_names_its_on_call_people_and_says_the_level() -> None:
    h = Harness()
    h.alert(PAGE)
    [first] = h.sent("slack")
    assert first.action == "trigger"
    assert first.payload["escalation"] == {
        "policy": "search-primary",
        "level": 1,
        "levels": 2,
        "repetition": 0,
        "exhausted": False,
        "oncall": [{"user": "alice", "name": "alice", "slack": "U0ALICE", "email": "alice@example.com"}],
    }
    assert first.payload["oncall"] == ["alice"]
    h.run(9 * M)
    assert len(h.sent("slack")) == 1
    h.run(10 * M)
    slack = h.sent("slack")
    assert [(m.action, m.dedup_key, level(m)) for m in slack] == [
        ("trigger", first.dedup_key, (1, 2)),
        ("trigger", f"{first.dedup_key}:L2R0", (2, 2)),  # a new post, so its mentions notify
    ]
    assert slack[1].payload["escalation"]["oncall"] == [
        {"user": "carol", "name": "Carol C.", "slack": None, "email": "carol@example.com"},
        {"user": "dave", "name": "dave", "slack": "U0DAVE", "email": None},
    ]
    # PagerDuty: the same incident (dedup key) gets the new level in its details; it escalates itself
    pd = h.sent("pagerduty")
    assert [(m.action, level(m)) for m in pd] == [("trigger", (1, 2)), ("trigger", (2, 2))]
    assert pd[0].dedup_key == pd[1].dedup_key
    assert pd[1].payload["oncall"] == ["carol", "dave"]
    hook = h.sent("hook")
    assert [level(m) for m in hook] == [(1, 2), (2, 2)]
    assert hook[1].dedup_key != hook[0].dedup_key  # its own idempotency key: a second POST, not a redelivery
    h.run(60 * M)
    assert len(h.sent("slack")) == 2  # the policy has no repeat: nobody after level 2


def test_acknowledging_updates_every_post_and_stops_escalation_and_resolve_closes_them_all() -> None:
    h = Harness()
    h.alert(PAGE)
    h.run(11 * M)
    main, escalation = h.sent("slack")
    slack_group = next(g.group_key for g in h.service.open_groups() if g.receiver == "slack")
    # acknowledging the Slack group (the button) acknowledges PagerDuty and the webhook: same alert
    keys = h.service.acknowledge(slack_group, "alice", "slack")
    assert sorted(keys) == sorted(g.group_key for g in h.service.open_groups())
    acks = [m for m in h.sent() if m.action == "acknowledge"]
    assert sorted((m.receiver, m.dedup_key) for m in acks) == sorted(
        [
            ("slack", main.dedup_key),
            ("slack", escalation.dedup_key),
            ("pagerduty", h.sent("pagerduty")[0].dedup_key),
            ("hook", h.sent("hook")[0].dedup_key),
        ]
    )
    slack_acks = {m.dedup_key: m for m in acks if m.receiver == "slack"}
    assert level(slack_acks[main.dedup_key]) == (1, 2)  # each post keeps its own level
    assert level(slack_acks[escalation.dedup_key]) == (2, 2)
    assert all(m.payload["acknowledgedBy"] == "alice" for m in acks)
    assert h.service.acknowledge(slack_group, "bob") == keys  # again: nothing more is sent
    assert len([m for m in h.sent() if m.action == "acknowledge"]) == 4

    h.run(11 * M + timedelta(hours=2))
    assert [m.action for m in h.sent("slack")] == ["trigger", "trigger", "acknowledge", "acknowledge"]
    h.alert(PAGE, active=False)
    h.run(11 * M + timedelta(hours=2) + 2 * M)
    resolves = [(m.receiver, m.dedup_key) for m in h.sent() if m.action == "resolve"]
    assert sorted(resolves) == sorted((m.receiver, m.dedup_key) for m in acks)
    assert h.service.open_groups() == []


def test_acknowledging_by_alert_fingerprint_reaches_every_group_of_the_alert() -> None:
    h = Harness()
    h.alert(PAGE)
    [alert] = h.service.active_alerts()
    assert len(h.service.acknowledge(alert.fingerprint, "alice")) == 3
    h.run(30 * M)
    assert [m.action for m in h.sent("slack")] == ["trigger", "acknowledge"]  # no level 2 after an ack


def test_a_silence_stops_escalation_and_its_time_does_not_count() -> None:
    h = Harness()
    h.alert(PAGE)
    h.silence(5 * M, 35 * M, slo="latency")
    h.run(34 * M)
    assert [level(m) for m in h.sent("slack")] == [(1, 2)]
    [group] = [g for g in h.service.open_groups() if g.receiver == "slack"]
    assert group.muted_since == T0 + 5 * M
    h.run(39 * M)
    assert [level(m) for m in h.sent("slack")] == [(1, 2)]  # 5 min before + 4 min after the silence
    h.run(40 * M)
    assert [(level(m), m.created_at) for m in h.sent("slack")] == [((1, 2), T0), ((2, 2), T0 + 40 * M)]


def test_an_inhibited_group_does_not_escalate() -> None:
    inhibit = InhibitRule((Matcher("alertname", "=", "ServiceDown"),), (Matcher("severity", "=", "page"),))
    h = Harness(inhibit_rules=(inhibit,))
    h.alert(PAGE)
    h.run(2 * M)
    h.service.receive_external(
        [AlertCondition({"alertname": "ServiceDown", "service": "x"}, {}, True, {})], h.clock.now()
    )
    h.run(30 * M)
    assert [level(m) for m in h.sent("slack")] == [(1, 2)]


def test_silence_expiry_on_an_unchanged_alert_waits_for_repeat_interval() -> None:
    h = Harness()
    h.alert(PAGE)
    h.service.acknowledge(h.service.active_alerts()[0].fingerprint, "alice")  # no escalation in this test
    h.silence(10 * M, 60 * M, slo="latency")
    h.run(179 * M)
    assert [m.action for m in h.sent("slack")] == ["trigger", "acknowledge"]
    h.run(181 * M)  # repeat_interval 3h after the first notification
    assert [(m.action, m.created_at) for m in h.sent("slack")][2:] == [("trigger", T0 + 180 * M)]


def test_an_alert_silenced_from_the_start_notifies_when_the_silence_ends() -> None:
    h = Harness()
    h.silence(timedelta(0), 30 * M, slo="latency")
    h.alert(PAGE)
    h.run(29 * M)
    assert h.sent() == [] and h.service.open_groups() == []
    h.run(30 * M)
    assert [(m.action, m.created_at) for m in h.sent("slack")] == [("trigger", T0 + 30 * M)]
    assert [level(m) for m in h.sent("slack")] == [(1, 2)]  # escalation starts with the first notification


def test_a_group_silenced_then_resolved_is_closed_with_a_resolve() -> None:
    h = Harness()
    h.alert(PAGE)
    h.run(11 * M)  # escalated to level 2
    h.silence(12 * M, 120 * M, slo="latency")
    h.run(20 * M)
    h.alert(PAGE, active=False)
    h.run(25 * M)
    resolves = [m for m in h.sent() if m.action == "resolve"]
    slack_keys = [m.dedup_key for m in h.sent("slack") if m.action == "trigger"]
    assert sorted((m.receiver, m.dedup_key) for m in resolves) == sorted(
        [
            ("slack", slack_keys[0]),
            ("slack", slack_keys[1]),
            ("pagerduty", h.sent("pagerduty")[0].dedup_key),
            ("hook", h.sent("hook")[0].dedup_key),
        ]
    )
    assert all(m.payload["status"] == "resolved" for m in resolves)
    assert all(a["status"] == "resolved" for m in resolves for a in m.payload["alerts"])
    assert h.service.open_groups() == [] and h.service.open_group_count() == 0


def test_without_send_resolved_a_silenced_then_resolved_group_is_dropped_but_slack_still_updated() -> None:
    h = Harness(receivers=receivers(pagerduty=False, hook=False, slack=False))
    h.alert(PAGE)
    h.silence(2 * M, 120 * M, slo="latency")
    h.run(3 * M)
    h.alert(PAGE, active=False)
    h.run(6 * M)
    # Slack edits its message in place (no new post: the receiver skips a resolve it never posted)
    assert [(m.receiver, m.action) for m in h.sent() if m.action == "resolve"] == [("slack", "resolve")]
    assert h.service.open_groups() == []


def test_escalation_posts_and_paused_time_survive_a_restart() -> None:
    h = Harness()
    h.alert(PAGE)
    h.silence(2 * M, 7 * M, slo="latency")
    h.run(5 * M)
    h.restart()
    h.run(14 * M)
    assert [level(m) for m in h.sent("slack")] == [(1, 2)]  # 10 min of level 1 minus 5 silenced
    h.run(15 * M)
    assert [level(m) for m in h.sent("slack")] == [(1, 2), (2, 2)]
    h.restart()
    h.service.acknowledge(h.service.active_alerts()[0].fingerprint, "carol")
    assert len([m for m in h.sent("slack") if m.action == "acknowledge"]) == 2


def test_firing_resolving_and_acknowledging_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="slo_service.pipeline.alerting")
    h = Harness()
    h.alert(PAGE)
    h.run(11 * M)
    h.service.acknowledge(h.service.active_alerts()[0].fingerprint, "alice", "slack")
    h.alert(PAGE, active=False)
    lines = [r.getMessage() for r in caplog.records]
    assert sum(line.startswith("alert firing: SLOBurnRateHigh search/latency severity=page") for line in lines) == 1
    assert sum(line.startswith("alert resolved: SLOBurnRateHigh search/latency") for line in lines) == 1
    assert sum("acknowledged by alice via slack" in line for line in lines) == 3
    assert any(line.startswith("escalating notification group") and "carol, dave" in line for line in lines)


def test_escalation_never_goes_back_when_two_jobs_call_in_out_of_order() -> None:
    # The evaluation cycle and the flush job read the time before taking the service's lock: the
    # later caller may hold the earlier time. Level 2 must not be followed by a new "level 1" post.
    h = Harness()
    h.alert(PAGE)
    h.clock.advance(10 * M)
    h.service.tick(h.clock.now())
    h.service.tick(h.clock.now() - timedelta(milliseconds=1))
    assert [level(m) for m in h.sent("slack")] == [(1, 2), (2, 2)]
