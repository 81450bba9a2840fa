"""Drift monitor metrics: read from the drift service's newest runs on every scrape.

Gauges come from the newest OK run of every monitor (a failed run keeps the last known drift in place and
shows up in ``slo_drift_run_failed_total`` instead); ``slo_drift_run_duration_seconds`` is the duration of
the newest run whatever its status. ``slo_feature_drift_score`` and ``slo_data_missing_ratio`` carry at most
``monitor.max_exported_features`` features per monitor: drifted features first, then the highest scores.
Segments (``segment_by``): one share / detected series per segment (at most ``max_segments`` + 1), and the
per-segment feature series share the same cap of ``max_exported_features`` per monitor, drifted first.
Realised model quality per segment (labels joined per segment): ``slo_model_segment_quality{segment,metric}``,
at most ``max_exported_features`` series per monitor of its own, metric by metric (accuracy / mae first), the
worst segments first within a metric.
Estimated (CBPE) metrics: ``slo_drift_estimated_accuracy`` and ``slo_drift_estimated_quality``; the realised
metrics stay in ``slo_model_quality``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from slo_service.core import conventions as c
from slo_service.core.drift.estimation import ESTIMATED_PREFIX
from slo_service.core.drift.model_quality import CLASSIFICATION_METRICS, REGRESSION_METRICS
from slo_service.core.drift.monitor import ColumnRun, DriftMonitor, DriftRun
from slo_service.core.drift.scores import ColumnDrift

DEFAULT_MAX_FEATURES = 50
# Per-segment quality series past the cap: the headline metrics first, coverage last.
_SEGMENT_METRIC_ORDER = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS, "labelled_rows", "label_coverage")
_LOWER_IS_WORSE = frozenset(CLASSIFICATION_METRICS)  # the regression errors are worse when higher


class DriftView(Protocol):
    """What the collector reads; pipeline.drift.DriftService satisfies it."""

    def latest(self) -> Mapping[str, DriftRun]: ...

    def latest_ok(self) -> Mapping[str, DriftRun]: ...

    def failed_counts(self) -> Mapping[str, int]: ...

    def monitors(self) -> Mapping[str, DriftMonitor]: ...

    def live_windows(self) -> Mapping[str, LiveView]: ...


class LiveView(Protocol):
    """A monitor's live window (pipeline.drift_live.LiveWindow satisfies it)."""

    @property
    def drifted_share(self) -> float: ...

    @property
    def columns(self) -> Mapping[str, ColumnDrift]: ...


def exported_segment_quality(run: DriftRun, cap: int) -> list[tuple[str, str, float]]:
    """(segment, metric, value) of the realised per-segment quality exported for a run, at most `cap`: metric by
    metric in `_SEGMENT_METRIC_ORDER` (others after, by name), the worst segment first within a metric (so a
    segment gone bad keeps its series under the cap); estimated_* and undefined (NaN) values are left out."""
    rank = {m: i for i, m in enumerate(_SEGMENT_METRIC_ORDER)}
    found = [
        (s.segment, metric, value)
        for s in run.segments
        for metric, value in s.quality.items()
        if not metric.startswith(ESTIMATED_PREFIX) and not math.isnan(value)
    ]

    def key(item: tuple[str, str, float]) -> tuple[int, str, float, str]:
        segment, metric, value = item
        worst_first = value if metric in _LOWER_IS_WORSE else -value
        return (rank.get(metric, len(rank)), metric, worst_first, segment)

    return sorted(found, key=key)[: max(0, cap)]


def exported_columns(run: DriftRun, cap: int) -> list[ColumnRun]:
    """The columns of a run that get per-feature series: drifted first, then by score (highest first)."""
    scored = [col for col in run.columns if col.score is not None and not math.isnan(col.score)]
    unscored = [col for col in run.columns if col not in scored]
    scored.sort(key=lambda col: (not col.drifted, -(col.score or 0.0), col.column))
    return (scored + unscored)[: max(0, cap)]


class DriftCollector(Collector):
    def __init__(self, drift: DriftView) -> None:
        self.drift = drift

    def collect(self) -> Iterator[Metric]:
        mon = [c.MONITOR_LABEL]
        share = GaugeMetricFamily(c.DRIFT_SHARE, "Share of drifted features in the newest drift run", labels=mon)
        detected = GaugeMetricFamily(c.DRIFT_DETECTED, "1 when the newest drift run found dataset drift", labels=mon)
        score = GaugeMetricFamily(
            c.FEATURE_DRIFT_SCORE,
            "Drift score of a feature in the newest drift run (distance, or p-value for statistical tests)",
            labels=[*mon, c.FEATURE_LABEL, "method"],
        )
        missing = GaugeMetricFamily(
            c.DATA_MISSING_RATIO, "Share of missing values in the current window", labels=[*mon, c.FEATURE_LABEL]
        )
        quality = GaugeMetricFamily(c.MODEL_QUALITY, "Model quality on late ground truth", labels=[*mon, "metric"])
        duration = GaugeMetricFamily(c.DRIFT_RUN_DURATION_SECONDS, "Duration of the newest drift run", labels=mon)
        last = GaugeMetricFamily(
            c.DRIFT_LAST_RUN_TIMESTAMP_SECONDS, "Unix time the newest OK drift run finished", labels=mon
        )
        failed = CounterMetricFamily(c.DRIFT_RUN_FAILED, "Failed drift runs since the process started", labels=mon)
        est_acc = GaugeMetricFamily(
            c.DRIFT_ESTIMATED_ACCURACY, "Accuracy estimated from the prediction scores (CBPE), no labels", labels=mon
        )
        est_q = GaugeMetricFamily(
            c.DRIFT_ESTIMATED_QUALITY, "Quality estimated from the prediction scores (CBPE)", labels=[*mon, "metric"]
        )
        ms = [*mon, c.SEGMENT_LABEL]
        seg = (
            GaugeMetricFamily(c.DRIFT_SEGMENT_SHARE, "Share of drifted features in a segment", labels=ms),
            GaugeMetricFamily(c.DRIFT_SEGMENT_DETECTED, "1 when a segment drifted in the newest run", labels=ms),
            GaugeMetricFamily(
                c.FEATURE_DRIFT_SEGMENT_SCORE,
                "Drift score of a feature in a segment",
                labels=[*ms, c.FEATURE_LABEL, "method"],
            ),
            GaugeMetricFamily(
                c.DATA_SEGMENT_MISSING_RATIO,
                "Share of missing values of a feature in a segment",
                labels=[*ms, c.FEATURE_LABEL],
            ),
            GaugeMetricFamily(
                c.MODEL_SEGMENT_QUALITY, "Model quality of a segment on late ground truth", labels=[*ms, "metric"]
            ),
        )
        monitors = self.drift.monitors()
        for name, run in sorted(self.drift.latest_ok().items()):
            if run.drifted_share is not None:
                share.add_metric([name], run.drifted_share)
            if run.dataset_drifted is not None:
                detected.add_metric([name], 1.0 if run.dataset_drifted else 0.0)
            monitor = monitors.get(name)
            cap = monitor.max_exported_features if monitor is not None else DEFAULT_MAX_FEATURES
            for col in exported_columns(run, cap):
                if col.score is not None and not math.isnan(col.score):
                    score.add_metric([name, col.column, col.method or ""], col.score)
                if col.missing_share is not None:
                    missing.add_metric([name, col.column], col.missing_share)
            for metric, value in sorted(run.quality.items()):
                if math.isnan(value):  # undefined on this data (e.g. recall without positives)
                    continue
                if metric == "estimated_accuracy":
                    est_acc.add_metric([name], value)
                elif metric.startswith(ESTIMATED_PREFIX):
                    if metric != "estimated_rows":
                        est_q.add_metric([name, metric.removeprefix(ESTIMATED_PREFIX)], value)
                else:
                    quality.add_metric([name, metric], value)
            self._segments(name, run, cap, seg)
            last.add_metric([name], run.finished_at.timestamp())
        for name, run in sorted(self.drift.latest().items()):
            duration.add_metric([name], run.duration_seconds)
        names = set(monitors) | set(self.drift.failed_counts())
        counts = self.drift.failed_counts()
        for name in sorted(names):
            failed.add_metric([name], float(counts.get(name, 0)))
        yield from (share, detected, score, missing, quality, duration, last, failed, est_acc, est_q, *seg)
        yield from self._live(monitors)

    @staticmethod
    def _segments(name: str, run: DriftRun, cap: int, fams: tuple[GaugeMetricFamily, ...]) -> None:
        share, detected, score, missing, quality = fams
        ranked: list[tuple[str, ColumnRun]] = []
        for s in run.segments:
            if s.drifted_share is not None:
                share.add_metric([name, s.segment], s.drifted_share)
            if s.dataset_drifted is not None:
                detected.add_metric([name, s.segment], 1.0 if s.dataset_drifted else 0.0)
            ranked += [(s.segment, col) for col in s.columns if col.score is not None and not math.isnan(col.score)]
        ranked.sort(key=lambda sc: (not sc[1].drifted, -(sc[1].score or 0.0), sc[0], sc[1].column))
        for segment, col in ranked[: max(0, cap)]:  # the monitor's feature cap holds across its segments
            score.add_metric([name, segment, col.column, col.method or ""], col.score or 0.0)
            if col.missing_share is not None:
                missing.add_metric([name, segment, col.column], col.missing_share)
        for segment, metric, value in exported_segment_quality(run, cap):  # its own budget of `cap` series
            quality.add_metric([name, segment, metric], value)

    def _live(self, monitors: Mapping[str, DriftMonitor]) -> Iterator[Metric]:
        mon = [c.MONITOR_LABEL]
        share = GaugeMetricFamily(
            c.DRIFT_LIVE_SHARE, "Share of drifted features in the pushed data of the monitor's window", labels=mon
        )
        score = GaugeMetricFamily(
            c.FEATURE_DRIFT_LIVE_SCORE,
            "Drift score of a feature in the pushed data of the monitor's window (merged slice histograms)",
            labels=[*mon, c.FEATURE_LABEL, "method"],
        )
        for name, live in sorted(self.drift.live_windows().items()):
            share.add_metric([name], live.drifted_share)
            monitor = monitors.get(name)
            cap = monitor.max_exported_features if monitor is not None else DEFAULT_MAX_FEATURES
            ranked = sorted(
                (d for d in live.columns.values() if not math.isnan(d.score)),
                key=lambda d: (not d.drifted, -d.score, d.column),
            )
            for d in ranked[: max(0, cap)]:
                score.add_metric([name, d.column, d.method], d.score)
        yield from (share, score)
