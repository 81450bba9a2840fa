"""The drift API over create_app with a DriftService on the REAL Evidently worker (a spawned process):
on-demand runs (one shifted column drifts), run history, HTML reports, pushed batches (JSON and Parquet),
the drift metrics on /metrics, 404 / 409 / 422, and the API answering while a run is in progress."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry

from slo_service.adapters.drift.worker import DriftWorkerPool
from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.adapters.memory_drift import InMemoryDriftStore
from slo_service.core.clock import ManualClock
from slo_service.core.drift.monitor import (
    ColumnSpec,
    CurrentData,
    CurrentKind,
    DriftMonitor,
    ReferenceData,
    ReferenceKind,
)
from slo_service.core.drift.ports import StoredBatch
from slo_service.core.model import Config
from slo_service.drift_wiring import pool_submit
from slo_service.exporter.drift import DriftCollector
from slo_service.pipeline.drift import DriftJobSpec, DriftOutcomeLike, DriftService
from tests.support.auth import admin_client, make_app
from tests.unit.test_pipeline import START, FakeTarget, make_runtime

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
N = 2_000
COLUMNS = ColumnSpec(numerical=("x", "y"), categorical=("c",))

pytestmark = pytest.mark.timeout(300)


# --- wiring (what wiring.py does for the real service) ------------------------------------------------------


class ParquetReader:
    """A small FrameReader over Parquet files, windowed on the source's timestamp column."""

    def chunks(
        self, source: CurrentData, start: datetime | None, end: datetime | None, columns: Sequence[str]
    ) -> Iterator[Any]:
        df = pd.read_parquet(str(source.path))
        ts = source.timestamp_column
        if ts and ts in df.columns:
            if start is not None:
                df = df[df[ts] >= start]
            if end is not None:
                df = df[df[ts] < end]
        df = df[[c for c in columns if c in df.columns]]
        for i in range(0, max(len(df), 1), 500):
            yield df.iloc[i : i + 500]


def frame(seed: int, start: datetime, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "ts": pd.date_range(start, periods=N, freq="30s", tz="UTC"),
            "x": rng.normal(10.0 + shift, 2.0, N),
            "y": rng.normal(0.0, 1.0, N),
            "c": rng.choice(["a", "b", "c"], N, p=[0.5, 0.3, 0.2]),
        }
    )


@pytest.fixture(scope="module")
def pool() -> Iterator[DriftWorkerPool]:
    with DriftWorkerPool() as p:
        yield p


class World:
    def __init__(self, tmp: Path, pool: DriftWorkerPool) -> None:
        frame(1, NOW - timedelta(days=30)).to_parquet(tmp / "train.parquet")
        frame(2, NOW - timedelta(hours=20), shift=4.0).to_parquet(tmp / "current.parquet")
        fixed = ReferenceData(kind=ReferenceKind.FIXED, path=str(tmp / "train.parquet"), version="v1")
        files = CurrentData(kind=CurrentKind.FILES, path=str(tmp / "current.parquet"), timestamp_column="ts")
        self.monitors = {
            "files": DriftMonitor(name="files", current=files, reference=fixed, columns=COLUMNS, sample_rows=1_500),
            "pushed": DriftMonitor(
                name="pushed",
                current=CurrentData(kind=CurrentKind.PUSH, timestamp_column="ts"),
                reference=fixed,
                columns=COLUMNS,
            ),
            "broken": DriftMonitor(
                name="broken",
                current=files,
                reference=ReferenceData(kind=ReferenceKind.FIXED, path=str(tmp / "gone.parquet")),
                columns=COLUMNS,
            ),
        }
        self.tmp = tmp
        self.store = InMemoryDriftStore()
        self.gate: threading.Event | None = None
        self.in_run = threading.Event()
        real = pool_submit(pool)

        def submit(spec: DriftJobSpec, timeout_s: float) -> DriftOutcomeLike:
            self.in_run.set()
            if self.gate is not None:
                assert self.gate.wait(60)
            return real(spec, timeout_s)

        self.drift = DriftService(
            self.store,
            ParquetReader(),
            submit,
            clock_now=lambda: NOW,
            report_dir=tmp / "reports",
            monitors=lambda: self.monitors,
            write_batch=self.write_batch,
        )
        runtime = make_runtime(Config({}, {}, ()), InMemoryHistoryStore(), ManualClock(START), FakeTarget())
        registry = CollectorRegistry()
        registry.register(DriftCollector(self.drift))
        self.client = admin_client(make_app(runtime, registry, drift=self.drift))

    def write_batch(self, monitor: DriftMonitor, df: Any, at: datetime) -> StoredBatch:
        path = self.tmp / "batches" / monitor.name / f"{len(self.store.batches(monitor.name, None, None))}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(path)
        return StoredBatch(monitor=monitor.name, received_at=at, rows=len(df), path=str(path))


@pytest.fixture
def world(tmp_path: Path, pool: DriftWorkerPool) -> World:
    return World(tmp_path, pool)


def test_run_list_get_report_and_metrics(world: World) -> None:
    c = world.client
    listed = c.get("/api/v1/monitors").json()
    assert [m["name"] for m in listed] == ["broken", "files", "pushed"]
    assert listed[1]["last_run"] is None and listed[1]["reference"]["version"] == "v1"

    r = c.post("/api/v1/monitors/files/run")
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["status"] == "ok", run["reason"]
    by = {col["column"]: col for col in run["columns"]}
    assert by["x"]["drifted"] is True and by["y"]["drifted"] is False and by["c"]["drifted"] is False
    assert run["drifted_columns"] == ["x"]
    assert run["drifted_share"] == pytest.approx(1 / 3) and run["dataset_drifted"] is False
    assert (
        by["x"]["out_of_range_share"] > 0.01 and by["y"]["out_of_range_share"] < 0.01 and by["c"]["new_categories"] == 0
    )
    assert run["rows_current"] == N and run["sample_rows_current"] == 1_500 and run["rows_reference"] == N
    assert run["has_report"] is True

    assert c.get(f"/api/v1/drift/runs/{run['id']}").json() == run
    report = c.get(f"/api/v1/drift/runs/{run['id']}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "<html" in report.text.lower()

    failed = c.post("/api/v1/monitors/broken/run").json()
    assert failed["status"] == "failed" and "gone.parquet" in failed["reason"]
    assert c.get(f"/api/v1/drift/runs/{failed['id']}/report").status_code == 404

    runs = c.get("/api/v1/drift/runs").json()
    assert {x["id"] for x in runs} == {failed["id"], run["id"]}  # both started at the same (manual) time
    assert "columns" not in runs[0]
    assert [x["id"] for x in c.get("/api/v1/drift/runs", params={"status": "failed"}).json()] == [failed["id"]]
    assert [x["id"] for x in c.get("/api/v1/drift/runs", params={"monitor": "files"}).json()] == [run["id"]]
    assert c.get("/api/v1/drift/runs", params={"drifted": "true"}).json() == []
    assert len(c.get("/api/v1/drift/runs", params={"since": NOW.isoformat(), "limit": 1}).json()) == 1
    assert c.get("/api/v1/drift/runs", params={"since": "yesterday"}).status_code == 422
    assert c.get("/api/v1/drift/runs", params={"status": "maybe"}).status_code == 422

    last = {m["name"]: m["last_run"] for m in c.get("/api/v1/monitors").json()}
    assert last["files"]["id"] == run["id"] and last["broken"]["status"] == "failed"

    metrics = c.get("/metrics").text
    assert 'slo_drift_share{monitor="files"} 0.333' in metrics
    assert 'slo_drift_detected{monitor="files"} 0.0' in metrics
    # the method label is what the worker reports (Evidently's display name)
    assert f'slo_feature_drift_score{{feature="x",method="{by["x"]["method"]}",monitor="files"}}' in metrics
    assert 'slo_data_missing_ratio{feature="y",monitor="files"} 0.0' in metrics
    assert 'slo_drift_run_failed_total{monitor="broken"} 1.0' in metrics


def test_api_answers_while_a_run_is_in_progress(world: World) -> None:
    world.gate = threading.Event()
    result: dict[str, Any] = {}

    def run() -> None:
        result["run"] = world.client.post("/api/v1/monitors/files/run").json()

    t = threading.Thread(target=run)
    t.start()
    try:
        assert world.in_run.wait(30)
        assert world.client.get("/healthz").status_code == 200
        assert world.client.get("/api/v1/monitors").status_code == 200
        assert world.client.get("/api/v1/drift/runs").json() == []
    finally:
        world.gate.set()
        t.join(120)
    assert result["run"]["status"] == "ok"


def test_push_batches_json_and_parquet(world: World) -> None:
    c = world.client
    records: list[dict[str, Any]] = [
        {"ts": "2026-11-28T11:00:00Z", "x": 1.5, "y": 0.1, "c": "a"},
        {"ts": "2026-11-28T11:00:01+00:00", "x": None, "y": 2, "c": "b"},
    ]
    r = c.post("/api/v1/monitors/pushed/batches", json={"records": records})
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 2 and r.json()["monitor"] == "pushed"

    buf = io.BytesIO()
    frame(5, NOW - timedelta(hours=1)).iloc[:100].to_parquet(buf)
    for ctype in ("application/vnd.apache.parquet", "application/octet-stream"):
        r = c.post("/api/v1/monitors/pushed/batches", content=buf.getvalue(), headers={"content-type": ctype})
        assert r.status_code == 201, r.text
        assert r.json()["rows"] == 100
    batches = world.store.batches("pushed", None, None)
    assert [b.rows for b in batches] == [2, 100, 100]
    stored = pd.read_parquet(batches[0].path)
    assert str(stored["ts"].dtype).startswith("datetime64") and list(stored["c"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"rows": []}, "records: required"),
        ({"records": {"x": 1}}, "records: must be a list"),
        ({"records": [{"x": 1}, 3]}, "records[1]: must be an object"),
        ({"records": []}, "records: the batch has no rows"),
        ({"records": [{"ts": "2026-11-28T11:00:00Z", "x": 1, "y": 2}]}, "records[0].c: missing; expected a string"),
        ({"records": [{"ts": "noon", "x": 1, "y": 2, "c": "a"}]}, "records[].ts: not an RFC 3339 timestamp"),
    ],
)
def test_bad_batches_are_422_naming_the_field(world: World, body: dict[str, Any], problem: str) -> None:
    r = world.client.post("/api/v1/monitors/pushed/batches", json=body)
    assert r.status_code == 422, r.text
    assert problem in r.json()["message"]


def test_bad_bodies_unknown_and_non_push_monitors(world: World) -> None:
    c = world.client
    r = c.post("/api/v1/monitors/pushed/batches", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "body: not valid JSON" in r.json()["message"]
    r = c.post(
        "/api/v1/monitors/pushed/batches", content=b"PAR1garbage", headers={"content-type": "application/octet-stream"}
    )
    assert r.status_code == 422 and "Parquet" in r.json()["message"]
    r = c.post("/api/v1/monitors/pushed/batches", content=b"x,y", headers={"content-type": "text/csv"})
    assert r.status_code == 415
    assert c.post("/api/v1/monitors/nope/batches", json={"records": [{}]}).status_code == 404
    r = c.post("/api/v1/monitors/files/batches", json={"records": [{"x": 1}]})
    assert r.status_code == 409 and "files" in r.json()["message"]
    assert c.post("/api/v1/monitors/nope/run").status_code == 404
    assert c.get("/api/v1/drift/runs/999").status_code == 404
    assert c.get("/api/v1/drift/runs/999/report").status_code == 404
    assert world.store.batches("pushed", None, None) == []


def test_without_drift_the_routes_say_so() -> None:
    runtime = make_runtime(Config({}, {}, ()), InMemoryHistoryStore(), ManualClock(START), FakeTarget())
    client = admin_client(make_app(runtime, CollectorRegistry()))
    r = client.get("/api/v1/monitors")
    assert r.status_code == 404 and "not configured" in r.json()["message"]


def test_live_drift_from_pushed_batches_without_rereading_rows(world: World) -> None:
    from slo_service.core.drift.profile import ColumnKind, build_profile
    from slo_service.pipeline.drift_live import LiveDrift

    world.drift.live = LiveDrift(world.store, lambda: NOW)
    c = world.client
    assert c.get("/api/v1/monitors/pushed/live").status_code == 404  # no reference profile yet
    train = pd.read_parquet(world.tmp / "train.parquet")
    kinds = {"x": ColumnKind.NUMERICAL, "y": ColumnKind.NUMERICAL, "c": ColumnKind.CATEGORICAL}
    profile = build_profile({k: train[k].to_numpy() for k in kinds}, kinds, "v1")
    world.store.save_profile("pushed", "v1", {"json": profile.to_json()})  # what the first run stores

    buf = io.BytesIO()
    frame(7, NOW - timedelta(minutes=30), shift=4.0).to_parquet(buf)
    r = c.post(
        "/api/v1/monitors/pushed/batches", content=buf.getvalue(), headers={"content-type": "application/octet-stream"}
    )
    assert r.status_code == 201, r.text
    live = c.get("/api/v1/monitors/pushed/live").json()
    assert live["rows"] == N
    drifted = {col["column"]: col["drifted"] for col in live["columns"]}
    assert drifted == {"x": True, "y": False, "c": False}
    metrics = c.get("/metrics").text
    assert 'slo_drift_live_share{monitor="pushed"}' in metrics
    assert 'slo_feature_drift_live_score{feature="x"' in metrics
