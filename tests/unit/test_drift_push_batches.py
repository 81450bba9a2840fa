"""Pushed batches and honest run verdicts (issue 13) on the DriftService with real batch files: a batch pushed
at the run's own instant counts; the schema check normalises what it accepts; a missing-share jump is a
data-quality finding; a NaN quality metric is no data; reports older than a monitor's retention go."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from slo_service.adapters.drift.readers import BatchWriter, FileReader, PushReader
from slo_service.adapters.memory_drift import InMemoryDriftStore
from slo_service.core.drift.monitor import (
    ColumnSpec,
    CurrentData,
    CurrentKind,
    DriftMonitor,
    DriftRun,
    ReferenceData,
    ReferenceKind,
    RunStatus,
)
from slo_service.core.drift.ports import StoredBatch
from slo_service.core.drift.quality import ColumnQuality
from slo_service.core.drift.sli import run_passes
from slo_service.core.model import Comparison, DriftCheck, DriftSLI
from slo_service.pipeline.drift import BadBatch, DriftService, data_quality_findings
from slo_service.pipeline.drift_batches import check_batch
from tests.unit.test_drift_pipeline import ScriptedWorker

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
COLUMNS = ColumnSpec(numerical=("x", "y"), categorical=("c",), id="id", prediction="pred")


def frame(n: int, at: datetime, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "ts": [at] * n,
            "x": rng.normal(0, 1, n),
            "y": rng.normal(5, 1, n),
            "c": rng.choice(["a", "b"], n),
            "id": [f"r{seed}-{i}" for i in range(n)],
            "pred": rng.integers(0, 2, n),
        }
    )


def world(tmp: Path, timestamp_column: str | None) -> tuple[DriftService, InMemoryDriftStore, DriftMonitor]:
    frame(300, NOW - timedelta(days=30), 1).to_parquet(tmp / "train.parquet")
    store = InMemoryDriftStore()
    writer = BatchWriter(tmp / "batches")
    monitor = DriftMonitor(
        name="pushed",
        current=CurrentData(kind=CurrentKind.PUSH, timestamp_column=timestamp_column),
        reference=ReferenceData(kind=ReferenceKind.FIXED, path=str(tmp / "train.parquet"), version="v1"),
        columns=COLUMNS,
        window=timedelta(hours=1),
        sample_rows=500,
        report_retention=timedelta(days=7),
    )

    def reader(name: str, source: CurrentData, labels: bool) -> Any:
        return PushReader(store, name, labels=labels) if source.kind is CurrentKind.PUSH else FileReader()

    def write(m: DriftMonitor, df: Any, at: datetime) -> StoredBatch:
        return writer.write(m.name, df.to_parquet(index=False), at)

    svc = DriftService(store, reader, ScriptedWorker(), lambda: NOW, monitors={"pushed": monitor}, write_batch=write)
    return svc, store, monitor


@pytest.mark.parametrize("timestamp_column", [None, "ts"])
def test_a_batch_pushed_at_the_runs_own_instant_counts(tmp_path: Path, timestamp_column: str | None) -> None:
    svc, _, monitor = world(tmp_path, timestamp_column)
    # received at NOW, rows stamped NOW and one minute ahead (a client clock ahead of ours)
    svc.ingest_batch(monitor, pd.concat([frame(50, NOW, 2), frame(10, NOW + timedelta(minutes=1), 3)]))
    run = svc.run_monitor(monitor)
    assert run.status is RunStatus.OK, run.reason
    assert run.rows_current == 60


def test_the_schema_check_keeps_only_the_monitors_columns_and_one_type_per_column(tmp_path: Path) -> None:
    svc, store, monitor = world(tmp_path, "ts")
    batch = frame(3, NOW, 4).assign(extra=[{"a": 1}, [1], "x"], c=["a", 1, 2.0], x=[1, None, 2.5])
    checked = check_batch(monitor, batch, None)
    assert list(checked.frame.columns) == ["x", "y", "c", "pred", "id", "ts"]  # extra (a mixed column) dropped
    assert checked.frame["c"].tolist() == ["a", "1", "2"]  # categories as strings, 2.0 and 2 are one
    assert checked.frame["x"].dtype == np.float64 and math.isnan(checked.frame["x"][1])
    with pytest.raises(BadBatch, match=r"^records\[2\]\.y: expected a number \(numerical column\), got string 'n'"):
        svc.ingest_batch(monitor, frame(3, NOW, 5).assign(y=[1.0, 2.0, "n"]))
    assert store.batches("pushed", None, None, kind=None) == []  # nothing stored


def test_a_missing_share_jump_is_a_finding_and_a_small_one_is_not() -> None:
    def q(name: str, missing: float, reference: float) -> ColumnQuality:
        return ColumnQuality(name, 100, missing, reference, 0, 0.0, (), 0.0)

    quality = {"a": q("a", 0.7, 0.1), "b": q("b", 0.3, 0.0), "c": q("c", 1.0, 0.0)}
    assert data_quality_findings(quality, 0.5) == [
        "column 'a' is 70% missing (reference 10%), more than 50% above the reference",
        "column 'c' is entirely empty (100 rows)",
    ]
    assert data_quality_findings(quality, 0.2)[1].startswith("column 'b' is 30% missing")


def test_a_nan_quality_metric_is_no_data_and_findings_are_bad_for_quality_and_run() -> None:
    sli = DriftSLI(source="m", check=DriftCheck.QUALITY, metric="accuracy", op=Comparison.GE, value=0.9)
    run = DriftRun("m", NOW, NOW, RunStatus.OK, quality={"accuracy": math.nan, "labelled_rows": 0.0})
    assert run_passes(sli, run) is None
    assert run_passes(sli, DriftRun("m", NOW, NOW, RunStatus.OK, quality={"labelled_rows": 0.0})) is None
    broken = DriftRun("m", NOW, NOW, RunStatus.OK, quality={"accuracy": 0.95}, data_quality=("column 'c' ...",))
    assert run_passes(sli, broken) is False
    assert run_passes(DriftSLI(source="m", check=DriftCheck.RUN), broken) is False
    assert run_passes(DriftSLI(source="m", check=DriftCheck.DATASET), broken) is None  # no verdict in it


def test_reports_older_than_the_monitors_retention_are_deleted(tmp_path: Path) -> None:
    svc, store, _ = world(tmp_path, "ts")
    paths = []
    for days in (10, 1):
        path = tmp_path / f"report-{days}.html"
        path.write_text("<html></html>")
        paths.append(path)
        store.save_run(DriftRun("pushed", NOW - timedelta(days=days), NOW, RunStatus.OK, report_path=str(path)))
    assert svc.prune_reports(NOW) == [str(paths[0])]
    assert not paths[0].exists() and paths[1].exists()
    kept = [store.run(i) for i in (1, 2)]
    assert [r.report_path if r else "gone" for r in kept] == [None, str(paths[1])]  # the old run stays, reportless
