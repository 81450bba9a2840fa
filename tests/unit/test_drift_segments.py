"""Per-segment drift (monitor.segment_by): a shift confined to one segment is flagged there only; CBPE in a run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from slo_service.core.drift.monitor import (
    ColumnSpec,
    CurrentData,
    CurrentKind,
    GroundTruth,
    PerformanceEstimation,
    ReferenceData,
    ReferenceKind,
    RunStatus,
)
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


# --- realised model quality per segment (labels joined on the id) -------------------------------------------

SMALL = (250, 225, 200, 175, 150)  # 1,000 rows: all of them in the sample, so the hand computation is exact


def _predictions(seed: int, start: Any) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for seg, n in zip(SEGMENTS, SMALL, strict=True):
        score = rng.random(n)
        parts.append(
            pd.DataFrame(
                {
                    "region": seg,
                    "x": rng.normal(0.0, 1.0, n),
                    "y": rng.normal(5.0, 1.0, n),
                    "c": rng.choice(["a", "b"], n),
                    "score": score,
                    "pred": (score >= 0.5).astype(int),
                }
            )
        )
    df = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    df["id"] = [f"p{seed}-{i}" for i in range(len(df))]
    df["ts"] = [start + timedelta(seconds=i) for i in range(len(df))]
    return df


def _labels_for(cur: pd.DataFrame, wrong: str, unlabelled: str | None) -> pd.DataFrame:
    """The truth: the prediction itself, except in `wrong` where every third row's label is the other class;
    no label at all for the rows of `unlabelled`."""
    flip = (cur["region"] == wrong) & (np.arange(len(cur)) % 3 == 0)
    labels = pd.DataFrame({"id": cur["id"], "label": np.where(flip, 1 - cur["pred"], cur["pred"])})
    labels["ts"] = NOW - timedelta(hours=1)
    return labels[cur["region"] != unlabelled] if unlabelled is not None else labels


def _quality_run(wrong: str = "west", unlabelled: str | None = None, **kw: Any) -> tuple[Any, pd.DataFrame, Any]:
    ref = _predictions(1, NOW - timedelta(days=2))
    cur = _predictions(2, NOW - timedelta(hours=20))
    labels = _labels_for(cur, wrong, unlabelled)
    frames = {"ref.parquet": ref, "current.parquet": cur, "labels.parquet": labels}
    gt = GroundTruth(
        current=CurrentData(kind=CurrentKind.FILES, path="labels.parquet", timestamp_column="ts"),
        label_column="label",
        score_column="score",
    )
    m = monitor(
        reference=FIXED,
        columns=ColumnSpec(numerical=("x", "y"), categorical=("c",), id="id", prediction="pred"),
        ground_truth=gt,
        segment_by="region",
        sample_rows=2000,
        **kw,
    )
    svc, _, _ = service(FakeReader(frames, chunk_rows=300), ScriptedWorker(), monitors={"fraud": m})
    run = svc.run_monitor(m)
    assert run.status is RunStatus.OK, run.reason
    joined = cur.merge(labels[["id", "label"]], on="id")
    return run, joined, svc


def _accuracy(part: pd.DataFrame) -> float:
    return float((part["pred"] == part["label"]).mean())


def test_a_model_wrong_in_one_of_five_segments_is_worse_there_only() -> None:
    run, joined, _ = _quality_run("west", estimation=PerformanceEstimation(score_column="score"))
    segs = _by(run)
    assert set(segs) == set(SEGMENTS)
    for name, s in segs.items():
        part = joined[joined["region"] == name]
        assert s.quality["labelled_rows"] == len(part) == SMALL[SEGMENTS.index(name)]
        assert s.quality["label_coverage"] == 1.0
        assert s.quality["accuracy"] == _accuracy(part), name  # by hand, over the segment's rows
        assert (s.quality["accuracy"] < 1.0) is (name == "west"), name
        assert {"precision", "recall", "f1", "roc_auc"} <= set(s.quality)
        assert "estimated_accuracy" in s.quality  # estimated and realised side by side, per segment
    wrong = joined[joined["region"] == "west"]
    flipped = int((np.flatnonzero(joined["region"] == "west") % 3 == 0).sum())  # every third row of the window
    assert 0 < flipped < len(wrong) and segs["west"].quality["accuracy"] == (len(wrong) - flipped) / len(wrong)
    assert run.quality["accuracy"] == _accuracy(joined)  # the whole window is diluted ...
    assert run.quality["accuracy"] > segs["west"].quality["accuracy"]  # ... the segment shows it
    stored = SegmentRun.from_dict(segs["west"].to_dict())
    assert stored.quality == segs["west"].quality  # kept on the run (JSON) as computed


def test_a_segment_without_labels_has_no_realised_metric_and_other_pools_the_rest() -> None:
    run, joined, _ = _quality_run("west", unlabelled="centre", max_segments=3)
    segs = _by(run)
    assert list(segs) == ["north", "south", "east", OTHER]  # west and centre pooled
    pooled = joined[joined["region"].isin(["west", "centre"])]  # centre has no labels: west's rows only
    assert segs[OTHER].quality["labelled_rows"] == len(pooled) == SMALL[3]
    assert segs[OTHER].quality["label_coverage"] == SMALL[3] / (SMALL[3] + SMALL[4])
    assert segs[OTHER].quality["accuracy"] == _accuracy(pooled) < 1.0
    assert all(segs[s].quality["accuracy"] == 1.0 for s in ("north", "south", "east"))

    run, _, _ = _quality_run("west", unlabelled="centre")
    centre = _by(run)["centre"]
    assert centre.quality == {"labelled_rows": 0.0}  # no label yet: no data, never a bad value
    assert run.quality["labelled_rows"] == sum(SMALL[:4])


def _segment_quality_samples(svc: Any) -> list[Any]:
    registry = CollectorRegistry()
    registry.register(DriftCollector(svc))
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    return list(families["slo_model_segment_quality"].samples)


def test_segment_quality_on_metrics_worst_first_under_the_cap() -> None:
    run, _, svc = _quality_run("west", unlabelled="centre", estimation=PerformanceEstimation(score_column="score"))
    samples = _segment_quality_samples(svc)
    segs = _by(run)
    accuracy = {s.labels["segment"]: s.value for s in samples if s.labels["metric"] == "accuracy"}
    assert accuracy == {name: segs[name].quality["accuracy"] for name in SEGMENTS if name != "centre"}
    centre = {s.labels["metric"]: s.value for s in samples if s.labels["segment"] == "centre"}
    assert centre == {"labelled_rows": 0.0}  # no accuracy series for the unlabelled segment
    assert not any(s.labels["metric"].startswith("estimated") for s in samples)
    assert all(s.labels["monitor"] == "fraud" for s in samples)

    _, _, capped = _quality_run("west", unlabelled="centre", max_exported_features=2)
    samples = _segment_quality_samples(capped)
    assert len(samples) == 2  # the monitor's cap: accuracy first, the worst segment first
    # ties (accuracy 1.0 elsewhere) by segment name
    assert [(s.labels["segment"], s.labels["metric"]) for s in samples] == [("west", "accuracy"), ("east", "accuracy")]
