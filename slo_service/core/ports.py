"""Ports: the small protocols and records the pipeline uses to talk to storage, without knowing SQL."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from slo_service.core.samples import SeriesId

BASE_RESOLUTION_SECONDS = 60
"""Fresh history is kept in 1-minute slices; older slices are rolled up (see HistoryStore.compact)."""

EVENTS = "events"
"""Series of raw good/total event (or gauge-sample) counts of an SLO."""
SLICES = "slices"
"""Series of timeslice verdicts of a timeslices SLO: good = good slices, total = slices with data."""


class StoreUnavailable(Exception):
    """The store cannot be reached now (connection refused, lost or timed out, the server shutting down): the
    same call may succeed later. Every store raises it instead of its driver's connection errors, so callers
    tell an outage (retry, answer 503) from a bug (a 500 with its traceback) without knowing the driver."""

    def __init__(self, reason: str, where: str = "") -> None:
        super().__init__(f"database unavailable{f' at {where}' if where else ''}: {reason}")
        self.reason = reason
        self.where = where


class NotLeader(StoreUnavailable):
    """Fencing: this replica may not commit leader work (alert changes, outbox messages), because it does not
    lead, or led under a leader epoch another replica has since replaced. Like an outage, the caller retries
    (the API answers 503); the replica's next leadership check makes it step down."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


@dataclass(frozen=True)
class CountIncrement:
    """Add `good` and `total` to the slice of `key`/`series` that starts at `start` (aligned to resolution)."""

    key: str
    start: datetime
    good: float
    total: float
    series: str = EVENTS
    resolution: int = BASE_RESOLUTION_SECONDS


@dataclass(frozen=True)
class StoredSlice:
    key: str
    series: str
    start: datetime
    resolution: int
    good: float
    total: float


@dataclass(frozen=True)
class ScrapeHealth:
    """Outcome of one collection attempt from one target of a source."""

    source: str
    target: str
    at: datetime
    up: bool
    duration_seconds: float
    samples: int = 0
    error: str | None = None


@dataclass(frozen=True)
class ScrapeStatus:
    """The latest ScrapeHealth of a target plus its failure streak, for "down since" displays."""

    latest: ScrapeHealth
    last_success_at: datetime | None
    consecutive_failures: int
    failing_since: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class EvaluationSnapshot:
    """What one evaluation said about one SLO, kept for charts."""

    key: str
    at: datetime
    sli: float | None
    budget_remaining: float | None
    burn_rates: Mapping[str, float | None] = field(default_factory=dict)
    good: float = 0.0
    total: float = 0.0


BaselineKey = tuple[str, SeriesId]
"""(role, series) of a counter an SLO reads; the role is `total`, `good` or `bad`."""


@dataclass(frozen=True)
class CounterBaselines:
    """Where an SLO's counting of a scrape source left off: the raw value of every counter series its last
    counted scrape read, that scrape's time, the target scraped and the fingerprint of the SLI the values
    were read for. Stored in the transaction of the minutes that scrape counted (a crash keeps both or
    neither), taken up after a restart."""

    source: str
    slo: str
    target: str
    sli: str
    at: datetime
    values: Mapping[BaselineKey, float]


Baselines = Sequence[CounterBaselines]
"""Counter baselines written with a batch of increments."""


def latest_baselines(baselines: Sequence[CounterBaselines]) -> list[CounterBaselines]:
    """The last of the given baselines of each (source, SLO): each replaces the ones before."""
    return list({(b.source, b.slo): b for b in baselines}.values())


@dataclass(frozen=True)
class CompactionResult:
    rolled_up: int
    deleted: int


@dataclass(frozen=True)
class StoredCheckpoint:
    """A stored copy of the counts matrix: valid for every slice write up to history mark `mark`."""

    created_at: datetime
    mark: int
    meta: dict[str, Any]
    parts: list[bytes]


class MatrixCheckpointStore(Protocol):
    """Where matrix checkpoints live, and how to find the slices written after one (SqlHistoryStore)."""

    def history_mark(self) -> int:
        """The mark of the newest committed slice write (every slice row carries its write's mark)."""
        ...

    def changed_slices(self, since: int) -> list[tuple[str, str, int, int]]:
        """(key, series, resolution, start_epoch) of every slice row written after mark `since`."""
        ...

    def slice_rows(self, keys: Collection[str], start: int, end: int) -> list[tuple[str, str, int, int, float, float]]:
        """(key, series, resolution, start_epoch, good, total) of `keys` with start_epoch in [start, end)."""
        ...

    def save_checkpoint(self, created_at: datetime, mark: int, meta: dict[str, Any], parts: Sequence[bytes]) -> int:
        """Store a checkpoint, replacing the older ones."""
        ...

    def load_checkpoint(self) -> StoredCheckpoint | None: ...

    def snapshot_reads(self) -> AbstractContextManager[None]:
        """Every read of this thread in the block sees one snapshot (and a change log notes its position)."""
        ...


class HistoryStore(Protocol):
    """Durable SLO history. Every method is one transaction, and raises StoreUnavailable while the store
    cannot be reached."""

    def add_counts(
        self, increments: Sequence[CountIncrement], idempotency_key: str | None = None, baselines: Baselines = ()
    ) -> bool:
        """Add increments (upsert-add) and store the counter baselines (replacing those of the same source and
        SLO), in one transaction. With a key already used, store nothing and return False."""
        ...

    def load_baselines(self, source: str) -> list[CounterBaselines]:
        """The stored CounterBaselines of every SLO of scrape source `source`."""
        ...

    def load_counts(
        self, keys: Collection[str] | None, start: datetime, end: datetime, series: str | None = None
    ) -> list[StoredSlice]:
        """Slices of every resolution with start in [start, end), ordered by key, series, start."""
        ...

    def latest_slice_start(self, key: str, series: str) -> datetime | None: ...

    def compact(self, now: datetime, raw_retention: timedelta, retention: timedelta) -> CompactionResult:
        """Roll 1-minute slices older than raw_retention into hourly ones; delete data older than retention."""
        ...

    def record_scrapes(self, results: Sequence[ScrapeHealth]) -> None: ...

    def latest_scrapes(self) -> list[ScrapeHealth]:
        """The newest ScrapeHealth per (source, target)."""
        ...

    def scrape_statuses(self) -> list[ScrapeStatus]:
        """The newest result per (source, target) with last success, failure streak and "down since"."""
        ...

    def save_evaluations(self, snapshots: Sequence[EvaluationSnapshot]) -> None: ...

    def load_evaluations(self, key: str, start: datetime, end: datetime) -> list[EvaluationSnapshot]: ...

    def ping(self) -> None:
        """Raise (StoreUnavailable) if the database cannot be reached."""
        ...
