"""Live drift from pushed batches: per-slice histograms kept and merged, so a window's drift never
re-reads raw rows (the frequent, cheap counterpart of a scheduled Evidently run)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from slo_service.core.drift.histograms import SliceHistogram, histogram_batch, merge_many
from slo_service.core.drift.monitor import DriftMonitor, ReferenceKind
from slo_service.core.drift.ports import DriftStore
from slo_service.core.drift.profile import ReferenceProfile
from slo_service.core.drift.scores import ColumnDrift, column_drift, dataset_drift
from slo_service.core.windows import align

log = logging.getLogger(__name__)

SLICE_SECONDS = 60
DEFAULT_WINDOW = timedelta(hours=24)
_OUR_METHODS = frozenset({"psi", "jensenshannon", "wasserstein", "chisquare"})


@dataclass(frozen=True)
class LiveWindow:
    """Drift of the pushed data in [start, end) against the monitor's reference profile."""

    monitor: str
    start: datetime
    end: datetime
    rows: int
    columns: Mapping[str, ColumnDrift]
    drifted_share: float
    dataset_drifted: bool


@dataclass
class _Slices:
    version: str
    profile: ReferenceProfile
    items: deque[tuple[datetime, dict[str, SliceHistogram]]]


class LiveDrift:
    """Per monitor, the slices of its window in memory (loaded once from the store, appended on ingest)."""

    def __init__(self, store: DriftStore, clock_now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = clock_now
        self._lock = threading.Lock()
        self._windows: dict[str, _Slices] = {}

    def _profile(self, monitor: DriftMonitor) -> ReferenceProfile | None:
        if monitor.reference.kind is not ReferenceKind.FIXED:
            return None  # a rolling reference moves: only scheduled runs can compare against it
        cached = self.store.load_profile(monitor.name, monitor.reference.version)
        if cached is None:
            return None  # the first scheduled run builds the profile; batches after it are sliced
        return ReferenceProfile.from_json(str(cached["json"]))

    def _slices(self, monitor: DriftMonitor, now: datetime) -> _Slices | None:
        window = monitor.window or DEFAULT_WINDOW
        current = self._windows.get(monitor.name)
        if current is not None and current.version == monitor.reference.version:
            return current
        profile = self._profile(monitor)
        if profile is None:
            return None
        loaded: deque[tuple[datetime, dict[str, SliceHistogram]]] = deque()
        for start, stored in self.store.load_slices(monitor.name, profile.version, now - window, now + window):
            hists = {c: SliceHistogram.from_json(text) for c, text in stored.items() if c in profile.columns}
            loaded.append((start, hists))
        slices = _Slices(profile.version, profile, loaded)
        self._windows[monitor.name] = slices
        return slices

    def add(self, monitor: DriftMonitor, frame: Any, at: datetime) -> bool:
        """Histogram a pushed batch into its 1-minute slice and keep it; False when there is no profile yet."""
        with self._lock:
            slices = self._slices(monitor, at)
            if slices is None:
                return False
            profile = slices.profile
            columns = {c: np.asarray(frame[c].to_numpy()) for c in profile.columns if c in frame.columns}
            hists = histogram_batch(profile, columns)
            start = align(at, SLICE_SECONDS)
            self.store.save_slice(monitor.name, profile.version, start, {c: h.to_json() for c, h in hists.items()})
            slices.items.append((start, hists))
            return True

    def window(self, monitor: DriftMonitor, now: datetime | None = None) -> LiveWindow | None:
        """Merge the slices of the monitor's window and score every column (Evidently's defaults)."""
        now = now or self.now()
        window = monitor.window or DEFAULT_WINDOW
        with self._lock:
            slices = self._slices(monitor, now)
            if slices is None:
                return None
            while slices.items and slices.items[0][0] < now - window:
                slices.items.popleft()  # slices are appended in time order: the oldest leave first
            if not slices.items:
                return None
            profile = slices.profile
            results: dict[str, ColumnDrift] = {}
            rows = 0
            for name, col in profile.columns.items():
                parts = [h[name] for _, h in slices.items if name in h]
                if not parts:
                    continue
                merged = merge_many(parts)
                rows = max(rows, merged.rows)
                method = monitor.stattests.get(name, "auto")
                results[name] = column_drift(
                    col, merged, method if method in _OUR_METHODS else "auto", monitor.thresholds.get(name)
                )
        share, drifted = dataset_drift(results, monitor.drift_share)
        return LiveWindow(monitor.name, now - window, now, rows, results, share, drifted)
