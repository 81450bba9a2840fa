"""The live history: SQL as the durable record, the in-memory counts matrix as the fast evaluation window."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from slo_service.core.counts_matrix import DEFAULT_TIERS, CountsMatrix, Tier
from slo_service.core.evaluation import SLICES_SUFFIX
from slo_service.core.extract import Observation
from slo_service.core.model import SLO, BudgetingMethod
from slo_service.core.ports import (
    BASE_RESOLUTION_SECONDS,
    EVENTS,
    SLICES,
    Baselines,
    CounterBaselines,
    CountIncrement,
    HistoryStore,
    MatrixCheckpointStore,
    StoreUnavailable,
    latest_baselines,
)
from slo_service.core.windows import align
from slo_service.pipeline.checkpoint import encode, restore_matrix
from slo_service.pipeline.failures import log_failure

log = logging.getLogger(__name__)


def matrix_keys(slos: Sequence[SLO]) -> list[str]:
    """Rows the matrix needs: each SLO's events, plus verdicts for timeslice SLOs."""
    keys: list[str] = []
    for slo in slos:
        keys.append(slo.key)
        if slo.budgeting.method is BudgetingMethod.TIMESLICES:
            keys.append(slo.key + SLICES_SUFFIX)
    return keys


def _row_key(increment: CountIncrement) -> str:
    return increment.key + SLICES_SUFFIX if increment.series == SLICES else increment.key


def to_increments(observations: Iterable[Observation]) -> list[CountIncrement]:
    """Align observations to 1-minute slices, summing those that fall into the same slice."""
    sums: dict[tuple[str, datetime], list[float]] = {}
    for obs in observations:
        start = align(obs.at, BASE_RESOLUTION_SECONDS)
        acc = sums.setdefault((obs.key, start), [0.0, 0.0])
        acc[0] += obs.good
        acc[1] += obs.total
    return [CountIncrement(key, start, good, total) for (key, start), (good, total) in sums.items()]


SPILL_KEY_PREFIX = "spill:"
"""Idempotency key of a spill segment written to the store: `spill:<segment id>`."""

SpillRecord = tuple[list[CountIncrement], list[CounterBaselines]]


class Spill(Protocol):
    """Local, durable storage for buffered writes (adapters/spill.py): segments of appended records."""

    def new_segment(self) -> str: ...

    def segments(self) -> list[str]: ...

    def append(
        self, segment: str, increments: Sequence[CountIncrement], baselines: Sequence[CounterBaselines]
    ) -> None: ...

    def read(self, segment: str) -> list[SpillRecord]: ...

    def remove(self, segment: str) -> None: ...


@dataclass
class _Segment:
    """Buffered writes that go to the store in one transaction, under one idempotency key."""

    id: str
    increments: list[CountIncrement] = field(default_factory=list)
    baselines: list[CounterBaselines] = field(default_factory=list)  # the latest per (source, SLO)


class LiveHistory:
    """Writes go to SQL first and to the matrix; reads (evaluation) come from the matrix only.

    While the database is unreachable, increments wait in a bounded buffer and are written on the
    next successful flush, so a database outage costs no history (up to `pending_limit` increments).
    Counter baselines wait with them (the latest per SLO), and are always written in the transaction of the
    increments they were counted with. With a `spill`, every buffered write is also on local disk before
    `record` returns, so a SIGKILL during an outage loses nothing either: `replay_spill` writes what a
    killed process left there, once.

    The buffer is a list of segments (at most `pending_limit / 16` increments each, each one spill file);
    a segment is written in one transaction under the key `spill:<id>`, so writing it again after a crash
    between the commit and deleting its file adds nothing. Beyond the limit, the oldest segments are dropped.
    """

    def __init__(
        self,
        store: HistoryStore,
        now: datetime,
        tiers: Sequence[Tier] = DEFAULT_TIERS,
        pending_limit: int = 1_000_000,
        spill: Spill | None = None,
        checkpoints: MatrixCheckpointStore | None = None,
    ) -> None:
        self.store = store
        self.checkpoints = checkpoints
        # A checkpoint must hold exactly the writes up to the store's mark it records: it waits until no write
        # is between its store commit and its matrix update, and holds new ones back meanwhile.
        self._gate = threading.Condition()
        self._writes_in_flight = 0
        self._barrier = False
        self.tiers = tuple(tiers)
        self.lock = threading.RLock()
        self.matrix = CountsMatrix([], now, self.tiers)
        self.spill = spill
        self._segments: list[_Segment] = []
        # One write at a time: a flush writing an SLO's buffered baselines must not commit after (and so over)
        # the newer ones of that SLO's next scrape.
        self._write_lock = threading.Lock()
        self._pending_limit = max(1, pending_limit)
        self._segment_size = max(1, self._pending_limit // 16)
        self.dropped_increments = 0
        self._dropped_since_write = 0
        self.refused_increments = 0
        self.spill_failures = 0  # buffered writes that could not be put on disk (kept in memory only)
        self.last_store_error: str | None = None
        # Events recorded since start, per SLO: monotonic counters for /metrics (slo_events_total).
        self.event_counts: dict[str, tuple[float, float]] = {}

    @property
    def span(self) -> timedelta:
        return timedelta(seconds=max(t.resolution * t.slots for t in self.tiers))

    @property
    def pending_writes(self) -> int:
        with self.lock:
            return sum(len(seg.increments) for seg in self._segments)

    def rebuild(self, slos: Sequence[SLO], now: datetime) -> None:
        """Resize the matrix to the SLO set; rows that are new are loaded from SQL."""
        keys = matrix_keys(slos)
        with self.lock:
            known = set(self.matrix.keys)
            first = not known and self.checkpoints is not None
            # a start reads the checkpoint's tail and any new SLO's slices in one snapshot, whose change log
            # position the replicas' tail starts from (pipeline/tail.py)
            with self.checkpoints.snapshot_reads() if first and self.checkpoints else contextlib.nullcontext():
                restored = self._restore(keys, now) if first else None
                if restored is not None:
                    matrix, known = restored
                else:
                    matrix = self.matrix.with_keys(keys)
                    matrix.advance(now)
                new_keys = [k for k in keys if k not in known]
                if new_keys:
                    self._load(matrix, new_keys, now)
            self.matrix = matrix

    def _restore(self, keys: Sequence[str], now: datetime) -> tuple[CountsMatrix, set[str]] | None:
        """The newest matrix checkpoint brought up to date, or None (none, or unusable: load the slices)."""
        if self.checkpoints is None:
            return None
        try:
            return restore_matrix(self.checkpoints, keys, now, self.tiers)
        except StoreUnavailable:
            raise  # start-up waits for the database
        except Exception:  # e.g. a checkpoint another version wrote: the slices are the truth
            log_failure(log, "could not restore the matrix checkpoint, loading the history from the slices")
            return None

    def save_checkpoint(self, now: datetime, timeout: float = 30.0, sync: Callable[[], object] | None = None) -> bool:
        """Store a compressed copy of the matrix with the history mark it includes (see pipeline/checkpoint).
        False (nothing stored) without a checkpoint store, while writes wait for the database, or if the
        writes in flight do not finish within `timeout` seconds.

        `sync` (the change log tail's poll) runs after the mark is read: every transaction up to the mark has
        committed then (marks follow commit order), so the copy holds the other replicas' writes up to it too.
        """
        if self.checkpoints is None:
            return False
        with self._gate:
            self._barrier = True
            try:
                if not self._gate.wait_for(lambda: self._writes_in_flight == 0, timeout) or self._segments:
                    return False
                mark = self.checkpoints.history_mark()
                if sync is not None:
                    sync()
                with self.lock:
                    meta, arrays = self.matrix.state()
            finally:
                self._barrier = False
                self._gate.notify_all()
        began = time.perf_counter()
        doc, parts = encode(meta, arrays)
        self.checkpoints.save_checkpoint(now, mark, doc, parts)
        log.info(
            "matrix checkpoint saved: %d rows, mark %d, %.1f MiB in %.1fs",
            len(meta.keys),
            mark,
            sum(len(p) for p in parts) / 2**20,
            time.perf_counter() - began,
        )
        return True

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write from its store commit to its matrix update, which a checkpoint must not split."""
        with self._gate:
            self._gate.wait_for(lambda: not self._barrier)
            self._writes_in_flight += 1
        try:
            yield
        finally:
            with self._gate:
                self._writes_in_flight -= 1
                self._gate.notify_all()

    def _load(self, matrix: CountsMatrix, keys: Sequence[str], now: datetime) -> None:
        base = {k.removesuffix(SLICES_SUFFIX) for k in keys}
        began = time.perf_counter()
        since = min(matrix.oldest, now - self.span)
        log.info("loading the history of %d series since %s", len(keys), since.isoformat(timespec="minutes"))
        # from the oldest time the matrix covers (not now - span): a rebuilt matrix then holds what a live
        # one (or one restored from a checkpoint) holds
        rows = self.store.load_counts(base, since, now + timedelta(minutes=1))
        wanted = set(keys)
        idx, at, good, total, present = [], [], [], [], []
        for s in rows:
            key = s.key + SLICES_SUFFIX if s.series == SLICES else s.key
            if key not in wanted:
                continue
            row = matrix.row(key)
            if row is None:
                continue
            idx.append(row)
            at.append(s.start.timestamp())
            good.append(s.good)
            total.append(s.total)
            present.append(s.resolution / BASE_RESOLUTION_SECONDS)  # an hourly roll-up stands for 60 minutes
        if idx:
            matrix.add_many(
                np.asarray(idx, dtype=np.int64),
                np.asarray(at, dtype=np.float64),
                np.asarray(good, dtype=np.float64),
                np.asarray(total, dtype=np.float64),
                np.asarray(present, dtype=np.float64),
            )
        log.info("loaded %d history slices for %d series in %.1fs", len(idx), len(keys), time.perf_counter() - began)

    def record(
        self, increments: Sequence[CountIncrement], idempotency_key: str | None = None, baselines: Baselines = ()
    ) -> bool:
        """Persist and apply increments, and store the counter baselines they were counted with in the same
        transaction. With an idempotency key already used, apply nothing, return False.

        Keyed writes (push ingest) raise when the database is down, so the producer retries; unkeyed
        writes (scrapes, verdicts) are buffered and retried instead.
        """
        increments = self._countable(increments)
        if not increments and not baselines:
            return True
        with self._writing():
            return self._record(increments, idempotency_key, baselines)

    def _record(self, increments: Sequence[CountIncrement], idempotency_key: str | None, baselines: Baselines) -> bool:
        if idempotency_key is not None:
            if not self.store.add_counts(increments, idempotency_key=idempotency_key, baselines=baselines):
                return False
        else:
            self._persist_or_buffer(increments, baselines)
        self.apply(increments)
        return True

    def apply(self, increments: Sequence[CountIncrement]) -> None:
        """Add increments to the in-memory window only: ours after they were stored, or those another
        replica stored (read from the change log)."""
        if not increments:
            return
        with self.lock:
            latest = max(inc.start for inc in increments)
            if latest >= self.matrix.newest:
                self.matrix.advance(latest)
            for inc in increments:
                if inc.series == EVENTS:
                    good, total = self.event_counts.get(inc.key, (0.0, 0.0))
                    self.event_counts[inc.key] = (good + inc.good, total + inc.total)
                key = _row_key(inc)
                if self.matrix.row(key) is not None:
                    self.matrix.add(key, inc.start, inc.good, inc.total, inc.resolution / BASE_RESOLUTION_SECONDS)

    def reload(self, now: datetime) -> None:
        """Load the whole window from SQL again (a replica that fell behind the change log)."""
        with self.lock:
            keys = list(self.matrix.keys)
            matrix = CountsMatrix(keys, now, self.tiers)
            if keys:
                self._load(matrix, keys, now)
            self.matrix = matrix

    def discard_pending(self) -> int:
        """Drop the writes waiting for the database, their spill files too; how many increments. A replica
        that lost the leader lock during an outage: the new leader counts the same scrapes again from the
        stored baselines."""
        with self._write_lock, self.lock:
            gone, self._segments = self._segments, []
        for seg in gone:
            if self.spill is not None:
                with contextlib.suppress(OSError):
                    self.spill.remove(seg.id)
        return sum(len(seg.increments) for seg in gone)

    def _countable(self, increments: Sequence[CountIncrement]) -> Sequence[CountIncrement]:
        """The increments that are counts. The extractors never produce others; this is the last guard,
        because a negative or NaN minute would corrupt every window that ever covers it."""
        ok: list[CountIncrement] = []
        refused: list[CountIncrement] = []
        for inc in increments:
            (ok if math.isfinite(inc.total) and 0 <= inc.good <= inc.total else refused).append(inc)
        if not refused:
            return increments
        self.refused_increments += len(refused)
        log.error("refused %d increments that are no event counts, e.g. %s", len(refused), refused[0])
        return ok

    def _persist_or_buffer(self, increments: Sequence[CountIncrement], baselines: Baselines = ()) -> None:
        with self._write_lock:
            self._write(increments, baselines)

    def _write(self, increments: Sequence[CountIncrement], baselines: Baselines) -> None:
        """Buffered segments first (oldest first, each in its own transaction), then this write."""
        written = 0
        try:
            while True:
                with self.lock:
                    segment = self._segments[0] if self._segments else None
                if segment is None:
                    break
                self._write_segment(segment)
                written += len(segment.increments)
                with self.lock:
                    self._segments.pop(0)
            if increments or baselines:
                self.store.add_counts(increments, baselines=latest_baselines(baselines))
        except Exception as exc:  # any driver error: keep the data, report, retry later
            self.last_store_error = f"{type(exc).__name__}: {exc}"
            log_failure(
                log,
                "database write failed, buffering %d increments",
                self.pending_writes + len(increments),
                traceback=False,
            )
            self._buffer(increments, baselines)
            return
        self.last_store_error = None
        if written:  # once per outage: the store logged when it went and came back
            lost = f"; {self._dropped_since_write} older ones were dropped" if self._dropped_since_write else ""
            log.info("wrote %d buffered increments to the database%s", written, lost)
        self._dropped_since_write = 0

    def _write_segment(self, segment: _Segment) -> None:
        """Commit a segment under its key, then forget its file (a crash in between: the key skips it)."""
        self.store.add_counts(
            segment.increments, idempotency_key=SPILL_KEY_PREFIX + segment.id, baselines=segment.baselines
        )
        if self.spill is not None:
            try:
                self.spill.remove(segment.id)
            except OSError as exc:  # harmless: a replay of it is skipped by its key
                log.warning("could not delete spill segment %s: %s", segment.id, exc)

    def _buffer(self, increments: Sequence[CountIncrement], baselines: Baselines) -> None:
        """Keep a write that failed: on disk (fsynced) and in memory, within the pending-write limit.
        Called under `_write_lock` only, so the segments change nowhere else meanwhile."""
        if not increments and not baselines:
            return
        increments = list(increments)
        with self.lock:
            pending = sum(len(seg.increments) for seg in self._segments)
            overflow = pending + len(increments) - self._pending_limit
            gone: list[_Segment] = []
            while overflow > 0 and self._segments:  # the oldest go first, a whole segment (file) at a time
                gone.append(self._segments.pop(0))
                overflow -= len(gone[-1].increments)
            current = self._segments[-1] if self._segments else None
        dropped = sum(len(seg.increments) for seg in gone)
        if overflow > 0:  # one write larger than the whole limit: keep its newest
            dropped += overflow
            increments = increments[overflow:]
        for seg in gone:
            if self.spill is not None:
                with contextlib.suppress(OSError):
                    self.spill.remove(seg.id)
        if dropped:
            if not self._dropped_since_write:  # once per outage, not once per write
                log.warning(
                    "pending-write limit reached (%d increments wait for the database): dropping the oldest",
                    self._pending_limit,
                )
            self.dropped_increments += dropped
            self._dropped_since_write += dropped
        if current is None or len(current.increments) >= self._segment_size:
            current = _Segment(self.spill.new_segment() if self.spill is not None else uuid.uuid4().hex)
            with self.lock:
                self._segments.append(current)
        heads = latest_baselines(baselines)
        if self.spill is not None:  # on disk before the caller goes on: a SIGKILL from now on loses nothing
            try:
                self.spill.append(current.id, increments, heads)
            except OSError as exc:  # a full or read-only disk: memory still holds them
                if not self.spill_failures:
                    log.error("could not write the spill file, buffering in memory only: %s", exc)
                self.spill_failures += 1
        with self.lock:
            current.increments.extend(increments)
            current.baselines = latest_baselines([*current.baselines, *heads])

    def flush(self) -> int:
        """Retry buffered writes; returns how many are still pending."""
        if self._segments:
            with self._writing():
                self._persist_or_buffer([])
        return self.pending_writes

    def replay_spill(self) -> int:
        """Write the segments a previous process left in the spill (oldest first), each once; before the
        history loads from the store. Raises what the store raises (start-up waits for the database).
        Returns the increments written."""
        if self.spill is None:
            return 0
        written = 0
        for segment_id in self.spill.segments():
            segment = _Segment(segment_id)
            for increments, baselines in self.spill.read(segment_id):
                segment.increments.extend(increments)
                segment.baselines = latest_baselines([*segment.baselines, *baselines])
            key = SPILL_KEY_PREFIX + segment_id
            if self.store.add_counts(segment.increments, idempotency_key=key, baselines=segment.baselines):
                written += len(segment.increments)
                log.info(
                    "spill segment %s: wrote %d increments a stopped process left", segment_id, len(segment.increments)
                )
            else:
                log.info("spill segment %s was already written (the process stopped before deleting it)", segment_id)
            self.spill.remove(segment_id)
        return written
