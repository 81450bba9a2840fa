"""CBPE (core.drift.estimation): expected metrics from scores, checked against labels drawn from known probabilities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slo_service.core.drift.estimation import cbpe, expected_roc_auc, isotonic_calibrator
from slo_service.core.drift.model_quality import roc_auc


def _true_p(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(2.0 * x - 0.5)))


def _world(seed: int, mean: float, n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """x and labels drawn from the true P(y=1 | x); only P(x) depends on `mean` (covariate shift)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(mean, 1.0, n)
    y = rng.random(n) < _true_p(x)
    return x, y


def _accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(pred == y))


def test_calibrated_scores_estimate_accuracy_under_covariate_shift() -> None:
    for mean in (0.0, 1.5, -1.0):  # reference-like, then shifted both ways: realised accuracy moves a lot
        x, y = _world(7, mean)
        scores = _true_p(x)
        est = cbpe(scores)
        realised = _accuracy(scores >= 0.5, y)
        assert abs(est["estimated_accuracy"] - realised) < 0.02, (mean, est, realised)
        assert est["estimated_rows"] == len(x)
    # the shift really changes accuracy (the estimate follows it, not a constant)
    a0 = cbpe(_true_p(_world(1, 0.0)[0]))["estimated_accuracy"]
    a1 = cbpe(_true_p(_world(1, 1.5)[0]))["estimated_accuracy"]
    assert a1 - a0 > 0.05


def test_precision_recall_and_roc_auc_follow_the_labels() -> None:
    x, y = _world(3, 0.5)
    scores = _true_p(x)
    est = cbpe(scores)
    pred = scores >= 0.5
    tp = float(np.sum(pred & y))
    assert abs(est["estimated_precision"] - tp / pred.sum()) < 0.02
    assert abs(est["estimated_recall"] - tp / y.sum()) < 0.02
    assert abs(est["estimated_roc_auc"] - roc_auc(y, scores, True)) < 0.02


def test_miscalibrated_scores_overestimate_and_isotonic_calibration_on_the_reference_repairs_them() -> None:
    def over_confident(x: np.ndarray) -> np.ndarray:  # same ranking, scores pushed towards 0 and 1
        return 1.0 / (1.0 + np.exp(-3.0 * (2.0 * x - 0.5)))

    x_ref, y_ref = _world(11, 0.0)
    x_cur, y_cur = _world(12, 1.0)
    scores = over_confident(x_cur)
    realised = _accuracy(scores >= 0.5, y_cur)
    raw = cbpe(scores)["estimated_accuracy"]
    assert raw - realised > 0.05  # the documented limitation: over-confident scores promise too much
    calibrate = isotonic_calibrator(over_confident(x_ref), y_ref)
    fixed = cbpe(calibrate(scores), predicted_positive=scores >= 0.5)["estimated_accuracy"]
    assert abs(fixed - realised) < 0.02


def test_isotonic_calibrator_matches_sklearn() -> None:
    sklearn_isotonic = pytest.importorskip("sklearn.isotonic")
    rng = np.random.default_rng(5)
    s = rng.random(2_000)
    y = (rng.random(2_000) < s**2).astype(float)
    ours = isotonic_calibrator(s, y)
    theirs = sklearn_isotonic.IsotonicRegression(out_of_bounds="clip").fit(s, y)
    grid = np.linspace(-0.1, 1.1, 301)
    assert np.allclose(ours(grid), theirs.predict(grid), atol=1e-12)


def test_edge_cases() -> None:
    empty = cbpe(np.array([math.nan, math.nan]))
    assert empty["estimated_rows"] == 0.0 and math.isnan(empty["estimated_accuracy"])
    assert cbpe(np.array([1.0, 0.0]))["estimated_accuracy"] == 1.0  # certain and right
    assert math.isnan(expected_roc_auc(np.array([1.0, 1.0])))  # no negative weight: undefined
    assert expected_roc_auc(np.array([0.0, 1.0])) == 1.0
