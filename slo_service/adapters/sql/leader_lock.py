"""The leader lock on PostgreSQL: a session-level advisory lock held on a connection of its own.

The server releases a session's advisory locks when the session ends, so a replica that dies (SIGKILL,
a crash, a lost host once TCP notices) frees the lock for the next replica's attempt, with no lease to
wait out. The connection is kept out of the pool: a pooled connection could be closed (and the lock
released) behind our back, or handed to another thread while it holds the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from slo_service.core.ports import StoreUnavailable

LOCK_NAME = "slo-service:leader"


def lock_key(name: str = LOCK_NAME) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock (the same in every replica and version)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class PostgresLeaderLock:
    """LeaderLock on a dedicated connection of `engine` (an engine from make_engine: connection errors raise
    StoreUnavailable). Thread-safe."""

    def __init__(self, engine: Engine, name: str = LOCK_NAME) -> None:
        self.engine = engine
        self.name = name
        self.key: int | None = None  # known once connected: it depends on the schema
        self._conn: Connection | None = None
        self._held = False
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self._held and self._alive():
                return True
            try:
                conn = self._connection()
                if self.key is None:
                    # Advisory locks are per database, not per schema: two deployments whose tables live in
                    # different schemas of one database must not wait for each other's leader.
                    schema = conn.execute(text("SELECT current_schema()")).scalar()
                    self.key = lock_key(f"{self.name}:{schema}")
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
            except StoreUnavailable:
                self._drop()
                raise
            self._held = got
            return got

    def confirm(self) -> bool:
        with self._lock:
            return self._held and self._alive()

    def release(self) -> None:
        with self._lock:
            if self._held and self._conn is not None and self.key is not None:
                with contextlib.suppress(StoreUnavailable):
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._held = False
            self._drop()

    def _connection(self) -> Connection:
        if self._conn is None:
            # AUTOCOMMIT: the session holds the lock, no transaction stays open (and no snapshot is kept).
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _alive(self) -> bool:
        """The session that holds the lock answers (then it still holds it). A dead session: False."""
        if self._conn is None:
            self._held = False
            return False
        try:
            self._conn.execute(text("SELECT 1")).one()
            return True
        except StoreUnavailable:
            # The session is gone and its lock with it; whether the lock can be taken again is
            # `acquire`'s question, so report the outage only if a new connection fails too.
            self._held = False
            self._drop()
            self._connection().execute(text("SELECT 1")).one()
            return False

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # already broken: nothing to give back
                pass


class SqliteProcessLock:
    """One `serve` per SQLite database: an exclusive flock on `<database>.serve.lock`, held for the process's
    life (the kernel drops it when the process dies). SQLite has no way for a second process to follow
    the first one's in-memory state, so a second process is refused rather than allowed to double count."""

    def __init__(self, database_url: str) -> None:
        database = make_url(database_url).database or ""
        self.path = Path(database).expanduser().resolve().with_name(Path(database).name + ".serve.lock")
        self._file: IO[str] | None = None

    @staticmethod
    def applies(database_url: str) -> bool:
        """A SQLite file (not in memory)."""
        u = make_url(database_url)
        database = u.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file:")
        return u.get_backend_name() == "sqlite" and not in_memory

    def take(self) -> bool:
        """Whether this process is now the only `serve` on the database."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")  # noqa: SIM115 - held open for the process's life
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f
        return True

    def holder(self) -> str:
        """The pid written by the process holding the lock, for the refusal message."""
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
