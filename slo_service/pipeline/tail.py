"""Keeps this replica's in-memory window current with the counts other replicas store (the change log).

The leader scrapes and stores; a push can be stored by any replica. Each replica polls the change log
before every evaluation and adds what the others wrote to its window, so every replica's API and /metrics
answer from the same counts. A replica that did not read the log for longer than the log is kept (a long
database outage) may have missed pruned changes: it loads its window from SQL again instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from slo_service.core.changes import ChangeLog, ChangePosition
from slo_service.core.clock import Clock
from slo_service.pipeline.history import LiveHistory

log = logging.getLogger(__name__)


class ChangeTail:
    """Applies the changes other replicas wrote; thread-safe. `position` is where the window's load left
    the log (SqlHistoryStore.last_load_position); `reposition` gives the position of a reload."""

    def __init__(
        self,
        log_store: ChangeLog,
        history: LiveHistory,
        replica: str,
        clock: Clock,
        position: ChangePosition,
        retention: timedelta = timedelta(hours=1),
        reposition: Callable[[], ChangePosition | None] | None = None,
    ) -> None:
        self.log_store = log_store
        self.history = history
        self.replica = replica
        self.clock = clock
        self.position = position
        self.retention = retention
        self._reposition = reposition
        self.last_read: datetime = clock.now()
        self.applied_changes = 0  # since start, for /metrics
        self.reloads = 0
        self._last_prune: datetime | None = None
        self._lock = threading.Lock()

    def poll(self) -> int:
        """Apply the new changes of other replicas; how many changes. Raises StoreUnavailable."""
        with self._lock:
            now = self.clock.now()
            # Changes are pruned after `retention`: a reader that was away for half of it reloads, with margin.
            if now - self.last_read > self.retention / 2:
                self._reload(now)
            read = self.log_store.read_changes(self.position.floor)
            fresh = self.position.fresh(read.changes)
            increments = [inc for c in fresh if c.replica != self.replica for inc in c.increments]
            self.history.apply(increments)
            self.position.settle(read)
            self.last_read = now
            applied = sum(1 for c in fresh if c.replica != self.replica)
            self.applied_changes += applied
            return applied

    def _reload(self, now: datetime) -> None:
        log.warning(
            "the change log was not read for %s (longer than half its retention %s): loading the window from "
            "the database again",
            now - self.last_read,
            self.retention,
        )
        self.history.reload(now)
        if self._reposition is not None:
            position = self._reposition()
            if position is not None:
                self.position = position
        self.reloads += 1

    def prune(self, every: timedelta = timedelta(minutes=1)) -> int:
        """Delete changes older than the retention, at most once per `every` (the leader calls it)."""
        now = self.clock.now()
        if self._last_prune is not None and now - self._last_prune < every:
            return 0
        self._last_prune = now
        return self.log_store.prune_changes((now - self.retention).timestamp())
