"""Notification delivery, pure: outbox messages, delivery outcomes, the receiver port and retry backoff."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from slo_service.core.secrets import redact


class MessageStatus(StrEnum):
    PENDING = "pending"  # waiting for (another) delivery attempt
    DELIVERED = "delivered"
    DEAD = "dead"  # gave up: a 4xx other than 429, or too many attempts; visible in the dead-letter list


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # 5xx, 429, timeout, connection refused: try again later
    FAILED = "failed"  # the receiver refused the message for good (400-class other than 429)


@dataclass(frozen=True)
class OutboxMessage:
    """One notification to one receiver, written in the same transaction as the alert change.

    `dedup_key` is stable for the alert group and `action`, so redelivery after a crash is harmless:
    PagerDuty deduplicates on it, the Slack receiver updates the message it already posted.
    """

    receiver: str
    action: str  # "trigger" | "resolve" | "acknowledge" | "update"
    dedup_key: str
    payload: Mapping[str, Any]
    created_at: datetime
    id: int | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    status: MessageStatus = MessageStatus.PENDING
    last_error: str | None = None
    delivered_at: datetime | None = None
    external_ref: Mapping[str, Any] = field(default_factory=dict)
    # Set by claim_due: an earlier claim ended without an outcome (the worker died, or its lease ran out,
    # while the receiver may already have taken the message).
    interrupted: bool = False

    @property
    def maybe_sent(self) -> bool:
        """An earlier attempt may have reached the receiver (a timeout, a crash mid-request): a receiver
        that cannot deduplicate by itself (Slack) looks the message up before sending it again."""
        return self.attempts > 0 or self.interrupted


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    status_code: int | None = None
    retry_after: timedelta | None = None  # from a 429's Retry-After header
    error: str | None = None
    external_ref: Mapping[str, Any] = field(default_factory=dict)  # e.g. Slack channel + ts, for chat.update

    def __post_init__(self) -> None:
        # The error is stored, served by the API and logged: a receiver echoing its token or URL must not leak it.
        if self.error:
            object.__setattr__(self, "error", redact(self.error))


class Receiver(Protocol):
    """An outside system that takes notifications (Slack, PagerDuty, a webhook). Never raises."""

    name: str

    def deliver(self, message: OutboxMessage) -> DeliveryResult: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; Retry-After wins when the receiver sends one."""

    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=5)
    max_attempts: int = 50

    def next_attempt(
        self, attempts: int, now: datetime, retry_after: timedelta | None = None, rng: random.Random | None = None
    ) -> datetime:
        if retry_after is not None:
            return now + retry_after
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * (2 ** max(attempts - 1, 0)))
        jitter = (rng or random).uniform(0, ceiling)
        return now + timedelta(seconds=max(jitter, 0.05))
