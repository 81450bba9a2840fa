"""Timeslice verdicts: is each completed slice of an SLO's events good enough?

A slice [s, s + slice) is aligned to `slo.budgeting.slice` seconds since the epoch. It is GOOD when
good/total of the events row over the slice reaches `slo.budgeting.slice_threshold`, BAD otherwise,
and MISSING (no verdict at all, never "good") when it has no events. Only completed slices
(end <= now) with start >= since are judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from slo_service.core.counts_matrix import CountsMatrix
from slo_service.core.model import SLO
from slo_service.core.ports import BASE_RESOLUTION_SECONDS
from slo_service.core.windows import ceil_seconds, floor_seconds, from_seconds


def slice_seconds(slo: SLO) -> int:
    """The slice length of a timeslices SLO in seconds (1 minute when not configured)."""
    sl = slo.budgeting.slice
    return BASE_RESOLUTION_SECONDS if sl is None else max(1, int(sl // timedelta(seconds=1)))


def completed_slices(slice_s: int, since: datetime, now: datetime) -> list[datetime]:
    """Starts of the epoch-aligned slices with start >= since and end <= now."""
    first = -(-ceil_seconds(since) // slice_s)
    last = floor_seconds(now) // slice_s  # exclusive
    return [from_seconds(k * slice_s) for k in range(first, last)]


def slice_verdicts(
    matrix: CountsMatrix, key: str, slo: SLO, since: datetime, now: datetime
) -> list[tuple[datetime, bool]]:
    """(slice start, good?) for every completed slice with data of the events row `key`."""
    return slice_verdicts_many(matrix, [(key, slo)], since, now)[key]


def slice_verdicts_many(
    matrix: CountsMatrix, items: Sequence[tuple[str, SLO]], since: datetime, now: datetime
) -> dict[str, list[tuple[datetime, bool]]]:
    """Vectorised `slice_verdicts` for many (events key, SLO) pairs: one `binned_sums` per slice
    length. Keys absent from the matrix get no verdicts."""
    out: dict[str, list[tuple[datetime, bool]]] = {key: [] for key, _ in items}
    by_slice: dict[int, list[tuple[str, SLO, int]]] = {}
    for key, slo in items:
        r = matrix.row(key)
        if r is not None:
            by_slice.setdefault(slice_seconds(slo), []).append((key, slo, r))
    for slice_s, group in by_slice.items():
        starts = completed_slices(slice_s, since, now)
        if not starts:
            continue
        rows = np.array([r for _, _, r in group], dtype=np.int64)
        good, total, _ = matrix.binned_sums(starts[0], slice_s, len(starts), rows)
        thresholds = np.array([slo.budgeting.slice_threshold for _, slo, _ in group], dtype=np.float64)
        has_data = total > 0
        ratio = np.divide(good, total, out=np.zeros_like(good), where=has_data)
        ok = ratio >= thresholds[:, None]
        for n, (key, _, _) in enumerate(group):
            idx = np.nonzero(has_data[n])[0].tolist()
            flags = ok[n].tolist()
            out[key] = [(starts[k], bool(flags[k])) for k in idx]
    return out
