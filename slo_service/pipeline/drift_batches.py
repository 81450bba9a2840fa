"""Pushed batches checked against the monitor's schema before anything is stored.

A batch is either current data (`rows`: every mapped column) or, for a monitor whose ``ground_truth`` is
pushed, labels only (`labels`: the id column and the label column, joined later to the predictions on the id).
Each column has an expected type, from the reference profile when the first run has built it (so a target or
prediction keeps the kind it had in the reference), else from the column mapping:

* ``number`` -- numerical columns and the prediction score: int or float (missing: null / NaN); a string,
  boolean, object or list is refused;
* ``category`` / ``scalar`` -- categorical columns, target / prediction / id / label / datetime columns: a
  string, number or boolean; a column mixing strings and numbers is kept as strings (1 and "1" are one
  category, as in the reference profile); an object or list is refused;
* ``text`` -- strings.

The first bad value is named as ``records[ROW].COLUMN`` (JSON) or ``rows[ROW].COLUMN`` (Parquet) with the
expected type; a missing column as ``records[0].COLUMN: missing``. Columns the monitor does not use are not
kept. Duck-typed over pandas DataFrames (``frame.columns``, ``frame[c].to_numpy()``, ``frame.assign``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from slo_service.core.drift.monitor import CurrentKind, DriftMonitor
from slo_service.core.drift.profile import ColumnKind, ReferenceProfile

NUMBER, CATEGORY, TEXT, SCALAR = "number", "category", "text", "scalar"
_EXPECTED = {
    NUMBER: "a number (numerical column)",
    CATEGORY: "a string, number or boolean (categorical column)",
    TEXT: "a string (text column)",
    SCALAR: "a string, number or boolean",
}
ROWS, LABELS = "rows", "labels"


class BatchProblem(ValueError):
    """A pushed batch that does not fit the monitor's schema; the message names the row, column and type."""


@dataclass(frozen=True)
class CheckedBatch:
    kind: str  # ROWS or LABELS
    frame: Any  # only the monitor's columns, values normalised (see the module docstring)


def expected_columns(monitor: DriftMonitor, profile: ReferenceProfile | None) -> dict[str, str]:
    """Column -> expected type of a batch of current data."""
    spec = monitor.columns
    out: dict[str, str] = {}
    for c in spec.numerical:
        out[c] = NUMBER
    for c in spec.categorical:
        out[c] = CATEGORY
    for c in spec.text:
        out[c] = TEXT
    for c in spec.datetime:
        out.setdefault(c, SCALAR)
    for role in (spec.target, spec.prediction):
        if role is None:
            continue
        kind = profile.columns[role].kind if profile is not None and role in profile.columns else None
        out.setdefault(role, NUMBER if kind is ColumnKind.NUMERICAL else CATEGORY if kind else SCALAR)
    if spec.id is not None:
        out.setdefault(spec.id, SCALAR)
    if monitor.current.timestamp_column is not None:
        out.setdefault(monitor.current.timestamp_column, SCALAR)
    gt = monitor.ground_truth
    if gt is not None and gt.score_column is not None:
        out.setdefault(gt.score_column, NUMBER)
    return out


def label_columns(monitor: DriftMonitor) -> dict[str, str] | None:
    """Column -> expected type of a labels-only batch; None when the monitor's labels are not pushed."""
    gt = monitor.ground_truth
    if gt is None or gt.current.kind is not CurrentKind.PUSH or monitor.columns.id is None:
        return None
    out = {monitor.columns.id: SCALAR, gt.label_column: SCALAR}
    if gt.current.timestamp_column is not None:
        out.setdefault(gt.current.timestamp_column, SCALAR)
    return out


def check_batch(
    monitor: DriftMonitor, frame: Any, profile: ReferenceProfile | None, where: str = "records"
) -> CheckedBatch:
    """The batch as it is to be stored, or BatchProblem naming the first problem."""
    if len(frame) == 0:
        raise BatchProblem(f"{where}: the batch has no rows")
    have = set(map(str, frame.columns))
    rows = expected_columns(monitor, profile)
    labels = label_columns(monitor)
    kind, wanted = ROWS, rows
    if labels is not None:
        features = [c for c in rows if c not in labels and c != monitor.current.timestamp_column]
        if set(labels) <= have and not any(c in have for c in features):
            kind, wanted = LABELS, labels
        else:
            gt = monitor.ground_truth
            assert gt is not None
            if gt.label_column in have:  # labels sent with the predictions: kept with them
                wanted = {**rows, gt.label_column: SCALAR}
    elif monitor.ground_truth is not None and monitor.ground_truth.label_column in have:
        wanted = {**rows, monitor.ground_truth.label_column: SCALAR}
    missing = [c for c in wanted if c not in have]
    if missing:
        c = missing[0]
        hint = ""
        if labels is not None and kind is ROWS:
            hint = f" (a labels-only batch has exactly the columns {', '.join(repr(x) for x in labels)})"
        raise BatchProblem(f"{where}[0].{c}: missing; expected {_EXPECTED[wanted[c]]}{hint}")
    out: dict[str, npt.NDArray[Any]] = {}
    for c, expected in wanted.items():
        out[c] = _column(np.asarray(frame[c].to_numpy()), expected, f"{where}[{{row}}].{c}")
    kept = frame[list(wanted)]
    return CheckedBatch(kind, kept.assign(**out))


def _column(values: npt.NDArray[Any], expected: str, where: str) -> npt.NDArray[Any]:
    if values.dtype.kind in "iuf":
        if expected == TEXT and len(values):
            raise BatchProblem(f"{where.format(row=0)}: expected {_EXPECTED[expected]}, got number {values[0]!r}")
        return values
    if values.dtype.kind == "M" and expected != NUMBER:
        return values
    if values.dtype.kind == "b":
        if expected in (NUMBER, TEXT):
            raise BatchProblem(f"{where.format(row=0)}: expected {_EXPECTED[expected]}, got boolean {bool(values[0])}")
        return values
    items = values.tolist()
    numbers = strings = 0
    for i, v in enumerate(items):
        if _missing(v):
            continue
        if isinstance(v, bool | np.bool_):
            if expected in (NUMBER, TEXT):
                raise BatchProblem(f"{where.format(row=i)}: expected {_EXPECTED[expected]}, got boolean {bool(v)}")
        elif isinstance(v, int | float | np.integer | np.floating):
            if expected == TEXT:
                raise BatchProblem(f"{where.format(row=i)}: expected {_EXPECTED[expected]}, got number {v!r}")
            numbers += 1
        elif isinstance(v, str):
            if expected == NUMBER:
                raise BatchProblem(f"{where.format(row=i)}: expected {_EXPECTED[expected]}, got string {_short(v)}")
            strings += 1
        elif expected != NUMBER and type(v).__name__ in ("Timestamp", "datetime", "date"):
            strings += 1
        else:
            got = "a list" if isinstance(v, list | tuple | np.ndarray) else "an object" if isinstance(v, dict) else None
            got = got or f"a {type(v).__name__}"
            raise BatchProblem(f"{where.format(row=i)}: expected {_EXPECTED[expected]}, got {got}")
    if expected == NUMBER:
        return np.array([np.nan if _missing(v) else float(v) for v in items], dtype=np.float64)
    if (numbers and strings) or (expected == CATEGORY and any(isinstance(v, bool | np.bool_) for v in items)):
        # mixed strings and numbers (or booleans among categories): one category type, strings, as the profile
        return np.array([None if _missing(v) else _label(v) for v in items], dtype=object)
    return values


def _label(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float | np.floating):
        return bool(v != v)
    return type(v).__name__ in ("NAType", "NaTType")


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
