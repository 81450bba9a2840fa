"""Ports of the drift pipeline: where runs, profiles and pushed batches are kept, and how data is read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from slo_service.core.drift.monitor import CurrentData, DriftRun, RunStatus


@dataclass(frozen=True)
class RunQuery:
    monitor: str | None = None
    status: RunStatus | None = None
    since: datetime | None = None
    dataset_drifted: bool | None = None
    limit: int = 100
    until: datetime | None = None  # runs started before it (a quality gate's window)


@dataclass(frozen=True)
class StoredBatch:
    """A batch pushed to /api/v1/monitors/{name}/batches, kept as a Parquet file. `content`: the file's bytes,
    kept by the store too when replicas do not share a disk (given to `save_batch`, not read back by `batches`)."""

    monitor: str
    received_at: datetime
    rows: int
    path: str
    id: int | None = None
    kind: str = "rows"  # "rows" (current data) or "labels" (id + label, joined later on the id column)
    content: bytes | None = field(default=None, repr=False, compare=False)


class DriftStore(Protocol):
    """Durable drift state. Every method is one transaction."""

    def save_run(self, run: DriftRun) -> int:
        """Store the run with its per-column rows; returns its id."""
        ...

    def runs(self, query: RunQuery) -> list[DriftRun]:
        """Runs newest first, without their column rows (summaries for lists)."""
        ...

    def run(self, run_id: int) -> DriftRun | None:
        """One run with its column rows."""
        ...

    def latest_runs(self) -> list[DriftRun]:
        """The newest run of every monitor, with columns (for /metrics after a restart)."""
        ...

    def save_profile(self, monitor: str, version: str, profile: Mapping[str, Any]) -> None: ...

    def load_profile(self, monitor: str, version: str) -> Mapping[str, Any] | None: ...

    def save_batch(self, batch: StoredBatch) -> int: ...

    def batches(
        self, monitor: str, start: datetime | None, end: datetime | None, kind: str | None = "rows"
    ) -> list[StoredBatch]:
        """Batches of `monitor` of `kind` (None: every kind) received in [start, end), oldest first."""
        ...

    def delete_batch(self, monitor: str, batch_id: int) -> StoredBatch | None:
        """Forget one batch and its stored bytes; returns it (its file is the caller's to remove), None when
        unknown."""
        ...

    def prune_reports(self, monitor: str, before: datetime) -> list[str]:
        """Forget the report files of `monitor`'s runs started before `before`; returns them for removal."""
        ...

    def batch_content(self, batch_id: int) -> bytes | None:
        """The stored bytes of a batch (None when only its file has them)."""
        ...

    def save_slice(self, monitor: str, version: str, start: datetime, histograms: Mapping[str, str]) -> None:
        """Keep the histograms (column -> SliceHistogram JSON) of a slice of current data."""
        ...

    def load_slices(
        self, monitor: str, version: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, Mapping[str, str]]]:
        """(slice start, histograms) of every slice with start in [start, end), oldest first."""
        ...

    def prune(self, before: datetime) -> list[str]:
        """Delete runs and batches older than `before`; returns the report and batch files to remove."""
        ...


class FrameReader(Protocol):
    """Reads rows of a current or reference source in chunks (pandas DataFrames), bounded in memory."""

    def chunks(
        self, source: CurrentData, start: datetime | None, end: datetime | None, columns: Sequence[str]
    ) -> Iterator[Any]: ...
