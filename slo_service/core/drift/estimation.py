"""Performance estimation without labels: confidence-based performance estimation (CBPE) for binary classifiers.

Method (Kivimäki et al., NannyML's "Confidence-based Performance Estimation", docs.nannyml.com, 2022): when a
classifier's scores are *calibrated* -- among rows scored p, a share p is positive -- each row's expected
confusion-matrix entries are known without its label: predicted positive, it is a true positive with probability
p and a false positive with probability 1 - p; predicted negative, a false negative with probability p and a
true negative with probability 1 - p. Summing these expectations over the rows of a window gives the expected
confusion matrix, hence expected accuracy, precision, recall and F1; the expected ROC AUC weighs every row as
p of a positive and 1 - p of a negative.

Assumption and its limits: the scores must be calibrated *on the current data*. Covariate shift (P(x) moves,
P(y | x) stays) keeps calibrated scores calibrated, so the estimate follows the real accuracy even though the
data drifted. It fails when the scores are miscalibrated (an over-confident model estimates its accuracy too
high) or under concept drift (P(y | x) changes: no method without labels can see it). `isotonic_calibrator`
fits an isotonic map from the reference's scores to its labels (pool-adjacent-violators, numpy only), which
repairs a model that is miscalibrated in the same way on the reference and the current data.

Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

ESTIMATED_PREFIX = "estimated_"
ESTIMATED_METRICS = (
    "estimated_accuracy",
    "estimated_precision",
    "estimated_recall",
    "estimated_f1",
    "estimated_roc_auc",
)


def _div(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def cbpe(
    scores: npt.ArrayLike, predicted_positive: npt.ArrayLike | None = None, threshold: float = 0.5
) -> dict[str, float]:
    """Expected metrics of a binary classifier from its positive-class scores (see the module docstring).

    `predicted_positive`: the model's decisions (True = predicted positive); by default ``score >= threshold``.
    Rows with a missing (NaN) score are left out. Returns ``estimated_accuracy``, ``estimated_precision``,
    ``estimated_recall``, ``estimated_f1``, ``estimated_roc_auc`` (NaN where undefined, e.g. no rows) and
    ``estimated_rows`` (the rows used)."""
    p = np.asarray(scores, dtype=np.float64)
    pred = p >= threshold if predicted_positive is None else np.asarray(predicted_positive, dtype=bool)
    keep = ~np.isnan(p)
    p, pred = np.clip(p[keep], 0.0, 1.0), pred[keep]
    n = int(p.size)
    if n == 0:
        return {**dict.fromkeys(ESTIMATED_METRICS, math.nan), "estimated_rows": 0.0}
    tp = float(p[pred].sum())
    fp = float((1.0 - p[pred]).sum())
    fn = float(p[~pred].sum())
    tn = float((1.0 - p[~pred]).sum())
    precision = _div(tp, tp + fp)
    recall = _div(tp, tp + fn)
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    return {
        "estimated_accuracy": (tp + tn) / n,
        "estimated_precision": precision,
        "estimated_recall": recall,
        "estimated_f1": f1,
        "estimated_roc_auc": expected_roc_auc(p),
        "estimated_rows": float(n),
    }


def expected_roc_auc(p: FloatArray) -> float:
    """ROC AUC with every row counted as p of a positive and 1 - p of a negative (ties count one half): the
    Mann-Whitney statistic with fractional weights, O(n log n)."""
    if p.size == 0:
        return math.nan
    values, inverse = np.unique(p, return_inverse=True)
    pos = np.bincount(inverse, weights=p, minlength=values.size)
    neg = np.bincount(inverse, weights=1.0 - p, minlength=values.size)
    neg_below = np.cumsum(neg) - neg  # negative weight with a strictly lower score
    total = float(pos.sum()) * float(neg.sum())
    if total <= 0:
        return math.nan
    return float(np.sum(pos * (neg_below + 0.5 * neg)) / total)


def isotonic_calibrator(scores: npt.ArrayLike, labels: npt.ArrayLike) -> Callable[[FloatArray], FloatArray]:
    """A monotone map score -> P(positive) fitted on (score, 0/1 label) pairs by pool-adjacent-violators, applied
    by linear interpolation between the fitted points (constant beyond them), as sklearn's IsotonicRegression
    with ``out_of_bounds="clip"``. Rows with a missing score or label are left out; needs at least one row."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if x.size == 0:
        raise ValueError("no (score, label) pair to calibrate on")
    xs, inverse = np.unique(x, return_inverse=True)
    weights = np.bincount(inverse).astype(np.float64)
    means = np.bincount(inverse, weights=y) / weights
    # pool adjacent violators over the distinct scores: blocks of (mean, weight, first index)
    block_mean: list[float] = []
    block_weight: list[float] = []
    block_start: list[int] = []
    for i, (m, w) in enumerate(zip(means.tolist(), weights.tolist(), strict=True)):
        block_mean.append(m)
        block_weight.append(w)
        block_start.append(i)
        while len(block_mean) > 1 and block_mean[-2] > block_mean[-1]:
            w2 = block_weight[-2] + block_weight[-1]
            m2 = (block_mean[-2] * block_weight[-2] + block_mean[-1] * block_weight[-1]) / w2
            block_mean[-2:] = [m2]
            block_weight[-2:] = [w2]
            block_start.pop()
    fitted = np.empty(xs.size, dtype=np.float64)
    bounds = [*block_start, xs.size]
    for m, lo, hi in zip(block_mean, bounds[:-1], bounds[1:], strict=True):
        fitted[lo:hi] = m

    def calibrate(values: FloatArray) -> FloatArray:
        v = np.asarray(values, dtype=np.float64)
        out = np.interp(v, xs, fitted)
        return np.where(np.isnan(v), np.nan, out)

    return calibrate
