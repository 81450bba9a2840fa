"""In-memory DriftStore: for tests and for running without a database. Thread-safe; nothing survives a restart."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from slo_service.core.drift.monitor import DriftRun
from slo_service.core.drift.ports import RunQuery, StoredBatch


class InMemoryDriftStore:
    """Satisfies slo_service.core.drift.ports.DriftStore."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, DriftRun] = {}
        self._profiles: dict[tuple[str, str], dict[str, Any]] = {}
        self._batches: dict[int, StoredBatch] = {}
        self._slices: list[tuple[str, str, datetime, dict[str, str]]] = []
        self.profile_saves = 0  # how often a profile was (re)built and saved: tests check the cache

    def save_run(self, run: DriftRun) -> int:
        with self._lock:
            run_id = max(self._runs, default=0) + 1
            self._runs[run_id] = replace(run, id=run_id)
            return run_id

    def runs(self, query: RunQuery) -> list[DriftRun]:
        with self._lock:
            found = [
                replace(r, columns=())
                for r in self._runs.values()
                if (query.monitor is None or r.monitor == query.monitor)
                and (query.status is None or r.status is query.status)
                and (query.since is None or r.started_at >= query.since)
                and (query.until is None or r.started_at < query.until)
                and (query.dataset_drifted is None or r.dataset_drifted is query.dataset_drifted)
            ]
        found.sort(key=lambda r: (r.started_at, r.id or 0), reverse=True)
        return found[: max(0, query.limit)]

    def run(self, run_id: int) -> DriftRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def latest_runs(self) -> list[DriftRun]:
        with self._lock:
            newest: dict[str, DriftRun] = {}
            for r in self._runs.values():
                cur = newest.get(r.monitor)
                if cur is None or (r.started_at, r.id or 0) > (cur.started_at, cur.id or 0):
                    newest[r.monitor] = r
            return list(newest.values())

    def save_profile(self, monitor: str, version: str, profile: Mapping[str, Any]) -> None:
        with self._lock:
            self._profiles[(monitor, version)] = dict(profile)
            self.profile_saves += 1

    def load_profile(self, monitor: str, version: str) -> Mapping[str, Any] | None:
        with self._lock:
            return self._profiles.get((monitor, version))

    def save_batch(self, batch: StoredBatch) -> int:
        with self._lock:
            batch_id = max(self._batches, default=0) + 1
            self._batches[batch_id] = replace(batch, id=batch_id)
            return batch_id

    def batch_content(self, batch_id: int) -> bytes | None:
        with self._lock:
            found = self._batches.get(batch_id)
            return None if found is None else found.content

    def batches(
        self, monitor: str, start: datetime | None, end: datetime | None, kind: str | None = "rows"
    ) -> list[StoredBatch]:
        with self._lock:
            found = [  # without their bytes, as the SQL store lists them
                replace(b, content=None)
                for b in self._batches.values()
                if b.monitor == monitor
                and (kind is None or b.kind == kind)
                and (start is None or b.received_at >= start)
                and (end is None or b.received_at < end)
            ]
        return sorted(found, key=lambda b: (b.received_at, b.id or 0))

    def delete_batch(self, monitor: str, batch_id: int) -> StoredBatch | None:
        with self._lock:
            found = self._batches.get(batch_id)
            if found is None or found.monitor != monitor:
                return None
            del self._batches[batch_id]  # its bytes with it
            return replace(found, content=None)

    def prune_reports(self, monitor: str, before: datetime) -> list[str]:
        with self._lock:
            files: list[str] = []
            for run_id, r in list(self._runs.items()):
                if r.monitor == monitor and r.started_at < before and r.report_path:
                    files.append(r.report_path)
                    self._runs[run_id] = replace(r, report_path=None)
            return files

    def save_slice(self, monitor: str, version: str, start: datetime, histograms: Mapping[str, str]) -> None:
        with self._lock:
            self._slices.append((monitor, version, start, dict(histograms)))

    def load_slices(
        self, monitor: str, version: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, Mapping[str, str]]]:
        with self._lock:
            found = [s for s in self._slices if s[0] == monitor and s[1] == version and start <= s[2] < end]
        return [(s[2], s[3]) for s in sorted(found, key=lambda s: s[2])]

    def prune(self, before: datetime) -> list[str]:
        with self._lock:
            self._slices = [s for s in self._slices if s[2] >= before]
            files: list[str] = []
            for run_id, r in list(self._runs.items()):
                if r.started_at < before:
                    if r.report_path:
                        files.append(r.report_path)
                    del self._runs[run_id]
            for batch_id, b in list(self._batches.items()):
                if b.received_at < before:
                    files.append(b.path)
                    del self._batches[batch_id]
            return files
