"""A brute-force reference for the counts engine: every event kept in a plain list, sums by filtering.

Written separately and simply on purpose: no numpy, no tiers, no rings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Reference:
    events: list[tuple[str, datetime, float, float]] = field(default_factory=list)

    def add(self, key: str, at: datetime, good: float, total: float) -> None:
        self.events.append((key, at, good, total))

    def _select(self, key: str, start: datetime, end: datetime) -> list[tuple[str, datetime, float, float]]:
        return [e for e in self.events if e[0] == key and start <= e[1] < end]

    def sums(self, key: str, start: datetime, end: datetime) -> tuple[float, float]:
        """(good, total) of every event of `key` with start <= time < end."""
        chosen = self._select(key, start, end)
        return sum(e[2] for e in chosen), sum(e[3] for e in chosen)

    def minutes_with_data(self, key: str, start: datetime, end: datetime) -> int:
        """How many distinct UTC minutes had at least one event of `key` in [start, end)."""
        return len({e[1].replace(second=0, microsecond=0) for e in self._select(key, start, end)})

    def writes(self, key: str, start: datetime, end: datetime) -> int:
        return len(self._select(key, start, end))
