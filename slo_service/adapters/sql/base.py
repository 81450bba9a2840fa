"""What every SQL store shares: the engine, the dialect check and read / write transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from slo_service.adapters.sql.engine import WRITE_OPTION
from slo_service.core.clock import Clock, SystemClock


class SqlStoreBase:
    """Base of the SQL adapters: one transaction per public method, SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock: Clock = clock or SystemClock()
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {self._dialect!r} (use sqlite or postgresql)")

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        # WRITE_OPTION makes SQLite take the write lock up front (BEGIN IMMEDIATE): no upgrade deadlocks.
        with self._engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self, snapshot: bool = False) -> Iterator[Connection]:
        """A read transaction; `snapshot`: REPEATABLE READ on PostgreSQL (every statement sees one snapshot)."""
        with self._engine.connect() as conn:
            if snapshot and self._dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        return postgresql.insert(table) if self._dialect == "postgresql" else sqlite.insert(table)
