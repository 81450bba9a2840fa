"""The drift use case (pipeline/drift.py) over an in-memory store, a fake reader over DataFrames and a
scripted worker; and the drift exporter (exporter/drift.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from slo_service.adapters.drift.worker import ColumnResult, DriftOutcome
from slo_service.adapters.memory_drift import InMemoryDriftStore
from slo_service.core import conventions as c
from slo_service.core.drift.monitor import (
    ColumnRun,
    ColumnSpec,
    CurrentData,
    CurrentKind,
    DriftMonitor,
    DriftRun,
    GroundTruth,
    ReferenceData,
    ReferenceKind,
    RunStatus,
)
from slo_service.core.drift.ports import RunQuery, StoredBatch
from slo_service.exporter.drift import DriftCollector, exported_columns
from slo_service.pipeline.drift import (
    BadBatch,
    DriftJobSpec,
    DriftService,
    NotAPushMonitor,
    Sampler,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CURRENT = CurrentData(kind=CurrentKind.FILES, path="current.parquet", timestamp_column="ts")
COLUMNS = ColumnSpec(numerical=("x", "y"), categorical=("c",))
ROLLING = ReferenceData(kind=ReferenceKind.ROLLING, window=timedelta(days=1))


def frame(n: int, start: datetime, span: timedelta, seed: int, shift: float = 0.0, cats: Sequence[str] = "ab") -> Any:
    rng = np.random.default_rng(seed)
    step = span / n
    return pd.DataFrame(
        {
            "ts": [start + i * step for i in range(n)],
            "x": rng.normal(shift, 1.0, n),
            "y": rng.normal(5.0, 1.0, n),
            "c": rng.choice(list(cats), n),
            "id": [f"r{seed}-{i}" for i in range(n)],
            "pred": rng.choice(["0", "1"], n),
        }
    )


class FakeReader:
    """FrameReader over in-memory DataFrames keyed by source path; windows on the timestamp column."""

    def __init__(self, frames: dict[str, Any], chunk_rows: int = 97) -> None:
        self.frames = frames
        self.chunk_rows = chunk_rows
        self.calls: list[tuple[str | None, datetime | None, datetime | None]] = []
        self.fail: str | None = None

    def chunks(
        self, source: CurrentData, start: datetime | None, end: datetime | None, columns: Sequence[str]
    ) -> Iterator[Any]:
        self.calls.append((source.path, start, end))
        if self.fail:
            raise OSError(self.fail)
        found = self.frames[str(source.path)]
        for part in found if isinstance(found, list) else [found]:
            yield from self._part(part, source, start, end, columns)

    def _part(
        self, df: Any, source: CurrentData, start: datetime | None, end: datetime | None, columns: Sequence[str]
    ) -> Iterator[Any]:
        if source.timestamp_column and source.timestamp_column in df.columns:
            ts = df[source.timestamp_column]
            if start is not None:
                df = df[ts >= start]
                ts = df[source.timestamp_column]
            if end is not None:
                df = df[ts < end]
        df = df[[col for col in columns if col in df.columns]]
        for i in range(0, len(df), self.chunk_rows):
            yield df.iloc[i : i + self.chunk_rows]


class ScriptedWorker:
    """Records the jobs; answers with the next scripted outcome, or 'x drifted' by default."""

    def __init__(self, outcomes: Sequence[DriftOutcome] = ()) -> None:
        self.outcomes = list(outcomes)
        self.jobs: list[tuple[DriftJobSpec, float]] = []

    def __call__(self, job: DriftJobSpec, timeout_s: float) -> DriftOutcome:
        self.jobs.append((job, timeout_s))
        if self.outcomes:
            return self.outcomes.pop(0)
        cols = [
            ColumnResult("x", "numerical", "wasserstein", 0.9, 0.1, True),
            ColumnResult("y", "numerical", "wasserstein", 0.02, 0.1, False),
            ColumnResult("c", "categorical", "jensenshannon", 0.3, 0.1, True),
        ]
        n_cur = len(next(iter(job.current.values()))) if not isinstance(job.current, str) else 0
        n_ref = len(next(iter(job.reference.values()))) if not isinstance(job.reference, str) else 0
        return DriftOutcome(
            status="ok",
            columns=cols,
            drifted_share=2 / 3,
            dataset_drifted=True,
            sample_rows_reference=n_ref,
            sample_rows_current=n_cur,
            report_path=job.report_path,
        )


def monitor(**kw: Any) -> DriftMonitor:
    base: dict[str, Any] = {
        "name": "fraud",
        "current": CURRENT,
        "reference": ROLLING,
        "columns": COLUMNS,
        "window": timedelta(days=1),
        "sample_rows": 300,
        "timeout": timedelta(seconds=30),
    }
    base.update(kw)
    return DriftMonitor(**base)


def data(cur: Any = None) -> dict[str, Any]:
    ref = frame(1000, NOW - timedelta(days=2), timedelta(days=1), seed=1)
    cur = frame(800, NOW - timedelta(days=1), timedelta(days=1), seed=2, shift=3.0, cats="abz") if cur is None else cur
    return {"current.parquet": [ref, cur]}  # two files: the columns of each are its own


def service(
    reader: FakeReader, worker: ScriptedWorker | None = None, **kw: Any
) -> tuple[DriftService, InMemoryDriftStore, list[DriftRun]]:
    store = InMemoryDriftStore()
    seen: list[DriftRun] = []
    svc = DriftService(store, reader, worker or ScriptedWorker(), clock_now=lambda: NOW, on_run=seen.append, **kw)
    return svc, store, seen


# --- OK runs -----------------------------------------------------------------------------------------------


def test_ok_run_is_stored_with_columns_quality_and_samples(tmp_path: Path) -> None:
    reader = FakeReader(data())
    worker = ScriptedWorker()
    m = monitor()
    svc, store, seen = service(reader, worker, report_dir=tmp_path, monitors={"fraud": m})
    run = svc.run_monitor(m)

    assert run.status is RunStatus.OK, run.reason
    assert run.id is not None and store.run(run.id) == run
    assert seen == [run]
    assert (run.rows_current, run.rows_reference) == (800, 1000)
    assert run.sample_rows_current == 300 and run.sample_rows_reference == 300  # capped at sample_rows
    assert run.drifted_share == pytest.approx(2 / 3) and run.dataset_drifted is True
    by = {col.column: col for col in run.columns}
    assert by["x"].drifted and by["x"].score == 0.9 and by["x"].method == "wasserstein"
    assert by["x"].out_of_range_share is not None and by["x"].out_of_range_share > 0.3  # shifted by 3 sigma
    assert by["y"].out_of_range_share is not None and by["y"].out_of_range_share < 0.05
    assert by["c"].new_categories == 1  # one category, "z", is new ...
    assert by["c"].new_category_rows is not None and by["c"].new_category_rows > 100  # ... in many rows
    assert by["c"].out_of_range_share is None and by["x"].new_categories is None
    assert all(col.missing_share == 0.0 for col in run.columns)
    assert run.report_path == str(tmp_path / "fraud" / "20261128T120000000000Z.html")

    # the windows: current [now - 1d, now), rolling reference the day before
    assert (NOW - timedelta(days=1), NOW) in [(s, e) for _, s, e in reader.calls]
    assert (NOW - timedelta(days=2), NOW - timedelta(days=1)) in [(s, e) for _, s, e in reader.calls]
    job, timeout = worker.jobs[0]
    assert timeout == 30.0 and job.report_path == run.report_path and job.columns == COLUMNS
    assert isinstance(job.current, dict) and set(job.current) >= {"x", "y", "c"}
    assert svc.latest() == {"fraud": run} and svc.latest_ok() == {"fraud": run}
    assert svc.runs(RunQuery(monitor="fraud"))[0].id == run.id
    assert svc.failed_counts() == {}


def test_sample_is_seeded_and_independent_of_chunk_size() -> None:
    def sample(chunk: int) -> dict[str, Any]:
        worker = ScriptedWorker()
        svc, _, _ = service(FakeReader(data(), chunk_rows=chunk), worker)
        svc.run_monitor(monitor())
        cur = worker.jobs[0][0].current
        assert not isinstance(cur, str)
        return dict(cur)

    a, b = sample(50), sample(333)
    assert list(a["x"]) == list(b["x"]) and len(a["x"]) == 300


def test_sampler_bounded_uniform_and_keeps_row_order() -> None:
    s = Sampler(100, seed=3)
    for i in range(0, 10_000, 1000):
        s.update({"v": np.arange(i, i + 1000)}, 1000)
    v = s.sample()["v"]
    assert len(v) == 100 and list(v) == sorted(v) and s.rows == 10_000
    assert 3000 < float(np.mean(v)) < 7000  # uniform over 0..9999
    small = Sampler(100, seed=3)
    small.update({"v": np.arange(7)}, 7)
    assert list(small.sample()["v"]) == list(range(7))


def test_fixed_reference_profile_is_cached_per_version() -> None:
    ref = frame(1000, NOW - timedelta(days=30), timedelta(days=1), seed=1)
    frames = {**data(), "train.parquet": ref}
    reader = FakeReader(frames)
    worker = ScriptedWorker()
    m = monitor(reference=ReferenceData(kind=ReferenceKind.FIXED, path="train.parquet", version="v7"))
    asked: list[tuple[str, CurrentKind, str | None]] = []

    def factory(name: str, source: CurrentData, labels: bool = False) -> FakeReader:
        asked.append((name, source.kind, source.path))
        return reader

    svc, store, _ = service(factory, worker)  # type: ignore[arg-type]
    first = svc.run_monitor(m)
    second = svc.run_monitor(m)
    assert first.status is RunStatus.OK and second.status is RunStatus.OK, (first.reason, second.reason)
    assert store.profile_saves == 1 and store.load_profile("fraud", "v7") is not None
    assert [p for p, _, _ in reader.calls].count("train.parquet") == 1  # read once, then from the profile
    assert worker.jobs[0][0].reference == "train.parquet"  # the worker samples the fixed file itself
    assert first.reference_version == "v7" and first.rows_reference == 1000
    assert ("fraud", CurrentKind.FILES, "train.parquet") in asked and (
        "fraud",
        CurrentKind.FILES,
        "current.parquet",
    ) in asked
    svc.run_monitor(replace(m, reference=replace(m.reference, version="v8")))
    assert store.profile_saves == 2


def test_window_rows_uses_the_last_rows_and_the_rows_before_them() -> None:
    reader = FakeReader(data(), chunk_rows=64)
    worker = ScriptedWorker()
    svc, _, _ = service(reader, worker)
    run = svc.run_monitor(monitor(window=None, window_rows=500, sample_rows=10_000, columns=replace(COLUMNS, id="id")))
    assert run.status is RunStatus.OK, run.reason
    assert (run.rows_current, run.rows_reference) == (500, 500)
    job = worker.jobs[0][0]
    assert not isinstance(job.current, str) and not isinstance(job.reference, str)
    assert list(job.current["id"]) == [f"r2-{i}" for i in range(300, 800)]
    expected = [f"r1-{i}" for i in range(800, 1000)] + [f"r2-{i}" for i in range(300)]
    assert list(job.reference["id"]) == expected


def test_model_quality_from_late_labels_joined_on_id() -> None:
    frames = data()
    cur = frames["current.parquet"][1]
    labels = pd.DataFrame({"id": cur["id"], "label": np.where(np.arange(len(cur)) % 4 == 0, "1", cur["pred"])})
    labels["ts"] = NOW - timedelta(hours=1)
    frames["labels.parquet"] = labels
    gt = GroundTruth(
        current=CurrentData(kind=CurrentKind.FILES, path="labels.parquet", timestamp_column="ts"),
        label_column="label",
        positive_label="1",
    )
    m = monitor(columns=replace(COLUMNS, id="id", prediction="pred"), ground_truth=gt)
    svc, _, _ = service(FakeReader(frames), ScriptedWorker())
    run = svc.run_monitor(m)
    assert run.status is RunStatus.OK, run.reason
    assert run.quality["labelled_rows"] == 300.0  # the current sample, joined
    assert run.quality["label_coverage"] == 1.0
    assert 0.8 < run.quality["accuracy"] < 0.95  # 1/4 of the labels forced to "1": ~1/8 wrong
    assert set(run.quality) >= {"precision", "recall", "f1"}
    assert run.reason is None
    # unreadable labels keep the drift results and say why quality is missing
    frames["labels.parquet"] = labels.drop(columns=["label"])
    run = svc.run_monitor(m)
    assert run.status is RunStatus.OK and run.quality == {} and run.columns
    assert run.reason is not None and "model quality skipped" in run.reason and "'label'" in run.reason


# --- FAILED runs -------------------------------------------------------------------------------------------


def check_failed(
    svc: DriftService, store: InMemoryDriftStore, seen: list[DriftRun], m: DriftMonitor, text: str
) -> DriftRun:
    run = svc.run_monitor(m)
    assert run.status is RunStatus.FAILED
    assert run.reason is not None and text in run.reason, run.reason
    assert run.id is not None and store.run(run.id) == run and seen[-1] == run
    assert svc.failed_counts()[m.name] >= 1
    assert svc.latest()[m.name] == run
    return run


def test_missing_column_fails_naming_it() -> None:
    frames = data()
    frames["current.parquet"] = [f.drop(columns=["y"]) for f in frames["current.parquet"]]
    svc, store, seen = service(FakeReader(frames))
    run = check_failed(svc, store, seen, monitor(), "missing columns in reference data: y")
    assert run.columns == ()
    # only the current window lacks it
    cur = frame(800, NOW - timedelta(days=1), timedelta(days=1), seed=2).drop(columns=["y"])
    frames2 = data(cur)
    svc2, store2, seen2 = service(FakeReader(frames2))
    check_failed(svc2, store2, seen2, monitor(), "missing columns in current data: y")


def test_changed_kind_fails_naming_the_column() -> None:
    cur = frame(800, NOW - timedelta(days=1), timedelta(days=1), seed=2)
    cur["y"] = cur["y"].map(lambda v: f"{v:.2f} kg")
    svc, store, seen = service(FakeReader(data(cur)))
    run = check_failed(svc, store, seen, monitor(), "column 'y' changed kind: numerical in the reference")
    assert run.schema_problems and "'y'" in run.schema_problems[0]
    assert run.rows_current == 800


def test_integer_coded_categories_are_not_a_kind_change() -> None:
    frames = data()
    frames["current.parquet"] = [f.assign(c=f["c"].map({"a": 1, "b": 2, "z": 3})) for f in frames["current.parquet"]]
    svc, _, _ = service(FakeReader(frames))
    run = svc.run_monitor(monitor())
    assert run.status is RunStatus.OK, run.reason


def test_strings_in_a_numerical_reference_column_fail_the_run() -> None:
    frames = data()
    ref, cur = frames["current.parquet"]
    frames["current.parquet"] = [ref.assign(y=ref["y"].astype(str)), cur]
    svc, store, seen = service(FakeReader(frames))
    check_failed(svc, store, seen, monitor(), "column 'y' is not numerical in the reference data")


def test_empty_current_window_fails() -> None:
    frames = {"current.parquet": frame(1000, NOW - timedelta(days=2), timedelta(days=1), seed=1)}
    worker = ScriptedWorker()
    svc, store, seen = service(FakeReader(frames), worker)
    check_failed(svc, store, seen, monitor(), "empty current window")
    assert worker.jobs == []


def test_empty_rolling_reference_fails() -> None:
    frames = {"current.parquet": frame(800, NOW - timedelta(days=1), timedelta(days=1), seed=2)}
    svc, store, seen = service(FakeReader(frames))
    check_failed(svc, store, seen, monitor(), "empty reference window")


def test_reader_error_fails_with_its_message() -> None:
    reader = FakeReader(data())
    reader.fail = "s3 bucket gone"
    svc, store, seen = service(reader)
    check_failed(svc, store, seen, monitor(), "could not read the reference data: s3 bucket gone")


def test_worker_timeout_and_failure_fail_the_run_and_are_counted() -> None:
    worker = ScriptedWorker([DriftOutcome.failed("timed out after 30 s"), DriftOutcome.failed("worker died")])
    svc, store, seen = service(FakeReader(data()), worker)
    m = monitor()
    first = check_failed(svc, store, seen, m, "drift worker: timed out after 30 s")
    assert first.rows_current == 800
    check_failed(svc, store, seen, m, "drift worker: worker died")
    assert svc.failed_counts() == {"fraud": 2}
    assert svc.latest_ok() == {}
    ok = svc.run_monitor(m)
    assert ok.status is RunStatus.OK and svc.latest_ok() == {"fraud": ok}
    assert [r.status for r in svc.runs(RunQuery(monitor="fraud"))] == [RunStatus.OK, *[RunStatus.FAILED] * 2]


def test_store_and_callback_errors_never_escape() -> None:
    class BrokenStore(InMemoryDriftStore):
        def save_run(self, run: DriftRun) -> int:
            raise RuntimeError("db down")

    def boom(run: DriftRun) -> None:
        raise RuntimeError("callback bug")

    svc = DriftService(BrokenStore(), FakeReader(data()), ScriptedWorker(), clock_now=lambda: NOW, on_run=boom)
    run = svc.run_monitor(monitor())
    assert run.status is RunStatus.OK and run.id is None
    assert svc.latest()["fraud"] == run


def test_unexpected_errors_become_failed_runs() -> None:
    def crash(job: DriftJobSpec, timeout_s: float) -> DriftOutcome:
        raise ZeroDivisionError("oops")

    svc, store, seen = service(FakeReader(data()))
    svc.submit = crash
    check_failed(svc, store, seen, monitor(), "internal error: ZeroDivisionError: oops")


# --- pushed batches ----------------------------------------------------------------------------------------


def test_ingest_batch() -> None:
    written: list[tuple[str, int]] = []

    def write(m: DriftMonitor, df: Any, at: datetime) -> StoredBatch:
        written.append((m.name, len(df)))
        return StoredBatch(monitor=m.name, received_at=at, rows=len(df), path=f"/b/{len(written)}.parquet")

    push = monitor(current=CurrentData(kind=CurrentKind.PUSH, timestamp_column="ts"))
    svc, store, _ = service(FakeReader({}), write_batch=write)
    batch = svc.ingest_batch(push, frame(10, NOW, timedelta(hours=1), seed=3))
    assert batch.id == 1 and batch.rows == 10 and written == [("fraud", 10)]
    assert store.batches("fraud", None, None) == [batch]
    with pytest.raises(NotAPushMonitor):
        svc.ingest_batch(monitor(), frame(10, NOW, timedelta(hours=1), seed=3))
    with pytest.raises(BadBatch, match=r"records\[0\]\.c: missing; expected a string, number or boolean"):
        svc.ingest_batch(push, frame(10, NOW, timedelta(hours=1), seed=3).drop(columns=["c"]))
    with pytest.raises(BadBatch, match="no rows"):
        svc.ingest_batch(push, frame(10, NOW, timedelta(hours=1), seed=3).iloc[:0])


# --- exporter ----------------------------------------------------------------------------------------------


def col(name: str, score: float, drifted: bool, method: str = "psi") -> ColumnRun:
    return ColumnRun(name, "numerical", method, score, 0.1, drifted, missing_share=0.01)


def test_exporter_families_and_feature_cap() -> None:
    reader = FakeReader(data())
    m = monitor(max_exported_features=2)
    other = monitor(name="churn")
    worker = ScriptedWorker([DriftOutcome.failed("timed out after 30 s")])
    svc, _, _ = service(reader, worker, monitors={"fraud": m, "churn": other})
    svc.run_monitor(other)  # failed
    run = svc.run_monitor(m)
    assert run.status is RunStatus.OK
    registry = CollectorRegistry()
    registry.register(DriftCollector(svc))
    text = generate_latest(registry).decode()
    families = {f.name: f for f in registry.collect()}
    assert set(families) == {
        c.DRIFT_SHARE,
        c.DRIFT_DETECTED,
        c.FEATURE_DRIFT_SCORE,
        c.DATA_MISSING_RATIO,
        c.MODEL_QUALITY,
        c.DRIFT_RUN_DURATION_SECONDS,
        c.DRIFT_LAST_RUN_TIMESTAMP_SECONDS,
        c.DRIFT_RUN_FAILED,
        c.DRIFT_LIVE_SHARE,  # empty here: no pushed batches
        c.FEATURE_DRIFT_LIVE_SCORE,
        c.DRIFT_ESTIMATED_ACCURACY,  # empty here: no estimated_performance, no segment_by
        c.DRIFT_ESTIMATED_QUALITY,
        c.DRIFT_SEGMENT_SHARE,
        c.DRIFT_SEGMENT_DETECTED,
        c.FEATURE_DRIFT_SEGMENT_SCORE,
        c.DATA_SEGMENT_MISSING_RATIO,
        c.MODEL_SEGMENT_QUALITY,
    }
    assert 'slo_drift_share{monitor="fraud"} 0.666' in text
    assert 'slo_drift_detected{monitor="fraud"} 1.0' in text
    scores = [s for s in families[c.FEATURE_DRIFT_SCORE].samples if s.labels["monitor"] == "fraud"]
    assert sorted((s.labels["feature"], s.labels["method"]) for s in scores) == [
        ("c", "jensenshannon"),
        ("x", "wasserstein"),
    ]  # capped at 2: the drifted ones, highest first
    assert len(families[c.DATA_MISSING_RATIO].samples) == 2
    assert 'slo_drift_run_failed_total{monitor="churn"} 1.0' in text
    assert 'slo_drift_run_failed_total{monitor="fraud"} 0.0' in text
    (last,) = [s for s in families[c.DRIFT_LAST_RUN_TIMESTAMP_SECONDS].samples if s.labels["monitor"] == "fraud"]
    assert last.value == NOW.timestamp()
    assert 'slo_drift_run_duration_seconds{monitor="churn"} 0.0' in text
    assert not any(s.labels["monitor"] == "churn" for s in families[c.DRIFT_SHARE].samples)


def test_exported_columns_order_and_nan() -> None:
    run = DriftRun(
        monitor="m",
        started_at=NOW,
        finished_at=NOW,
        status=RunStatus.OK,
        columns=(col("a", 0.05, False), col("b", 0.5, True), col("c", float("nan"), False), col("d", 0.9, False)),
    )
    assert [x.column for x in exported_columns(run, 10)] == ["b", "d", "a", "c"]
    assert [x.column for x in exported_columns(run, 2)] == ["b", "d"]


def test_the_drift_dashboard_reads_what_the_exporter_exports() -> None:
    from slo_service.generate.dashboards import drift_metrics

    svc, _, _ = service(FakeReader(data()), ScriptedWorker([]), monitors={"fraud": monitor()})
    svc.run_monitor(monitor())
    registry = CollectorRegistry()
    registry.register(DriftCollector(svc))
    families = list(registry.collect())
    # a counter family is exposed as <name>_total; a family without samples yet still has its name
    exposed = {f.name + ("_total" if f.type == "counter" else "") for f in families}
    assert set(drift_metrics().values()) <= exposed
