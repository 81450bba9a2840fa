"""Readers of drift data (the FrameReader port): files, SQL queries and pushed batches, in bounded chunks.

* `FileReader` -- a path, a glob or a directory of CSV (``.csv``, ``.tsv``, ``.csv.gz``) and Parquet (``.parquet``,
  ``.pq``) files, read chunk by chunk (pandas ``read_csv(chunksize=...)``, pyarrow ``ParquetFile.iter_batches``)
  with only the requested columns (plus the timestamp column, to filter on).
* `SqlReader` -- ``text(query)`` with ``:start`` / ``:end`` bind parameters over a SQLAlchemy URL, streamed with
  ``pandas.read_sql(chunksize=...)``.
* `BatchWriter` / `PushReader` -- batches POSTed to the API (JSON records or Parquet bytes) kept as Parquet files
  in a data directory, and read back for a window.

Windows are ``[start, end)`` on ``CurrentData.timestamp_column`` when it is set: its values are parsed as
datetimes (naive values are taken as UTC, numbers as Unix epoch seconds) and rows whose timestamp is missing or
unparseable are dropped whenever a bound is given. Every chunk holds exactly the requested columns, in the
requested order (all columns when none are requested). Every failure is a `ReadError` whose message names the
file, batch, query or column; SQL URLs are never put in messages (they may carry passwords).
"""

from __future__ import annotations

import glob
import io
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from slo_service.core.clock import Clock, SystemClock
from slo_service.core.drift.monitor import CurrentData, CurrentKind
from slo_service.core.drift.ports import DriftStore, StoredBatch

if TYPE_CHECKING:  # imported where used: pandas and pyarrow are ~0.4 s of a start-up
    import pandas as pd

DEFAULT_CHUNK_ROWS = 50_000
CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
_GLOB_CHARS = re.compile(r"[*?\[]")

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "BatchWriter",
    "FileReader",
    "PushReader",
    "ReadError",
    "SqlReader",
]


class ReadError(Exception):
    """Data could not be read (or a pushed batch could not be stored); the message says what and where."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---- shared helpers


def _aware(when: datetime | None, what: str) -> datetime | None:
    if when is None:
        return None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive {what} {when!r}: readers only accept aware datetimes")
    return when.astimezone(UTC)


def to_utc(values: pd.Series) -> pd.Series:
    """A column as tz-aware UTC datetimes (NaT where missing or unparseable)."""
    import pandas as pd

    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC")
    if pd.api.types.is_bool_dtype(values.dtype):
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if pd.api.types.is_numeric_dtype(values.dtype):
        return pd.to_datetime(values, unit="s", utc=True, errors="coerce")
    try:
        parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    except (ValueError, TypeError):
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if parsed.isna().any() and values.notna().any():
        try:
            mixed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
        except (ValueError, TypeError):
            return parsed
        parsed = parsed.fillna(mixed)
    return parsed


def _window(frame: pd.DataFrame, ts_column: str | None, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    import pandas as pd

    if ts_column is None or (start is None and end is None):
        return frame
    ts = to_utc(frame[ts_column])
    keep = ts.notna()
    if start is not None:
        keep &= ts >= pd.Timestamp(start)
    if end is not None:
        keep &= ts < pd.Timestamp(end)
    return frame.loc[keep.to_numpy()]


def _needed(columns: Sequence[str], ts_column: str | None) -> list[str]:
    needed = list(dict.fromkeys(columns))
    if ts_column is not None and ts_column not in needed:
        needed.append(ts_column)
    return needed


def _select(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    if not columns:
        return frame.reset_index(drop=True)
    return frame.loc[:, list(dict.fromkeys(columns))].reset_index(drop=True)


def _check_columns(available: Sequence[str], needed: Sequence[str], where: str) -> None:
    have = set(available)
    missing = [c for c in needed if c not in have]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise ReadError(f"{where}: missing column{'s' if len(missing) > 1 else ''} {names}")


def _suffix(path: str) -> str:
    low = path.lower()
    for suffix in (*CSV_SUFFIXES, *PARQUET_SUFFIXES):
        if low.endswith(suffix):
            return suffix
    return Path(low).suffix


# ---- files


class FileReader:
    """Reads CSV and Parquet files (a path, a glob or a directory), `chunk_rows` rows at a time."""

    def __init__(self, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        if chunk_rows <= 0:
            raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
        self.chunk_rows = chunk_rows

    def files(self, path: str) -> list[str]:
        """The files `path` names, sorted: a file, or the CSV/Parquet files of a directory or a glob's matches."""
        expanded = os.path.expanduser(path)
        if _GLOB_CHARS.search(expanded):
            matches = [p for p in glob.glob(expanded, recursive=True) if os.path.isfile(p)]
            if not matches:
                return []  # no files yet (a glob the pipeline fills later): an empty window, not an error
            # Markers and checksums next to the data (_SUCCESS, .crc) are skipped.
            found = sorted(p for p in matches if _suffix(p) in _SUPPORTED_SUFFIXES)
            if not found:
                raise ReadError(f"no CSV or Parquet files match {path!r}")
            return found
        if os.path.isdir(expanded):
            found = sorted(
                str(p) for p in Path(expanded).iterdir() if p.is_file() and _suffix(p.name) in _SUPPORTED_SUFFIXES
            )
            if not found:
                raise ReadError(f"no CSV or Parquet files in directory {path!r}")
            return found
        if not os.path.exists(expanded):
            raise ReadError(f"file not found: {path!r}")
        return [expanded]

    def chunks(
        self, source: CurrentData, start: datetime | None, end: datetime | None, columns: Sequence[str]
    ) -> Iterator[pd.DataFrame]:
        """DataFrames of the rows in [start, end) (on `source.timestamp_column`) with exactly `columns`."""
        if not source.path:
            raise ReadError("file source has no path")
        start, end = _aware(start, "start"), _aware(end, "end")
        ts_column = source.timestamp_column
        needed = _needed(columns, ts_column)
        for path in self.files(source.path):
            yield from self.read_file(path, needed, ts_column, start, end, columns)

    def read_file(
        self,
        path: str,
        needed: Sequence[str],
        ts_column: str | None,
        start: datetime | None,
        end: datetime | None,
        columns: Sequence[str],
        data: bytes | None = None,
    ) -> Iterator[pd.DataFrame]:
        """The rows of one file (`data`: its Parquet bytes, read instead of `path`, which names it)."""
        suffix = _suffix(path)
        if suffix in PARQUET_SUFFIXES:
            raw = self._parquet(path, needed, data)
        elif suffix in CSV_SUFFIXES:
            raw = self._csv(path, needed, "\t" if suffix.startswith(".tsv") else ",")
        else:
            raise ReadError(f"{path}: unsupported file type {suffix or '(none)'!r} (use CSV or Parquet)")
        for frame in raw:
            try:
                yield _select(_window(frame, ts_column, start, end), columns)
            except KeyError as exc:  # a column named only in a later chunk's header cannot happen; be safe
                raise ReadError(f"{path}: missing column {exc}") from exc

    def _csv(self, path: str, needed: Sequence[str], sep: str) -> Iterator[pd.DataFrame]:
        import pandas as pd

        try:
            header = pd.read_csv(path, nrows=0, sep=sep)
        except FileNotFoundError as exc:
            raise ReadError(f"file not found: {path!r}") from exc
        except pd.errors.EmptyDataError as exc:
            raise ReadError(f"{path}: empty file (no header row)") from exc
        except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise ReadError(f"{path}: cannot read CSV: {exc}") from exc
        _check_columns([str(c) for c in header.columns], needed, path)
        usecols = list(needed) if needed else None
        try:
            with pd.read_csv(path, sep=sep, usecols=usecols, chunksize=self.chunk_rows) as reader:
                yield from reader
        except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise ReadError(f"{path}: cannot read CSV: {exc}") from exc

    def _parquet(self, path: str, needed: Sequence[str], data: bytes | None = None) -> Iterator[pd.DataFrame]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path if data is None else pa.BufferReader(data))
        except FileNotFoundError as exc:
            raise ReadError(f"file not found: {path!r}") from exc
        except (OSError, pa.ArrowException, ValueError) as exc:
            raise ReadError(f"{path}: cannot read Parquet: {exc}") from exc
        try:
            _check_columns(pf.schema_arrow.names, needed, path)
            cols = list(needed) if needed else None
            for batch in pf.iter_batches(batch_size=self.chunk_rows, columns=cols):
                yield batch.to_pandas()
        except (OSError, pa.ArrowException, ValueError) as exc:
            raise ReadError(f"{path}: cannot read Parquet: {exc}") from exc
        finally:
            pf.close()


_SUPPORTED_SUFFIXES = frozenset((*CSV_SUFFIXES, *PARQUET_SUFFIXES))


# ---- SQL


_FAR_PAST = datetime(1, 1, 2, tzinfo=UTC)
_FAR_FUTURE = datetime(9999, 12, 30, tzinfo=UTC)


class SqlReader:
    """Runs `source.query` on `source.url`, streaming `chunk_rows` rows at a time.

    The query may use ``:start`` and ``:end``; an open bound is bound as a far past / far future instant.
    Datetimes are bound as aware UTC, except on SQLite (naive UTC, which the sqlite3 driver renders as
    ``YYYY-MM-DD HH:MM:SS[.ffffff]``). Rows are also filtered on `source.timestamp_column` when it is set, so a
    query without bind parameters is windowed too. Engines are cached per URL; `close()` disposes of them.
    """

    def __init__(
        self, chunk_rows: int = DEFAULT_CHUNK_ROWS, engine_factory: Callable[[str], Engine] | None = None
    ) -> None:
        if chunk_rows <= 0:
            raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
        self.chunk_rows = chunk_rows
        self._engine_factory = engine_factory or _default_engine
        self._engines: dict[str, Engine] = {}

    def _engine(self, url: str) -> Engine:
        engine = self._engines.get(url)
        if engine is None:
            try:
                engine = self._engine_factory(url)
            except ReadError:
                raise
            except Exception as exc:  # bad URL, missing driver: never echo the URL (it may hold a password)
                raise ReadError(f"cannot open the SQL source: {type(exc).__name__}: {_safe(exc)}") from exc
            self._engines[url] = engine
        return engine

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def chunks(
        self, source: CurrentData, start: datetime | None, end: datetime | None, columns: Sequence[str]
    ) -> Iterator[pd.DataFrame]:
        import pandas as pd

        if not source.url or not source.query:
            raise ReadError("SQL source needs both a url and a query")
        start, end = _aware(start, "start"), _aware(end, "end")
        engine = self._engine(source.url)
        ts_column = source.timestamp_column
        needed = _needed(columns, ts_column)
        params = self._params(source.query, start, end, engine.dialect.name)
        what = f"SQL query {_shorten(source.query)!r}"
        checked = False
        try:
            with engine.connect() as conn:
                stream = conn.execution_options(stream_results=True)
                for frame in pd.read_sql(text(source.query), stream, params=params, chunksize=self.chunk_rows):
                    if not checked:
                        _check_columns([str(c) for c in frame.columns], needed, what)
                        checked = True
                    yield _select(_window(frame, ts_column, start, end), columns)
        except SQLAlchemyError as exc:
            raise ReadError(f"{what} failed: {_safe(exc)}") from exc

    @staticmethod
    def _params(query: str, start: datetime | None, end: datetime | None, dialect: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name, value in (("start", start or _FAR_PAST), ("end", end or _FAR_FUTURE)):
            if re.search(rf"(?<![:\w]):{name}\b", query):
                params[name] = value.replace(tzinfo=None) if dialect == "sqlite" else value
        return params


def _default_engine(url: str) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        database = u.database or ""
        if database and database != ":memory:" and not database.startswith("file:") and not Path(database).exists():
            raise ReadError(f"SQLite database not found: {database!r}")
        return create_engine(u)
    return create_engine(u, pool_pre_ping=True)


def _safe(exc: BaseException) -> str:
    """An error message without the statement echo SQLAlchemy appends (first line of the driver's message)."""
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


def _shorten(query: str, limit: int = 80) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# ---- pushed batches


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class BatchWriter:
    """Stores pushed batches as Parquet files under ``data_dir/<monitor>/``.

    The caller records the returned `StoredBatch` in the DriftStore (`save_batch`), which assigns its id; the file
    is written atomically (temporary file + rename) before that.
    """

    def __init__(self, data_dir: str | os.PathLike[str], clock: Clock | None = None) -> None:
        self.data_dir = Path(data_dir)
        self._clock: Clock = clock or SystemClock()

    def write(
        self, monitor: str, data: bytes | Sequence[Mapping[str, Any]], received_at: datetime | None = None
    ) -> StoredBatch:
        """Store `data` (JSON records, or the bytes of a Parquet file) for `monitor`."""
        received = _aware(received_at, "received_at") or self._clock.now().astimezone(UTC)
        if isinstance(data, bytes | bytearray | memoryview):
            payload, rows = self._parquet_bytes(bytes(data))
        else:
            payload, rows = self._records(data)
        directory = self.data_dir / _monitor_dir(monitor)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{received:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}.parquet"
        path = directory / name
        tmp = directory / f".{name}.tmp"
        try:
            tmp.write_bytes(payload)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ReadError(f"cannot store the batch of {monitor!r} at {path}: {exc}") from exc
        return StoredBatch(monitor=monitor, received_at=received, rows=rows, path=str(path))

    @staticmethod
    def _parquet_bytes(data: bytes) -> tuple[bytes, int]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(pa.BufferReader(data))
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ReadError(f"pushed batch is not a readable Parquet file: {exc}") from exc
        return data, table.num_rows

    @staticmethod
    def _records(records: Sequence[Mapping[str, Any]]) -> tuple[bytes, int]:
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        if isinstance(records, str) or not all(isinstance(r, Mapping) for r in records):
            raise ReadError("pushed batch must be a list of JSON objects (records) or a Parquet file")
        if not records:
            raise ReadError("pushed batch is empty")
        try:
            frame = pd.DataFrame.from_records([dict(r) for r in records])
            table = pa.Table.from_pandas(frame, preserve_index=False)
            sink = io.BytesIO()
            pq.write_table(table, sink)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise ReadError(f"pushed batch cannot be stored as Parquet (mixed types in a column?): {exc}") from exc
        return sink.getvalue(), len(frame)


def _monitor_dir(monitor: str) -> str:
    safe = _UNSAFE.sub("_", monitor).strip(".")
    if not safe:
        raise ReadError(f"monitor name {monitor!r} cannot be used as a directory name")
    return safe


class PushReader:
    """Reads the batches pushed for one monitor (FrameReader over `DriftStore.batches`).

    Without a timestamp column, the window is on the time each batch was received. With one, rows are windowed on
    it; a row stamped at or after `start` can only have been received after `start - clock_skew`, so only those
    batches are read (rows of the window pushed late, after `end`, are included).

    ``labels=True`` reads a monitor's ground truth: its labels-only batches and those batches of rows that carry
    the requested (label) columns; batches without them are skipped.
    """

    def __init__(
        self,
        store: DriftStore,
        monitor: str,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        clock_skew: timedelta = timedelta(minutes=5),
        labels: bool = False,
    ) -> None:
        self._store = store
        self.monitor = monitor
        self._files = FileReader(chunk_rows)
        self.clock_skew = clock_skew
        self.labels = labels

    def chunks(
        self, source: CurrentData, start: datetime | None, end: datetime | None, columns: Sequence[str]
    ) -> Iterator[pd.DataFrame]:
        if source.kind is not CurrentKind.PUSH:
            raise ReadError(f"PushReader reads pushed batches, not a {source.kind.value!r} source")
        start, end = _aware(start, "start"), _aware(end, "end")
        ts_column = source.timestamp_column
        kind = None if self.labels else "rows"
        if ts_column is None:
            batches = self._store.batches(self.monitor, start, end, kind=kind)
        else:
            since = None if start is None else start - self.clock_skew
            batches = self._store.batches(self.monitor, since, None, kind=kind)
        needed = _needed(columns, ts_column)
        for batch in batches:
            data = None
            if not os.path.exists(batch.path):
                # pushed to another replica (its own disk): the database keeps the bytes too
                data = self._store.batch_content(batch.id) if batch.id is not None else None
                if data is None:
                    raise ReadError(
                        f"batch file of {self.monitor!r} received at {batch.received_at} is missing: {batch.path}"
                    )
            if self.labels and batch.kind != "labels" and not _has_columns(batch.path, needed, data):
                continue  # predictions pushed without their labels
            yield from self._files.read_file(batch.path, needed, ts_column, start, end, columns, data)


def _has_columns(path: str, needed: Sequence[str], data: bytes | None = None) -> bool:
    """Whether the Parquet file at `path` (or its bytes, `data`) has every column of `needed`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(path if data is None else pa.BufferReader(data)).names)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise ReadError(f"{path}: cannot read Parquet: {exc}") from exc
    return all(c in names for c in needed)
