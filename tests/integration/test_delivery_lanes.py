"""DeliveryWorker on the SQL store with the real receivers against local Slack, PagerDuty and webhook stand-ins:
each receiver is delivered in a lane of its own, one group's messages stay in order, retries are idempotent."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine
from werkzeug import Request, Response

from slo_service.adapters.receivers.pagerduty import PagerDutyReceiver
from slo_service.adapters.receivers.slack import SlackReceiver
from slo_service.adapters.receivers.webhook import WebhookReceiver
from slo_service.adapters.sql.alert_store import SqlAlertStore
from slo_service.core.notify import MessageStatus, OutboxMessage, Receiver, RetryPolicy
from slo_service.pipeline.delivery import DeliveryWorker
from tests.support.fake_pagerduty import ROUTING_KEY, FakePagerDuty
from tests.support.fake_slack import CHANNEL_ID, TOKEN, FakeSlack
from tests.support.process import start_local_server, wait_for

FAST_RETRY = RetryPolicy(base=timedelta(milliseconds=100), cap=timedelta(milliseconds=200))


def now() -> datetime:
    return datetime.now(UTC)


def group_payload(status: str = "firing") -> dict[str, Any]:
    labels = {"alertname": "SLOBurnRateHigh", "service": "checkout", "slo": "availability", "severity": "page"}
    return {
        "version": "4",
        "status": status,
        "groupKey": '{}:{service="checkout"}',
        "groupLabels": {"service": "checkout"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "checkout burns its budget"},
        "alerts": [{"status": status, "labels": labels, "annotations": {}, "startsAt": "2026-12-06T02:00:00Z"}],
    }


def outbox(receiver: str, action: str = "trigger", dedup_key: str = "slo-group-1") -> OutboxMessage:
    status = "resolved" if action == "resolve" else "firing"
    return OutboxMessage(receiver, action, dedup_key, group_payload(status), now())


@pytest.fixture
def servers() -> Iterator[tuple[HTTPServer, HTTPServer]]:
    """Slack and PagerDuty on separate threaded servers: a hanging Slack must not hold PagerDuty's socket."""
    slack_server, pd_server = start_local_server(), start_local_server()
    yield slack_server, pd_server
    slack_server.stop()
    pd_server.stop()


@pytest.fixture
def world(
    db_engine: Engine, servers: tuple[HTTPServer, HTTPServer]
) -> Iterator[tuple[SqlAlertStore, FakeSlack, FakePagerDuty, dict[str, Receiver]]]:
    slack_server, pd_server = servers
    slack, pd = FakeSlack(slack_server), FakePagerDuty(pd_server)
    # "chat" sorts before "pager": a worker that went through receivers one by one would reach Slack first.
    receivers: dict[str, Receiver] = {
        "chat": SlackReceiver("chat", TOKEN, CHANNEL_ID, base_url=slack.base_url, timeout=2),
        "pager": PagerDutyReceiver("pager", ROUTING_KEY, url=pd.url, timeout=2),
    }
    yield SqlAlertStore(db_engine), slack, pd, receivers
    if slack.post_gate is not None:
        slack.post_gate.set()


def test_a_throttled_slack_does_not_delay_the_pagerduty_page(
    world: tuple[SqlAlertStore, FakeSlack, FakePagerDuty, dict[str, Receiver]],
) -> None:
    store, slack, pd, receivers = world
    slack.throttle_until, slack.retry_after = time.monotonic() + 60, 5
    worker = DeliveryWorker(store, receivers, now, wait=False)
    # Slack's message is older: a single queue would try it (and wait out its 429) first.
    store.enqueue([outbox("chat"), outbox("pager")])
    enqueued = time.monotonic()
    worker.run_once()
    wait_for(lambda: pd.events, timeout=5, what="the PagerDuty page")
    assert pd.arrivals[0] - enqueued < 1.0
    wait_for(lambda: store.messages(receiver="chat")[0].attempts == 1, timeout=5, what="the Slack attempt")
    (waiting,) = store.messages(receiver="chat")
    assert (
        waiting.status is MessageStatus.PENDING
        and waiting.last_error is not None
        and "ratelimited" in waiting.last_error
    )
    # The lane is paused for Retry-After: more wake-ups and more Slack messages do not hammer Slack.
    store.enqueue([outbox("chat", dedup_key="slo-group-2")])
    for _ in range(3):
        worker.run_once()
        time.sleep(0.05)
    assert slack.count("chat.postMessage") == 1
    worker.close()


def test_a_hanging_slack_does_not_delay_the_pagerduty_page(
    world: tuple[SqlAlertStore, FakeSlack, FakePagerDuty, dict[str, Receiver]],
) -> None:
    store, slack, pd, receivers = world
    slack.post_gate = threading.Event()
    worker = DeliveryWorker(store, receivers, now, wait=False)
    store.enqueue([outbox("chat"), outbox("pager")])  # Slack's message first; Slack takes it and never answers
    enqueued = time.monotonic()
    worker.run_once()
    wait_for(lambda: pd.events, timeout=5, what="the PagerDuty page")
    assert pd.arrivals[0] - enqueued < 1.0
    assert slack.post_started.is_set() and not store.messages(receiver="chat")[0].attempts  # still hanging
    # A second page while Slack still hangs: a wake-up starts the idle PagerDuty lane only.
    store.enqueue([outbox("pager", dedup_key="slo-group-2")])
    enqueued = time.monotonic()
    worker.run_once()
    wait_for(lambda: len(pd.events) == 2, timeout=5, what="the second PagerDuty page")
    assert pd.arrivals[1] - enqueued < 1.0
    assert slack.count("chat.postMessage") == 1
    slack.post_gate.set()
    worker.close()


def test_a_slack_answering_after_the_timeout_shows_one_message_that_the_resolve_updates(
    world: tuple[SqlAlertStore, FakeSlack, FakePagerDuty, dict[str, Receiver]],
) -> None:
    store, slack, _, receivers = world
    slack.post_delay = 1.0
    receivers = {"slack": SlackReceiver("slack", TOKEN, "#alerts", base_url=slack.base_url, timeout=0.3)}
    worker = DeliveryWorker(store, receivers, now, FAST_RETRY)
    store.enqueue([outbox("slack"), outbox("slack", "resolve")])
    deadline = time.monotonic() + 15
    while any(m.status is MessageStatus.PENDING for m in store.messages()) and time.monotonic() < deadline:
        worker.run_once()
        time.sleep(0.1)
    trigger, resolve = sorted(store.messages(), key=lambda m: m.id or 0)
    assert (trigger.status, resolve.status) == (MessageStatus.DELIVERED, MessageStatus.DELIVERED)
    [only] = slack.messages  # the timed-out post was found by its metadata, not posted again
    assert slack.count("chat.postMessage") == 1
    assert only.text.startswith("[RESOLVED]") and only.edits == 1
    assert trigger.external_ref == {"channel": CHANNEL_ID, "ts": only.ts}
    assert trigger.attempts == 2 and trigger.last_error is None  # no stale timeout shown for a delivered message


def test_webhook_retries_carry_the_same_idempotency_key_and_pagerduty_the_same_dedup_key(
    db_engine: Engine, servers: tuple[HTTPServer, HTTPServer]
) -> None:
    hook_server, pd_server = servers
    keys: list[str] = []

    def flaky(request: Request) -> Response:
        keys.append(request.headers["Idempotency-Key"])
        return Response("busy", status=503) if len(keys) == 1 else Response("ok")

    hook_server.expect_request("/hook").respond_with_handler(flaky)
    pd = FakePagerDuty(pd_server)
    pd.failures = [Response("{}", status=500)]
    store = SqlAlertStore(db_engine)
    receivers: dict[str, Receiver] = {
        "hook": WebhookReceiver("hook", hook_server.url_for("/hook")),
        "pagerduty": PagerDutyReceiver("pagerduty", ROUTING_KEY, url=pd.url),
    }
    worker = DeliveryWorker(store, receivers, now, FAST_RETRY)
    store.enqueue([outbox("hook"), outbox("pagerduty"), outbox("hook", "resolve")])
    deadline = time.monotonic() + 10
    while any(m.status is MessageStatus.PENDING for m in store.messages()) and time.monotonic() < deadline:
        worker.run_once()
        time.sleep(0.1)
    trigger_id, _, resolve_id = sorted(m.id or 0 for m in store.messages())
    assert keys == [f"slo-group-1:trigger:{trigger_id}"] * 2 + [f"slo-group-1:resolve:{resolve_id}"]
    assert [e["dedup_key"] for e in pd.events] == ["slo-group-1"]  # the 500 was retried under the same key
    assert all(m.status is MessageStatus.DELIVERED and m.last_error is None for m in store.messages())


def test_messages_for_a_receiver_no_longer_configured_are_dead_lettered(db_engine: Engine) -> None:
    store = SqlAlertStore(db_engine)
    store.enqueue([outbox("gone")])
    assert DeliveryWorker(store, {}, now).run_once() == 1
    (dead,) = store.messages(status="dead")
    assert dead.last_error == "receiver 'gone' is no longer configured"
