"""Typed SQLAlchemy 2 models of the SLO history.

Storage choices:

* Slice starts (`slo_slices.start_epoch`) are integer Unix epoch seconds (UTC). They are the primary key of
  the hottest table; integers compare, index and round (`start - start % 3600` for the hourly roll-up)
  identically on SQLite and PostgreSQL, with no timezone ambiguity.
* Every other timestamp is a `UtcDateTime`: `timestamptz` on PostgreSQL, an ISO string on SQLite (which drops
  the zone); values are normalised to UTC going in and always come back timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the history store only accepts aware datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite stores text without an offset; keep it UTC so text order is time order.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SliceRow(Base):
    """Good/total counts of one key/series in one time slice of `resolution` seconds."""

    __tablename__ = "slo_slices"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    resolution: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_epoch: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    good: Mapped[float] = mapped_column(Double, nullable=False)
    total: Mapped[float] = mapped_column(Double, nullable=False)
    # The history mark (slo_history_mark) of the transaction that last changed the row: a matrix checkpoint
    # taken at mark M is brought up to date by recomputing the cells of the rows with seq > M.
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")

    __table_args__ = (
        CheckConstraint("series IN ('events', 'slices')", name="series"),
        CheckConstraint("resolution > 0", name="resolution_positive"),
        # Compaction and retention select by resolution and age across all keys.
        Index("ix_slo_slices_resolution_start_epoch", "resolution", "start_epoch"),
        Index("ix_slo_slices_seq", "seq"),
    )


class HistoryMarkRow(Base):
    """One row: a counter every count-writing transaction increments (its row lock orders the writers, so
    marks are in commit order, across processes too)."""

    __tablename__ = "slo_history_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)


class MatrixCheckpointRow(Base):
    """A compressed copy of the in-memory counts matrix, valid for every slice write up to `mark`."""

    __tablename__ = "slo_matrix_checkpoints"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    mark: Mapped[int] = mapped_column(BigInteger, nullable=False)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    parts: Mapped[int] = mapped_column(Integer, nullable=False)


class MatrixCheckpointPartRow(Base):
    """One chunk (at most a few MiB) of a checkpoint's compressed arrays."""

    __tablename__ = "slo_matrix_checkpoint_parts"

    checkpoint_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("slo_matrix_checkpoints.id", ondelete="CASCADE"),
        primary_key=True,
    )
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class IngestKeyRow(Base):
    """An idempotency key of an accepted push, so a retried push is not counted twice."""

    __tablename__ = "ingest_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, index=True)


class ScrapeHealthRow(Base):
    """The latest collection attempt per (source, target), plus the failure streak ("down since")."""

    __tablename__ = "scrape_health"

    source: Mapped[str] = mapped_column(String(255), primary_key=True)
    target: Mapped[str] = mapped_column(String(1024), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, index=True)
    up: Mapped[bool] = mapped_column(Boolean, nullable=False)
    duration_seconds: Mapped[float] = mapped_column(Double, nullable=False)
    samples: Mapped[int] = mapped_column(Integer, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False)
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class EvaluationRow(Base):
    """What one evaluation said about one SLO; the primary key doubles as the (key, at) index."""

    __tablename__ = "slo_evaluations"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    sli: Mapped[float | None] = mapped_column(Double)
    budget_remaining: Mapped[float | None] = mapped_column(Double)
    burn_rates: Mapped[dict[str, float | None]] = mapped_column(JSON, nullable=False)
    good: Mapped[float] = mapped_column(Double, nullable=False)
    total: Mapped[float] = mapped_column(Double, nullable=False)

    __table_args__ = (Index("ix_slo_evaluations_at", "at"),)


class CounterBaselineRow(Base):
    """Where an SLO's counting of a scrape source left off: the time of its last counted scrape, the target
    scraped, the fingerprint of the SLI, and the raw value of every counter series it read, as JSON
    `[[role, name, [[label, value], ...], value], ...]` (one row per SLO: a scrape rewrites it whole, far
    cheaper than a row per series)."""

    __tablename__ = "counter_baselines"

    source: Mapped[str] = mapped_column(String(255), primary_key=True)
    slo: Mapped[str] = mapped_column(String(255), primary_key=True)
    target: Mapped[str] = mapped_column(String(1024), nullable=False)
    sli: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    counters: Mapped[list[Any]] = mapped_column(JSON, nullable=False)


class CountChangeRow(Base):
    """One write of count increments (one `add_counts` transaction), kept for a while so every replica
    applies the increments other replicas wrote to its in-memory window: `increments` is a JSON list of
    `[key, series, resolution, start_epoch, good, total]`; `replica` names the writer. Written on PostgreSQL
    only (SQLite runs one process); pruned after `change_log_retention`."""

    __tablename__ = "count_changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    replica: Mapped[str] = mapped_column(String(255), nullable=False)
    written_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, index=True)
    increments: Mapped[list[Any]] = mapped_column(JSON, nullable=False)


# Register the alerting tables on Base.metadata (migrations, drift check); last, as alert_models imports Base.
from slo_service.adapters.sql import action_models as _action_models  # noqa: E402, F401
from slo_service.adapters.sql import alert_models as _alert_models  # noqa: E402, F401
from slo_service.adapters.sql import deployment_models as _deployment_models  # noqa: E402, F401
from slo_service.adapters.sql import drift_models as _drift_models  # noqa: E402, F401
from slo_service.adapters.sql import token_models as _token_models  # noqa: E402, F401
