"""SqlDriftStore: the DriftStore port (runs, per-column results, reference profiles, pushed batches) in SQL.

Every public method is one transaction, on SQLite or PostgreSQL. Non-finite floats (NaN, infinity) are stored
as null, in columns and in JSON documents alike, so both backends hold the same thing and the API can return it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Table, and_, delete, exists, insert, or_, select, update

from slo_service.adapters.sql.base import SqlStoreBase
from slo_service.adapters.sql.drift_models import (
    DriftBatchRow,
    DriftColumnRow,
    DriftProfileRow,
    DriftRunRow,
    DriftSliceRow,
)
from slo_service.core.drift.monitor import ColumnRun, DriftRun, RunStatus, SegmentRun
from slo_service.core.drift.ports import RunQuery, StoredBatch

_runs: Table = DriftRunRow.__table__  # type: ignore[assignment]
_columns: Table = DriftColumnRow.__table__  # type: ignore[assignment]
_profiles: Table = DriftProfileRow.__table__  # type: ignore[assignment]
_batches: Table = DriftBatchRow.__table__  # type: ignore[assignment]
# A batch's columns except its bytes: listing batches must not load every batch's content (tens of MB each).
_BATCH_META = [c for c in _batches.c if c.name != "content"]
_slices: Table = DriftSliceRow.__table__  # type: ignore[assignment]


def _aware(when: datetime, what: str = "datetime") -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive {what} {when!r}: the drift store only accepts aware datetimes")
    return when.astimezone(UTC)


def _finite(value: float | None) -> float | None:
    """NaN and infinity become None (null)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _int(value: int | None) -> int | None:
    return None if value is None else int(value)


def _bool(value: bool | None) -> bool | None:
    return None if value is None else bool(value)


def _clean(doc: Any) -> Any:
    """A strict-JSON copy of `doc`: non-finite floats become null, tuples become lists."""
    if isinstance(doc, Mapping):
        return {str(k): _clean(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [_clean(v) for v in doc]
    if isinstance(doc, float):
        return _finite(doc)
    return doc


def _json(doc: Any, what: str) -> Any:
    cleaned = _clean(doc)
    try:
        json.dumps(cleaned, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON-serialisable: {exc}") from exc
    return cleaned


class SqlDriftStore(SqlStoreBase):
    """Durable drift state in SQL; implements `slo_service.core.drift.ports.DriftStore`.

    The schema must exist (`slo_service.adapters.sql.migrate.upgrade(url)`, revision 0003 or later). The clock
    stamps `drift_profiles.created_at`.
    """

    # ---- runs

    def save_run(self, run: DriftRun) -> int:
        """Insert the run and its column rows (a run's `id` is ignored: the database assigns one)."""
        row = _run_row(run)
        names = [c.column for c in run.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"run of {run.monitor!r} has duplicate column names: {sorted(names)}")
        with self._write() as conn:
            result = conn.execute(insert(_runs), row)
            pk = result.inserted_primary_key
            assert pk is not None
            run_id = int(pk[0])
            if run.columns:
                conn.execute(insert(_columns), [_column_row(run_id, c) for c in run.columns])
        return run_id

    def runs(self, query: RunQuery) -> list[DriftRun]:
        """Runs matching every given filter, newest (started_at) first, at most `query.limit`; no column rows.

        `since` keeps runs started at or after it, `until` those started before it."""
        r = _runs.c
        stmt = select(_runs)
        if query.monitor is not None:
            stmt = stmt.where(r.monitor == query.monitor)
        if query.status is not None:
            stmt = stmt.where(r.status == RunStatus(query.status).value)
        if query.since is not None:
            stmt = stmt.where(r.started_at >= _aware(query.since, "since"))
        if query.until is not None:
            stmt = stmt.where(r.started_at < _aware(query.until, "until"))
        if query.dataset_drifted is not None:
            stmt = stmt.where(r.dataset_drifted.is_(bool(query.dataset_drifted)))
        stmt = stmt.order_by(r.started_at.desc(), r.id.desc()).limit(max(query.limit, 0))
        with self._read() as conn:
            return [_run(row, ()) for row in conn.execute(stmt)]

    def run(self, run_id: int) -> DriftRun | None:
        """One run with its column rows (by column name), or None."""
        with self._read() as conn:
            row = conn.execute(select(_runs).where(_runs.c.id == run_id)).first()
            if row is None:
                return None
            columns = self._columns_of(conn, [run_id])
        return _run(row, columns.get(run_id, ()))

    def latest_runs(self) -> list[DriftRun]:
        """The newest run (by started_at, then id) of every monitor, with its columns; by monitor name."""
        newer = _runs.alias("newer")
        r = _runs.c
        stmt = (
            select(_runs)
            .where(
                ~exists().where(
                    newer.c.monitor == r.monitor,
                    or_(
                        newer.c.started_at > r.started_at,
                        and_(newer.c.started_at == r.started_at, newer.c.id > r.id),
                    ),
                )
            )
            .order_by(r.monitor)
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            columns = self._columns_of(conn, [int(row.id) for row in rows])
        return [_run(row, columns.get(int(row.id), ())) for row in rows]

    def _columns_of(self, conn: Any, run_ids: list[int]) -> dict[int, tuple[ColumnRun, ...]]:
        if not run_ids:
            return {}
        stmt = select(_columns).where(_columns.c.run_id.in_(run_ids)).order_by(_columns.c.run_id, _columns.c.column)
        out: dict[int, list[ColumnRun]] = {}
        for c in conn.execute(stmt):
            out.setdefault(int(c.run_id), []).append(_column(c))
        return {k: tuple(v) for k, v in out.items()}

    # ---- reference profiles

    def save_profile(self, monitor: str, version: str, profile: Mapping[str, Any]) -> None:
        """Create or replace the profile of (monitor, version); non-finite floats become null."""
        row = {
            "monitor": monitor,
            "version": version,
            "profile": _json(profile, f"profile of {monitor!r} version {version!r}"),
            "created_at": _aware(self._clock.now(), "clock"),
        }
        ins = self._insert(_profiles)
        upsert = ins.on_conflict_do_update(
            index_elements=[_profiles.c.monitor, _profiles.c.version],
            set_={"profile": ins.excluded.profile, "created_at": ins.excluded.created_at},
        )
        with self._write() as conn:
            conn.execute(upsert, row)

    def load_profile(self, monitor: str, version: str) -> Mapping[str, Any] | None:
        p = _profiles.c
        with self._read() as conn:
            doc = conn.execute(select(p.profile).where(p.monitor == monitor, p.version == version)).scalar()
        return None if doc is None else dict(doc)

    # ---- pushed batches

    def save_batch(self, batch: StoredBatch) -> int:
        """Record a stored batch file (its `id` is ignored); returns the new id."""
        if batch.rows < 0:
            raise ValueError(f"batch rows must be >= 0, got {batch.rows}")
        row = {
            "monitor": batch.monitor,
            "received_at": _aware(batch.received_at, "received_at"),
            "rows": int(batch.rows),
            "path": batch.path,
            "kind": batch.kind,
            "content": batch.content,
        }
        with self._write() as conn:
            pk = conn.execute(insert(_batches), row).inserted_primary_key
        assert pk is not None
        return int(pk[0])

    def batch_content(self, batch_id: int) -> bytes | None:
        """The bytes stored with a batch (None when only its file has them, or the batch is gone)."""
        with self._read() as conn:
            content = conn.execute(select(_batches.c.content).where(_batches.c.id == batch_id)).scalar()
        return None if content is None else bytes(content)

    def batches(
        self, monitor: str, start: datetime | None, end: datetime | None, kind: str | None = "rows"
    ) -> list[StoredBatch]:
        """Batches of `monitor` of `kind` (None: every kind) received in [start, end) (either bound optional),
        oldest first; without their bytes (`batch_content` reads them one batch at a time)."""
        b = _batches.c
        stmt = select(*_BATCH_META).where(b.monitor == monitor)
        if kind is not None:
            stmt = stmt.where(b.kind == kind)
        if start is not None:
            stmt = stmt.where(b.received_at >= _aware(start, "start"))
        if end is not None:
            stmt = stmt.where(b.received_at < _aware(end, "end"))
        stmt = stmt.order_by(b.received_at, b.id)
        with self._read() as conn:
            return [_batch(r) for r in conn.execute(stmt)]

    def delete_batch(self, monitor: str, batch_id: int) -> StoredBatch | None:
        """Forget one batch of `monitor` with its stored bytes; returns it (the caller removes its file), None when
        there is none."""
        b = _batches.c
        with self._write() as conn:
            row = conn.execute(select(*_BATCH_META).where(b.id == batch_id, b.monitor == monitor)).first()
            if row is None:
                return None
            conn.execute(delete(_batches).where(b.id == batch_id))
        return _batch(row)

    def prune_reports(self, monitor: str, before: datetime) -> list[str]:
        """Forget the report files of `monitor`'s runs started before `before` (the runs stay); returns them."""
        r = _runs.c
        old = and_(r.monitor == monitor, r.started_at < _aware(before, "before"), r.report_path.is_not(None))
        with self._write() as conn:
            paths = [str(p) for p in conn.execute(select(r.report_path).where(old).order_by(r.id)).scalars()]
            conn.execute(update(_runs).where(old).values(report_path=None))
        return paths

    # ---- per-slice histograms

    def save_slice(self, monitor: str, version: str, start: datetime, histograms: Mapping[str, str]) -> None:
        """Keep one slice's histograms (column -> SliceHistogram JSON); several rows may share a slice."""
        row = {
            "monitor": monitor,
            "version": version,
            "slice_start": _aware(start, "start"),
            "histograms": {str(k): str(v) for k, v in histograms.items()},
        }
        with self._write() as conn:
            conn.execute(insert(_slices), row)

    def load_slices(
        self, monitor: str, version: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, Mapping[str, str]]]:
        """(slice start, histograms) of the slices of `monitor` / `version` starting in [start, end), oldest first."""
        s = _slices.c
        stmt = (
            select(s.slice_start, s.histograms)
            .where(
                s.monitor == monitor,
                s.version == version,
                s.slice_start >= _aware(start, "start"),
                s.slice_start < _aware(end, "end"),
            )
            .order_by(s.slice_start, s.id)
        )
        with self._read() as conn:
            return [(r.slice_start, dict(r.histograms)) for r in conn.execute(stmt)]

    # ---- retention

    def prune(self, before: datetime) -> list[str]:
        """Delete runs started before `before` (their column rows cascade) and batches received before it.

        Returns the report files of the deleted runs and the files of the deleted batches, for the caller to
        remove (after the commit: a failed transaction deletes nothing and returns nothing)."""
        before = _aware(before, "before")
        r, b = _runs.c, _batches.c
        with self._write() as conn:
            reports = conn.execute(
                select(r.report_path).where(r.started_at < before, r.report_path.is_not(None)).order_by(r.id)
            ).scalars()
            paths = [str(p) for p in reports]
            paths += [
                str(p) for p in conn.execute(select(b.path).where(b.received_at < before).order_by(b.id)).scalars()
            ]
            old_runs = select(r.id).where(r.started_at < before)
            # Explicit, in case a SQLite connection has foreign keys off (the engine turns them on).
            conn.execute(delete(_columns).where(_columns.c.run_id.in_(old_runs)))
            conn.execute(delete(_runs).where(r.started_at < before))
            conn.execute(delete(_batches).where(b.received_at < before))
            conn.execute(delete(_slices).where(_slices.c.slice_start < before))
        return paths


def _run_row(run: DriftRun) -> dict[str, Any]:
    started = _aware(run.started_at, "started_at")
    finished = _aware(run.finished_at, "finished_at")
    return {
        "monitor": run.monitor,
        "started_at": started,
        "finished_at": finished,
        "duration_seconds": (finished - started).total_seconds(),
        "status": RunStatus(run.status).value,
        "reason": run.reason,
        "reference_version": run.reference_version,
        "rows_reference": _int(run.rows_reference),
        "rows_current": _int(run.rows_current),
        "sample_rows_reference": _int(run.sample_rows_reference),
        "sample_rows_current": _int(run.sample_rows_current),
        "drifted_share": _finite(run.drifted_share),
        "dataset_drifted": _bool(run.dataset_drifted),
        "quality": {str(k): _finite(v) for k, v in run.quality.items()},
        "schema_problems": [str(p) for p in run.schema_problems],
        "report_path": run.report_path,
        "data_quality": [str(p) for p in run.data_quality],
        "segments": [s.to_dict() for s in run.segments] or None,
    }


def _column_row(run_id: int, c: ColumnRun) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "column": c.column,
        "kind": c.kind,
        "method": c.method,
        "score": _finite(c.score),
        "threshold": _finite(c.threshold),
        "drifted": _bool(c.drifted),
        "missing_share": _finite(c.missing_share),
        "new_categories": _int(c.new_categories),
        "out_of_range_share": _finite(c.out_of_range_share),
        "note": c.note,
        "new_category_rows": _int(c.new_category_rows),
    }


def _run(r: Row[Any], columns: tuple[ColumnRun, ...]) -> DriftRun:
    # Quality values stored as null (non-finite) come back as NaN: the field is a float mapping.
    quality = {str(k): (math.nan if v is None else float(v)) for k, v in (r.quality or {}).items()}
    return DriftRun(
        monitor=r.monitor,
        started_at=r.started_at,
        finished_at=r.finished_at,
        status=RunStatus(r.status),
        reason=r.reason,
        reference_version=r.reference_version,
        rows_reference=r.rows_reference,
        rows_current=r.rows_current,
        sample_rows_reference=r.sample_rows_reference,
        sample_rows_current=r.sample_rows_current,
        drifted_share=r.drifted_share,
        dataset_drifted=r.dataset_drifted,
        columns=columns,
        quality=quality,
        schema_problems=tuple(r.schema_problems or ()),
        report_path=r.report_path,
        id=int(r.id),
        data_quality=tuple(r.data_quality or ()),
        segments=tuple(SegmentRun.from_dict(s) for s in (r.segments or ())),
    )


def _column(c: Row[Any]) -> ColumnRun:
    return ColumnRun(
        column=c.column,
        kind=c.kind,
        method=c.method,
        score=c.score,
        threshold=c.threshold,
        drifted=c.drifted,
        missing_share=c.missing_share,
        new_categories=c.new_categories,
        out_of_range_share=c.out_of_range_share,
        note=c.note,
        new_category_rows=c.new_category_rows,
    )


def _batch(r: Row[Any]) -> StoredBatch:
    return StoredBatch(
        monitor=r.monitor, received_at=r.received_at, rows=r.rows, path=r.path, id=int(r.id), kind=r.kind
    )
