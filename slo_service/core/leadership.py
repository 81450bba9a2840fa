"""Which replica does the work that must happen once (scrape, evaluate + alert, drift, compaction).

Every `slo-service serve` process holds a `Leadership`. One of them holds the `LeaderLock` (on PostgreSQL a
session-level advisory lock on a connection of its own; a process that dies loses its connection and so the
lock), and only that one runs the leader-only jobs. The others retry taking the lock every `retry` and take
over when it is free. Pure logic: the lock is a port, time comes from a Clock.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from slo_service.core.clock import Clock
from slo_service.core.ports import StoreUnavailable

log = logging.getLogger(__name__)


class LeaderLock(Protocol):
    """A lock at most one process holds at a time. Both methods raise StoreUnavailable when the database
    cannot be reached."""

    def acquire(self) -> bool:
        """Take the lock if it is free (or already ours); whether this process holds it now."""
        ...

    def confirm(self) -> bool:
        """Whether this process still holds the lock (False once the session that held it is gone)."""
        ...

    def release(self) -> None: ...


class SingleProcessLock:
    """The lock of a database only one process uses (SQLite): always held."""

    def acquire(self) -> bool:
        return True

    def confirm(self) -> bool:
        return True

    def release(self) -> None:
        return None


class Leadership:
    """Whether this replica leads, kept current by `check()` (called before each leader-only job and by a
    job of its own every `retry`).

    * A follower tries to take the lock at most every `retry`; when it gets it, `on_elected` runs (take the
      work over from the store) before `check()` returns True.
    * A leader confirms the lock on every check. If the database cannot be reached it keeps leading
      (nobody can take a lock in a database nobody reaches; its writes wait in memory), and once it is
      back it takes the lock again, or steps down (`on_deposed`) if another replica took it meanwhile.
    """

    def __init__(
        self,
        lock: LeaderLock,
        replica: str,
        clock: Clock,
        retry: timedelta,
        on_elected: Callable[[], None] | None = None,
        on_deposed: Callable[[], None] | None = None,
    ) -> None:
        self.lock = lock
        self.replica = replica
        self.clock = clock
        self.retry = retry
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.leader = False
        self.since: datetime | None = None  # when this replica last became leader
        self.unconfirmed_since: datetime | None = None  # leading without reaching the database since
        self.elections = 0  # times this replica became leader
        self._next_attempt: datetime | None = None
        self._lock = threading.RLock()

    def check(self) -> bool:
        """Whether this replica leads now; takes over or steps down first when that changed."""
        with self._lock:
            now = self.clock.now()
            if self.leader:
                return self._confirm(now)
            if self._next_attempt is not None and now < self._next_attempt:
                return False
            self._next_attempt = now + self.retry
            try:
                acquired = self.lock.acquire()
            except StoreUnavailable:
                return False
            if acquired:
                self._elected(now)
            return self.leader

    def _confirm(self, now: datetime) -> bool:
        try:
            held = self.lock.confirm() or self.lock.acquire()  # a lost session: take the lock again if free
        except StoreUnavailable:
            if self.unconfirmed_since is None:
                self.unconfirmed_since = now
                # INFO: the outage itself is logged once, as a WARNING, by the store's Availability
                log.info(
                    "replica %s keeps leading while the database is unreachable; it takes the leader lock "
                    "again (or steps down) once the database answers",
                    self.replica,
                )
            return True
        self.unconfirmed_since = None
        if not held:
            self._deposed(now)
        return self.leader

    def _elected(self, now: datetime) -> None:
        log.info("replica %s is the leader now: it scrapes, evaluates, alerts and runs drift jobs", self.replica)
        self.leader = True
        self.since = now
        self.elections += 1
        if self.on_elected is not None:
            try:
                self.on_elected()
            except Exception:  # e.g. the store failed while loading: give the lock back, try again later
                log.exception("replica %s could not take the work over; giving the leader lock back", self.replica)
                self._step_down(now)

    def _deposed(self, now: datetime) -> None:
        log.warning(
            "replica %s lost the leader lock (another replica took it while this one could not reach the "
            "database): it stops scraping, evaluating and alerting",
            self.replica,
        )
        self._step_down(now)
        if self.on_deposed is not None:
            self.on_deposed()

    def _step_down(self, now: datetime) -> None:
        self.leader = False
        self.since = None
        self._next_attempt = now + self.retry
        with contextlib.suppress(StoreUnavailable):
            self.lock.release()

    def resign(self) -> None:
        """Give the lock back (shutdown), so another replica takes over at its next attempt."""
        with self._lock:
            if self.leader:
                self._step_down(self.clock.now())
