"""A config reload on one replica reaches every replica, and shows which config each one runs.

`POST /api/v1/config/reload` or SIGHUP on any replica raises the config generation in the database (before that
replica reads its files), and every replica compares it with the one it last saw at each evaluation: when it
moved, the replica reloads its own files (each replica reads its own copy, e.g. a mounted ConfigMap) and keeps
its own outcome (GET /api/v1/config, the log). `config_digest` fingerprints the files a config was read from, so
replicas that read different files are told apart on /readyz and /metrics.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from slo_service.pipeline.failures import log_failure
from slo_service.pipeline.runtime import ReloadOutcome, Runtime, config_digest

log = logging.getLogger(__name__)

__all__ = ["CONFIG_GENERATION", "ReloadBroadcast", "SharedCounters", "config_digest", "poll_quietly"]

CONFIG_GENERATION = "config_generation"


class SharedCounters(Protocol):
    """Counters every replica sees (SqlAlertStore on the `cluster_counters` table)."""

    def raise_counter(self, name: str, holder: str) -> int: ...

    def counter(self, name: str) -> int: ...


class ReloadBroadcast:
    """Announces this replica's reloads (Runtime.announce_reload) and follows the others' (`poll`)."""

    def __init__(self, counters: SharedCounters, runtime: Runtime, replica: str) -> None:
        self.counters = counters
        self.runtime = runtime
        self.replica = replica
        self.seen = counters.counter(CONFIG_GENERATION)  # the config this replica started with is current
        self.followed = 0  # reloads started by another replica's generation, for the log and tests
        self._lock = threading.Lock()
        runtime.announce_reload = self.announce

    def announce(self) -> None:
        """This replica is about to read its files again: every other replica does the same at its next
        evaluation."""
        generation = self.counters.raise_counter(CONFIG_GENERATION, self.replica)
        with self._lock:
            self.seen = max(self.seen, generation)
        log.info("config generation %d: every replica reloads its config files at its next evaluation", generation)

    def poll(self) -> ReloadOutcome | None:
        """Reload when another replica raised the generation; the outcome, or None when nothing moved."""
        generation = self.counters.counter(CONFIG_GENERATION)
        with self._lock:
            if generation <= self.seen:
                return None
            self.seen = generation
        log.info("config generation %d (a reload on another replica): reloading this replica's files", generation)
        self.followed += 1
        return self.runtime.reload(announce=False)


def poll_quietly(broadcast: ReloadBroadcast | None) -> None:
    """`broadcast.poll()` for a job: a failure is logged, never raised."""
    if broadcast is None:
        return
    try:
        broadcast.poll()
    except Exception:
        log_failure(log, "checking the config generation failed")
