"""Per-segment drift and data quality: a monitor sliced by the values of one column (``segment_by``).

A drift confined to one segment (one model version, one region, one customer tier) is diluted in the whole
window and may stay under the threshold there; each segment is therefore compared with *its own* reference
rows, with the cheap histogram scores of core.drift.scores (the Evidently run stays one run over the whole
window, so slicing costs a histogram per segment, not an Evidently run per segment).

Which segments: the `max_segments` values with the most reference rows (ties by name), fixed per reference
(version, or reference window); every other value -- rarer reference values and values the reference never
had, such as a new model version -- is pooled in the segment ``OTHER``. A pooled segment with no reference rows
is compared with the whole reference. Values are compared by their string form; a missing value is the
segment ``MISSING``.

Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from slo_service.core.drift.histograms import SliceHistogram, merge_many
from slo_service.core.drift.monitor import ColumnRun, SegmentRun
from slo_service.core.drift.profile import ColumnKind, ReferenceProfile
from slo_service.core.drift.quality import data_quality_findings, dataset_quality
from slo_service.core.drift.scores import METHODS, column_drift, dataset_drift

OTHER = "__other__"
MISSING = "__missing__"
DEFAULT_MAX_SEGMENTS = 10
MAX_SEGMENTS_LIMIT = 50  # series per monitor stay bounded: segments x exported features, see the exporter
SEGMENT_RESERVOIR = 20_000  # reservoir per numerical column and segment profile (the whole reference: 100k)


def segment_key(value: Any) -> str:
    """The segment of one value: its string form (1.0 and 1 alike), MISSING for None / NaN / NA."""
    if value is None or (isinstance(value, float) and value != value) or type(value).__name__ in ("NAType", "NaTType"):
        return MISSING
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def choose_segments(counts: Mapping[str, int], max_segments: int) -> tuple[str, ...]:
    """The segments of their own: the `max_segments` keys with the most rows (ties by name)."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(k for k, n in ranked[: max(0, max_segments)] if n > 0 and k != OTHER)


def segment_counts(values: npt.NDArray[Any]) -> Counter[str]:
    """Rows per segment key of one chunk of the segment column."""
    keys, counts = _unique_keys(values)
    out: Counter[str] = Counter()
    for k, n in zip(keys, counts.tolist(), strict=True):
        out[k] += int(n)
    return out


def segment_rows(values: npt.NDArray[Any], chosen: Sequence[str]) -> dict[str, npt.NDArray[np.intp]]:
    """Row indices of every segment present in one chunk: the chosen ones, the rest under OTHER."""
    arr = np.asarray(values)
    try:
        uniq, inverse = np.unique(arr, return_inverse=True)
    except TypeError:  # mixed types in an object column: compare by string form
        arr = np.asarray([segment_key(v) for v in arr.tolist()], dtype=object)
        uniq, inverse = np.unique(arr, return_inverse=True)
    wanted = set(chosen)
    label = np.asarray([(k if k in wanted else OTHER) for k in (segment_key(u) for u in uniq.tolist())], dtype=object)
    per_row = label[inverse.ravel()]
    out: dict[str, npt.NDArray[np.intp]] = {}
    for seg in dict.fromkeys(label.tolist()):
        out[str(seg)] = np.flatnonzero(per_row == seg)
    return out


def _unique_keys(values: npt.NDArray[Any]) -> tuple[list[str], npt.NDArray[np.int64]]:
    arr = np.asarray(values)
    try:
        uniq, counts = np.unique(arr, return_counts=True)
    except TypeError:
        arr = np.asarray([segment_key(v) for v in arr.tolist()], dtype=object)
        uniq, counts = np.unique(arr, return_counts=True)
    return [segment_key(u) for u in uniq.tolist()], counts


def segment_run(
    segment: str,
    profile: ReferenceProfile,
    hists: Mapping[str, Sequence[SliceHistogram]],
    rows_current: int,
    stattests: Mapping[str, str],
    thresholds: Mapping[str, float],
    drift_share: float,
    max_missing_increase: float,
    note: str | None = None,
) -> SegmentRun:
    """Drift and quality of one segment: its merged current histograms against its reference profile. A column's
    configured Evidently method is used when core.drift.scores has it; otherwise the scores' default."""
    merged = {c: merge_many(list(hs)) for c, hs in hists.items() if hs}
    columns: list[ColumnRun] = []
    verdicts = []
    quality = dataset_quality(profile, merged)
    for name, col in profile.columns.items():
        h = merged.get(name)
        if h is None:
            continue
        method = stattests.get(name, "auto")
        d = column_drift(col, h, method if method in METHODS else "auto", thresholds.get(name))
        verdicts.append(d)
        q = quality[name]
        categorical = col.kind is ColumnKind.CATEGORICAL
        columns.append(
            ColumnRun(
                column=name,
                kind=col.kind.value,
                method=d.method,
                score=d.score,
                threshold=d.threshold,
                drifted=None if math.isnan(d.score) else d.drifted,
                missing_share=q.missing_share,
                new_category_rows=q.new_categories if categorical else None,
                out_of_range_share=q.out_of_range_share if not categorical else None,
            )
        )
    share, drifted = dataset_drift(verdicts, drift_share)
    scored = any(not math.isnan(v.score) for v in verdicts)
    return SegmentRun(
        segment=segment,
        rows_reference=profile.rows,
        rows_current=rows_current,
        drifted_share=share if scored else None,
        dataset_drifted=drifted if scored else None,
        columns=tuple(columns),
        data_quality=tuple(data_quality_findings(quality, max_missing_increase)),
        note=note,
    )
