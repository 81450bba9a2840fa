"""Per-segment drift (monitor.segment_by): a shift confined to one segment is flagged there only; CBPE in a run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from slo_service.core.drift.monitor import PerformanceEstimation, ReferenceData, ReferenceKind, RunStatus
from slo_service.core.drift.segments import OTHER, SegmentRun
from slo_service.core.drift.sli import run_passes
from slo_service.core.model import DriftCheck, DriftSLI
from slo_service.exporter.drift import DriftCollector
from tests.unit.test_drift_pipeline import NOW, FakeReader, ScriptedWorker, monitor, service

SEGMENTS = ("north", "south", "east", "west", "centre")
SIZES = (5000, 4500, 4000, 3500, 3000)  # distinct sizes (the top segments are well defined); > 1000 rows each
FIXED = ReferenceData(kind=ReferenceKind.FIXED, path="ref.parquet", version="v1")


def _frame(seed: int, start: Any, shifted: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for i, (seg, n) in enumerate(zip(SEGMENTS, SIZES, strict=True)):
        x = rng.normal(float(i), 1.0, n)  # segments differ from one another (the whole mix is wide)
        if seg == shifted:
            x = x + 1.0
        p = 1.0 / (1.0 + np.exp(-(x - float(i))))
        parts.append(
            pd.DataFrame(
                {
                    "region": seg,
                    "x": x,
                    "y": rng.normal(5.0, 1.0, n),
                    "c": rng.choice(["a", "b"], n),
                    "score": p,
                    "label": (rng.random(n) < p).astype(int),
                }
            )
        )
    df = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    df["ts"] = [start + timedelta(seconds=i) for i in range(len(df))]
    return df


def _run(shifted: str | None, **kw: Any) -> Any:
    ref = _frame(1, NOW - timedelta(days=2))
    cur = _frame(2, NOW - timedelta(hours=20), shifted=shifted)
    reader = FakeReader({"ref.parquet": ref, "current.parquet": cur}, chunk_rows=4000)
    m = monitor(reference=FIXED, segment_by="region", drift_share=0.3, sample_rows=20_000, **kw)
    svc, store, _ = service(reader, ScriptedWorker(), monitors={"fraud": m})
    return svc.run_monitor(m), store, svc, m


def _by(run: Any) -> dict[str, SegmentRun]:
    return {s.segment: s for s in run.segments}


def test_shift_in_one_of_five_segments_is_flagged_there_only() -> None:
    run, store, svc, m = _run("west")
    assert run.status is RunStatus.OK, run.reason
    segs = _by(run)
    assert set(segs) == set(SEGMENTS)  # five values, under the cap of 10: no "other"
    for name, s in segs.items():
        x = next(col for col in s.columns if col.column == "x")
        assert s.rows_current == SIZES[SEGMENTS.index(name)] and s.rows_reference == s.rows_current
        assert x.drifted is (name == "west"), (name, x)
        assert s.dataset_drifted is (name == "west")
        assert all(col.drifted is False for col in s.columns if col.column != "x")
    west_x = next(col for col in segs["west"].columns if col.column == "x")
    assert west_x.method == "wasserstein" and west_x.score is not None and west_x.score > 0.5
    assert run.drift_found is True  # a segment's drift is the monitor's
    assert run_passes(DriftSLI(source="fraud", check=DriftCheck.DATASET), run) is False
    assert run_passes(DriftSLI(source="fraud", check=DriftCheck.COLUMN, column="y"), run) is True
    # the segment profiles are built once per reference version and stored beside its profile
    assert store.load_profile("fraud", "v1#segments:region:10") is not None
    again = svc.run_monitor(m)
    assert [s.to_dict() for s in again.segments] == [s.to_dict() for s in run.segments]


def test_no_shift_no_segment_drift_and_the_smallest_segments_pooled_beyond_the_cap() -> None:
    run, _, _, _ = _run(None, max_segments=3)
    segs = _by(run)
    assert list(segs) == ["north", "south", "east", OTHER]
    assert segs[OTHER].rows_current == SIZES[3] + SIZES[4] and segs[OTHER].rows_reference == SIZES[3] + SIZES[4]
    assert not any(s.dataset_drifted for s in run.segments)
    assert all(not c.drifted for s in run.segments for c in s.columns)
    assert SegmentRun.from_dict(segs[OTHER].to_dict()) == segs[OTHER]


def test_cbpe_in_a_run_whole_window_and_per_segment() -> None:
    est = PerformanceEstimation(score_column="score")
    run, _, _, _ = _run("west", estimation=est)
    cur = _frame(2, NOW - timedelta(hours=20), shifted="west")
    realised = float(((cur["score"] >= 0.5).astype(int) == cur["label"]).mean())
    assert abs(run.quality["estimated_accuracy"] - realised) < 0.02
    for s in run.segments:
        part = cur[cur["region"] == s.segment]
        acc = float(((part["score"] >= 0.5).astype(int) == part["label"]).mean())
        assert abs(s.quality["estimated_accuracy"] - acc) < 0.05, s.segment  # ~1000 rows each


def test_segments_and_estimates_on_metrics_under_the_feature_cap() -> None:
    run, _, svc, _ = _run("west", max_exported_features=2, estimation=PerformanceEstimation(score_column="score"))
    registry = CollectorRegistry()
    registry.register(DriftCollector(svc))
    samples = {fam.name: fam.samples for fam in text_string_to_metric_families(generate_latest(registry).decode())}
    detected = {s.labels["segment"]: s.value for s in samples["slo_drift_segment_detected"]}
    assert detected == {seg: float(seg == "west") for seg in SEGMENTS}
    scores = samples["slo_feature_drift_segment_score"]
    assert len(scores) == 2  # the monitor's cap holds across segments: drifted first
    assert scores[0].labels == {"monitor": "fraud", "segment": "west", "feature": "x", "method": "wasserstein"}
    (acc,) = samples["slo_drift_estimated_accuracy"]
    assert acc.value == run.quality["estimated_accuracy"]
    assert {s.labels["metric"] for s in samples["slo_drift_estimated_quality"]} == {
        "precision",
        "recall",
        "f1",
        "roc_auc",
    }
    assert not any(s.labels["metric"].startswith("estimated") for s in samples.get("slo_model_quality", []))
