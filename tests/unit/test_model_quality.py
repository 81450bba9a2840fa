"""Model quality metrics and the late-label join, against hand computations and brute force."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.core.drift.model_quality import (
    accuracy,
    average_ranks,
    binary_counts,
    classification_metrics,
    f1,
    join_labels,
    mae,
    mape,
    model_quality,
    positive_mask,
    precision,
    recall,
    regression_metrics,
    rmse,
    roc_auc,
)
from slo_service.core.drift.monitor import TaskKind


def brute_force_auc(labels: list[bool], scores: list[float]) -> float:
    pos = [s for y, s in zip(labels, scores, strict=True) if y]
    neg = [s for y, s in zip(labels, scores, strict=True) if not y]
    if not pos or not neg:
        return math.nan
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in product(pos, neg))
    return wins / (len(pos) * len(neg))


# ---- classification by hand

Y = [1, 0, 1, 1, 0, 0, 1, 0]
P = [1, 0, 0, 1, 1, 0, 1, 0]
# tp = 3 (idx 0, 3, 6), fp = 1 (idx 4), fn = 1 (idx 2), tn = 3


def test_binary_counts_and_metrics_by_hand() -> None:
    assert binary_counts(Y, P) == {"tp": 3, "fp": 1, "fn": 1, "tn": 3}
    assert accuracy(Y, P) == 6 / 8
    assert precision(Y, P) == 3 / 4
    assert recall(Y, P) == 3 / 4
    assert f1(Y, P) == pytest.approx(0.75)
    m = classification_metrics(Y, P)
    assert set(m) == {"accuracy", "precision", "recall", "f1"}


def test_string_labels_with_a_positive_label() -> None:
    y = ["churn", "stay", "churn", "stay", "stay"]
    p = ["churn", "churn", "stay", "stay", "stay"]
    # tp 1, fp 1, fn 1, tn 2
    assert binary_counts(y, p, "churn") == {"tp": 1, "fp": 1, "fn": 1, "tn": 2}
    assert precision(y, p, "churn") == 0.5
    assert recall(y, p, "churn") == 0.5
    assert f1(y, p, "churn") == 0.5
    assert accuracy(y, p) == 3 / 5
    # Precision/recall are about the positive label: swapping it changes them.
    assert precision(y, p, "stay") == 2 / 3


def test_mixed_types_compare_by_normal_form() -> None:
    labels = np.array(["1", "0", "true", "False"], dtype=object)
    preds = np.array([1.0, 0.0, True, 1], dtype=object)
    assert accuracy(labels, preds) == 3 / 4
    assert positive_mask([True, False, 1, 0.0, "1", "yes"], "1").tolist() == [True, False, True, False, True, False]
    assert positive_mask(np.array([0.0, 1.0, 2.0]), "2").tolist() == [False, False, True]
    assert positive_mask(np.array([0, 1]), "churn").tolist() == [False, False]


def test_undefined_metrics_are_nan() -> None:
    assert math.isnan(accuracy([], []))
    assert math.isnan(precision([0, 1], [0, 0]))  # nothing predicted positive
    assert math.isnan(recall([0, 0], [0, 1]))  # no actual positive
    assert math.isnan(f1([0, 0], [0, 0]))
    assert f1([1, 0], [0, 1]) == 0.0
    assert math.isnan(roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(roc_auc([], []))


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="length"):
        accuracy([1, 0], [1])
    with pytest.raises(ValueError, match="length"):
        roc_auc([1, 0], [0.5])


# ---- roc auc


def test_roc_auc_by_hand() -> None:
    # positives 0.8, 0.4; negatives 0.5, 0.1: pairs (0.8>0.5, 0.8>0.1, 0.4<0.5, 0.4>0.1) -> 3/4
    assert roc_auc([1, 0, 1, 0], [0.8, 0.5, 0.4, 0.1]) == 0.75
    assert roc_auc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5  # all tied
    # a tie between a positive and a negative counts one half: (1 + 0.5) / 2
    assert roc_auc([1, 0, 0], [0.7, 0.7, 0.1]) == 0.75


def test_roc_auc_ignores_nan_scores_and_uses_positive_label() -> None:
    assert roc_auc(["a", "b", "a", "b"], [0.9, 0.1, math.nan, 0.2], "a") == 1.0
    assert roc_auc(["a", "b", "a", "b"], [0.9, 0.1, 0.3, 0.2], "b") == 0.0


def test_average_ranks_share_ties() -> None:
    assert average_ranks([10, 20, 20, 5, 20]).tolist() == [2.0, 4.0, 4.0, 1.0, 4.0]
    assert average_ranks([]).tolist() == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0]) | st.floats(-1e6, 1e6)),
        min_size=0,
        max_size=40,
    )
)
def test_roc_auc_matches_brute_force(rows: list[tuple[bool, float]]) -> None:
    labels = [y for y, _ in rows]
    scores = [s for _, s in rows]
    expected = brute_force_auc(labels, scores)
    got = roc_auc(labels, scores, True)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), max_size=50), st.integers(0, 2))
def test_counts_partition_rows_and_f1_is_harmonic_mean(rows: list[tuple[int, int]], pos: int) -> None:
    y = [a for a, _ in rows]
    p = [b for _, b in rows]
    c = binary_counts(y, p, pos)
    assert sum(c.values()) == len(rows)
    assert c["tp"] == sum(1 for a, b in rows if a == b == pos)
    pr, rc, f = precision(y, p, pos), recall(y, p, pos), f1(y, p, pos)
    if not math.isnan(pr) and not math.isnan(rc) and pr + rc > 0:
        assert f == pytest.approx(2 * pr * rc / (pr + rc))
    if rows:
        assert accuracy(y, p) == pytest.approx(sum(a == b for a, b in rows) / len(rows))


# ---- regression


def test_regression_by_hand() -> None:
    y = [3.0, -0.5, 2.0, 7.0]
    p = [2.5, 0.0, 2.0, 8.0]
    # errors 0.5, 0.5, 0, 1
    assert mae(y, p) == pytest.approx(0.5)
    assert rmse(y, p) == pytest.approx(math.sqrt((0.25 + 0.25 + 0 + 1) / 4))
    assert mape(y, p) == pytest.approx((0.5 / 3 + 0.5 / 0.5 + 0 + 1 / 7) / 4)
    assert regression_metrics(y, p) == {"mae": mae(y, p), "rmse": rmse(y, p), "mape": mape(y, p)}


def test_regression_skips_non_finite_and_zero_labels() -> None:
    assert mae([1.0, math.nan, 3.0], [2.0, 5.0, math.inf]) == 1.0
    assert mape([0.0, 2.0], [1.0, 1.0]) == 0.5  # the zero label is skipped
    assert math.isnan(mape([0.0], [1.0]))
    assert math.isnan(mae([], []))
    assert math.isnan(rmse([math.nan], [1.0]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=1, max_size=30))
def test_rmse_at_least_mae(rows: list[tuple[float, float]]) -> None:
    y = [a for a, _ in rows]
    p = [b for _, b in rows]
    assert rmse(y, p) >= mae(y, p) - 1e-9
    assert mae(y, p) == pytest.approx(sum(abs(a - b) for a, b in rows) / len(rows))


# ---- joining late labels


def test_join_only_ids_whose_labels_arrived() -> None:
    j = join_labels(["a", "b", "c", "d"], [1, 0, 1, 1], ["c", "a", "zz"], [1, 1, 0])
    assert j.ids.tolist() == ["a", "c"]  # prediction order
    assert j.predictions.tolist() == [1, 1]
    assert j.labels.tolist() == [1, 1]
    assert (j.predictions_total, j.labels_total, j.unmatched_labels, j.labelled) == (4, 3, 1, 2)
    assert j.label_coverage == 0.5


def test_join_last_label_wins_and_null_labels_are_missing() -> None:
    j = join_labels([1, 2, 3], ["x", "y", "z"], [1, 2, 1, 3], ["old", None, "new", math.nan])
    assert j.ids.tolist() == [1]
    assert j.labels.tolist() == ["new"]
    assert j.labels_total == 1


def test_join_duplicate_prediction_ids_and_null_ids() -> None:
    j = join_labels(
        np.array([7, None, 7], dtype=object), [0.1, 0.2, 0.3], np.array([7.0, math.nan]), [1.0, 2.0], [0.9, 0.8, 0.7]
    )
    assert j.predictions.tolist() == [0.1, 0.3]
    assert j.labels.tolist() == [1.0, 1.0]
    assert j.scores is not None and j.scores.tolist() == [0.9, 0.7]


def test_join_numbers_against_strings_and_big_int_ids() -> None:
    j = join_labels([1, 2, 3], [1, 1, 0], ["3", "1.0"], [0, 1])
    assert j.ids.tolist() == [1, 3]
    assert j.labels.tolist() == [1, 0]
    big = 2**62
    j2 = join_labels([big, big + 1], [1, 0], [big + 1], [0])
    assert j2.ids.tolist() == [big + 1]
    # String ids are not normalised against each other: "001" is not "1".
    assert join_labels(["001"], [1], ["1"], [1]).labelled == 0


def test_join_empty_and_length_errors() -> None:
    j = join_labels([], [], [], [])
    assert j.labelled == 0 and math.isnan(j.label_coverage)
    assert join_labels(["a"], [1], [], []).labelled == 0
    with pytest.raises(ValueError, match="prediction ids"):
        join_labels(["a", "b"], [1], [], [])
    with pytest.raises(ValueError, match="label ids"):
        join_labels([], [], ["a"], [])
    with pytest.raises(ValueError, match="scores"):
        join_labels(["a"], [1], [], [], scores=[0.1, 0.2])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 30), max_size=40),
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 1)), max_size=40),
)
def test_join_matches_a_dict_join(pred_ids: list[int], label_rows: list[tuple[int, int]]) -> None:
    preds = [i * 10 for i in range(len(pred_ids))]
    latest = dict(label_rows)  # the last label of an id wins
    j = join_labels(pred_ids, preds, [i for i, _ in label_rows], [v for _, v in label_rows])
    expected = [(i, p, latest[i]) for i, p in zip(pred_ids, preds, strict=True) if i in latest]
    assert list(zip(j.ids.tolist(), j.predictions.tolist(), j.labels.tolist(), strict=True)) == expected
    assert j.labels_total == len(latest)
    assert j.unmatched_labels == len(set(latest) - set(pred_ids))


def test_model_quality_for_both_tasks() -> None:
    j = join_labels(["a", "b", "c", "d"], [1, 0, 1, 0], ["a", "b", "c"], [1, 1, 0], scores=[0.9, 0.4, 0.6, 0.1])
    q = model_quality(TaskKind.CLASSIFICATION, j)
    assert q["accuracy"] == pytest.approx(1 / 3)
    assert q["precision"] == 0.5 and q["recall"] == 0.5
    assert q["roc_auc"] == 0.5  # positives a (0.9), b (0.4) vs negative c (0.6)
    assert q["labelled_rows"] == 3.0 and q["label_coverage"] == 0.75
    r = model_quality(TaskKind.REGRESSION, join_labels([1, 2], [2.0, 4.0], [2, 1], [5.0, 1.0]))
    assert r["mae"] == 1.0 and r["rmse"] == 1.0
    assert r["mape"] == pytest.approx((1.0 + 0.2) / 2)
    assert "roc_auc" not in r


def test_join_treats_pandas_missing_values_as_not_arrived() -> None:
    pd = pytest.importorskip("pandas")
    labels = pd.Series([1, pd.NA, 0], dtype="Int64")
    j = join_labels(pd.Series(["a", "b", "c"]), pd.Series([1, 1, 1]), pd.Series(["a", "b", "c"]), labels)
    assert j.ids.tolist() == ["a", "c"]
    assert j.labels.tolist() == [1, 0]
    obj = pd.Series([1.0, None, pd.NA], dtype=object)
    assert join_labels([1, 2, 3], [0, 0, 0], [1, 2, 3], obj).labelled == 1


def test_segment_model_quality_splits_the_join_by_prediction_rows() -> None:
    from slo_service.core.drift.model_quality import segment_model_quality

    ids = ["a", "b", "c", "d", "e", "f"]
    preds = [1, 1, 0, 0, 1, 0]
    joined = join_labels(ids, preds, ["a", "b", "c", "d", "z"], [1, 0, 0, 0, 1])  # e, f: no label yet
    out = segment_model_quality(TaskKind.CLASSIFICATION, joined, {"s1": [0, 1, 2], "s2": [3, 4], "s3": [5]})
    assert out["s1"]["accuracy"] == 2 / 3 and out["s1"]["labelled_rows"] == 3 and out["s1"]["label_coverage"] == 1.0
    assert out["s2"]["accuracy"] == 1.0 and out["s2"]["labelled_rows"] == 1 and out["s2"]["label_coverage"] == 0.5
    assert out["s3"] == {"labelled_rows": 0.0}  # no label: no metric (no data, never a bad value)
    assert list(joined.subset([0, 1, 2]).ids) == ["a", "b", "c"]
