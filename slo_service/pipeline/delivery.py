"""The notify step: deliver outbox messages to receivers with retries, backoff and a dead-letter list.

Each receiver has a lane of its own (as Alertmanager runs one pipeline per receiver): a thread that
claims only that receiver's messages, one at a time, and delivers them. A Slack that is throttled
(429 + Retry-After), hanging until its timeout, or down therefore never delays a PagerDuty page.
Across replicas the store's leases (and FOR UPDATE SKIP LOCKED) keep a message with one worker at a
time, and `claim_due` keeps one group's messages to one receiver in order.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from slo_service.core.alerting.ports import AlertStore
from slo_service.core.notify import DeliveryResult, OutboxMessage, Outcome, Receiver, RetryPolicy
from slo_service.pipeline.failures import log_failure

log = logging.getLogger(__name__)


@dataclass
class DeliveryStats:
    """Delivery attempts for /metrics, by receiver and outcome (lanes count from their own threads)."""

    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, receiver: str, outcome: str) -> None:
        with self._lock:
            self.outcomes[(receiver, outcome)] = self.outcomes.get((receiver, outcome), 0) + 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self.outcomes)


@dataclass
class _Lane:
    """One receiver's delivery lane. `busy` is held by the thread draining it; `again` asks that thread
    for one more pass (a wake-up that arrived while it was busy is never lost)."""

    name: str
    busy: threading.Lock = field(default_factory=threading.Lock)
    again: bool = False
    paused_until: datetime | None = None  # the receiver asked us to wait (Retry-After): none of its messages
    thread: threading.Thread | None = None
    in_flight: int | None = None  # id of the message being delivered (claimed by this worker)


class DeliveryWorker:
    """Claims due messages per receiver, delivers them, records the outcome. Safe to run in several
    replicas: claims are leased, so a message is delivered by one worker at a time, and a crashed
    worker's claims expire and are retried (flagged `interrupted`, so a receiver that cannot
    deduplicate by itself looks the message up before sending it again)."""

    def __init__(
        self,
        store: AlertStore,
        receivers: Mapping[str, Receiver],
        clock_now: Callable[[], datetime],
        retry: RetryPolicy | None = None,
        # One message per claim and a lease well above a receiver's timeout (10 s; a Slack retry may look the
        # message up first, then post: two requests): a crashed worker holds at most one message per receiver,
        # for at most 30 s, and a slow receiver never lets another replica in.
        lease: timedelta = timedelta(seconds=30),
        observe_latency: Callable[[str, float], None] | None = None,
        *,
        wait: bool = True,
    ) -> None:
        self.store = store
        self.receivers = dict(receivers)
        self.now = clock_now
        self.retry = retry or RetryPolicy()
        self.lease = lease
        self.stats = DeliveryStats()
        self.observe_latency = observe_latency  # set by the exporter: a histogram per receiver
        # wait=True (tests, benchmarks): run_once returns when every lane it started is idle again.
        # wait=False (the service): run_once only starts idle lanes; the scheduler thread never waits for a
        # receiver, so a hanging Slack cannot hold the next routing tick either.
        self.wait = wait
        self._lanes: dict[str, _Lane] = {}
        self._lanes_lock = threading.Lock()
        self._closed = False
        self._rng = random.Random()
        self._rng_lock = threading.Lock()

    @property
    def outcome_counts(self) -> Mapping[tuple[str, str], int]:
        return self.stats.snapshot()

    def set_receivers(self, receivers: Mapping[str, Receiver]) -> None:
        self.receivers = dict(receivers)

    def run_once(self) -> int:
        """Start a lane for every receiver with due messages (unless it is busy or told us to wait).

        Returns the number of delivery attempts made when waiting, else the number of lanes started.
        """
        if self._closed:
            return 0
        now = self.now()
        started: list[tuple[threading.Thread, list[int]]] = []
        for name in self.store.due_receivers(now):
            lane = self._lane(name)
            if lane.paused_until is not None and now < lane.paused_until:
                continue
            lane.again = True  # before trying the lock: a lane finishing right now sees it and drains again
            if not lane.busy.acquire(blocking=False):
                continue  # draining already; it will make one more pass
            counter = [0]
            thread = threading.Thread(target=self._drain, args=(lane, counter), name=f"deliver-{name}", daemon=True)
            lane.thread = thread
            thread.start()
            started.append((thread, counter))
        if not self.wait:
            return len(started)
        for thread, _ in started:
            thread.join()
        return sum(counter[0] for _, counter in started)

    def close(self, timeout: float = 5.0) -> int:
        """Stop claiming, give in-flight deliveries up to `timeout` seconds, then hand the ones still running
        back to the store (claimable at once by another replica or the next process, flagged `interrupted`,
        rather than after the lease). Returns how many were handed back."""
        self._closed = True
        deadline = time.monotonic() + timeout
        with self._lanes_lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            if lane.thread is not None:
                lane.thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [lane.in_flight for lane in lanes if lane.in_flight is not None]
        if not stuck:
            return 0
        try:
            return self.store.release(stuck, self.now())
        except Exception:  # the store is down: the lease expires as after a crash
            log_failure(log, "could not hand back %d notifications in delivery", len(stuck), traceback=False)
            return 0

    def _lane(self, name: str) -> _Lane:
        with self._lanes_lock:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = _Lane(name)
            return lane

    def _drain(self, lane: _Lane, counter: list[int]) -> None:
        """The lane's thread: deliver its receiver's due messages, oldest first, until none is left."""
        while True:
            lane.again = False
            try:
                counter[0] += self._drain_pass(lane)
            except Exception:  # the store may be down: the next wake-up tries again
                log_failure(log, "delivery lane %s failed", lane.name)
            lane.busy.release()
            if not lane.again or self._closed:
                return
            if not lane.busy.acquire(blocking=False):
                return  # another wake-up took the lane over

    def _drain_pass(self, lane: _Lane) -> int:
        attempted = 0
        while not self._closed:
            now = self.now()
            if lane.paused_until is not None and now < lane.paused_until:
                break
            claimed = self.store.claim_due(now, 1, self.lease, receiver=lane.name)
            if not claimed:
                break
            for message in claimed:
                lane.in_flight = message.id
                try:
                    self._deliver(message, lane)
                finally:
                    lane.in_flight = None
                attempted += 1
        return attempted

    def _deliver(self, message: OutboxMessage, lane: _Lane) -> None:
        assert message.id is not None
        receiver = self.receivers.get(message.receiver)
        now = self.now()
        if receiver is None:
            reason = f"receiver {message.receiver!r} is no longer configured"
            self.store.mark_dead(message.id, now, reason)
            self.stats.count(message.receiver, "dead")
            log.error("notification %s to %s dead-lettered: %s", message.id, message.receiver, reason)
            return
        # The reference an earlier delivery of this dedup key returned (e.g. the Slack message to update).
        ref = self.store.external_ref(message.receiver, message.dedup_key)
        try:
            result = receiver.deliver(replace(message, external_ref=ref or {}))
        except Exception as exc:  # receivers should not raise; if one does, the message is retried
            log.exception("receiver %s raised", message.receiver)
            result = DeliveryResult(Outcome.RETRY, error=f"{type(exc).__name__}: {exc}")
        done = self.now()
        attempts = message.attempts + 1
        if result.outcome is Outcome.DELIVERED:
            self.store.mark_delivered(message.id, done, result.external_ref or ref or {})
            latency = (done - message.created_at).total_seconds()
            self.stats.count(message.receiver, "delivered")
            if self.observe_latency is not None:
                self.observe_latency(message.receiver, latency)
            log.info(
                "notification %s delivered to %s: %s %s, %.3fs after it was queued, attempt %d%s",
                message.id,
                message.receiver,
                message.action,
                message.dedup_key,
                latency,
                attempts,
                f" ({result.error})" if result.error else "",
            )
        elif result.outcome is Outcome.FAILED or attempts >= self.retry.max_attempts:
            reason = result.error or f"HTTP {result.status_code}"
            if result.outcome is not Outcome.FAILED:
                reason = f"gave up after {attempts} attempts: {reason}"
            self.store.mark_dead(message.id, done, reason)
            self.stats.count(message.receiver, "dead")
            log.error(
                "notification %s to %s dead-lettered: %s %s: %s",
                message.id,
                message.receiver,
                message.action,
                message.dedup_key,
                reason,
            )
        else:
            with self._rng_lock:
                when = self.retry.next_attempt(attempts, done, result.retry_after, self._rng)
            error = result.error or f"HTTP {result.status_code}"
            self.store.mark_retry(message.id, when, error)
            self.stats.count(message.receiver, "retry")
            if result.retry_after is not None:
                lane.paused_until = when  # the receiver is throttling us: none of its messages until then
            log.warning(
                "notification %s to %s failed (attempt %d: %s), retry at %s%s",
                message.id,
                message.receiver,
                attempts,
                error,
                when.isoformat(),
                " (receiver paused until then)" if result.retry_after is not None else "",
            )
