"""Typed SQLAlchemy 2 models of the drift monitoring state, on the same metadata as the SLO history (models.py).

* `drift_runs` -- one row per run of one monitor (summary, model quality and schema problems as JSON).
* `drift_columns` -- the per-column results of a run; deleted with their run (ON DELETE CASCADE).
* `drift_profiles` -- cached reference profiles per (monitor, reference version).
* `drift_batches` -- batches pushed to the API, each kept as a Parquet file at `path` (and its bytes in `content`
  on PostgreSQL); `kind` is `rows` (current data) or `labels` (a labels-only batch joined later on the id column).

Timestamps are `UtcDateTime` (aware UTC in and out); documents are `sa.JSON`. Non-finite floats are stored as
null by the store (SqlDriftStore), since JSON and the drift API have no NaN.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Double, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from slo_service.adapters.sql.alert_models import Id
from slo_service.adapters.sql.models import Base, UtcDateTime


class DriftRunRow(Base):
    """What one run of one monitor found."""

    __tablename__ = "drift_runs"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    monitor: Mapped[str] = mapped_column(String(255), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    duration_seconds: Mapped[float] = mapped_column(Double, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    reference_version: Mapped[str | None] = mapped_column(String(255))
    rows_reference: Mapped[int | None] = mapped_column(Integer)
    rows_current: Mapped[int | None] = mapped_column(Integer)
    sample_rows_reference: Mapped[int | None] = mapped_column(Integer)
    sample_rows_current: Mapped[int | None] = mapped_column(Integer)
    drifted_share: Mapped[float | None] = mapped_column(Double)
    dataset_drifted: Mapped[bool | None] = mapped_column(Boolean)
    quality: Mapped[dict[str, float | None]] = mapped_column(JSON, nullable=False)
    schema_problems: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    report_path: Mapped[str | None] = mapped_column(Text)
    data_quality: Mapped[list[str] | None] = mapped_column(JSON)  # findings; null in runs before revision 0010
    segments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # SegmentRun.to_dict(); revision 0011

    __table_args__ = (
        CheckConstraint("status IN ('ok', 'failed')", name="status"),
        Index("ix_drift_runs_monitor_started_at", "monitor", "started_at"),
        Index("ix_drift_runs_started_at", "started_at"),
    )


class DriftColumnRow(Base):
    """The result of one column in one run."""

    __tablename__ = "drift_columns"

    run_id: Mapped[int] = mapped_column(Id, ForeignKey("drift_runs.id", ondelete="CASCADE"), primary_key=True)
    column: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    method: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Double)
    threshold: Mapped[float | None] = mapped_column(Double)
    drifted: Mapped[bool | None] = mapped_column(Boolean)
    missing_share: Mapped[float | None] = mapped_column(Double)
    new_categories: Mapped[int | None] = mapped_column(Integer)  # distinct new categories
    new_category_rows: Mapped[int | None] = mapped_column(Integer)  # rows holding one of them
    out_of_range_share: Mapped[float | None] = mapped_column(Double)
    note: Mapped[str | None] = mapped_column(Text)


class DriftProfileRow(Base):
    """A cached reference profile (histograms, category counts) of one monitor and reference version."""

    __tablename__ = "drift_profiles"

    monitor: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[str] = mapped_column(String(255), primary_key=True)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class DriftBatchRow(Base):
    """A batch pushed for a monitor, stored as a Parquet file; `content` holds the same bytes on PostgreSQL, so a
    replica whose data directory does not have the file (the batch was pushed to another replica) reads it from
    the database."""

    __tablename__ = "drift_batches"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    monitor: Mapped[str] = mapped_column(String(255), nullable=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, server_default="rows")  # rows or labels

    __table_args__ = (
        CheckConstraint("rows >= 0", name="rows_non_negative"),
        Index("ix_drift_batches_monitor_received_at", "monitor", "received_at"),
        Index("ix_drift_batches_received_at", "received_at"),
    )


class DriftSliceRow(Base):
    """The histograms of one slice of current data against a reference version (column -> JSON)."""

    __tablename__ = "drift_slices"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    monitor: Mapped[str] = mapped_column(String(255), nullable=False)
    version: Mapped[str] = mapped_column(String(255), nullable=False)
    slice_start: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    histograms: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False)

    __table_args__ = (
        Index("ix_drift_slices_monitor_version_start", "monitor", "version", "slice_start"),
        Index("ix_drift_slices_slice_start", "slice_start"),
    )
