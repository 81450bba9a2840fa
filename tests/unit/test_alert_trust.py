"""Alerts an on-call engineer can trust, through the whole pipeline on a ManualClock: scrapes every
15 s, evaluation and alerting every 30 s, timeslices settled by the real evaluator, notifications
delivered to a recording receiver. No false alert on healthy data, no page that can never fire."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.adapters.memory_alerts import InMemoryAlertStore
from slo_service.core.alerting.config import AlertingConfig, ReceiverKind, ReceiverSpec
from slo_service.core.alerting.policy import AlertPolicy
from slo_service.core.clock import ManualClock
from slo_service.core.model import (
    SLO,
    Aggregation,
    Budgeting,
    BudgetingMethod,
    CalendarUnit,
    Comparison,
    Config,
    Period,
    Service,
    ThresholdSLI,
)
from slo_service.core.routing.tree import Route
from slo_service.pipeline.alerting import AlertingService
from slo_service.pipeline.cycle import Cycle
from slo_service.pipeline.delivery import DeliveryWorker
from tests.unit.test_alerting_pipeline import FakeReceiver
from tests.unit.test_pipeline import SOURCE, START, FakeTarget, make_runtime

TICK = timedelta(seconds=15)


def freshness_slo(slice_minutes: int, period: Period) -> SLO:
    sli = ThresholdSLI("model", "freshness_seconds", Comparison.LT, 900, Aggregation.MAX)
    budgeting = Budgeting(BudgetingMethod.TIMESLICES, timedelta(minutes=slice_minutes), 1.0)
    return SLO("fraud", "freshness", 0.99, period, sli, budgeting=budgeting)


class World:
    """The example config's alert policy (min_events 100, no data after 30m, the default tiers)."""

    def __init__(self, slo: SLO) -> None:
        # evaluations at :07 and :37, as in a real service: never on a slice boundary
        self.clock = ManualClock(START + timedelta(seconds=7))
        self.target = FakeTarget()
        alerting = AlertingConfig(
            policies={"default": AlertPolicy(min_events=100, no_data_after=timedelta(minutes=30))},
            receivers={"sink": ReceiverSpec("sink", ReceiverKind.WEBHOOK)},
            route=Route(receiver="sink", group_by=("service", "slo"), group_wait=timedelta(0)),
        )
        self.slo = slo
        self.config = Config({"fraud": Service("fraud")}, {"model": SOURCE}, (slo,), alerting=alerting)
        self.runtime = make_runtime(self.config, InMemoryHistoryStore(), self.clock, self.target)
        self.store = InMemoryAlertStore()
        self.alerting = AlertingService(self.store, self.clock.now)
        self.alerting.apply(self.config)
        self.sink = FakeReceiver("sink")
        self.cycle = Cycle(self.runtime, self.alerting, DeliveryWorker(self.store, {"sink": self.sink}, self.clock.now))
        self.seen: set[tuple[str, str]] = set()  # (alertname, state) of every alert ever seen

    def run(self, minutes: int, freshness: float) -> None:
        self.target.freshness = freshness
        for n in range(minutes * 4):
            self.clock.advance(TICK)
            asyncio.run(self.runtime.collect("model"))
            if n % 2:
                self.cycle.run()
                self.seen |= {(a.labels["alertname"], a.state.value) for a in self.alerting.book.alerts()}

    def notified(self) -> list[tuple[str, str]]:
        return [(m.action, m.payload["commonLabels"].get("alertname", "")) for m in self.sink.delivered]


@pytest.mark.parametrize(
    ("slice_minutes", "period"),
    [(5, Period.calendar(CalendarUnit.WEEK, "Europe/Berlin")), (1, Period.calendar(CalendarUnit.MONTH, "UTC"))],
    ids=["5m-slices-week", "1m-slices-month"],
)
def test_a_healthy_timeslice_slo_raises_nothing_not_even_no_data(slice_minutes: int, period: Period) -> None:
    world = World(freshness_slo(slice_minutes, period))
    world.run(3 * 60, freshness=30.0)
    status = world.runtime.status(world.slo.key)
    assert status is not None and status.period.sli == 1.0 and status.period.total >= 3 * 60 / slice_minutes - 2
    assert world.seen == set()  # not even a pending alert
    assert world.notified() == []


@pytest.mark.parametrize(
    ("slice_minutes", "period"),
    [(1, Period.calendar(CalendarUnit.MONTH, "UTC")), (5, Period.calendar(CalendarUnit.WEEK, "Europe/Berlin"))],
    ids=["1m-slices-month", "5m-slices-week"],
)
def test_a_threshold_slo_bad_for_an_hour_pages_despite_min_events(slice_minutes: int, period: Period) -> None:
    # min_events: 100 counts events; a 1h window holds at most 60 slices, so it must not guard timeslices
    world = World(freshness_slo(slice_minutes, period))
    world.run(30, freshness=30.0)
    world.run(60, freshness=2000.0)  # every slice bad
    pages = [
        a for a in world.alerting.book.alerts() if a.labels.get("severity") == "page" and a.state.value == "firing"
    ]
    assert {a.labels["burn_tier"] for a in pages} >= {"page-fast"}
    assert ("trigger", "SLOBurnRateHigh") in world.notified()
    assert ("SLONoData", "firing") not in world.seen and ("SLONoData", "pending") not in world.seen


def test_a_5_minute_slice_slo_never_reads_an_empty_5m_window() -> None:
    world = World(freshness_slo(5, Period.rolling(timedelta(days=7))))
    world.run(40, freshness=30.0)
    status = world.runtime.status(world.slo.key)
    assert status is not None
    # the "5m" window holds exactly the newest completed slice: data every time, never "no data"
    five = status.windows["5m"]
    assert five.total == 1 and five.good == 1 and five.data_coverage == 1.0
    now = status.evaluated_at
    assert now.second == 37 or now.second == 7
    assert five.end == now.replace(second=0, microsecond=0) - timedelta(minutes=now.minute % 5)


def test_a_fresh_start_pages_a_1_minute_slice_slo_within_minutes() -> None:
    # the demo's GPU SLO: an incident right after `make run` must page, not wait for half an hour of history
    world = World(freshness_slo(1, Period.calendar(CalendarUnit.MONTH, "UTC")))
    world.run(2, freshness=30.0)
    world.run(8, freshness=2000.0)
    assert ("trigger", "SLOBurnRateHigh") in world.notified()
    page = next(a for a in world.alerting.book.alerts() if a.labels.get("burn_tier") == "page-fast")
    assert page.fired_at is not None and page.fired_at - START <= timedelta(minutes=8)
