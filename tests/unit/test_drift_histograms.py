"""Per-slice histograms: binning on the profile, exact associative merge, JSON round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.core.drift.histograms import (
    MAX_NEW_EXAMPLES,
    SliceHistogram,
    empty_histogram,
    histogram,
    histogram_batch,
    merge,
    merge_many,
)
from slo_service.core.drift.profile import ColumnKind, ReferenceProfile, build_profile

NUM = ColumnKind.NUMERICAL
CAT = ColumnKind.CATEGORICAL


def _profile() -> ReferenceProfile:
    rng = np.random.default_rng(0)
    n = 5_000
    cats = np.array(["a"] * 2_000 + ["b"] * 1_500 + ["c"] * 1_000 + ["d"] * 400 + ["e"] * 100, dtype=object)
    return build_profile(
        {"x": rng.normal(0.0, 1.0, n), "c": cats},
        {"x": NUM, "c": CAT},
        "v1",
        bins=10,
        top_k=3,
    )


PROFILE = _profile()

num_values = st.lists(st.one_of(st.floats(-6, 6, allow_nan=False), st.just(float("nan"))), max_size=40)
cat_values = st.lists(
    st.one_of(st.sampled_from(["a", "b", "c", "d", "e", "new1", "new2", "Z"]), st.none()), max_size=40
)


def _same(a: SliceHistogram, b: SliceHistogram) -> None:
    """Equal, with the float bin sums compared up to rounding."""
    assert a.counts == b.counts and a.missing == b.missing and a.rows == b.rows
    assert a.min == b.min and a.max == b.max and a.below == b.below and a.above == b.above
    assert a.new_examples == b.new_examples
    np.testing.assert_allclose(a.sums, b.sums, rtol=1e-12, atol=1e-9)


def test_numerical_histogram_counts_per_reference_bin() -> None:
    col = PROFILE.columns["x"]
    edges = np.asarray(col.edges)
    values = np.array([-100.0, edges[0] - 1e-9, edges[0], edges[3], 0.0, np.nan, None, 100.0], dtype=object)
    h = histogram(col, values)
    assert h.rows == 8 and h.missing == 2 and h.values == 6
    assert h.counts[0] == 2  # -100 and just below the first edge
    assert h.counts[1] == 1  # the first edge itself: bins are left-closed
    assert h.counts[-1] == 1 and h.counts[4] == 1
    assert h.below == 1 and h.above == 1 and h.out_of_range == 2
    assert h.min == -100.0 and h.max == 100.0
    assert h.sums[0] == pytest.approx(-100.0 + edges[0] - 1e-9)


def test_categorical_histogram_known_other_new_missing() -> None:
    col = PROFILE.columns["c"]
    h = histogram(
        col, np.array(["a", "a", "b", "d", "e", "brand-new", "brand-new", "x", None, float("nan")], dtype=object)
    )
    assert col.categories == ("a", "b", "c")
    assert h.counts == (2, 1, 0, 2, 3)
    assert h.other == 2 and h.new == 3 and h.missing == 2 and h.rows == 10
    assert h.new_examples == ("brand-new", "x")


def test_new_examples_are_bounded() -> None:
    col = PROFILE.columns["c"]
    h = histogram(col, np.array([f"n{i:03d}" for i in range(100)]))
    assert h.new == 100 and len(h.new_examples) == MAX_NEW_EXAMPLES


def test_histogram_batch_skips_absent_and_unknown_columns() -> None:
    df = pd.DataFrame({"x": [0.1, 0.2], "unknown": [1, 2]})
    hs = histogram_batch(PROFILE, {k: df[k].to_numpy() for k in df.columns})
    assert set(hs) == {"x"} and hs["x"].rows == 2


def test_merge_rejects_other_bins() -> None:
    with pytest.raises(ValueError):
        merge(empty_histogram(PROFILE.columns["x"]), empty_histogram(PROFILE.columns["c"]))
    with pytest.raises(ValueError):
        merge_many([])


@settings(max_examples=150, deadline=None)
@given(a=num_values, b=num_values, c=num_values)
def test_numerical_merge_is_associative_and_equals_the_concatenation(
    a: list[float], b: list[float], c: list[float]
) -> None:
    col = PROFILE.columns["x"]
    ha, hb, hc = (histogram(col, np.array(v, dtype=float)) for v in (a, b, c))
    left = merge(merge(ha, hb), hc)
    right = merge(ha, merge(hb, hc))
    assert left.counts == right.counts and left.min == right.min and left.rows == right.rows
    _same(left, right)
    _same(left, histogram(col, np.array(a + b + c, dtype=float)))
    _same(merge(ha, hb), merge(hb, ha))
    _same(merge(ha, empty_histogram(col)), ha)
    _same(merge_many([ha, hb, hc]), left)


@settings(max_examples=150, deadline=None)
@given(a=cat_values, b=cat_values, c=cat_values)
def test_categorical_merge_is_associative_and_equals_the_concatenation(
    a: list[str | None], b: list[str | None], c: list[str | None]
) -> None:
    col = PROFILE.columns["c"]
    ha, hb, hc = (histogram(col, np.array(v, dtype=object)) for v in (a, b, c))
    left = merge(merge(ha, hb), hc)
    assert left == merge(ha, merge(hb, hc))
    assert left == histogram(col, np.array(a + b + c, dtype=object))
    assert merge(ha, hb) == merge(hb, ha)
    assert merge(ha, empty_histogram(col)) == ha
    assert merge_many([ha, hb, hc]) == left


@settings(max_examples=100, deadline=None)
@given(x=num_values, c=cat_values)
def test_histogram_json_round_trip(x: list[float], c: list[str | None]) -> None:
    for name, values in (("x", np.array(x, dtype=float)), ("c", np.array(c, dtype=object))):
        h = histogram(PROFILE.columns[name], values)
        assert SliceHistogram.from_json(h.to_json()) == h


def test_a_day_of_slices_merges_to_the_whole_day() -> None:
    rng = np.random.default_rng(2)
    col = PROFILE.columns["x"]
    minutes = [rng.normal(0.3, 1.0, 50) for _ in range(1440)]
    merged = merge_many([histogram(col, m) for m in minutes])
    _same(merged, histogram(col, np.concatenate(minutes)))
    assert merged.rows == 1440 * 50
