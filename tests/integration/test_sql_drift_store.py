"""SqlDriftStore (migration 0003) on SQLite and PostgreSQL: runs, columns, profiles, batches, retention."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, delete, func, inspect, select

from slo_service.adapters.sql import migrate
from slo_service.adapters.sql.drift_models import DriftColumnRow, DriftRunRow
from slo_service.adapters.sql.drift_store import SqlDriftStore
from slo_service.adapters.sql.engine import make_engine
from slo_service.core.clock import ManualClock
from slo_service.core.drift.monitor import ColumnRun, DriftRun, RunStatus, SegmentRun
from slo_service.core.drift.ports import DriftStore, RunQuery, StoredBatch
from tests.integration.test_sql_migrations import HEAD_REVISION

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(db_engine: Engine, clock: ManualClock) -> SqlDriftStore:
    return SqlDriftStore(db_engine, clock=clock)


def _run(
    monitor: str = "churn",
    at: datetime = T0,
    *,
    status: RunStatus = RunStatus.OK,
    drifted: bool | None = False,
    columns: tuple[ColumnRun, ...] = (),
    report: str | None = None,
) -> DriftRun:
    return DriftRun(
        monitor=monitor,
        started_at=at,
        finished_at=at + timedelta(seconds=2.5),
        status=status,
        reason=None if status is RunStatus.OK else "reference file missing",
        reference_version="v1",
        rows_reference=1000,
        rows_current=500,
        sample_rows_reference=1000,
        sample_rows_current=500,
        drifted_share=0.5 if drifted else 0.0,
        dataset_drifted=drifted,
        columns=columns,
        quality={"accuracy": 0.9},
        schema_problems=(),
        report_path=report,
    )


COLUMNS = (
    ColumnRun("age", "numerical", "wasserstein", 0.21, 0.1, True, missing_share=0.01, out_of_range_share=0.05),
    ColumnRun("country", "categorical", "jensenshannon", 0.02, 0.1, False, missing_share=0.0, new_categories=2),
    ColumnRun("empty", "numerical", None, None, None, None, note="all values empty: skipped"),
)


def test_is_a_drift_store(store: SqlDriftStore) -> None:
    port: DriftStore = store
    assert port.runs(RunQuery()) == []
    assert port.latest_runs() == []
    assert port.run(1) is None


def test_run_round_trip_with_columns(store: SqlDriftStore) -> None:
    run = _run(columns=COLUMNS, drifted=True, report="/reports/churn/1.html")
    run = DriftRun(**{**run.__dict__, "quality": {"accuracy": 0.9, "f1": 0.75}, "schema_problems": ("new: x",)})
    run_id = store.save_run(run)
    got = store.run(run_id)
    assert got is not None
    assert got.id == run_id
    assert got.columns == tuple(sorted(COLUMNS, key=lambda c: c.column))
    expected = DriftRun(**{**run.__dict__, "id": run_id, "columns": got.columns})
    assert got == expected
    assert got.started_at.tzinfo is not None and got.started_at.utcoffset() == timedelta(0)
    assert got.duration_seconds == 2.5
    # Lists are summaries: no columns.
    (summary,) = store.runs(RunQuery())
    assert summary.columns == ()
    assert summary == DriftRun(**{**expected.__dict__, "columns": ()})


def test_segments_and_estimated_quality_round_trip(store: SqlDriftStore) -> None:
    west = SegmentRun(
        segment="west",
        rows_reference=900,
        rows_current=800,
        drifted_share=1 / 3,
        dataset_drifted=True,
        columns=(
            ColumnRun("age", "numerical", "wasserstein", 0.9, 0.1, True, missing_share=0.0, out_of_range_share=0.2),
        ),
        quality={"estimated_accuracy": 0.81, "estimated_precision": math.nan},
        data_quality=("column 'x' is entirely empty (800 rows)",),
    )
    other = SegmentRun("__other__", 0, 10, None, None, note="no reference rows in this segment")
    run = DriftRun(**{**_run().__dict__, "segments": (west, other), "quality": {"estimated_accuracy": 0.8}})
    got = store.run(store.save_run(run))
    assert got is not None
    assert got.segments[1] == other and got.segments[0].columns == west.columns
    assert got.segments[0].quality["estimated_accuracy"] == 0.81
    assert math.isnan(got.segments[0].quality["estimated_precision"])  # stored as null
    assert got.drift_found is True and got.quality == {"estimated_accuracy": 0.8}
    assert store.run(store.save_run(_run())).segments == ()  # type: ignore[union-attr]


def test_non_utc_datetimes_come_back_utc_and_naive_is_refused(store: SqlDriftStore) -> None:
    plus2 = timezone(timedelta(hours=2))
    run_id = store.save_run(_run(at=datetime(2026, 3, 1, 14, 0, tzinfo=plus2)))
    got = store.run(run_id)
    assert got is not None and got.started_at == T0 and got.started_at.tzinfo == UTC
    with pytest.raises(ValueError, match="naive"):
        store.save_run(_run(at=datetime(2026, 3, 1, 12, 0)))
    with pytest.raises(ValueError, match="naive"):
        store.runs(RunQuery(since=datetime(2026, 3, 1)))


def test_non_finite_values_are_stored_as_null(store: SqlDriftStore, db_engine: Engine) -> None:
    cols = (ColumnRun("a", "numerical", "psi", math.inf, math.nan, True, missing_share=math.nan),)
    run = DriftRun(**{**_run(columns=cols).__dict__, "drifted_share": math.nan, "quality": {"roc_auc": math.nan}})
    run_id = store.save_run(run)
    got = store.run(run_id)
    assert got is not None
    assert got.drifted_share is None
    assert got.columns[0].score is None and got.columns[0].threshold is None
    assert got.columns[0].missing_share is None
    assert set(got.quality) == {"roc_auc"} and math.isnan(got.quality["roc_auc"])
    with db_engine.connect() as conn:
        assert conn.execute(select(DriftColumnRow.score)).scalar() is None


def test_duplicate_column_names_are_refused_and_nothing_written(store: SqlDriftStore) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        store.save_run(_run(columns=(COLUMNS[0], COLUMNS[0])))
    assert store.runs(RunQuery()) == []


def test_run_filters_and_order(store: SqlDriftStore) -> None:
    ids = {}
    for i in range(5):
        ids[("churn", i)] = store.save_run(_run("churn", T0 + timedelta(hours=i), drifted=i % 2 == 1))
    ids[("fraud", 0)] = store.save_run(_run("fraud", T0 + timedelta(hours=2), status=RunStatus.FAILED, drifted=None))

    def query(**kw: object) -> list[int | None]:
        return [r.id for r in store.runs(RunQuery(**kw))]  # type: ignore[arg-type]

    churn = [ids[("churn", i)] for i in reversed(range(5))]
    assert query(monitor="churn") == churn
    assert query() == [*churn[:2], ids[("fraud", 0)], *churn[2:]]  # newest first; same time: newest id first
    assert query(status=RunStatus.FAILED) == [ids[("fraud", 0)]]
    assert query(status=RunStatus.OK, monitor="fraud") == []
    assert query(since=T0 + timedelta(hours=3)) == churn[:2]
    assert query(monitor="churn", since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3)) == churn[2:4]
    assert query(dataset_drifted=True) == [ids[("churn", 3)], ids[("churn", 1)]]
    assert query(dataset_drifted=False) == [ids[("churn", 4)], ids[("churn", 2)], ids[("churn", 0)]]
    assert query(limit=2) == churn[:2]
    assert query(limit=0) == []
    assert query(monitor="nope") == []


def test_latest_runs_per_monitor_with_columns(store: SqlDriftStore) -> None:
    store.save_run(_run("churn", T0, columns=COLUMNS[:1]))
    newest = store.save_run(_run("churn", T0 + timedelta(hours=1), columns=COLUMNS[1:2]))
    store.save_run(_run("churn", T0 - timedelta(hours=1)))  # stored late, but older
    fraud_a = store.save_run(_run("fraud", T0))
    fraud_b = store.save_run(_run("fraud", T0, columns=COLUMNS))  # same started_at: the later id wins
    latest = store.latest_runs()
    assert [(r.monitor, r.id) for r in latest] == [("churn", newest), ("fraud", fraud_b)]
    assert latest[0].columns == COLUMNS[1:2]
    assert len(latest[1].columns) == 3
    assert fraud_a != fraud_b


def test_profiles_upsert(store: SqlDriftStore, clock: ManualClock) -> None:
    assert store.load_profile("churn", "v1") is None
    profile = {"age": {"bins": [0.0, 10.0, 20.0], "counts": [3, 4]}, "mean": math.nan, "tags": ("a", "b")}
    store.save_profile("churn", "v1", profile)
    assert store.load_profile("churn", "v1") == {
        "age": {"bins": [0.0, 10.0, 20.0], "counts": [3, 4]},
        "mean": None,
        "tags": ["a", "b"],
    }
    clock.advance(timedelta(minutes=5))
    store.save_profile("churn", "v1", {"replaced": True})
    store.save_profile("churn", "v2", {"v": 2})
    assert store.load_profile("churn", "v1") == {"replaced": True}
    assert store.load_profile("churn", "v2") == {"v": 2}
    assert store.load_profile("fraud", "v1") is None
    with pytest.raises(ValueError, match="not JSON"):
        store.save_profile("churn", "v3", {"bad": object()})
    assert store.load_profile("churn", "v3") is None


def test_batches_window_and_order(store: SqlDriftStore) -> None:
    paths = []
    for i in range(4):
        b = StoredBatch("churn", T0 + timedelta(minutes=10 * i), rows=10 + i, path=f"/data/churn/{i}.parquet")
        bid = store.save_batch(b)
        assert bid > 0
        paths.append(b.path)
    store.save_batch(StoredBatch("fraud", T0, rows=1, path="/data/fraud/0.parquet"))
    all_churn = store.batches("churn", None, None)
    assert [b.path for b in all_churn] == paths
    assert all_churn[0] == StoredBatch("churn", T0, 10, paths[0], id=all_churn[0].id)
    assert all_churn[0].received_at.tzinfo is not None
    window = store.batches("churn", T0 + timedelta(minutes=10), T0 + timedelta(minutes=30))
    assert [b.path for b in window] == paths[1:3]  # [start, end)
    assert [b.path for b in store.batches("churn", T0 + timedelta(minutes=25), None)] == paths[3:]
    assert [b.path for b in store.batches("churn", None, T0 + timedelta(minutes=5))] == paths[:1]
    with pytest.raises(ValueError):
        store.save_batch(StoredBatch("churn", T0, rows=-1, path="x"))


def test_prune_returns_files_and_cascades(store: SqlDriftStore, db_engine: Engine) -> None:
    old = store.save_run(_run("churn", T0 - timedelta(days=10), columns=COLUMNS, report="/r/old.html"))
    store.save_run(_run("churn", T0 - timedelta(days=9), columns=COLUMNS))  # old, no report
    keep = store.save_run(_run("churn", T0, columns=COLUMNS, report="/r/new.html"))
    store.save_batch(StoredBatch("churn", T0 - timedelta(days=8), 5, "/b/old.parquet"))
    store.save_batch(StoredBatch("churn", T0, 5, "/b/new.parquet"))

    removed = store.prune(T0 - timedelta(days=1))
    assert sorted(removed) == ["/b/old.parquet", "/r/old.html"]
    assert [r.id for r in store.runs(RunQuery())] == [keep]
    assert store.run(old) is None
    assert [b.path for b in store.batches("churn", None, None)] == ["/b/new.parquet"]
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DriftColumnRow)).scalar() == len(COLUMNS)
    assert store.prune(T0 - timedelta(days=1)) == []


def test_deleting_a_run_cascades_in_the_database(store: SqlDriftStore, db_engine: Engine) -> None:
    run_id = store.save_run(_run(columns=COLUMNS))
    with db_engine.begin() as conn:
        conn.execute(delete(DriftRunRow).where(DriftRunRow.id == run_id))
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DriftColumnRow)).scalar() == 0


def test_no_drift_after_upgrade_and_downgrade_to_0002_and_back(db_url: str) -> None:
    migrate.upgrade(db_url)
    assert migrate.current_revision(db_url) == HEAD_REVISION
    assert migrate.check_no_drift(db_url) == []
    engine = make_engine(db_url)
    try:
        SqlDriftStore(engine).save_run(_run(columns=COLUMNS))
    finally:
        engine.dispose()
    migrate.downgrade(db_url, "0002")
    assert migrate.current_revision(db_url) == "0002"
    engine = make_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert not tables & {"drift_runs", "drift_columns", "drift_profiles", "drift_batches", "drift_slices"}
    assert "alerts" in tables
    migrate.upgrade(db_url)
    assert migrate.current_revision(db_url) == HEAD_REVISION
    assert migrate.check_no_drift(db_url) == []
    engine = make_engine(db_url)
    try:
        assert SqlDriftStore(engine).runs(RunQuery()) == []
    finally:
        engine.dispose()


def test_slices_round_trip_window_and_prune(store: SqlDriftStore) -> None:
    start = datetime(2026, 11, 28, 10, tzinfo=UTC)
    for minute, text in ((0, '{"rows": 1}'), (1, '{"rows": 2}'), (1, '{"rows": 3}'), (5, '{"rows": 4}')):
        store.save_slice("live", "v1", start + timedelta(minutes=minute), {"x": text})
    store.save_slice("live", "v2", start, {"x": "other version"})
    store.save_slice("other", "v1", start, {"x": "other monitor"})
    window = store.load_slices("live", "v1", start + timedelta(minutes=1), start + timedelta(minutes=5))
    assert window == [
        (start + timedelta(minutes=1), {"x": '{"rows": 2}'}),
        (start + timedelta(minutes=1), {"x": '{"rows": 3}'}),
    ]
    assert all(t.tzinfo is not None for t, _ in window)
    store.prune(start + timedelta(minutes=2))
    assert store.load_slices("live", "v1", start, start + timedelta(hours=1)) == [
        (start + timedelta(minutes=5), {"x": '{"rows": 4}'})
    ]
