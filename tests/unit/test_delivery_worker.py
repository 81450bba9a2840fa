"""DeliveryWorker lanes on the in-memory store and a ManualClock: receivers never wait for each other."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from slo_service.adapters.memory_alerts import InMemoryAlertStore
from slo_service.core.clock import ManualClock
from slo_service.core.notify import DeliveryResult, MessageStatus, OutboxMessage, Outcome
from slo_service.pipeline.delivery import DeliveryWorker
from tests.support.process import wait_for

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


class Receiver:
    """Delivers, or answers from a script first; `gate` (when set) holds every call until it is opened."""

    def __init__(self, name: str, script: list[DeliveryResult] | None = None) -> None:
        self.name = name
        self.script = list(script or [])
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.seen: list[str] = []

    def deliver(self, message: OutboxMessage) -> DeliveryResult:
        self.seen.append(message.dedup_key)
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.script:
            return self.script.pop(0)
        return DeliveryResult(Outcome.DELIVERED, 200)


def message(receiver: str, key: str = "g1", action: str = "trigger") -> OutboxMessage:
    return OutboxMessage(receiver, action, key, {"status": "firing"}, T0)


def test_a_receiver_that_hangs_does_not_hold_another_receivers_messages() -> None:
    store, clock = InMemoryAlertStore(), ManualClock(T0)
    slow, pager = Receiver("slow"), Receiver("pager")
    slow.gate = threading.Event()
    worker = DeliveryWorker(store, {"slow": slow, "pager": pager}, clock.now, wait=False)
    store.enqueue([message("slow"), message("pager")])
    assert worker.run_once() == 2  # two lanes started; the caller does not wait for either
    wait_for(lambda: pager.seen == ["g1"], timeout=5, what="the page")
    assert slow.entered.is_set() and store.messages(receiver="slow")[0].status is MessageStatus.PENDING
    slow.gate.set()
    wait_for(lambda: store.messages(receiver="slow")[0].status is MessageStatus.DELIVERED, timeout=5)
    worker.close()


def test_retry_after_pauses_only_that_receivers_lane() -> None:
    store, clock = InMemoryAlertStore(), ManualClock(T0)
    throttled = DeliveryResult(Outcome.RETRY, 429, retry_after=timedelta(seconds=30), error="HTTP 429")
    chat, pager = Receiver("chat", [throttled]), Receiver("pager")
    worker = DeliveryWorker(store, {"chat": chat, "pager": pager}, clock.now)
    store.enqueue([message("chat", "g1"), message("chat", "g2"), message("pager", "g1")])
    worker.run_once()
    assert chat.seen == ["g1"]  # g2 is due too, but Slack asked us to wait
    assert pager.seen == ["g1"]
    clock.advance(timedelta(seconds=10))
    worker.run_once()
    assert chat.seen == ["g1"]
    clock.advance(timedelta(seconds=20))
    worker.run_once()
    assert sorted(chat.seen) == ["g1", "g1", "g2"]
    assert all(m.status is MessageStatus.DELIVERED and m.last_error is None for m in store.messages())


def test_a_wake_up_while_the_lane_is_busy_is_not_lost() -> None:
    store, clock = InMemoryAlertStore(), ManualClock(T0)
    chat = Receiver("chat")
    chat.gate = threading.Event()
    worker = DeliveryWorker(store, {"chat": chat}, clock.now, wait=False)
    store.enqueue([message("chat", "g1")])
    worker.run_once()
    assert chat.entered.wait(5)
    store.enqueue([message("chat", "g2")])
    assert worker.run_once() == 0  # the lane is busy: no second thread, but it is asked for another pass
    chat.gate.set()
    wait_for(lambda: chat.seen == ["g1", "g2"], timeout=5, what="the second pass")
    worker.close()


def test_one_groups_messages_reach_the_receiver_in_order_through_retries() -> None:
    store, clock = InMemoryAlertStore(), ManualClock(T0)
    timeout = DeliveryResult(Outcome.RETRY, None, error="timeout (ReadTimeout): timed out")
    chat = Receiver("chat", [timeout])
    actions: list[str] = []
    deliver = chat.deliver
    chat.deliver = lambda m: (actions.append(m.action), deliver(m))[1]  # type: ignore[method-assign]
    worker = DeliveryWorker(store, {"chat": chat}, clock.now)
    store.enqueue([message("chat", action="trigger"), message("chat", action="resolve")])
    for _ in range(20):
        worker.run_once()
        clock.advance(timedelta(seconds=5))
    assert actions == ["trigger", "trigger", "resolve"]


def test_each_outcome_is_logged_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    store, clock = InMemoryAlertStore(), ManualClock(T0)
    chat = Receiver(
        "chat",
        [DeliveryResult(Outcome.RETRY, 503, error="HTTP 503"), DeliveryResult(Outcome.DELIVERED, 200)],
    )
    worker = DeliveryWorker(
        store, {"chat": chat, "hook": Receiver("hook", [DeliveryResult(Outcome.FAILED, 400)])}, clock.now
    )
    store.enqueue([message("chat", "dk-1"), message("hook", "dk-2")])
    clock.advance(timedelta(seconds=2))
    with caplog.at_level(logging.INFO, logger="slo_service.pipeline.delivery"):
        worker.run_once()
        clock.advance(timedelta(minutes=10))
        worker.run_once()
    lines = sorted(r.getMessage() for r in caplog.records)
    assert len(lines) == 3
    assert lines[0] == "notification 1 delivered to chat: trigger dk-1, 602.000s after it was queued, attempt 2"
    assert lines[1].startswith("notification 1 to chat failed (attempt 1: HTTP 503), retry at 2026-12-06T03:00:")
    assert lines[2] == "notification 2 to hook dead-lettered: trigger dk-2: HTTP 400"
