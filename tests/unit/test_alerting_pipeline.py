"""Alert → route → notify on a ManualClock: pages at the right minute, once, through failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.adapters.memory_alerts import InMemoryAlertStore
from slo_service.core.alerting.config import AlertingConfig, ReceiverKind, ReceiverSpec
from slo_service.core.alerting.policy import AlertPolicy, default_tiers
from slo_service.core.clock import ManualClock
from slo_service.core.model import SLO, Config, Period, RatioSLI, Service
from slo_service.core.notify import DeliveryResult, MessageStatus, OutboxMessage, Outcome, RetryPolicy
from slo_service.core.oncall.escalation import EscalationLevel, EscalationPolicy
from slo_service.core.oncall.schedule import Layer, Rotation, Schedule
from slo_service.core.ports import StoreUnavailable
from slo_service.core.routing.silences import Silence
from slo_service.core.routing.tree import Route
from slo_service.core.selector import Matcher
from slo_service.pipeline.alerting import AlertingService
from slo_service.pipeline.cycle import Cycle
from slo_service.pipeline.delivery import DeliveryWorker
from tests.unit.test_pipeline import SOURCE, START, FakeTarget, make_runtime

TIERS = default_tiers()  # page-fast, page-slow, ticket-fast, ticket-slow


class FakeReceiver:
    """Records what it was asked to deliver; answers with scripted failures first."""

    def __init__(self, name: str, failures: list[DeliveryResult] | None = None) -> None:
        self.name = name
        self.failures = list(failures or [])
        self.attempts: list[OutboxMessage] = []
        self.delivered: list[OutboxMessage] = []

    def deliver(self, message: OutboxMessage) -> DeliveryResult:
        self.attempts.append(message)
        if self.failures:
            return self.failures.pop(0)
        self.delivered.append(message)
        return DeliveryResult(Outcome.DELIVERED, 200, external_ref={"ts": str(len(self.delivered))})


def slo_999() -> SLO:
    return SLO(
        "fraud",
        "availability",
        0.999,
        Period.rolling(timedelta(days=30)),
        RatioSLI("model", total="requests_total", bad='requests_total{code="500"}'),
    )


def alerting_config(**overrides: object) -> AlertingConfig:
    base: dict[str, object] = {
        # one page and one ticket tier keep each scenario's notifications countable by hand
        "policies": {"default": AlertPolicy(tiers=(TIERS[0], TIERS[2]), no_data_after=None, budget_exhausted=False)},
        "receivers": {
            "pager": ReceiverSpec("pager", ReceiverKind.WEBHOOK),
            "tickets": ReceiverSpec("tickets", ReceiverKind.WEBHOOK),
        },
        "route": Route(
            receiver="tickets",
            group_by=("service", "slo", "severity"),
            group_wait=timedelta(0),
            group_interval=timedelta(minutes=5),
            routes=(Route(receiver="pager", matchers=(Matcher("severity", "=", "page"),)),),
        ),
    }
    base.update(overrides)
    return AlertingConfig(**base)  # type: ignore[arg-type]


class World:
    """The whole pipeline in memory: runtime, alerting, delivery, a fake target and fake receivers."""

    def __init__(
        self,
        alerting: AlertingConfig,
        receivers: dict[str, FakeReceiver] | None = None,
        alert_store: InMemoryAlertStore | None = None,
    ) -> None:
        self.clock = ManualClock(START)
        self.target = FakeTarget()
        self.config = Config({"fraud": Service("fraud")}, {"model": SOURCE}, (slo_999(),), alerting=alerting)
        self.runtime = make_runtime(self.config, InMemoryHistoryStore(), self.clock, self.target)
        self.alert_store = alert_store or InMemoryAlertStore()
        self.alerting = AlertingService(self.alert_store, self.clock.now)
        self.alerting.apply(self.config)
        self.receivers = receivers or {"pager": FakeReceiver("pager"), "tickets": FakeReceiver("tickets")}
        self.worker = DeliveryWorker(
            self.alert_store,
            self.receivers,
            self.clock.now,
            RetryPolicy(base=timedelta(seconds=10), cap=timedelta(minutes=1)),
        )
        self.cycle = Cycle(self.runtime, self.alerting, self.worker)
        asyncio.run(self.runtime.collect("model"))

    def minutes(self, n: int, ok: int, errors: int) -> None:
        for _ in range(n):
            self.clock.advance(timedelta(minutes=1))
            self.target.ok += ok
            self.target.errors += errors
            asyncio.run(self.runtime.collect("model"))
            self.clock.advance(timedelta(seconds=1))
            self.cycle.run()
            self.clock.advance(timedelta(seconds=-1))

    def pages(self) -> list[OutboxMessage]:
        return self.receivers["pager"].delivered


def test_steady_15x_burn_pages_once_within_the_hour_and_resolves_after_the_burst() -> None:
    world = World(alerting_config())
    world.minutes(400, ok=10_000, errors=0)  # clean history longer than the 6h page-slow window
    world.minutes(56, ok=9_850, errors=150)  # 1.5% errors = 15x on a 99.9% SLO; 1h window at 14x
    assert world.pages() == []
    world.minutes(3, ok=9_850, errors=150)  # the 1h window passes 14.4x after 57.6 minutes
    assert [m.action for m in world.pages()] == ["trigger"]
    page = world.pages()[0]
    assert page.payload["status"] == "firing"
    assert page.payload["commonLabels"]["severity"] == "page"
    alert = page.payload["alerts"][0]
    assert alert["labels"]["burn_tier"] == "page-fast"
    assert alert["values"]["burn_rate_long"] == pytest.approx(14.5, rel=0.02)
    assert alert["annotations"]["summary"].startswith("fraud/availability is burning its error budget")
    world.minutes(30, ok=9_850, errors=150)
    assert [m.action for m in world.pages()] == ["trigger"]  # nothing changed: no second page
    world.minutes(7, ok=10_000, errors=0)  # the burst stops: the 5m window recovers
    assert [m.action for m in world.pages()] == ["trigger", "resolve"]
    assert world.pages()[1].dedup_key == page.dedup_key
    assert world.pages()[1].external_ref == {"ts": "1"}  # the resolve updates the message it posted


def test_a_2x_burn_does_not_page() -> None:
    world = World(alerting_config())
    world.minutes(60, ok=10_000, errors=0)
    world.minutes(240, ok=9_980, errors=20)
    assert world.pages() == []


def test_a_failing_receiver_gets_the_page_once_when_it_recovers() -> None:
    pager = FakeReceiver(
        "pager",
        failures=[
            DeliveryResult(Outcome.RETRY, 500, error="HTTP 500"),
            DeliveryResult(Outcome.RETRY, 429, retry_after=timedelta(seconds=30), error="HTTP 429"),
            DeliveryResult(Outcome.RETRY, None, error="timeout after 10s"),
        ],
    )
    world = World(alerting_config(), {"pager": pager, "tickets": FakeReceiver("tickets")})
    world.minutes(60, ok=10_000, errors=0)
    world.minutes(66, ok=9_000, errors=1_000)  # a hard outage: pages within minutes
    assert len(pager.attempts) >= 4
    sent = world.alert_store.messages(receiver="pager")
    assert sent and all(m.status is MessageStatus.DELIVERED for m in sent)
    # every outbox message reached the receiver exactly once, all under the group's one dedup key
    assert sorted(m.id or 0 for m in pager.delivered) == sorted(m.id or 0 for m in sent)
    assert {m.dedup_key for m in pager.attempts} == {sent[0].dedup_key}
    assert pager.delivered[0].action == "trigger"


class SavesFail(InMemoryAlertStore):
    """Reads answer, saves fail (the database went away between the two): the cycle's routing has run."""

    down = False

    def save_alerts(self, *args: Any, **kwargs: Any) -> None:
        if self.down:
            raise StoreUnavailable("connection refused", "db:5432")
        super().save_alerts(*args, **kwargs)


def test_a_page_whose_save_failed_is_sent_once_the_store_answers() -> None:
    store = SavesFail()
    world = World(alerting_config(), alert_store=store)
    world.minutes(60, ok=10_000, errors=0)
    store.down = True
    world.minutes(10, ok=9_000, errors=1_000)  # a hard outage pages within minutes: each save fails
    assert world.pages() == [] and store.messages() == []
    store.down = False
    world.minutes(1, ok=9_000, errors=1_000)
    assert [m.action for m in world.pages()] == ["trigger"]
    world.minutes(5, ok=9_000, errors=1_000)
    assert [m.action for m in world.pages()] == ["trigger"]  # once
    assert {a.labels["severity"] for a in store.load_open_alerts()} >= {"page"}


def test_a_400_is_dead_lettered_with_its_reason() -> None:
    pager = FakeReceiver("pager", failures=[DeliveryResult(Outcome.FAILED, 400, error="HTTP 400: invalid routing key")])
    world = World(alerting_config(), {"pager": pager, "tickets": FakeReceiver("tickets")})
    world.minutes(60, ok=10_000, errors=0)
    world.minutes(10, ok=9_000, errors=1_000)
    dead = world.alert_store.messages(status=MessageStatus.DEAD)
    assert [m.last_error for m in dead] == ["HTTP 400: invalid routing key"]
    assert [m.attempts for m in dead] == [1]  # a 400 is not retried
    assert [m.id for m in pager.attempts].count(dead[0].id) == 1
    assert dead[0].id not in [m.id for m in pager.delivered]


def test_silenced_and_inhibited_alerts_are_not_notified() -> None:
    from slo_service.core.routing.inhibit import InhibitRule

    inhibit = InhibitRule(
        (Matcher("severity", "=", "page"),), (Matcher("severity", "=", "ticket"),), ("service", "slo")
    )
    world = World(alerting_config(inhibit_rules=(inhibit,)))
    world.minutes(60, ok=10_000, errors=0)
    world.alerting.add_silence(
        Silence("s1", (Matcher("slo", "=", "availability"),), START, START + timedelta(minutes=90), "sre", "deploy")
    )
    world.minutes(20, ok=9_000, errors=1_000)  # pages and tickets fire, but the silence holds until minute 90
    assert world.pages() == []
    world.minutes(20, ok=9_000, errors=1_000)
    assert [m.action for m in world.pages()] == ["trigger"]
    assert world.receivers["tickets"].delivered == []  # the page inhibits the tickets of the same SLO


def test_escalation_moves_to_level_two_unless_acknowledged() -> None:
    schedule = Schedule(
        "primary", "UTC", (Layer("weekly", Rotation(("alice", "bob"), timedelta(days=7), START - timedelta(days=1))),)
    )
    policy = EscalationPolicy(
        "ml",
        (
            EscalationLevel(("schedule:primary",), timedelta(minutes=10)),
            EscalationLevel(("user:carol",), timedelta(minutes=10)),
        ),
    )
    cfg = alerting_config(
        receivers={
            "pager": ReceiverSpec("pager", ReceiverKind.SLACK, escalation_policy="ml"),
            "tickets": ReceiverSpec("tickets", ReceiverKind.WEBHOOK),
        },
        schedules={"primary": schedule},
        escalation_policies={"ml": policy},
    )
    world = World(cfg)
    world.minutes(60, ok=10_000, errors=0)
    world.minutes(15, ok=9_000, errors=1_000)  # 10% errors page after ~11 minutes
    assert [m.payload["oncall"] for m in world.pages()] == [["alice"]]
    world.minutes(12, ok=9_000, errors=1_000)
    assert [m.payload["oncall"] for m in world.pages()] == [["alice"], ["carol"]]
    assert world.pages()[1].payload["escalation"]["level"] == 2

    acked = World(cfg)
    acked.minutes(60, ok=10_000, errors=0)
    acked.minutes(15, ok=9_000, errors=1_000)
    group = next(g.group_key for g in acked.alerting.open_groups() if g.receiver == "pager")
    assert acked.alerting.acknowledge(group, "alice") == [group]
    acked.minutes(15, ok=9_000, errors=1_000)
    assert [m.action for m in acked.pages()] == ["trigger", "acknowledge"]
    assert acked.pages()[1].payload["acknowledgedBy"] == "alice"


def test_alert_state_survives_a_restart_without_a_second_page() -> None:
    world = World(alerting_config())
    world.minutes(60, ok=10_000, errors=0)
    world.minutes(15, ok=9_000, errors=1_000)
    assert len(world.pages()) == 1
    # A new process: the AlertingService rebuilds its book and dispatcher from the store.
    world.alerting = AlertingService(world.alert_store, world.clock.now)
    world.alerting.apply(world.config)
    world.cycle = Cycle(world.runtime, world.alerting, world.worker)
    world.minutes(10, ok=9_000, errors=1_000)
    assert [m.action for m in world.pages()] == ["trigger"]


def test_no_data_counts_from_configuration_not_from_the_empty_window_of_a_fresh_start() -> None:
    policy = AlertPolicy(tiers=(TIERS[0],), no_data_after=timedelta(minutes=30), budget_exhausted=False)
    world = World(alerting_config(policies={"default": policy}))

    def no_data_alerts() -> list[str]:
        return [a.labels["alertname"] for a in world.alerting.active_alerts() if a.labels["alertname"] == "SLONoData"]

    world.cycle.run()  # before the first scrape: every window is empty
    assert no_data_alerts() == []
    world.minutes(20, ok=1_000, errors=0)
    world.target.up = False  # the model server goes away
    world.minutes(29, ok=1_000, errors=0)
    assert no_data_alerts() == []
    world.minutes(8, ok=1_000, errors=0)  # 30m after the 5m window emptied
    assert no_data_alerts() == ["SLONoData"]


def test_drift_runs_alert_and_route_like_slo_alerts() -> None:
    from slo_service.core.drift.monitor import ColumnRun, DriftRun, RunStatus

    world = World(alerting_config())
    now = world.clock.now()
    drifted = DriftRun(
        "features",
        now - timedelta(seconds=5),
        now,
        RunStatus.OK,
        drifted_share=0.5,
        dataset_drifted=True,
        columns=(ColumnRun("age", "numerical", "wasserstein", 0.4, 0.1, True),),
        id=7,
    )
    world.alerting.drift_runs([drifted], world.config, now)
    world.worker.run_once()
    [ticket] = world.receivers["tickets"].delivered
    assert ticket.payload["commonLabels"]["alertname"] == "DriftDetected"
    assert ticket.payload["commonLabels"]["monitor"] == "features"
    # the next run is clean: the alert resolves
    world.clock.advance(timedelta(hours=1))
    clean = DriftRun("features", world.clock.now(), world.clock.now(), RunStatus.OK, dataset_drifted=False, id=8)
    world.alerting.drift_runs([clean], world.config, world.clock.now())
    world.clock.advance(timedelta(minutes=6))
    world.alerting.tick(world.clock.now())
    world.worker.run_once()
    assert [m.action for m in world.receivers["tickets"].delivered] == ["trigger", "resolve"]
