"""Database outages: connection errors become StoreUnavailable, and an outage is logged once, not per call.

Every engine from `make_engine` translates the driver's connection-level errors (connection refused, reset
or timed out, the server shutting down or out of connections; SQLite busy, locked, I/O or cannot-open
errors) into core's StoreUnavailable, in one SQLAlchemy `handle_error` hook. The API answers those with 503
and the jobs retry them, without knowing the driver. Every other database error (a missing table, a
violated constraint, bad SQL) stays what it is: a bug, logged with its traceback, a 500.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import URL, ExceptionContext, make_url

from slo_service.core.durations import format_duration
from slo_service.core.ports import StoreUnavailable

log = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0
"""Backoff of `wait_for_database`: 1 s, 2 s, 4 s ... then every 30 s."""

_PG_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")
"""SQLSTATE classes that mean "not now": connection exception; insufficient resources (too many connections,
disk full); operator intervention (admin / crash shutdown, cannot connect now). Not 57014 (query canceled)."""
_SQLITE_UNAVAILABLE_CODES = {5, 6, 10, 14}
"""SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_CANTOPEN (primary result codes)."""


def database_location(url: str | URL) -> str:
    """`host:port` of a server URL, the file of a SQLite URL: names the database without credentials."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return u.database or ":memory:"
    port = u.port or {"postgresql": 5432}.get(u.get_backend_name())
    return f"{u.host or 'localhost'}:{port}" if port else u.host or "localhost"


def masked_url(url: str | URL) -> str:
    """The URL with its password replaced by ***, fit for a log line."""
    return make_url(url).render_as_string(hide_password=True)


def is_unavailable(ctx: ExceptionContext) -> bool:
    """Whether a database error means "cannot reach the database now" rather than "this call is wrong"."""
    if ctx.is_disconnect:  # the dialect recognised a dropped connection
        return True
    dbapi = ctx.dialect.dbapi
    orig = ctx.original_exception
    if dbapi is None or not isinstance(orig, dbapi.OperationalError | dbapi.InterfaceError):
        return False
    if ctx.dialect.name == "sqlite":  # "no such table" is an OperationalError too: only these codes are outages
        code = getattr(orig, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_UNAVAILABLE_CODES
    sqlstate = getattr(orig, "sqlstate", None)
    # psycopg: no SQLSTATE means the client failed (refused, reset, timed out) before the server answered.
    return sqlstate is None or str(sqlstate).startswith(_PG_UNAVAILABLE_SQLSTATES)


def _reason(exc: BaseException) -> str:
    """The first line of the driver's message (psycopg adds hints on the following lines)."""
    lines = str(exc).strip().splitlines()
    return (lines[0].strip() if lines else "")[:300] or type(exc).__name__


@dataclass
class Availability:
    """Whether the database answered last time, and the log of its outages: one WARNING line when an outage
    starts, a reminder every `remind_every` seconds while it lasts, one line when it ends. An outage that
    starts within `quiet` seconds of the last logged start is only counted (a flapping network must not fill
    the log); the next logged start says how many were not logged. Thread-safe."""

    where: str
    consequence: str
    remind_every: float = 300.0
    quiet: float = 60.0
    clock: Callable[[], float] = time.monotonic
    down_since: float | None = field(default=None, init=False)
    reason: str = field(default="", init=False)
    failures: int = field(default=0, init=False)  # calls that failed in the current outage
    _logged: bool = field(default=False, init=False)  # the current outage's start was logged (so its end is)
    _last_start: float | None = field(default=None, init=False)
    _last_line: float = field(default=0.0, init=False)
    _unlogged: int = field(default=0, init=False)  # outages not logged since the last logged start
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def up(self) -> bool:
        return self.down_since is None

    def failed(self, reason: str) -> None:
        """A call could not reach the database."""
        now = self.clock()
        with self._lock:
            self.failures += 1
            self.reason = reason
            if self.down_since is not None:
                if self._logged and now - self._last_line >= self.remind_every:
                    self._last_line = now
                    log.warning(
                        "database still unreachable at %s after %s: %s (failed calls: %d)",
                        self.where,
                        _duration(now - self.down_since),
                        reason,
                        self.failures,
                    )
                return
            self.down_since = now
            self.failures = 1
            self._logged = self._last_start is None or now - self._last_start >= self.quiet
            if not self._logged:
                self._unlogged += 1
                return
            unlogged = f" ({self._unlogged} shorter outages since the last such line)" if self._unlogged else ""
            self._last_start = self._last_line = now
            self._unlogged = 0
            log.warning("database unreachable at %s: %s; %s%s", self.where, reason, self.consequence, unlogged)

    def recovered(self) -> None:
        """A connection to the database was made (or taken from the pool and pinged)."""
        if self.down_since is None:  # the common case, on every checkout: no lock
            return
        now = self.clock()
        with self._lock:
            if self.down_since is None:
                return
            if self._logged:
                log.warning(
                    "database reachable again at %s after %s (failed calls: %d)",
                    self.where,
                    _duration(now - self.down_since),
                    self.failures,
                )
            self.down_since = None
            self.failures = 0


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else format_duration(timedelta(seconds=seconds))


def watch_connection_errors(engine: Engine, where: str, availability: Availability | None = None) -> None:
    """Raise StoreUnavailable for `engine`'s connection-level errors (telling `availability`), and tell
    `availability` of every successful checkout."""

    @event.listens_for(engine, "handle_error")
    def _translate(ctx: ExceptionContext) -> None:
        # A failed pre-ping is handled by the pool itself: it reconnects, and only that can fail the call.
        if ctx.is_pre_ping or not is_unavailable(ctx):
            return
        reason = _reason(ctx.original_exception)
        if availability is not None:
            availability.failed(reason)
        raise StoreUnavailable(reason, where)

    if availability is not None:

        @event.listens_for(engine, "checkout")
        def _checked_out(*_: Any) -> None:
            availability.recovered()


def wait_for_database(
    engine: Engine,
    stop: threading.Event,
    first_delay: float = RETRY_FIRST_SECONDS,
    max_delay: float = RETRY_MAX_SECONDS,
) -> bool:
    """Block until `engine` answers `SELECT 1`, retrying with exponential backoff (jittered, so replicas
    started together do not retry in step); False if `stop` was set first. A database or role that does not
    exist (yet) is retried too: the server refuses the connection like a server that is starting, and the
    outage line names it."""
    delay = first_delay
    while not stop.is_set():
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1")).one()
            return True
        except StoreUnavailable:
            pass
        stop.wait(delay * random.uniform(0.75, 1.0))
        delay = min(delay * 2, max_delay)
    return False
