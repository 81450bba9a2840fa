"""Pydantic specs of the `monitors:` section (drift monitors) and the limits and names they are checked against."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import StrictBool, StrictInt

from slo_service.specs.schema import Number, Spec

__all__ = [
    "CLASSIFICATION_METRICS",
    "DATA_SUFFIXES",
    "DEFAULT_INTERVAL",
    "DEFAULT_WINDOW",
    "MIN_SAMPLE_ROWS",
    "REGRESSION_METRICS",
    "STAT_TESTS",
    "ColumnsSpec",
    "CurrentSpec",
    "DriftSpec",
    "EstimationSpec",
    "GroundTruthSpec",
    "MonitorSpec",
    "ReferenceSpec",
    "SQLSpec",
    "ScheduleSpec",
]


# Evidently's drift methods (``stattest`` names) and the column kinds each applies to.
STAT_TESTS: dict[str, frozenset[str]] = {
    "wasserstein": frozenset({"numerical"}),
    "psi": frozenset({"numerical", "categorical"}),
    "jensenshannon": frozenset({"numerical", "categorical"}),
    "ks": frozenset({"numerical"}),
    "chisquare": frozenset({"categorical"}),
    "z": frozenset({"categorical"}),
    "kl_div": frozenset({"numerical", "categorical"}),
    "hellinger": frozenset({"numerical", "categorical"}),
    "anderson": frozenset({"numerical"}),
    "cramer_von_mises": frozenset({"numerical"}),
    "empirical_mmd": frozenset({"numerical"}),
    "t_test": frozenset({"numerical"}),
    "mannw": frozenset({"numerical"}),
    "ed": frozenset({"numerical"}),
    "es": frozenset({"numerical"}),
    "fisher_exact": frozenset({"categorical"}),
    "g_test": frozenset({"categorical"}),
    "TVD": frozenset({"categorical"}),
    "perc_text_content_drift": frozenset({"text"}),
    "abs_text_content_drift": frozenset({"text"}),
}

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")  # higher is better, in [0, 1]
REGRESSION_METRICS = ("mae", "rmse", "mape")  # errors: lower is better, >= 0
DATA_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".gz")  # what the Evidently runner reads
MIN_SAMPLE_ROWS = 100


class SQLSpec(Spec):
    url_env: str | None = None
    url: str | None = None  # only without a password
    query: str


class CurrentSpec(Spec):
    files: str | None = None
    sql: SQLSpec | None = None
    push: StrictBool | None = None
    timestamp_column: str | None = None


class ReferenceSpec(Spec):
    file: str | None = None
    version: str | None = None
    rolling: str | None = None


class ScheduleSpec(Spec):
    interval: str | None = None
    cron: str | None = None


class ColumnsSpec(Spec):
    numerical: list[str] = []
    categorical: list[str] = []
    text: list[str] = []
    datetime: list[str] = []
    id: str | None = None
    prediction: str | None = None
    target: str | None = None


class DriftSpec(Spec):
    share: Number = 0.5
    stattests: dict[str, str] = {}
    thresholds: dict[str, Number] = {}


class GroundTruthSpec(CurrentSpec):
    label_column: str
    task: Literal["classification", "regression"] = "classification"
    positive_label: str | None = None
    score_column: str | None = None  # the prediction's score (positive-class probability): roc_auc
    max_delay: str | None = None  # how long after its window a prediction's label may still arrive


class EstimationSpec(Spec):
    score_column: str | None = None  # default: ground_truth.score_column
    threshold: Number = 0.5
    calibrate: StrictBool = False


class MonitorSpec(Spec):
    name: str
    current: CurrentSpec
    reference: ReferenceSpec
    columns: ColumnsSpec
    window: str | None = None
    window_rows: StrictInt | None = None
    schedule: ScheduleSpec | None = None
    drift: DriftSpec = DriftSpec()
    sample_rows: StrictInt = 50_000
    timeout: str = "10m"
    ground_truth: GroundTruthSpec | None = None
    max_exported_features: StrictInt = 50
    labels: dict[str, str] = {}
    report_retention: str | None = None  # HTML reports older than this are deleted
    max_missing_increase: Number = 0.5  # missing share above the reference's that is a data-quality failure
    segment_by: str | None = None  # per-segment drift and quality by this column's values
    max_segments: StrictInt = 10  # segments of their own; the rest pooled as __other__
    estimated_performance: EstimationSpec | None = None  # CBPE from the prediction scores


DEFAULT_WINDOW = timedelta(hours=24)
DEFAULT_INTERVAL = timedelta(hours=1)
