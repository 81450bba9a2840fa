"""Engine factory with the connection settings the history store relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url

from slo_service.adapters.sql.availability import Availability, database_location, watch_connection_errors

SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_CONNECT_TIMEOUT_S = 10
"""A server that does not answer (a network partition, not a refusal) fails a connection after this long,
not after the kernel's two minutes of SYN retries: a request during such an outage gets its 503 in time."""
WRITE_OPTION = "slo_write"
"""Execution option: on SQLite, begin the transaction with BEGIN IMMEDIATE (take the write lock up front)."""


def make_engine(url: str | URL, availability: Availability | None = None, **kwargs: Any) -> Engine:
    """Create an Engine for a SQLite or PostgreSQL URL.

    Both: connection-level errors raise StoreUnavailable (and are reported to `availability`, which logs
    the outage once). SQLite: WAL journal, foreign keys on, a busy timeout, the file's parent directory
    created, usable from several threads, and real transactions (the driver's implicit BEGIN is replaced by
    ours, so reads see one snapshot and writers can take the lock up front). PostgreSQL: pool_pre_ping and
    a connect timeout (unless the URL sets `connect_timeout`).
    """
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        engine = _sqlite_engine(u, **kwargs)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        if "connect_timeout" not in u.query:
            kwargs["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S, **kwargs.get("connect_args", {})}
        engine = create_engine(u, **kwargs)
    watch_connection_errors(engine, database_location(u), availability)
    return engine


def _sqlite_engine(u: URL, **kwargs: Any) -> Engine:
    database = u.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory and not database.startswith("file:"):
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine = create_engine(u, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (the "begin" hook below) emit BEGIN instead of the pysqlite driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
