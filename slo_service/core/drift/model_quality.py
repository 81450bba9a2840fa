"""Model quality from late labels: join labels to predictions on an id, then classification or regression metrics.

Pure numpy, no I/O. Conventions:

* A metric that is undefined on the data (no rows; precision with no predicted positive; recall with no actual
  positive; ROC AUC with a single class) is NaN, never an exception: the store keeps it as null.
* Classification is binary against a positive label. Labels and predictions may be bools, numbers or strings, and
  need not share a type: values are compared by a normal form (True == 1 == 1.0 == "1"; "true"/"false" are 1/0).
* MAPE is a fraction (0.1 = 10 %) over the rows whose label is not zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from slo_service.core.drift.monitor import TaskKind

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Values = npt.ArrayLike | Sequence[Any]
"""Labels, predictions, ids or scores: a numpy array, a pandas Series or a plain sequence (may hold None)."""

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("mae", "rmse", "mape")


@dataclass(frozen=True)
class JoinedLabels:
    """Predictions aligned with the labels that have arrived for them (row i of both arrays is one id)."""

    ids: npt.NDArray[Any]
    predictions: npt.NDArray[Any]
    labels: npt.NDArray[Any]
    predictions_total: int  # predictions given
    labels_total: int  # non-null labels given (after dropping duplicates: the last label of an id wins)
    unmatched_labels: int  # labels whose id has no prediction (yet)
    scores: FloatArray | None = None  # the predictions' scores (for roc_auc), when given to join_labels
    rows: npt.NDArray[np.intp] | None = None  # the index of each labelled prediction among the predictions given

    @property
    def labelled(self) -> int:
        """Predictions that got a label."""
        return len(self.ids)

    @property
    def label_coverage(self) -> float:
        """Share of the predictions that got a label (NaN without predictions)."""
        return self.labelled / self.predictions_total if self.predictions_total else math.nan

    def subset(self, prediction_rows: npt.ArrayLike) -> JoinedLabels:
        """The join restricted to some of the predictions given (their indices, e.g. one segment's): coverage is
        of those predictions; labels_total counts their labelled ones (an unmatched label belongs to no subset)."""
        if self.rows is None:
            raise ValueError("this join does not know its prediction rows")
        wanted = np.asarray(prediction_rows, dtype=np.intp).ravel()
        keep = np.isin(self.rows, wanted)
        return JoinedLabels(
            ids=self.ids[keep],
            predictions=self.predictions[keep],
            labels=self.labels[keep],
            predictions_total=len(np.unique(wanted)),
            labels_total=int(np.sum(keep)),
            unmatched_labels=0,
            scores=None if self.scores is None else self.scores[keep],
            rows=self.rows[keep],
        )


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    try:
        unequal = value != value  # NaN and NaT are unequal to themselves
    except Exception:
        return False
    try:
        return bool(unequal)
    except (TypeError, ValueError):
        return True  # pandas.NA: its comparisons are unknown


def _null_mask(arr: npt.NDArray[Any]) -> BoolArray:
    """Which entries are null (None, NaN, NaT, pandas.NA); vectorised for numeric and string arrays."""
    if arr.dtype.kind in "biuUS":
        return np.zeros(len(arr), dtype=bool)
    if arr.dtype.kind in "fc":
        return np.asarray(np.isnan(arr), dtype=bool)
    if arr.dtype.kind in "mM":
        return np.asarray(np.isnat(arr), dtype=bool)
    return np.array([_is_null(v) for v in arr], dtype=bool)


def _key(value: Any) -> str:
    """Normal form of a label for comparisons across types: True == 1 == 1.0 == "1" == "true"."""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, bytes):
        value = value.decode()
    text = str(value).strip()
    low = text.lower()
    if low in ("true", "false"):
        return "1" if low == "true" else "0"
    try:
        f = float(text)
    except ValueError:
        return text
    return str(int(f)) if math.isfinite(f) and f.is_integer() else text


def _keys(values: Values) -> npt.NDArray[np.str_]:
    arr = np.asarray(values)
    if arr.dtype.kind in "biu":
        return arr.astype(np.int64).astype(str)
    return np.array([_key(v) for v in arr.ravel()], dtype=str)


def _id_array(ids: Values) -> npt.NDArray[Any]:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        arr = arr.ravel()
    return arr


def join_labels(
    prediction_ids: Values,
    predictions: Values,
    label_ids: Values,
    labels: Values,
    scores: Values | None = None,
) -> JoinedLabels:
    """Align predictions with the labels that arrived for their ids (late labels: most may be missing).

    Null labels (None / NaN) count as not arrived. When an id has several labels, the last one wins (a later
    correction). Predictions with a null id never match; duplicate prediction ids each get the id's label. The
    result keeps the order of the predictions. `scores` (optional, row-aligned with the predictions: the positive
    class's probability) are carried along for roc_auc. Ids are matched by value; if one side holds numbers and
    the other strings, both are compared by their normal form (1 == 1.0 == "1").
    """
    p_ids, preds = _id_array(prediction_ids), np.asarray(predictions).ravel()
    l_ids, labs = _id_array(label_ids), np.asarray(labels).ravel()
    if len(p_ids) != len(preds):
        raise ValueError(f"{len(p_ids)} prediction ids but {len(preds)} predictions")
    if len(l_ids) != len(labs):
        raise ValueError(f"{len(l_ids)} label ids but {len(labs)} labels")
    score_arr = None if scores is None else np.asarray(scores, dtype=np.float64).ravel()
    if score_arr is not None and len(score_arr) != len(preds):
        raise ValueError(f"{len(preds)} predictions but {len(score_arr)} scores")

    keep = ~(_null_mask(l_ids) | _null_mask(labs))
    l_ids, labs = l_ids[keep], labs[keep]
    p_valid = ~_null_mask(p_ids)

    p_keys, l_keys = _comparable(p_ids, l_ids)
    # The last label of an id wins: unique over the reversed labels keeps each id's last occurrence.
    uniq, first_in_reversed = np.unique(l_keys[::-1], return_index=True)
    last_index = len(l_keys) - 1 - first_in_reversed
    labels_total = len(uniq)

    if labels_total and len(p_keys):
        pos = np.searchsorted(uniq, p_keys)
        pos_clipped = np.minimum(pos, labels_total - 1)
        matched = p_valid & (pos < labels_total) & (uniq[pos_clipped] == p_keys)
    else:
        pos_clipped = np.zeros(len(p_keys), dtype=np.intp)
        matched = np.zeros(len(p_keys), dtype=bool)
    label_rows = last_index[pos_clipped[matched]]
    matched_ids = len(np.unique(uniq[pos_clipped[matched]])) if matched.any() else 0
    return JoinedLabels(
        ids=p_ids[matched],
        predictions=preds[matched],
        labels=labs[label_rows],
        predictions_total=len(p_ids),
        labels_total=labels_total,
        unmatched_labels=labels_total - matched_ids,
        scores=None if score_arr is None else score_arr[matched],
        rows=np.flatnonzero(matched),
    )


def _plain(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """An object array of only strings (or only numbers) as a str (or numeric) array."""
    if a.dtype.kind != "O" or len(a) == 0:
        return a
    if all(isinstance(v, str) for v in a):
        return a.astype(str)
    if all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) for v in a):
        return a.astype(np.int64 if all(isinstance(v, int | np.integer) for v in a) else np.float64)
    return a


def _comparable(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Two id arrays in one sortable dtype: as they are when both are numbers or both strings, else normal forms."""
    a, b = _plain(a), _plain(b)
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":
        return a.astype(np.int64), b.astype(np.int64)
    if a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
        return a.astype(np.float64), b.astype(np.float64)
    if a.dtype.kind in "US" and b.dtype.kind in "US":
        return a.astype(str), b.astype(str)
    return _keys(a), _keys(b)


def positive_mask(values: Values, positive_label: Any = None) -> BoolArray:
    """Which values are the positive class (default positive label: 1, which also matches True and "true")."""
    positive = 1 if positive_label is None else positive_label
    arr = np.asarray(values).ravel()
    if arr.dtype.kind in "biuf":
        try:
            target = float(_key(positive))
        except ValueError:
            return np.zeros(len(arr), dtype=bool)
        return np.asarray(arr.astype(np.float64) == target, dtype=bool)
    return np.asarray(_keys(arr) == _key(positive), dtype=bool)


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def accuracy(labels: Values, predictions: Values) -> float:
    """Share of rows whose prediction equals the label (compared by normal form); NaN without rows."""
    y, p = np.asarray(labels).ravel(), np.asarray(predictions).ravel()
    _same_length(y, p)
    if len(y) == 0:
        return math.nan
    if y.dtype.kind in "biuf" and p.dtype.kind in "biuf":
        same = y.astype(np.float64) == p.astype(np.float64)
    else:
        same = _keys(y) == _keys(p)
    return float(np.mean(same))


def binary_counts(labels: Values, predictions: Values, positive_label: Any = None) -> dict[str, int]:
    """tp, fp, fn, tn against `positive_label`."""
    y = positive_mask(labels, positive_label)
    p = positive_mask(predictions, positive_label)
    _same_length(y, p)
    return {
        "tp": int(np.sum(y & p)),
        "fp": int(np.sum(~y & p)),
        "fn": int(np.sum(y & ~p)),
        "tn": int(np.sum(~y & ~p)),
    }


def precision(labels: Values, predictions: Values, positive_label: Any = None) -> float:
    c = binary_counts(labels, predictions, positive_label)
    return _ratio(c["tp"], c["tp"] + c["fp"])


def recall(labels: Values, predictions: Values, positive_label: Any = None) -> float:
    c = binary_counts(labels, predictions, positive_label)
    return _ratio(c["tp"], c["tp"] + c["fn"])


def f1(labels: Values, predictions: Values, positive_label: Any = None) -> float:
    """2 tp / (2 tp + fp + fn): the harmonic mean of precision and recall (0 when tp = 0 and it is defined)."""
    c = binary_counts(labels, predictions, positive_label)
    return _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])


def average_ranks(values: Values) -> FloatArray:
    """1-based ranks of `values`, tied values sharing the mean of their ranks."""
    x = np.asarray(values, dtype=np.float64).ravel()
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # Start of each run of equal values in sorted order.
    starts = np.flatnonzero(np.concatenate(([True], sorted_x[1:] != sorted_x[:-1])))
    ends = np.concatenate((starts[1:], [n]))  # exclusive
    mean_rank = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    run_of = np.repeat(np.arange(len(starts)), ends - starts)
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = mean_rank[run_of]
    return ranks


def roc_auc(labels: Values, scores: Values, positive_label: Any = None) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random negative (ties
    count one half), by the rank-sum (Mann-Whitney U) formula. Rows with a NaN score are ignored; NaN when only
    one class is present."""
    y = positive_mask(labels, positive_label)
    s = np.asarray(scores, dtype=np.float64).ravel()
    _same_length(y, s)
    keep = ~np.isnan(s)
    y, s = y[keep], s[keep]
    n_pos = int(np.sum(y))
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = average_ranks(s)
    u = float(np.sum(ranks[y])) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def _regression_arrays(labels: Values, predictions: Values) -> tuple[FloatArray, FloatArray]:
    y = np.asarray(labels, dtype=np.float64).ravel()
    p = np.asarray(predictions, dtype=np.float64).ravel()
    _same_length(y, p)
    keep = np.isfinite(y) & np.isfinite(p)
    return y[keep], p[keep]


def mae(labels: Values, predictions: Values) -> float:
    """Mean absolute error over the rows where both values are finite (NaN without such rows)."""
    y, p = _regression_arrays(labels, predictions)
    return float(np.mean(np.abs(y - p))) if len(y) else math.nan


def rmse(labels: Values, predictions: Values) -> float:
    """Root mean squared error over the rows where both values are finite (NaN without such rows)."""
    y, p = _regression_arrays(labels, predictions)
    return float(np.sqrt(np.mean((y - p) ** 2))) if len(y) else math.nan


def mape(labels: Values, predictions: Values) -> float:
    """Mean absolute percentage error as a fraction, over the finite rows whose label is not zero."""
    y, p = _regression_arrays(labels, predictions)
    nonzero = y != 0
    if not nonzero.any():
        return math.nan
    return float(np.mean(np.abs((y[nonzero] - p[nonzero]) / y[nonzero])))


def classification_metrics(
    labels: Values,
    predictions: Values,
    positive_label: Any = None,
    scores: Values | None = None,
) -> dict[str, float]:
    """accuracy, precision, recall, f1 of class predictions; roc_auc too when `scores` (the positive class's
    probability or score, row-aligned) are given."""
    out = {
        "accuracy": accuracy(labels, predictions),
        "precision": precision(labels, predictions, positive_label),
        "recall": recall(labels, predictions, positive_label),
        "f1": f1(labels, predictions, positive_label),
    }
    if scores is not None:
        out["roc_auc"] = roc_auc(labels, scores, positive_label)
    return out


def regression_metrics(labels: Values, predictions: Values) -> dict[str, float]:
    return {"mae": mae(labels, predictions), "rmse": rmse(labels, predictions), "mape": mape(labels, predictions)}


def model_quality(task: TaskKind, joined: JoinedLabels, positive_label: Any = None) -> Mapping[str, float]:
    """The metrics of `task` on joined labels, plus `labelled_rows` and `label_coverage` (for DriftRun.quality);
    roc_auc when the join carried scores."""
    if TaskKind(task) is TaskKind.CLASSIFICATION:
        metrics = classification_metrics(joined.labels, joined.predictions, positive_label, joined.scores)
    else:
        metrics = regression_metrics(joined.labels, joined.predictions)
    return {**metrics, "labelled_rows": float(joined.labelled), "label_coverage": joined.label_coverage}


def segment_model_quality(
    task: TaskKind,
    joined: JoinedLabels,
    segments: Mapping[str, npt.ArrayLike],
    positive_label: Any = None,
) -> dict[str, dict[str, float]]:
    """`model_quality` of each segment (segment -> its prediction row indices, as core.drift.segments.segment_rows
    gives them for the predictions `joined` was built from). A segment none of whose predictions got a label has
    only ``labelled_rows`` 0: no metric, so no data rather than a bad value (as for the whole window)."""
    out: dict[str, dict[str, float]] = {}
    for name, rows in segments.items():
        part = joined.subset(rows)
        if part.labelled == 0:
            out[name] = {"labelled_rows": 0.0}
        else:
            out[name] = {k: float(v) for k, v in model_quality(task, part, positive_label).items()}
    return out


def _same_length(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> None:
    if len(a) != len(b):
        raise ValueError(f"arrays differ in length: {len(a)} labels, {len(b)} predictions/scores")
