"""An in-memory HistoryStore: the fake for pipeline tests and for trying the service without a database."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from slo_service.core.ports import (
    BASE_RESOLUTION_SECONDS,
    Baselines,
    CompactionResult,
    CounterBaselines,
    CountIncrement,
    EvaluationSnapshot,
    ScrapeHealth,
    ScrapeStatus,
    StoredSlice,
    latest_baselines,
)


class InMemoryHistoryStore:
    """Implements HistoryStore with dicts; same semantics as the SQL store, minus durability."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.slices: dict[tuple[str, str, int, datetime], list[float]] = {}
        self.ingest_keys: set[str] = set()
        self.scrapes: dict[tuple[str, str], ScrapeStatus] = {}
        self.evaluations: list[EvaluationSnapshot] = []
        self.baselines: dict[tuple[str, str], CounterBaselines] = {}

    def add_counts(
        self, increments: Sequence[CountIncrement], idempotency_key: str | None = None, baselines: Baselines = ()
    ) -> bool:
        with self._lock:
            if idempotency_key is not None:
                if idempotency_key in self.ingest_keys:
                    return False
                self.ingest_keys.add(idempotency_key)
            for inc in increments:
                acc = self.slices.setdefault((inc.key, inc.series, inc.resolution, inc.start), [0.0, 0.0])
                acc[0] += inc.good
                acc[1] += inc.total
            for b in latest_baselines(baselines):
                self.baselines[(b.source, b.slo)] = b
            return True

    def load_baselines(self, source: str) -> list[CounterBaselines]:
        with self._lock:
            return [b for (s, _), b in self.baselines.items() if s == source]

    def load_counts(
        self, keys: Collection[str] | None, start: datetime, end: datetime, series: str | None = None
    ) -> list[StoredSlice]:
        with self._lock:
            out = [
                StoredSlice(k, s, t, r, g, tot)
                for (k, s, r, t), (g, tot) in self.slices.items()
                if (keys is None or k in keys) and (series is None or s == series) and start <= t < end
            ]
        return sorted(out, key=lambda x: (x.key, x.series, x.start))

    def latest_slice_start(self, key: str, series: str) -> datetime | None:
        with self._lock:
            starts = [t for (k, s, _r, t) in self.slices if k == key and s == series]
        return max(starts) if starts else None

    def compact(self, now: datetime, raw_retention: timedelta, retention: timedelta) -> CompactionResult:
        cutoff = now - raw_retention
        rolled = deleted = 0
        with self._lock:
            for (k, s, r, t), (g, tot) in list(self.slices.items()):
                hour = t.replace(minute=0, second=0, microsecond=0)
                if r == BASE_RESOLUTION_SECONDS and hour + timedelta(hours=1) <= cutoff:
                    del self.slices[(k, s, r, t)]
                    acc = self.slices.setdefault((k, s, 3600, hour), [0.0, 0.0])
                    acc[0] += g
                    acc[1] += tot
                    rolled += 1
            for key in [key for key in self.slices if key[3] < now - retention]:
                del self.slices[key]
                deleted += 1
            for head in [head for head, b in self.baselines.items() if b.at < now - retention]:
                del self.baselines[head]
                deleted += 1
        return CompactionResult(rolled, deleted)

    def record_scrapes(self, results: Sequence[ScrapeHealth]) -> None:
        with self._lock:
            for h in sorted(results, key=lambda r: r.at):
                old = self.scrapes.get((h.source, h.target))
                if old is not None and old.latest.at > h.at:
                    continue
                failures = 0 if h.up else (old.consecutive_failures if old else 0) + 1
                self.scrapes[(h.source, h.target)] = ScrapeStatus(
                    latest=h,
                    last_success_at=h.at if h.up else (old.last_success_at if old else None),
                    consecutive_failures=failures,
                    failing_since=None if h.up else (old.failing_since if old and old.failing_since else h.at),
                    last_error=h.error if not h.up else (old.last_error if old else None),
                )

    def latest_scrapes(self) -> list[ScrapeHealth]:
        with self._lock:
            return [s.latest for s in self.scrapes.values()]

    def scrape_statuses(self) -> list[ScrapeStatus]:
        with self._lock:
            return list(self.scrapes.values())

    def save_evaluations(self, snapshots: Sequence[EvaluationSnapshot]) -> None:
        with self._lock:
            self.evaluations.extend(snapshots)

    def load_evaluations(self, key: str, start: datetime, end: datetime) -> list[EvaluationSnapshot]:
        with self._lock:
            return [e for e in self.evaluations if e.key == key and start <= e.at < end]

    def ping(self) -> None:
        return None
