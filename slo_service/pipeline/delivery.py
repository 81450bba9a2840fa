"""The notify step: deliver outbox messages to receivers with retries, backoff and a dead-letter list."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from slo_service.core.alerting.ports import AlertStore
from slo_service.core.notify import DeliveryResult, OutboxMessage, Outcome, Receiver, RetryPolicy

log = logging.getLogger(__name__)


@dataclass
class DeliveryStats:
    """Delivery attempts for /metrics, by receiver and outcome."""

    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)

    def count(self, receiver: str, outcome: str) -> None:
        self.outcomes[(receiver, outcome)] = self.outcomes.get((receiver, outcome), 0) + 1


class DeliveryWorker:
    """Claims due messages, delivers them, records the outcome. Safe to run in several replicas:
    claims are leased, so a message is delivered by one worker at a time, and a crashed worker's
    claims expire and are retried. Redelivery carries the same dedup key, so it is harmless."""

    def __init__(
        self,
        store: AlertStore,
        receivers: Mapping[str, Receiver],
        clock_now: Callable[[], datetime],
        retry: RetryPolicy | None = None,
        # One message per claim and a lease well above a receiver's timeout (10 s): a crashed worker holds
        # at most one message, for at most 30 s, and a slow receiver never lets another replica in.
        lease: timedelta = timedelta(seconds=30),
        batch: int = 1,
        observe_latency: Callable[[str, float], None] | None = None,
    ) -> None:
        self.store = store
        self.receivers = dict(receivers)
        self.now = clock_now
        self.retry = retry or RetryPolicy()
        self.lease = lease
        self.batch = batch
        self.stats = DeliveryStats()
        self.observe_latency = observe_latency  # set by the exporter: a histogram per receiver
        self._lock = threading.Lock()
        self._rng = random.Random()

    @property
    def outcome_counts(self) -> Mapping[tuple[str, str], int]:
        return dict(self.stats.outcomes)

    def set_receivers(self, receivers: Mapping[str, Receiver]) -> None:
        self.receivers = dict(receivers)

    def run_once(self) -> int:
        """Deliver every message that is due now; returns how many were attempted."""
        if not self._lock.acquire(blocking=False):
            return 0  # another job is already draining the outbox in this process
        try:
            attempted = 0
            while True:
                claimed = self.store.claim_due(self.now(), self.batch, self.lease)
                if not claimed:
                    return attempted
                for message in claimed:
                    self._deliver(message)
                    attempted += 1
                if len(claimed) < self.batch:
                    return attempted
        finally:
            self._lock.release()

    def _deliver(self, message: OutboxMessage) -> None:
        assert message.id is not None
        receiver = self.receivers.get(message.receiver)
        now = self.now()
        if receiver is None:
            self.store.mark_dead(message.id, now, f"receiver {message.receiver!r} is no longer configured")
            self.stats.count(message.receiver, "dead")
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
        elif result.outcome is Outcome.FAILED or attempts >= self.retry.max_attempts:
            reason = result.error or f"HTTP {result.status_code}"
            if result.outcome is not Outcome.FAILED:
                reason = f"gave up after {attempts} attempts: {reason}"
            self.store.mark_dead(message.id, done, reason)
            self.stats.count(message.receiver, "dead")
            log.error("notification %s to %s dead-lettered: %s", message.id, message.receiver, reason)
        else:
            when = self.retry.next_attempt(attempts, done, result.retry_after, self._rng)
            self.store.mark_retry(message.id, when, result.error or f"HTTP {result.status_code}")
            self.stats.count(message.receiver, "retry")
            log.warning(
                "notification %s to %s failed (%s), retry at %s", message.id, message.receiver, result.error, when
            )
