"""SqlHistoryStore: the HistoryStore port on SQLite or PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, Connection, Engine, Integer, Table, case, delete, func, literal, null, select, text
from sqlalchemy.dialects import sqlite

from slo_service.adapters.sql.base import SqlStoreBase
from slo_service.adapters.sql.baselines import load_baselines, save_baselines
from slo_service.adapters.sql.checkpoints import CheckpointStoreMixin, next_mark
from slo_service.adapters.sql.models import (
    CountChangeRow,
    CounterBaselineRow,
    EvaluationRow,
    IngestKeyRow,
    ScrapeHealthRow,
    SliceRow,
)
from slo_service.core.changes import Change, ChangePosition, ChangeRead
from slo_service.core.clock import Clock
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
)

HOUR_SECONDS = 3600

_slices: Table = SliceRow.__table__  # type: ignore[assignment]
_keys: Table = IngestKeyRow.__table__  # type: ignore[assignment]
_scrapes: Table = ScrapeHealthRow.__table__  # type: ignore[assignment]
_evals: Table = EvaluationRow.__table__  # type: ignore[assignment]
_baselines: Table = CounterBaselineRow.__table__  # type: ignore[assignment]
_changes: Table = CountChangeRow.__table__  # type: ignore[assignment]

CHANGE_WINDOW_IDS = 10_000
"""A reader's start position counts the changes among the last this many ids that its load already held
as applied, and applies the others when they commit (a transaction open longer than this many later
changes took to commit would be missed: minutes at any real write rate)."""

_PG_SNAPSHOT = text(
    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
    "pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
)

UPSERT_BATCH_ROWS = 10_000
"""Slice rows per upsert statement in add_counts."""

_PG_UPSERT_ADD = text(
    """
    INSERT INTO slo_slices (key, series, resolution, start_epoch, good, total, seq)
    SELECT *, CAST(:seq AS bigint) FROM unnest(
        CAST(:key AS varchar[]), CAST(:series AS varchar[]), CAST(:resolution AS integer[]),
        CAST(:start AS bigint[]), CAST(:good AS double precision[]), CAST(:total AS double precision[])
    )
    ON CONFLICT (key, series, resolution, start_epoch) DO UPDATE
    SET good = slo_slices.good + excluded.good, total = slo_slices.total + excluded.total, seq = excluded.seq
    """
)

_PG_COMPACT = text(
    """
    WITH moved AS (
        DELETE FROM slo_slices
        WHERE resolution = :minute AND start_epoch < :cutoff
        RETURNING key, series, start_epoch, good, total
    ), merged AS (
        INSERT INTO slo_slices (key, series, resolution, start_epoch, good, total, seq)
        SELECT key, series, :hour, start_epoch - start_epoch % :hour, sum(good), sum(total), :seq
        FROM moved
        GROUP BY key, series, start_epoch - start_epoch % :hour
        ON CONFLICT (key, series, resolution, start_epoch) DO UPDATE
        SET good = slo_slices.good + excluded.good, total = slo_slices.total + excluded.total, seq = excluded.seq
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM moved) AS rolled, (SELECT count(*) FROM merged) AS merged
    """
)


def to_epoch(when: datetime) -> float:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when!r}: the history store only accepts aware datetimes")
    return when.timestamp()


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


class SqlHistoryStore(CheckpointStoreMixin, SqlStoreBase):
    """Durable SLO history in SQL. Every public method runs in one transaction.

    The schema must exist (`slo_service.adapters.sql.migrate.upgrade(url)`). With a `replica` id on
    PostgreSQL, every `add_counts` also appends its increments to the change log (`count_changes`) that the
    other replicas tail (core/changes.py), and `load_counts` notes the log position of its snapshot in
    `last_load_position`.
    """

    def __init__(self, engine: Engine, clock: Clock | None = None, replica: str | None = None) -> None:
        super().__init__(engine, clock)
        self.replica = replica if self._dialect == "postgresql" else None
        self.last_load_position: ChangePosition | None = None

    @property
    def change_log(self) -> bool:
        """Whether writes go to the change log (PostgreSQL with a replica id)."""
        return self.replica is not None

    # ---- counts

    def add_counts(
        self, increments: Sequence[CountIncrement], idempotency_key: str | None = None, baselines: Baselines = ()
    ) -> bool:
        """Upsert-add the increments and store the counter baselines in the same transaction; with an
        idempotency key seen before, add nothing and return False.

        Duplicates are summed in Python first, then one upsert statement per batch of rows writes each row
        once (PostgreSQL: INSERT ... SELECT FROM unnest(arrays); SQLite: executemany), in primary key order,
        so concurrent writers lock rows in the same order and cannot deadlock.
        """
        merged: dict[tuple[str, str, int, int], list[float]] = {}
        starts: dict[tuple[datetime, int], int] = {}  # a batch has few distinct starts: convert each once
        for inc in increments:
            start = starts.get((inc.start, inc.resolution))
            if start is None:
                if inc.resolution <= 0:
                    raise ValueError(f"resolution must be positive, got {inc.resolution}")
                start = math.floor(to_epoch(inc.start))
                start -= start % inc.resolution
                starts[(inc.start, inc.resolution)] = start
            row_key = (inc.key, inc.series, inc.resolution, start)
            acc = merged.get(row_key)
            if acc is None:
                merged[row_key] = [inc.good, inc.total]
            else:
                acc[0] += inc.good
                acc[1] += inc.total
        rows = sorted(merged.items())
        with self._write() as conn:
            if idempotency_key is not None:
                claim = (
                    self._insert(_keys)
                    .values(key=idempotency_key, received_at=self._clock.now())
                    .on_conflict_do_nothing(index_elements=[_keys.c.key])
                    .returning(_keys.c.key)
                )
                # The primary key arbitrates races: a concurrent claim of the same key waits for ours to
                # commit (PostgreSQL) or for the write lock (SQLite), then inserts (and returns) nothing.
                if conn.execute(claim).first() is None:
                    return False
            seq = next_mark(conn) if rows else 0
            for i in range(0, len(rows), UPSERT_BATCH_ROWS):
                self._upsert_add(conn, rows[i : i + UPSERT_BATCH_ROWS], seq)
            if rows and self.replica is not None:
                # After the upserts: the transaction has its xid before it takes a change id (core/changes.py).
                change = [[k, s, r, t, g, n] for (k, s, r, t), (g, n) in rows]
                conn.execute(
                    _changes.insert().values(replica=self.replica, written_at=self._clock.now(), increments=change)
                )
            if baselines:
                save_baselines(conn, self._insert(_baselines), baselines)
        return True

    def load_baselines(self, source: str) -> list[CounterBaselines]:
        """The stored counter baselines of every SLO of scrape source `source`."""
        with self._read() as conn:
            return load_baselines(conn, source)

    def _upsert_add(
        self, conn: Connection, rows: list[tuple[tuple[str, str, int, int], list[float]]], seq: int
    ) -> None:
        if self._dialect == "postgresql":
            # One statement with six array parameters: about twice as fast as a pipelined executemany.
            keys, series, resolutions, starts, goods, totals = [], [], [], [], [], []
            for (key, ser, resolution, start), (good, total) in rows:
                keys.append(key)
                series.append(ser)
                resolutions.append(resolution)
                starts.append(start)
                goods.append(good)
                totals.append(total)
            conn.execute(
                _PG_UPSERT_ADD,
                {"key": keys, "series": series, "resolution": resolutions, "start": starts}
                | {"good": goods, "total": totals, "seq": seq},
            )
            return
        ins = sqlite.insert(_slices)
        upsert = ins.on_conflict_do_update(
            index_elements=[_slices.c.key, _slices.c.series, _slices.c.resolution, _slices.c.start_epoch],
            set_={
                "good": _slices.c.good + ins.excluded.good,
                "total": _slices.c.total + ins.excluded.total,
                "seq": ins.excluded.seq,
            },
        )
        params = [
            {"key": k, "series": s, "resolution": r, "start_epoch": t, "good": g, "total": n, "seq": seq}
            for (k, s, r, t), (g, n) in rows
        ]
        conn.execute(upsert, params)

    def load_counts(
        self, keys: Collection[str] | None, start: datetime, end: datetime, series: str | None = None
    ) -> list[StoredSlice]:
        """Slices of every resolution with start in [start, end), by key, series, start, resolution."""
        if keys is not None and len(keys) == 0:
            return []
        lo, hi = math.ceil(to_epoch(start)), math.ceil(to_epoch(end))
        query = select(_slices).where(_slices.c.start_epoch >= lo, _slices.c.start_epoch < hi)
        if keys is not None:
            query = query.where(_slices.c.key.in_(sorted(set(keys))))
        if series is not None:
            query = query.where(_slices.c.series == series)
        query = query.order_by(_slices.c.key, _slices.c.series, _slices.c.start_epoch, _slices.c.resolution)
        with self._read(snapshot=self.change_log) as conn:
            if self.change_log:
                self.last_load_position = self._position(conn)
            return [
                StoredSlice(
                    key=r.key,
                    series=r.series,
                    start=from_epoch(r.start_epoch),
                    resolution=r.resolution,
                    good=r.good,
                    total=r.total,
                )
                for r in conn.execute(query)
            ]

    # ---- change log (PostgreSQL)

    def _position(self, conn: Connection) -> ChangePosition:
        """The change log position of `conn`'s snapshot: what a load in this snapshot already holds."""
        _xmin, xmax = conn.execute(_PG_SNAPSHOT).one()
        top = conn.execute(select(func.max(_changes.c.id))).scalar() or 0
        floor = max(0, top - CHANGE_WINDOW_IDS)
        seen = set(conn.execute(select(_changes.c.id).where(_changes.c.id > floor)).scalars())
        return ChangePosition(floor, seen, [(top, int(xmax))] if top else [])

    def change_position(self) -> ChangePosition:
        """The change log position now (a reader that starts here applies every later change)."""
        with self._read(snapshot=True) as conn:
            return self._position(conn)

    def read_changes(self, floor: int) -> ChangeRead:
        """Changes with id > floor, oldest first, with the snapshot's xmin and xmax (one snapshot)."""
        query = select(_changes).where(_changes.c.id > floor).order_by(_changes.c.id)
        with self._read(snapshot=True) as conn:
            xmin, xmax = conn.execute(_PG_SNAPSHOT).one()
            changes = [
                Change(
                    r.id,
                    r.replica,
                    [
                        CountIncrement(k, from_epoch(int(t)), g, n, series=s, resolution=int(res))
                        for k, s, res, t, g, n in r.increments
                    ],
                )
                for r in conn.execute(query)
            ]
        return ChangeRead(changes, int(xmin), int(xmax))

    def prune_changes(self, written_before_epoch: float) -> int:
        """Delete changes written before the given Unix time; how many."""
        cutoff = from_epoch(math.floor(written_before_epoch))
        with self._write() as conn:
            return int(conn.execute(delete(_changes).where(_changes.c.written_at < cutoff)).rowcount)

    def latest_slice_start(self, key: str, series: str) -> datetime | None:
        query = select(func.max(_slices.c.start_epoch)).where(_slices.c.key == key, _slices.c.series == series)
        with self._read() as conn:
            latest = conn.execute(query).scalar()
        return None if latest is None else from_epoch(int(latest))

    # ---- compaction and retention

    def compact(self, now: datetime, raw_retention: timedelta, retention: timedelta) -> CompactionResult:
        """Roll whole hours of 1-minute slices older than now-raw_retention into hourly slices (adding to
        existing hourly rows), then delete everything older than now-retention. One transaction; idempotent.

        `rolled_up` counts the minute slices folded into hourly ones; `deleted` the rows removed by retention.
        """
        raw_cutoff = math.floor(to_epoch(now - raw_retention))
        hour_cutoff = raw_cutoff - raw_cutoff % HOUR_SECONDS  # only hours that ended before the raw cutoff
        keep_from = now - retention
        keep_from_epoch = math.floor(to_epoch(keep_from))
        with self._write() as conn:
            rolled = self._roll_up(conn, hour_cutoff)
            deleted = 0
            for stmt in (
                # A slice is old once it ended before the cutoff.
                delete(_slices).where(_slices.c.start_epoch + _slices.c.resolution <= keep_from_epoch),
                delete(_evals).where(_evals.c.at < keep_from),
                delete(_keys).where(_keys.c.received_at < keep_from),
                delete(_scrapes).where(_scrapes.c.at < keep_from),
                delete(_baselines).where(_baselines.c.at < keep_from),
            ):
                deleted += conn.execute(stmt).rowcount
        return CompactionResult(rolled_up=rolled, deleted=deleted)

    def _roll_up(self, conn: Connection, hour_cutoff: int) -> int:
        # the hourly rows get a new mark: a checkpoint older than this roll-up recomputes their cells
        seq = next_mark(conn)
        params = {"minute": BASE_RESOLUTION_SECONDS, "hour": HOUR_SECONDS, "cutoff": hour_cutoff, "seq": seq}
        if self._dialect == "postgresql":
            # DELETE ... RETURNING feeds the INSERT, so exactly the rows removed are added to the hourly ones,
            # even if a concurrent writer touches a minute row meanwhile.
            rolled, _merged = conn.execute(_PG_COMPACT, params).one()
            return int(rolled)
        # SQLite: the transaction holds the database write lock (BEGIN IMMEDIATE), so two statements are safe.
        old = (_slices.c.resolution == BASE_RESOLUTION_SECONDS) & (_slices.c.start_epoch < hour_cutoff)
        hour = _slices.c.start_epoch - _slices.c.start_epoch % HOUR_SECONDS
        source = (
            select(
                _slices.c.key,
                _slices.c.series,
                literal(HOUR_SECONDS, Integer).label("resolution"),
                hour.label("start_epoch"),
                func.sum(_slices.c.good),
                func.sum(_slices.c.total),
                literal(seq, BigInteger),
            )
            .where(old)
            .group_by(_slices.c.key, _slices.c.series, hour)
        )
        ins = sqlite.insert(_slices).from_select(
            ["key", "series", "resolution", "start_epoch", "good", "total", "seq"], source
        )
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[_slices.c.key, _slices.c.series, _slices.c.resolution, _slices.c.start_epoch],
                set_={
                    "good": _slices.c.good + ins.excluded.good,
                    "total": _slices.c.total + ins.excluded.total,
                    "seq": ins.excluded.seq,
                },
            )
        )
        return int(conn.execute(delete(_slices).where(old)).rowcount)

    # ---- scrape health

    def record_scrapes(self, results: Sequence[ScrapeHealth]) -> None:
        """Upsert the latest attempt per (source, target) and keep the failure streak; older results than the
        stored one are ignored. Several results for one target in a batch are applied oldest first."""
        by_target: dict[tuple[str, str], list[ScrapeHealth]] = {}
        for r in results:
            to_epoch(r.at)
            by_target.setdefault((r.source, r.target), []).append(r)
        for rs in by_target.values():
            rs.sort(key=lambda r: r.at)
        ins = self._insert(_scrapes)
        ex = ins.excluded
        t = _scrapes.c
        upsert = ins.on_conflict_do_update(
            index_elements=[t.source, t.target],
            set_={
                "at": ex.at,
                "up": ex.up,
                "duration_seconds": ex.duration_seconds,
                "samples": ex.samples,
                "error": ex.error,
                "last_success_at": case((ex.up, ex.at), else_=t.last_success_at),
                "consecutive_failures": case((ex.up, 0), else_=t.consecutive_failures + 1),
                "failing_since": case((ex.up, null()), (t.consecutive_failures == 0, ex.at), else_=t.failing_since),
                "last_error": case((ex.up, t.last_error), else_=ex.error),
            },
            where=ex.at >= t.at,
        )
        rounds = max((len(rs) for rs in by_target.values()), default=0)
        with self._write() as conn:
            # Each round holds at most one result per target, so no statement touches a row twice.
            for i in range(rounds):
                rows = [
                    {
                        "source": r.source,
                        "target": r.target,
                        "at": r.at,
                        "up": r.up,
                        "duration_seconds": r.duration_seconds,
                        "samples": r.samples,
                        "error": r.error,
                        "last_success_at": r.at if r.up else None,
                        "consecutive_failures": 0 if r.up else 1,
                        "failing_since": None if r.up else r.at,
                        "last_error": None if r.up else r.error,
                    }
                    for rs in by_target.values()
                    if i < len(rs)
                    for r in (rs[i],)
                ]
                conn.execute(upsert, rows)

    def latest_scrapes(self) -> list[ScrapeHealth]:
        """The newest ScrapeHealth per (source, target), ordered by source, target."""
        return [s.latest for s in self.scrape_statuses()]

    def scrape_statuses(self) -> list[ScrapeStatus]:
        """The newest result per (source, target) with last success, failure streak and "down since"."""
        query = select(_scrapes).order_by(_scrapes.c.source, _scrapes.c.target)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [
            ScrapeStatus(
                latest=ScrapeHealth(
                    source=r.source,
                    target=r.target,
                    at=r.at,
                    up=bool(r.up),
                    duration_seconds=r.duration_seconds,
                    samples=r.samples,
                    error=r.error,
                ),
                last_success_at=r.last_success_at,
                consecutive_failures=r.consecutive_failures,
                failing_since=r.failing_since,
                last_error=r.last_error,
            )
            for r in rows
        ]

    # ---- evaluations

    def save_evaluations(self, snapshots: Sequence[EvaluationSnapshot]) -> None:
        """Store snapshots; a second snapshot for the same (key, at) replaces the first. Non-finite numbers
        (NaN, inf) are stored as NULL / None."""
        latest: dict[tuple[str, datetime], EvaluationSnapshot] = {}
        for s in snapshots:
            to_epoch(s.at)
            latest[(s.key, s.at.astimezone(UTC))] = s
        if not latest:
            return
        rows = [
            {
                "key": s.key,
                "at": s.at,
                "sli": _finite_or_none(s.sli),
                "budget_remaining": _finite_or_none(s.budget_remaining),
                "burn_rates": {str(k): _finite_or_none(v) for k, v in s.burn_rates.items()},
                "good": s.good,
                "total": s.total,
            }
            for s in latest.values()
        ]
        ins = self._insert(_evals)
        upsert = ins.on_conflict_do_update(
            index_elements=[_evals.c.key, _evals.c.at],
            set_={c: ins.excluded[c] for c in ("sli", "budget_remaining", "burn_rates", "good", "total")},
        )
        with self._write() as conn:
            conn.execute(upsert, rows)

    def load_evaluations(self, key: str, start: datetime, end: datetime) -> list[EvaluationSnapshot]:
        """Snapshots of `key` with at in [start, end), oldest first."""
        to_epoch(start)
        to_epoch(end)
        query = select(_evals).where(_evals.c.key == key, _evals.c.at >= start, _evals.c.at < end).order_by(_evals.c.at)
        with self._read() as conn:
            return [
                EvaluationSnapshot(
                    key=r.key,
                    at=r.at,
                    sli=r.sli,
                    budget_remaining=r.budget_remaining,
                    burn_rates=dict(r.burn_rates),
                    good=r.good,
                    total=r.total,
                )
                for r in conn.execute(query)
            ]

    def ping(self) -> None:
        """Raise (StoreUnavailable) if the database cannot be reached."""
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1")).one()
