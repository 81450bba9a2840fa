"""A brute-force reference for the counts engine: every event kept in a plain list, sums by filtering.

Written separately and simply on purpose: no numpy, no tiers, no rings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Grid = Sequence[tuple[int, datetime, datetime]]
"""(resolution in seconds, first time, end time) of each tier: where a time's data lives."""


def grid(matrix: Any) -> Grid:
    """A CountsMatrix's tiers as the reference needs them (the geometry only, none of its sums)."""
    return [(t.resolution, lo, hi) for t, (lo, hi) in zip(matrix.tiers, matrix.tier_ranges(), strict=True)]


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

    def _weight(self, at: datetime, start: datetime, end: datetime, grid: Grid) -> float:
        """The window rule, one event at a time: the share of the time its slot covers that lies in
        [start, end). Slot [a, a + r) covers [a, a + r), cut where the finer tier begins; the current
        minute (the last slot of the finest tier) covers [a, end)."""
        tiers = [(r, lo.timestamp(), hi.timestamp()) for r, lo, hi in grid if lo <= at < hi]
        if not tiers:
            return 0.0  # older than the grid: dropped
        ((r, _, hi),) = tiers
        t, s, e = at.timestamp(), start.timestamp(), end.timestamp()
        a = t // r * r
        covers = min(a + r, hi)
        if r == grid[0][0] and covers == grid[0][2].timestamp():
            covers = min(covers, e)  # the current minute: its data so far
        overlap = min(covers, e) - max(a, s)
        return overlap / (covers - a) if overlap > 0 else 0.0

    def weighted_sums(self, key: str, start: datetime, end: datetime, grid: Grid) -> tuple[float, float]:
        """(good, total) of `key` in [start, end), every event weighed by `_weight`."""
        good = total = 0.0
        for k, at, g, t in self.events:
            if k == key:
                w = self._weight(at, start, end, grid)
                good, total = good + w * g, total + w * t
        return good, total

    def weighted_minutes(self, key: str, start: datetime, end: datetime, grid: Grid) -> float:
        """Distinct minutes with data of `key`, each weighed by its slot's share of [start, end)."""
        minutes = {e[1].replace(second=0, microsecond=0) for e in self.events if e[0] == key}
        return sum(self._weight(m, start, end, grid) for m in minutes)

    def weighted_writes(self, key: str, start: datetime, end: datetime, grid: Grid) -> float:
        return sum(self._weight(e[1], start, end, grid) for e in self.events if e[0] == key)
