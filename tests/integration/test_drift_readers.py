"""Drift data readers: CSV / Parquet files, SQL queries (SQLite and PostgreSQL), pushed batches."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, text

from slo_service.adapters.drift.readers import BatchWriter, FileReader, PushReader, ReadError, SqlReader, to_utc
from slo_service.adapters.sql.drift_store import SqlDriftStore
from slo_service.adapters.sql.engine import make_engine
from slo_service.core.clock import ManualClock
from slo_service.core.drift.monitor import CurrentData, CurrentKind
from slo_service.core.drift.ports import FrameReader

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
N = 25


def _frame(n: int = N, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(offset, offset + n),
            "age": [20.0 + i for i in range(offset, offset + n)],
            "country": [["de", "fr", "us"][i % 3] for i in range(offset, offset + n)],
            "ts": [T0 + timedelta(hours=i) for i in range(offset, offset + n)],
        }
    )


def _concat(chunks: Iterator[pd.DataFrame]) -> pd.DataFrame:
    frames = list(chunks)
    assert frames, "a reader yields at least one chunk per file"
    return pd.concat(frames, ignore_index=True)


def files(path: str, ts: str | None = "ts") -> CurrentData:
    return CurrentData(kind=CurrentKind.FILES, path=path, timestamp_column=ts)


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    p = tmp_path / "current.csv"
    df = _frame()
    df["ts"] = df["ts"].map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"))
    df.to_csv(p, index=False)
    return p


@pytest.fixture
def parquet_path(tmp_path: Path) -> Path:
    p = tmp_path / "current.parquet"
    pq.write_table(pa.Table.from_pandas(_frame(offset=N), preserve_index=False), p, row_group_size=7)
    return p


# ---- files


def test_csv_chunks_only_requested_columns(csv_path: Path) -> None:
    reader: FrameReader = FileReader(chunk_rows=10)
    chunks = list(reader.chunks(files(str(csv_path), None), None, None, ["country", "age"]))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert all(list(c.columns) == ["country", "age"] for c in chunks)
    df = pd.concat(chunks, ignore_index=True)
    assert df["age"].tolist() == [20.0 + i for i in range(N)]


def test_csv_window_on_timestamp_column(csv_path: Path) -> None:
    reader = FileReader(chunk_rows=4)
    start, end = T0 + timedelta(hours=3), T0 + timedelta(hours=10)
    df = _concat(reader.chunks(files(str(csv_path)), start, end, ["id"]))
    assert df["id"].tolist() == list(range(3, 10))  # [start, end)
    assert list(df.columns) == ["id"]  # the timestamp column is read to filter, not returned
    only_start = _concat(reader.chunks(files(str(csv_path)), T0 + timedelta(hours=20), None, ["id", "ts"]))
    assert only_start["id"].tolist() == list(range(20, N))
    assert list(only_start.columns) == ["id", "ts"]


def test_parquet_batches_columns_and_window(parquet_path: Path) -> None:
    reader = FileReader(chunk_rows=10)
    chunks = list(reader.chunks(files(str(parquet_path), None), None, None, ["age"]))
    assert sum(len(c) for c in chunks) == N
    assert all(len(c) <= 10 and list(c.columns) == ["age"] for c in chunks)
    start = T0 + timedelta(hours=N + 5)
    df = _concat(reader.chunks(files(str(parquet_path)), start, start + timedelta(hours=3), ["id", "country"]))
    assert df["id"].tolist() == [N + 5, N + 6, N + 7]
    assert list(df.columns) == ["id", "country"]


def test_no_columns_means_all_columns(parquet_path: Path) -> None:
    df = _concat(FileReader().chunks(files(str(parquet_path), None), None, None, []))
    assert list(df.columns) == ["id", "age", "country", "ts"]
    assert len(df) == N


def test_glob_and_directory_read_csv_and_parquet_in_order(csv_path: Path, parquet_path: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not data: skipped in a directory or a glob")
    (tmp_path / "_SUCCESS").write_text("")
    reader = FileReader(chunk_rows=100)
    by_glob = _concat(reader.chunks(files(str(tmp_path / "current.*")), None, None, ["id"]))
    assert by_glob["id"].tolist() == list(range(2 * N))  # current.csv, then current.parquet
    by_dir = _concat(reader.chunks(files(str(tmp_path)), None, None, ["id"]))
    assert by_dir["id"].tolist() == list(range(2 * N))
    windowed = _concat(reader.chunks(files(str(tmp_path / "*")), T0 + timedelta(hours=N - 2), None, ["id"]))
    assert windowed["id"].tolist() == list(range(N - 2, 2 * N))


def test_timestamp_forms(tmp_path: Path) -> None:
    p = tmp_path / "ts.csv"
    p.write_text(
        "id,ts\n"
        "1,2026-03-01 00:30:00\n"  # naive: UTC
        "2,2026-03-01T02:30:00+02:00\n"  # 00:30 UTC
        "3,2026-03-01T01:30:00Z\n"
        "4,not a time\n"
        "5,\n"
    )
    df = _concat(FileReader().chunks(files(str(p)), T0, T0 + timedelta(hours=1), ["id"]))
    assert df["id"].tolist() == [1, 2]
    epoch = pd.Series([T0.timestamp(), None])
    assert to_utc(epoch).tolist()[0] == pd.Timestamp(T0)
    naive = pd.Series(pd.to_datetime(["2026-03-01 00:00:00"]))
    assert to_utc(naive).tolist() == [pd.Timestamp(T0)]


def test_file_errors_name_the_file_and_column(csv_path: Path, parquet_path: Path, tmp_path: Path) -> None:
    reader = FileReader()

    def read(path: str, cols: list[str], ts: str | None = None) -> None:
        list(reader.chunks(files(path, ts), None, None, cols))

    with pytest.raises(ReadError, match=r"file not found: .*nope\.csv"):
        read(str(tmp_path / "nope.csv"), ["id"])
    # a glob that matches nothing yet is an empty source (the pipeline reports an empty window)
    assert list(reader.chunks(files(str(tmp_path / "*.nothing"), None), None, None, ["id"])) == []
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ReadError, match="no CSV or Parquet files match"):
        read(str(tmp_path / "*.txt"), ["id"])
    with pytest.raises(ReadError, match=r"current.csv: missing columns 'salary', 'bonus'"):
        read(str(csv_path), ["id", "salary", "bonus"])
    with pytest.raises(ReadError, match=r"current.parquet: missing column 'when'"):
        read(str(parquet_path), ["id"], ts="when")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.raises(ReadError, match=r"bad.parquet: cannot read Parquet"):
        read(str(bad), ["id"])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ReadError, match=r"empty.csv: empty file"):
        read(str(empty), ["id"])
    odd = tmp_path / "data.json"
    odd.write_text("{}")
    with pytest.raises(ReadError, match=r"data.json: unsupported file type"):
        read(str(odd), ["id"])
    ragged = tmp_path / "ragged.csv"
    ragged.write_text('a,b\n1,2\n"3,4\n')  # an unterminated quote
    with pytest.raises(ReadError, match=r"ragged.csv: cannot read CSV"):
        read(str(ragged), ["a"])
    with pytest.raises(ReadError, match="no path"):
        list(reader.chunks(CurrentData(kind=CurrentKind.FILES), None, None, ["a"]))


def test_header_only_csv_yields_no_rows(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("id,ts\n")
    assert sum(len(c) for c in FileReader().chunks(files(str(p)), T0, None, ["id"])) == 0


def test_naive_bounds_are_refused(csv_path: Path) -> None:
    with pytest.raises(ValueError, match="naive"):
        list(FileReader().chunks(files(str(csv_path)), datetime(2026, 3, 1), None, ["id"]))


# ---- SQL (SQLite and PostgreSQL)


@pytest.fixture
def sql_source(db_url: str) -> Iterator[str]:
    """A `predictions` table with N rows, one an hour from T0, in the test database."""
    engine = make_engine(db_url)
    pg = engine.dialect.name == "postgresql"
    try:
        with engine.begin() as conn:
            ts_type = "TIMESTAMP WITH TIME ZONE" if pg else "TEXT"
            conn.execute(text(f"CREATE TABLE predictions (id INTEGER, age FLOAT, country TEXT, ts {ts_type})"))
            rows = _frame().to_dict("records")
            for r in rows:
                r["ts"] = r["ts"].to_pydatetime() if pg else r["ts"].strftime("%Y-%m-%d %H:%M:%S")
            conn.execute(text("INSERT INTO predictions VALUES (:id, :age, :country, :ts)"), rows)
    finally:
        engine.dispose()
    yield db_url


def sql(url: str, query: str, ts: str | None = None) -> CurrentData:
    return CurrentData(kind=CurrentKind.SQL, url=url, query=query, timestamp_column=ts)


def test_sql_bind_parameters_window_and_chunks(sql_source: str) -> None:
    reader = SqlReader(chunk_rows=3)
    try:
        q = "SELECT id, age, country, ts FROM predictions WHERE ts >= :start AND ts < :end ORDER BY id"
        start, end = T0 + timedelta(hours=2), T0 + timedelta(hours=9)
        chunks = list(reader.chunks(sql(sql_source, q), start, end, ["country", "id"]))
        assert [len(c) for c in chunks] == [3, 3, 1]
        assert all(list(c.columns) == ["country", "id"] for c in chunks)
        assert pd.concat(chunks)["id"].tolist() == list(range(2, 9))
        # Open bounds: everything.
        assert _concat(reader.chunks(sql(sql_source, q), None, None, ["id"]))["id"].tolist() == list(range(N))
    finally:
        reader.close()


def test_sql_without_binds_is_windowed_on_the_timestamp_column(sql_source: str) -> None:
    reader = SqlReader()
    try:
        src = sql(sql_source, "SELECT * FROM predictions ORDER BY id", ts="ts")
        df = _concat(reader.chunks(src, T0 + timedelta(hours=20), T0 + timedelta(hours=22), ["id", "age"]))
        assert df["id"].tolist() == [20, 21]
        assert df["age"].tolist() == [40.0, 41.0]
        empty = list(reader.chunks(src, T0 + timedelta(days=30), None, ["id"]))
        assert sum(len(c) for c in empty) == 0
    finally:
        reader.close()


def test_sql_errors(sql_source: str) -> None:
    reader = SqlReader()
    try:
        with pytest.raises(ReadError, match=r"SQL query 'SELECT nope FROM missing_table' failed"):
            list(reader.chunks(sql(sql_source, "SELECT nope FROM missing_table"), None, None, ["nope"]))
        with pytest.raises(ReadError, match=r"missing column 'salary'"):
            list(reader.chunks(sql(sql_source, "SELECT id FROM predictions"), None, None, ["id", "salary"]))
        with pytest.raises(ReadError, match="url and a query"):
            list(reader.chunks(CurrentData(kind=CurrentKind.SQL, url=sql_source), None, None, ["id"]))
    finally:
        reader.close()


def test_sql_connection_errors_do_not_leak_the_password(tmp_path: Path) -> None:
    reader = SqlReader()
    url = "postgresql+psycopg://user:s3cret-pw@127.0.0.1:1/db?connect_timeout=2"
    with pytest.raises(ReadError) as info:
        list(reader.chunks(sql(url, "SELECT 1 AS x"), None, None, ["x"]))
    assert "s3cret-pw" not in str(info.value)
    with pytest.raises(ReadError, match="SQLite database not found"):
        list(reader.chunks(sql(f"sqlite:///{tmp_path}/absent.db", "SELECT 1 AS x"), None, None, ["x"]))
    assert not (tmp_path / "absent.db").exists()
    reader.close()


# ---- pushed batches


def test_batch_writer_stores_records_and_parquet(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    writer = BatchWriter(tmp_path / "batches", clock=clock)
    b = writer.write("churn/model v2", [{"id": 1, "age": 30.5}, {"id": 2, "age": None, "extra": "x"}])
    assert b.rows == 2 and b.received_at == T0 and b.monitor == "churn/model v2" and b.id is None
    path = Path(b.path)
    assert path.parent == tmp_path / "batches" / "churn_model_v2"
    assert path.suffix == ".parquet"
    df = pq.read_table(path).to_pandas()
    assert df["id"].tolist() == [1, 2] and df["extra"].tolist()[1] == "x"

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(_frame(5), preserve_index=False), sink)
    b2 = writer.write("churn/model v2", sink.getvalue(), received_at=T0 + timedelta(minutes=1))
    assert b2.rows == 5 and b2.path != b.path
    assert pq.read_table(b2.path).num_rows == 5
    assert not list((tmp_path / "batches").rglob("*.tmp"))


def test_batch_writer_rejects_bad_input(tmp_path: Path) -> None:
    writer = BatchWriter(tmp_path)
    with pytest.raises(ReadError, match="not a readable Parquet"):
        writer.write("m", b"PAR1garbage")
    with pytest.raises(ReadError, match="empty"):
        writer.write("m", [])
    with pytest.raises(ReadError, match="JSON objects"):
        writer.write("m", [1, 2])  # type: ignore[list-item]
    with pytest.raises(ReadError, match="directory name"):
        writer.write("..", [{"a": 1}])
    with pytest.raises(ValueError, match="naive"):
        writer.write("m", [{"a": 1}], received_at=datetime(2026, 1, 1))


def _push(writer: BatchWriter, store: SqlDriftStore, minutes: int, offset: int, n: int = 3) -> None:
    frame = _frame(n, offset)
    frame["ts"] = frame["ts"].map(lambda t: t.isoformat())
    batch = writer.write("churn", frame.to_dict("records"), received_at=T0 + timedelta(minutes=minutes))
    store.save_batch(batch)


def test_push_reader_windows_on_received_at(db_engine: Engine, tmp_path: Path) -> None:
    store = SqlDriftStore(db_engine)
    writer = BatchWriter(tmp_path)
    for k in range(4):  # received at T0 + 0, 10, 20, 30 minutes
        _push(writer, store, 10 * k, 3 * k)
    _push(BatchWriter(tmp_path), store, 5, 100)  # same monitor, between the others
    reader: FrameReader = PushReader(store, "churn", chunk_rows=2)
    src = CurrentData(kind=CurrentKind.PUSH)
    chunks = list(reader.chunks(src, T0 + timedelta(minutes=10), T0 + timedelta(minutes=30), ["id"]))
    assert all(len(c) <= 2 for c in chunks)
    assert pd.concat(chunks)["id"].tolist() == [3, 4, 5, 6, 7, 8]
    everything = _concat(reader.chunks(src, None, None, ["id", "age"]))
    assert len(everything) == 15
    assert list(everything.columns) == ["id", "age"]
    assert list(PushReader(store, "other").chunks(src, None, None, ["id"])) == []


def test_push_reader_windows_on_the_timestamp_column(db_engine: Engine, tmp_path: Path) -> None:
    store = SqlDriftStore(db_engine)
    writer = BatchWriter(tmp_path)
    # Row i is stamped T0 + i hours; batches are received at T0 + 6 h (rows 0-5) and T0 + 12 h (rows 6-11).
    for k in range(2):
        _push(writer, store, 60 * 6 * (k + 1), 6 * k, n=6)
    src = CurrentData(kind=CurrentKind.PUSH, timestamp_column="ts")
    reader = PushReader(store, "churn")
    df = _concat(reader.chunks(src, T0 + timedelta(hours=4), T0 + timedelta(hours=8), ["id"]))
    assert df["id"].tolist() == [4, 5, 6, 7]


def test_push_reader_errors(db_engine: Engine, tmp_path: Path) -> None:
    store = SqlDriftStore(db_engine)
    writer = BatchWriter(tmp_path)
    _push(writer, store, 0, 0)
    reader = PushReader(store, "churn")
    with pytest.raises(ReadError, match="missing column 'salary'"):
        list(reader.chunks(CurrentData(kind=CurrentKind.PUSH), None, None, ["salary"]))
    with pytest.raises(ReadError, match="not a 'files' source"):
        list(reader.chunks(CurrentData(kind=CurrentKind.FILES, path="x"), None, None, ["id"]))
    (path,) = [b.path for b in store.batches("churn", None, None)]
    Path(path).unlink()
    with pytest.raises(ReadError, match=r"batch file of 'churn' .* is missing"):
        list(reader.chunks(CurrentData(kind=CurrentKind.PUSH), None, None, ["id"]))


def _save(writer: BatchWriter, store: SqlDriftStore, frame: pd.DataFrame, minutes: int, kind: str = "rows") -> int:
    """A batch as the service stores it on PostgreSQL: its file, and its bytes with its record."""
    data = frame.to_parquet(index=False)
    batch = writer.write("churn", data, received_at=T0 + timedelta(minutes=minutes))
    return store.save_batch(replace(batch, kind=kind, content=data))


@pytest.mark.parametrize("where", ["file", "database"])
def test_push_reader_labels_and_deleted_batches_alike_from_the_file_or_the_database(
    db_engine: Engine, tmp_path: Path, where: str
) -> None:
    """`database`: the files are on another replica's disk, so only the stored bytes can be read."""
    store = SqlDriftStore(db_engine)
    writer = BatchWriter(tmp_path / "batches")
    preds = _save(writer, store, pd.DataFrame({"id": [1, 2, 3], "pred": [0, 1, 1]}), 0)
    with_labels = _save(writer, store, pd.DataFrame({"id": [4, 5], "pred": [1, 0], "y": [1, 1]}), 1)
    _save(writer, store, pd.DataFrame({"id": [1, 2], "y": [0, 1]}), 2, kind="labels")
    late = _save(writer, store, pd.DataFrame({"id": [3], "y": [1]}), 3, kind="labels")
    listed = store.batches("churn", None, None, kind=None)
    assert [b.kind for b in listed] == ["rows", "rows", "labels", "labels"]
    assert all(b.content is None for b in listed)  # listing does not load the bytes
    if where == "database":
        for b in listed:
            Path(b.path).unlink()
    src = CurrentData(kind=CurrentKind.PUSH)

    def read(labels: bool) -> dict[str, list[int]]:
        columns = ["id", "y"] if labels else ["id", "pred"]
        frame = _concat(PushReader(store, "churn", labels=labels).chunks(src, None, None, columns))
        return {c: [int(v) for v in frame[c]] for c in frame.columns}

    # labels: the labels batches and the rows batch carrying `y`; the predictions without `y` are skipped
    assert read(True) == {"id": [4, 5, 1, 2, 3], "y": [1, 1, 0, 1, 1]}
    assert read(False) == {"id": [1, 2, 3, 4, 5], "pred": [0, 1, 1, 1, 0]}  # labels batches are no current data

    gone = store.delete_batch("churn", late)
    assert gone is not None and gone.kind == "labels" and gone.content is None
    assert store.batch_content(late) is None  # its bytes went with it
    assert store.delete_batch("churn", late) is None
    assert store.delete_batch("other", preds) is None  # another monitor's id: kept
    assert read(True) == {"id": [4, 5, 1, 2], "y": [1, 1, 0, 1]}
    assert store.delete_batch("churn", preds) is not None
    assert read(False) == {"id": [4, 5], "pred": [1, 0]}
    kept = store.batch_content(with_labels)
    assert kept is not None and pq.read_table(pa.BufferReader(kept)).column("id").to_pylist() == [4, 5]
