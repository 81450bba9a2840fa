"""Matrix checkpoints in SQL: the history mark, the slices changed since a mark, and the checkpoint chunks.

Every transaction that writes slices takes the next history mark (one counter row, incremented with its row
lock held to commit, so marks follow commit order across processes) and stamps it on every row it writes.
A checkpoint records the mark its matrix includes; `changed_slices(mark)` is then exactly what was written
after it, wherever in time those slices lie.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from slo_service.adapters.sql.base import SqlStoreBase
from slo_service.adapters.sql.models import HistoryMarkRow, MatrixCheckpointPartRow, MatrixCheckpointRow, SliceRow
from slo_service.core.ports import StoredCheckpoint

_mark: Table = HistoryMarkRow.__table__  # type: ignore[assignment]
_slices: Table = SliceRow.__table__  # type: ignore[assignment]
_checkpoints: Table = MatrixCheckpointRow.__table__  # type: ignore[assignment]
_parts: Table = MatrixCheckpointPartRow.__table__  # type: ignore[assignment]

SliceRowTuple = tuple[str, str, int, int, float, float]
"""(key, series, resolution, start_epoch, good, total)."""


def next_mark(conn: Connection) -> int:
    """Take the next history mark in this transaction (its row lock is held until commit)."""
    seq = conn.execute(update(_mark).where(_mark.c.id == 1).values(seq=_mark.c.seq + 1).returning(_mark.c.seq)).scalar()
    if seq is None:  # a schema made without the migration's seed row
        conn.execute(insert(_mark).values(id=1, seq=1))
        return 1
    return int(seq)


class CheckpointStoreMixin(SqlStoreBase):
    """The MatrixCheckpointStore port, for SqlHistoryStore."""

    @contextmanager
    def snapshot_reads(self) -> Iterator[None]:
        """Every read of this thread in the block runs in one REPEATABLE READ transaction (PostgreSQL), and a
        store with a change log notes its position (last_load_position): what a restore read, the tail
        does not apply again."""
        with super()._read(snapshot=True) as conn:
            self._pins().conn = conn
            try:
                if getattr(self, "change_log", False):
                    self.last_load_position = self._position(conn)  # type: ignore[attr-defined]
                yield
            finally:
                self._pins().conn = None

    def _pins(self) -> threading.local:
        """This store's pinned connection per thread."""
        pins: threading.local = self.__dict__.setdefault("_pinned_reads", threading.local())
        return pins

    @contextmanager
    def _read(self, snapshot: bool = False) -> Iterator[Connection]:
        conn = getattr(self._pins(), "conn", None)
        if conn is not None:  # inside snapshot_reads: the same transaction
            yield conn
            return
        with super()._read(snapshot) as conn:
            yield conn

    def history_mark(self) -> int:
        """The mark of the newest committed slice write."""
        with self._read() as conn:
            seq = conn.execute(select(_mark.c.seq).where(_mark.c.id == 1)).scalar()
        return int(seq or 0)

    def changed_slices(self, since: int) -> list[tuple[str, str, int, int]]:
        """(key, series, resolution, start_epoch) of every slice row written after mark `since`."""
        if self._dialect == "postgresql":  # the driver's tuples: a restart's tail is ~100,000 rows
            with self._read() as conn:
                return self._fetch(
                    conn, "SELECT key, series, resolution, start_epoch FROM slo_slices WHERE seq > %s", (since,)
                )
        t = _slices.c
        query = select(t.key, t.series, t.resolution, t.start_epoch).where(t.seq > since)
        with self._read() as conn:
            return [(r[0], r[1], int(r[2]), int(r[3])) for r in conn.execute(query)]

    def slice_rows(self, keys: Collection[str], start: int, end: int) -> list[SliceRowTuple]:
        """Slice rows of `keys` with start_epoch in [start, end), as plain tuples (no objects: this reads
        the tail of a restore, which may be 100,000s of rows)."""
        if not keys:
            return []
        if self._dialect == "postgresql":
            sql = (
                "SELECT key, series, resolution, start_epoch, good, total FROM slo_slices"
                " WHERE start_epoch >= %s AND start_epoch < %s AND key = ANY(%s)"
            )
            with self._read() as conn:
                return self._fetch(conn, sql, (start, end, sorted(set(keys))))
        t = _slices.c
        query = select(t.key, t.series, t.resolution, t.start_epoch, t.good, t.total).where(
            t.start_epoch >= start, t.start_epoch < end, t.key.in_(sorted(set(keys)))
        )
        with self._read() as conn:
            return [(r[0], r[1], int(r[2]), int(r[3]), float(r[4]), float(r[5])) for r in conn.execute(query)]

    @staticmethod
    def _fetch(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Rows as the driver's tuples, without SQLAlchemy's per-row objects (several times faster)."""
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def save_checkpoint(self, created_at: datetime, mark: int, meta: dict[str, Any], parts: Sequence[bytes]) -> int:
        """Store a checkpoint and delete the older ones, in one transaction; returns its id."""
        with self._write() as conn:
            cid = conn.execute(
                insert(_checkpoints)
                .values(created_at=created_at, mark=mark, meta=meta, parts=len(parts))
                .returning(_checkpoints.c.id)
            ).scalar_one()
            for i, data in enumerate(parts):
                conn.execute(insert(_parts).values(checkpoint_id=cid, part=i, data=data))
            conn.execute(delete(_parts).where(_parts.c.checkpoint_id != cid))
            conn.execute(delete(_checkpoints).where(_checkpoints.c.id != cid))
        return int(cid)

    def load_checkpoint(self) -> StoredCheckpoint | None:
        """The newest checkpoint, or None."""
        with self._read() as conn:
            head = conn.execute(select(_checkpoints).order_by(_checkpoints.c.id.desc()).limit(1)).first()
            if head is None:
                return None
            rows = conn.execute(
                select(_parts.c.data).where(_parts.c.checkpoint_id == head.id).order_by(_parts.c.part)
            ).all()
        parts = [bytes(r[0]) for r in rows]
        if len(parts) != head.parts:
            raise ValueError(f"checkpoint {head.id} has {len(parts)} of {head.parts} parts")
        return StoredCheckpoint(created_at=head.created_at, mark=int(head.mark), meta=dict(head.meta), parts=parts)
