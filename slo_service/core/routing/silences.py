"""Alertmanager silences: matchers plus a [starts_at, ends_at) window; an expired silence mutes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from slo_service.core.selector import Matcher


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError(f"silence {self.id!r}: starts_at and ends_at must be aware datetimes")
        if self.ends_at <= self.starts_at:
            raise ValueError(f"silence {self.id!r}: ends_at must be after starts_at")
        if not self.matchers:
            raise ValueError(f"silence {self.id!r} needs at least one matcher")
        if all(m.matches({}) for m in self.matchers):
            raise ValueError(f"silence {self.id!r}: at least one matcher must not match the empty string")
        if not self.created_by.strip():
            raise ValueError(f"silence {self.id!r} needs created_by")

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def pending(self, now: datetime) -> bool:
        return now < self.starts_at

    def expired(self, now: datetime) -> bool:
        return now >= self.ends_at

    def state(self, now: datetime) -> str:
        """One of pending, active or expired, as Alertmanager shows it."""
        return "pending" if self.pending(now) else "expired" if self.expired(now) else "active"

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.active(now) and all(m.matches(labels) for m in self.matchers)


def silenced_by(labels: Mapping[str, str], silences: Sequence[Silence], now: datetime) -> list[str]:
    """Ids of the silences muting these labels at `now` (empty: not silenced)."""
    return [s.id for s in silences if s.mutes(labels, now)]
