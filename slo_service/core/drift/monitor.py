"""Drift monitors: what to compare, against what, how often; and what one run found. Pure records."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class CurrentKind(StrEnum):
    FILES = "files"  # a path or glob of CSV / Parquet files
    SQL = "sql"  # a query over a SQLAlchemy URL (e.g. the model's prediction log)
    PUSH = "push"  # batches POSTed to /api/v1/monitors/{name}/batches


@dataclass(frozen=True)
class CurrentData:
    kind: CurrentKind
    path: str | None = None  # files: path or glob
    url: str | None = None  # sql: SQLAlchemy URL (secrets from the environment, resolved by the loader)
    query: str | None = None  # sql: SELECT ...; may use :start and :end bind parameters
    timestamp_column: str | None = None  # rows are windowed on this column (files, sql, push)


class ReferenceKind(StrEnum):
    FIXED = "fixed"  # a dataset snapshot (the training data) with a version label
    ROLLING = "rolling"  # the same current source over an earlier window, e.g. the previous 7 days


@dataclass(frozen=True)
class ReferenceData:
    kind: ReferenceKind
    path: str | None = None  # fixed: file path
    version: str = "v1"  # fixed: the label a profile is cached under
    window: timedelta | None = None  # rolling: how far back the reference window reaches before the current one


@dataclass(frozen=True)
class ColumnSpec:
    """Column mapping: which column is what (Evidently's DataDefinition roles)."""

    numerical: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    datetime: tuple[str, ...] = ()
    id: str | None = None
    target: str | None = None
    prediction: str | None = None


class TaskKind(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


@dataclass(frozen=True)
class GroundTruth:
    """Late labels joined to predictions on the id column."""

    current: CurrentData  # where the labels arrive (files / sql / push)
    label_column: str
    task: TaskKind = TaskKind.CLASSIFICATION
    positive_label: str | None = None
    score_column: str | None = None  # the prediction's score (positive-class probability): roc_auc
    max_delay: timedelta = timedelta(0)  # labels may arrive this long after the window: quality looks back as far


@dataclass(frozen=True)
class PerformanceEstimation:
    """Confidence-based performance estimation (core.drift.estimation) of a binary classifier."""

    score_column: str  # positive-class probability
    threshold: float = 0.5  # the model predicts positive when score >= threshold
    calibrate: bool = False  # fit an isotonic map score -> P(positive) on the reference's (score, target) pairs


@dataclass(frozen=True)
class DriftMonitor:
    name: str
    current: CurrentData
    reference: ReferenceData
    columns: ColumnSpec
    window: timedelta | None = timedelta(hours=24)  # current window by time ...
    window_rows: int | None = None  # ... or by the last N rows
    interval: timedelta | None = timedelta(hours=1)  # schedule: an interval ...
    cron: str | None = None  # ... or a cron expression
    stattests: Mapping[str, str] = field(default_factory=dict)  # per-column test; absent = Evidently's choice
    thresholds: Mapping[str, float] = field(default_factory=dict)
    drift_share: float = 0.5  # the dataset is drifted when at least this share of columns drifted
    sample_rows: int = 50_000  # Evidently runs on a seeded sample of at most this many rows per side
    timeout: timedelta = timedelta(minutes=10)
    ground_truth: GroundTruth | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    max_exported_features: int = 50  # label cardinality guard for slo_feature_drift_score
    report_retention: timedelta | None = None  # HTML reports older than this are deleted (None: global retention)
    max_missing_increase: float = 0.5  # a column's missing share this far above the reference's: data quality
    segment_by: str | None = None  # per-segment drift and quality by this column's values (core.drift.segments)
    max_segments: int = 10  # segments of their own (most reference rows); the rest pooled as "__other__"
    estimation: PerformanceEstimation | None = None  # CBPE: estimated quality from scores, before labels


class RunStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True)
class ColumnRun:
    column: str
    kind: str
    method: str | None
    score: float | None
    threshold: float | None
    drifted: bool | None
    missing_share: float | None = None
    new_categories: int | None = None  # distinct categories unseen in the reference
    out_of_range_share: float | None = None
    note: str | None = None  # e.g. "all values empty: skipped"
    new_category_rows: int | None = None  # rows holding a category unseen in the reference


@dataclass(frozen=True)
class SegmentRun:
    """What one run found in one segment."""

    segment: str
    rows_reference: int
    rows_current: int
    drifted_share: float | None
    dataset_drifted: bool | None
    columns: tuple[ColumnRun, ...] = ()
    quality: Mapping[str, float] = field(default_factory=dict)  # realised (labels) and estimated_* (CBPE) metrics
    data_quality: tuple[str, ...] = ()
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def num(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else float(v)

        return {
            "segment": self.segment,
            "rows_reference": self.rows_reference,
            "rows_current": self.rows_current,
            "drifted_share": num(self.drifted_share),
            "dataset_drifted": self.dataset_drifted,
            "columns": [
                {
                    "column": c.column,
                    "kind": c.kind,
                    "method": c.method,
                    "score": num(c.score),
                    "threshold": num(c.threshold),
                    "drifted": c.drifted,
                    "missing_share": num(c.missing_share),
                    "new_category_rows": c.new_category_rows,
                    "out_of_range_share": num(c.out_of_range_share),
                }
                for c in self.columns
            ],
            "quality": {k: num(v) for k, v in self.quality.items()},
            "data_quality": list(self.data_quality),
            "note": self.note,
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> SegmentRun:
        def num(v: Any) -> float | None:
            return None if v is None else float(v)

        return SegmentRun(
            segment=str(d["segment"]),
            rows_reference=int(d.get("rows_reference") or 0),
            rows_current=int(d.get("rows_current") or 0),
            drifted_share=num(d.get("drifted_share")),
            dataset_drifted=d.get("dataset_drifted"),
            columns=tuple(
                ColumnRun(
                    column=str(c["column"]),
                    kind=str(c["kind"]),
                    method=c.get("method"),
                    score=num(c.get("score")),
                    threshold=num(c.get("threshold")),
                    drifted=c.get("drifted"),
                    missing_share=num(c.get("missing_share")),
                    new_category_rows=c.get("new_category_rows"),
                    out_of_range_share=num(c.get("out_of_range_share")),
                )
                for c in d.get("columns", ())
            ),
            quality={str(k): (math.nan if v is None else float(v)) for k, v in (d.get("quality") or {}).items()},
            data_quality=tuple(str(x) for x in d.get("data_quality", ())),
            note=d.get("note"),
        )


@dataclass(frozen=True)
class DriftRun:
    """What one run of one monitor found; stored in SQL, shown by the API, exported on /metrics."""

    monitor: str
    started_at: datetime
    finished_at: datetime
    status: RunStatus
    reason: str | None = None
    reference_version: str | None = None
    rows_reference: int | None = None
    rows_current: int | None = None
    sample_rows_reference: int | None = None
    sample_rows_current: int | None = None
    drifted_share: float | None = None
    dataset_drifted: bool | None = None
    columns: tuple[ColumnRun, ...] = ()
    quality: Mapping[str, float] = field(default_factory=dict)  # model quality metric -> value
    schema_problems: tuple[str, ...] = ()
    report_path: str | None = None
    id: int | None = None
    data_quality: tuple[str, ...] = ()  # findings (an all-empty column, a jump in missing values): bad data
    segments: tuple[SegmentRun, ...] = ()  # per-segment drift and quality (monitor.segment_by)

    @property
    def drift_found(self) -> bool | None:
        """Dataset drift in the whole window or in any segment (what alerts and the dataset SLI count)."""
        verdicts = [self.dataset_drifted, *(s.dataset_drifted for s in self.segments)]
        if any(v for v in verdicts):
            return True
        return None if self.dataset_drifted is None else False

    def column_drifted(self, column: str) -> bool | None:
        """Whether `column` drifted in the whole window or in any segment (None: not checked at all)."""
        verdicts = [c.drifted for c in self.columns if c.column == column]
        verdicts += [c.drifted for s in self.segments for c in s.columns if c.column == column]
        if any(v for v in verdicts):
            return True
        return None if all(v is None for v in verdicts) else False

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()
