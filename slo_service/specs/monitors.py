"""The `monitors:` section (drift monitors) and the `drift` SLI of the YAML format, read into the core model.

A monitor compares a window of current data (CSV / Parquet files, a SQL query, or pushed batches) with a
reference (a fixed snapshot such as the training data, or an earlier window of the same data) on a
schedule, with Evidently. Monitors may be defined in any file; their names are unique across files.
An SLO counts each run of a monitor as one event with ``sli: {drift: {monitor: NAME, check: ...}}``.

Relative file paths are resolved against the directory of the file that names them. A SQL URL holding a
password is never written in a file: ``url_env`` names the environment variable holding it (read while
loading, so a missing variable is a problem like any other); a URL without a password may be literal.

Specs and limits are in monitors_schema.py; a monitor's data in monitors_data.py, its columns and drift
settings in monitors_columns.py, cron and glob checks in monitors_patterns.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from slo_service.core.drift.estimation import ESTIMATED_METRICS
from slo_service.core.drift.monitor import DriftMonitor, GroundTruth, PerformanceEstimation, TaskKind
from slo_service.core.drift.segments import MAX_SEGMENTS_LIMIT
from slo_service.core.durations import format_duration
from slo_service.core.model import Comparison, DriftCheck, DriftSLI
from slo_service.specs.checks import check_labels, check_name, duration_at, number_text
from slo_service.specs.monitors_columns import build_columns, check_drift_settings, drift_column
from slo_service.specs.monitors_data import current_data, ground_truth_data, reference_data
from slo_service.specs.monitors_patterns import cron_problem, glob_problem
from slo_service.specs.monitors_schema import (
    CLASSIFICATION_METRICS,
    DATA_SUFFIXES,
    DEFAULT_INTERVAL,
    DEFAULT_WINDOW,
    MIN_SAMPLE_ROWS,
    REGRESSION_METRICS,
    STAT_TESTS,
    MonitorSpec,
    ScheduleSpec,
)
from slo_service.specs.problems import SpecFile, describe, validate_spec
from slo_service.specs.schema import DriftSLISpec
from slo_service.specs.yaml_lines import Path as YPath

__all__ = [
    "CLASSIFICATION_METRICS",
    "DATA_SUFFIXES",
    "REGRESSION_METRICS",
    "STAT_TESTS",
    "MonitorItem",
    "MonitorSet",
    "cron_problem",
    "glob_problem",
]

_TASK_METRICS = {TaskKind.CLASSIFICATION: CLASSIFICATION_METRICS, TaskKind.REGRESSION: REGRESSION_METRICS}

# Fields of the drift SLI that only apply to one check; those with an example are required by it.
_SLI_FIELDS = {
    "column": DriftCheck.COLUMN,
    "metric": DriftCheck.QUALITY,
    "op": DriftCheck.QUALITY,
    "value": DriftCheck.QUALITY,
}
_SLI_EXAMPLES = {"column": "column: income", "metric": "metric: accuracy", "value": "value: 0.9"}


# --------------------------------------------------------------------------------------------------------
# The section, across files


@dataclass
class MonitorItem:
    """One entry of a file's `monitors:` list, as read."""

    file: SpecFile
    path: YPath
    raw: Any


@dataclass
class MonitorSet:
    """All monitors of all files: `build()` checks them; `sli()` then checks drift SLIs against them.

    `complete` is False when some file could not be read (or its `monitors` was not a list): its
    monitors are unknown, so a drift SLI naming one of them is not reported as unknown.
    """

    items: list[MonitorItem]
    complete: bool = True
    names: set[str] = field(default_factory=set)  # every name given, valid or not
    specs: dict[str, MonitorSpec] = field(default_factory=dict)  # first structurally valid spec per name

    def build(self) -> dict[str, DriftMonitor]:
        out: dict[str, DriftMonitor] = {}
        first: dict[str, MonitorItem] = {}
        for item in self.items:
            if not isinstance(item.raw, dict):
                item.file.add(item.path, f"expected a mapping, got {describe(item.raw)}")
                continue
            name = item.raw.get("name")
            repeated = False
            if isinstance(name, str):
                self.names.add(name)
                if name in first:
                    where = first[name].file.where((*first[name].path, "name"))
                    item.file.add((*item.path, "name"), f"duplicate monitor name {name!r}; first defined at {where}")
                    repeated = True
                else:
                    first[name] = item
            spec = validate_spec(item.file, MonitorSpec, item.raw, item.path)
            if spec is None:
                continue
            if not repeated:
                self.specs.setdefault(spec.name, spec)
            monitor = _monitor(item.file, item.path, spec)
            if monitor is not None and not repeated:
                out[monitor.name] = monitor
        return out

    def sli(self, file: SpecFile, path: YPath, spec: DriftSLISpec) -> DriftSLI | None:
        """The drift SLI `spec` (at `path`, the `drift` mapping), checked against the monitor it names."""
        ok = True
        if self.complete and spec.monitor not in self.names:
            known = ", ".join(sorted(self.names)) if self.names else "none are defined"
            file.add((*path, "monitor"), f"unknown monitor {spec.monitor!r}; known monitors: {known}")
            ok = False
        check = DriftCheck(spec.check)
        monitor = self.specs.get(spec.monitor)
        for name, applies_to in _SLI_FIELDS.items():
            given = getattr(spec, name) is not None
            if given and check is not applies_to:
                file.add((*path, name), f"{name} only applies to check: {applies_to.value}")
                ok = False
            elif not given and check is applies_to and name in _SLI_EXAMPLES:
                file.add(path, f"check {check.value} needs {name}, e.g. {_SLI_EXAMPLES[name]}")
                ok = False
        if check is DriftCheck.COLUMN and spec.column is not None and monitor is not None:
            ok = drift_column(file, (*path, "column"), spec.column, monitor.columns) and ok
        op: Comparison = Comparison.GE
        if check is DriftCheck.QUALITY and spec.metric is not None:
            metric_ok, op = _quality(file, path, spec, monitor)
            ok = metric_ok and ok
        if spec.value is not None and not math.isfinite(spec.value):
            file.add((*path, "value"), f"value {spec.value} must be a finite number")
            ok = False
        if not ok:
            return None
        return DriftSLI(
            source=spec.monitor,
            check=check,
            column=spec.column,
            metric=spec.metric,
            op=op,
            value=spec.value,
        )


def _quality(file: SpecFile, path: YPath, spec: DriftSLISpec, monitor: MonitorSpec | None) -> tuple[bool, Comparison]:
    assert spec.metric is not None
    metric = spec.metric
    task: TaskKind | None = None
    if metric in ESTIMATED_METRICS:
        if monitor is not None and monitor.estimated_performance is None:
            file.add(
                (*path, "metric"),
                f"metric {metric} needs estimated_performance on monitor {spec.monitor!r} (CBPE from its scores)",
            )
            return False, Comparison.GE
        value = spec.value
        if value is not None and math.isfinite(value) and not (0 <= value <= 1):
            file.add((*path, "value"), f"value {number_text(value)} must be between 0 and 1: {metric} is a share")
            return False, Comparison.GE
        return True, Comparison(spec.op) if spec.op is not None else Comparison.GE
    if monitor is not None:
        if monitor.ground_truth is None:
            file.add(
                (*path, "check"),
                f"check quality needs labels: monitor {spec.monitor!r} has no ground_truth "
                "(late labels joined on columns.id)",
            )
            return False, Comparison.GE
        task = TaskKind(monitor.ground_truth.task)
    known = _TASK_METRICS[task] if task is not None else CLASSIFICATION_METRICS + REGRESSION_METRICS
    if metric not in known:
        what = f"{task.value} metrics" if task is not None else "quality metrics"
        hint = ""
        if task is not None and metric in CLASSIFICATION_METRICS + REGRESSION_METRICS:
            hint = f" (monitor {spec.monitor!r} has task {task.value})"
        file.add((*path, "metric"), f"unknown metric {metric!r}{hint}; {what}: {', '.join(known)}")
        return False, Comparison.GE
    error_metric = metric in REGRESSION_METRICS
    op = Comparison(spec.op) if spec.op is not None else (Comparison.LE if error_metric else Comparison.GE)
    value = spec.value
    if value is not None and math.isfinite(value):
        if not error_metric and not (0 <= value <= 1):
            file.add((*path, "value"), f"value {number_text(value)} must be between 0 and 1: {metric} is a share")
            return False, op
        if error_metric and value < 0:
            file.add((*path, "value"), f"value {number_text(value)} must not be negative: {metric} is an error")
            return False, op
    return True, op


def _monitor(file: SpecFile, path: YPath, spec: MonitorSpec) -> DriftMonitor | None:
    base = Path(file.name).absolute().parent
    ok = check_name(file, (*path, "name"), spec.name)
    current = current_data(file, (*path, "current"), spec.current, base)
    reference = reference_data(file, (*path, "reference"), spec.reference, base)
    ok = check_labels(file, (*path, "labels"), spec.labels) and ok

    window: timedelta | None = None
    if spec.window is not None and spec.window_rows is not None:
        file.add((*path, "window_rows"), "set one of window (a duration such as 24h) or window_rows; got both")
        ok = False
    elif spec.window_rows is not None:
        if spec.window_rows < 1:
            file.add((*path, "window_rows"), f"window_rows {spec.window_rows} must be at least 1")
            ok = False
    elif spec.window is not None:
        window = duration_at(file, (*path, "window"), spec.window)
        ok = window is not None and ok
    else:
        window = DEFAULT_WINDOW

    schedule = _schedule(file, (*path, "schedule"), spec.schedule)
    timeout = duration_at(file, (*path, "timeout"), spec.timeout)
    if schedule is not None and timeout is not None and schedule[0] is not None and timeout >= schedule[0]:
        given = "timeout" in spec.model_fields_set
        file.add(
            (*path, "timeout") if given else (*path, "schedule"),
            f"timeout {format_duration(timeout)}{'' if given else ' (the default)'} must be shorter than "
            f"the schedule interval {format_duration(schedule[0])}",
        )
        ok = False

    columns = build_columns(file, (*path, "columns"), spec.columns)
    ok = check_drift_settings(file, (*path, "drift"), spec.drift, spec.columns) and ok
    if spec.sample_rows < MIN_SAMPLE_ROWS:
        file.add(
            (*path, "sample_rows"),
            f"sample_rows {spec.sample_rows} must be at least {MIN_SAMPLE_ROWS}: drift tests on fewer rows are noise",
        )
        ok = False
    if spec.max_exported_features < 0:
        file.add(
            (*path, "max_exported_features"),
            f"max_exported_features {spec.max_exported_features} must be 0 (export no per-feature series) or more",
        )
        ok = False

    report_retention: timedelta | None = None
    if spec.report_retention is not None:
        report_retention = duration_at(file, (*path, "report_retention"), spec.report_retention)
        ok = report_retention is not None and ok
    if not (math.isfinite(spec.max_missing_increase) and 0 <= spec.max_missing_increase < 1):
        file.add(
            (*path, "max_missing_increase"),
            f"max_missing_increase {number_text(spec.max_missing_increase)} must be at least 0 and below 1 "
            "(a share of the rows: 0.5 is 50 points more missing values than in the reference)",
        )
        ok = False

    if spec.segment_by is not None:
        roles = (spec.columns.id, spec.columns.target, spec.columns.prediction, *spec.columns.numerical)
        if not spec.segment_by.strip():
            file.add((*path, "segment_by"), "must not be empty")
            ok = False
        elif spec.segment_by in roles or spec.segment_by in spec.columns.categorical:
            file.add(
                (*path, "segment_by"),
                f"column {spec.segment_by!r} already has a role; segment by a column that is not drift-tested",
            )
            ok = False
    if not 1 <= spec.max_segments <= MAX_SEGMENTS_LIMIT:
        file.add(
            (*path, "max_segments"),
            f"max_segments {spec.max_segments} must be between 1 and {MAX_SEGMENTS_LIMIT} "
            "(the rarer values are pooled in the segment __other__)",
        )
        ok = False
    estimation = _estimation(file, path, spec)
    ok = (spec.estimated_performance is None or estimation is not None) and ok

    ground_truth: GroundTruth | None = None
    if spec.ground_truth is not None:
        ground_truth = ground_truth_data(file, (*path, "ground_truth"), spec.ground_truth, spec.columns, base)
        ok = ground_truth is not None and ok

    if not ok or current is None or reference is None or schedule is None or timeout is None or columns is None:
        return None
    return DriftMonitor(
        name=spec.name,
        current=current,
        reference=reference,
        columns=columns,
        window=window,
        window_rows=spec.window_rows,
        interval=schedule[0],
        cron=schedule[1],
        stattests=dict(spec.drift.stattests),
        thresholds=dict(spec.drift.thresholds),
        drift_share=spec.drift.share,
        sample_rows=spec.sample_rows,
        timeout=timeout,
        ground_truth=ground_truth,
        labels=dict(spec.labels),
        max_exported_features=spec.max_exported_features,
        report_retention=report_retention,
        max_missing_increase=float(spec.max_missing_increase),
        segment_by=spec.segment_by,
        max_segments=spec.max_segments,
        estimation=estimation,
    )


def _estimation(file: SpecFile, path: YPath, spec: MonitorSpec) -> PerformanceEstimation | None:
    est = spec.estimated_performance
    if est is None:
        return None
    where = (*path, "estimated_performance")
    gt = spec.ground_truth
    if gt is not None and gt.task != "classification":
        file.add(where, "estimated_performance (CBPE) applies to binary classifiers: ground_truth.task is regression")
        return None
    column = est.score_column or (gt.score_column if gt is not None else None)
    if not column:
        file.add(where, "name the score column (positive-class probability): score_column: score")
        return None
    if not (math.isfinite(est.threshold) and 0 < est.threshold < 1):
        file.add((*where, "threshold"), f"threshold {number_text(est.threshold)} must be between 0 and 1")
        return None
    if est.calibrate and spec.columns.target is None:
        file.add((*where, "calibrate"), "calibrate needs columns.target: the reference's labels")
        return None
    return PerformanceEstimation(score_column=column, threshold=float(est.threshold), calibrate=est.calibrate)


def _schedule(file: SpecFile, path: YPath, spec: ScheduleSpec | None) -> tuple[timedelta | None, str | None] | None:
    """(interval, cron), exactly one of them set; None after reporting a problem."""
    if spec is None:
        return DEFAULT_INTERVAL, None
    if (spec.interval is None) == (spec.cron is None):
        which = "both" if spec.interval is not None else "neither"
        file.add(path, f'set exactly one of interval (e.g. interval: 1h) or cron (e.g. cron: "0 * * * *"); got {which}')
        return None
    if spec.interval is not None:
        interval = duration_at(file, (*path, "interval"), spec.interval)
        return None if interval is None else (interval, None)
    assert spec.cron is not None
    problem = cron_problem(spec.cron)
    if problem is not None:
        file.add((*path, "cron"), problem)
        return None
    return None, " ".join(spec.cron.split())
