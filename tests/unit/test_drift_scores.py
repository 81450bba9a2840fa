"""Drift scores on binned distributions, their verdicts, the chi-square survival function and data quality."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.core.drift.histograms import empty_histogram, histogram, histogram_batch, merge_many
from slo_service.core.drift.profile import ColumnKind, ColumnProfile, build_profile
from slo_service.core.drift.quality import column_quality, dataset_quality, infer_kind, schema_check
from slo_service.core.drift.scores import (
    ColumnDrift,
    chi2_sf,
    chisquare_pvalue,
    column_drift,
    dataset_drift,
    jensenshannon,
    psi,
    wasserstein_points,
)

NUM = ColumnKind.NUMERICAL
CAT = ColumnKind.CATEGORICAL
N = 50_000

# scipy.stats.chi2.sf(x, k), computed once with scipy 1.17
CHI2_SF = [
    (3.841458820694124, 1, 0.04999999999999989),
    (10.0, 5, 0.07523524614651217),
    (100.0, 50, 3.454931382984871e-05),
    (0.5, 3, 0.9188914116546758),
    (1e-3, 2, 0.9995001249791693),
    (250.0, 200, 0.009379131668826098),
    (30.0, 1, 4.3204630578274955e-08),
    (1.0, 100, 1.0),
    (5000.0, 4900, 0.1562274137489366),
]


@pytest.mark.parametrize(("x", "k", "expected"), CHI2_SF)
def test_chi2_sf_known_values(x: float, k: int, expected: float) -> None:
    assert chi2_sf(x, k) == pytest.approx(expected, rel=1e-10)


def test_chi2_sf_edges() -> None:
    assert chi2_sf(0.0, 3) == 1.0 and chi2_sf(math.inf, 3) == 0.0
    assert chi2_sf(2.0, 2) == pytest.approx(math.exp(-1.0), rel=1e-14)  # k=2: exp(-x/2)
    with pytest.raises(ValueError):
        chi2_sf(1.0, 0)


@settings(max_examples=200, deadline=None)
@given(x=st.floats(1e-6, 500.0), k=st.integers(1, 300))
def test_chi2_sf_matches_scipy(x: float, k: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    assert chi2_sf(x, k) == pytest.approx(float(stats.chi2.sf(x, k)), rel=1e-8, abs=1e-300)


def test_chi2_sf_is_monotone_in_x() -> None:
    xs = np.linspace(0.01, 60, 400)
    vals = [chi2_sf(float(x), 7) for x in xs]
    assert all(a >= b for a, b in itertools.pairwise(vals))


def test_scores_on_vectors() -> None:
    p = [0.25, 0.25, 0.25, 0.25]
    assert psi(p, p) == 0.0 and jensenshannon(p, p) == 0.0
    assert jensenshannon([1, 0], [0, 1]) == pytest.approx(1.0)  # disjoint supports: 1 in base 2
    assert jensenshannon([1, 0], [0, 1], base=math.e) == pytest.approx(math.sqrt(math.log(2)))
    # PSI against a hand computation
    r, c = np.array([0.5, 0.5]), np.array([0.4, 0.6])
    assert psi(r, c) == pytest.approx(float(np.sum((r - c) * np.log(r / c))))
    assert wasserstein_points([0.0], [1.0], [3.0], [1.0]) == pytest.approx(3.0)
    assert wasserstein_points([0.0, 1.0], [1, 1], [0.0, 1.0], [1, 1]) == 0.0


def test_jensenshannon_matches_scipy() -> None:
    distance = pytest.importorskip("scipy.spatial.distance")
    rng = np.random.default_rng(4)
    for _ in range(20):
        p, q = rng.random(12), rng.random(12)
        p[rng.integers(0, 12)] = 0.0
        assert jensenshannon(p, q) == pytest.approx(float(distance.jensenshannon(p, q, base=2)), rel=1e-9)


def test_chisquare_pvalue() -> None:
    stats = pytest.importorskip("scipy.stats")
    ref = np.array([0.5, 0.3, 0.2])
    obs = np.array([480, 330, 190])
    assert chisquare_pvalue(ref, obs) == pytest.approx(float(stats.chisquare(obs, ref * obs.sum()).pvalue))
    assert chisquare_pvalue([0.5, 0.5, 0.0], [10, 10, 1]) == 0.0  # a value where the reference has none
    assert chisquare_pvalue([0.5, 0.5], [0, 0]) == 1.0


# ---------------------------------------------------------------------------------------------- column verdicts


def _normal_profile(seed: int = 1) -> ColumnProfile:
    rng = np.random.default_rng(seed)
    return build_profile({"x": rng.normal(0.0, 1.0, N)}, {"x": NUM}, "v").columns["x"]


COL = _normal_profile()


@pytest.mark.parametrize("method", ["wasserstein", "psi", "jensenshannon"])
def test_identical_distribution_scores_zero(method: str) -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(0.0, 1.0, N)  # the very reference sample
    d = column_drift(COL, histogram(COL, ref), method=method)
    assert d.score == pytest.approx(0.0, abs=1e-7) and not d.drifted  # JS: sqrt of a rounding-level divergence


@pytest.mark.parametrize("method", ["wasserstein", "psi", "jensenshannon"])
def test_scores_grow_with_a_mean_shift(method: str) -> None:
    rng = np.random.default_rng(9)
    base = rng.normal(0.0, 1.0, N)
    scores = [column_drift(COL, histogram(COL, base + s), method=method).score for s in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in itertools.pairwise(scores)), scores


def test_wasserstein_approximates_the_exact_normed_distance() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    ref = rng.normal(0.0, 1.0, N)
    for shift, scale in ((0.1, 1.0), (0.5, 1.0), (1.0, 1.0), (0.0, 1.5), (3.0, 0.5)):
        cur = rng.normal(shift, scale, N)
        exact = stats.wasserstein_distance(ref, cur) / np.std(ref)
        assert column_drift(COL, histogram(COL, cur)).score == pytest.approx(exact, abs=0.01 + 0.01 * exact)


def test_one_std_shift_is_flagged_and_no_shift_is_not() -> None:
    rng = np.random.default_rng(123)
    same = column_drift(COL, histogram(COL, rng.normal(0.0, 1.0, N)))
    shifted = column_drift(COL, histogram(COL, rng.normal(1.0, 1.0, N)))
    assert same.method == "wasserstein" and same.threshold == 0.1
    assert not same.drifted and same.score < 0.05
    assert shifted.drifted and shifted.score == pytest.approx(1.0, abs=0.05)
    for method in ("psi", "jensenshannon"):
        assert column_drift(COL, histogram(COL, rng.normal(1.0, 1.0, N)), method=method).drifted
        assert not column_drift(COL, histogram(COL, rng.normal(0.0, 1.0, N)), method=method).drifted


def test_categorical_defaults_new_category_and_small_reference() -> None:
    rng = np.random.default_rng(5)
    cats = ["a", "b", "c", "d"]
    col = build_profile({"c": rng.choice(cats, N, p=[0.4, 0.3, 0.2, 0.1])}, {"c": CAT}, "v").columns["c"]
    same = column_drift(col, histogram(col, rng.choice(cats, N, p=[0.4, 0.3, 0.2, 0.1])))
    assert same.method == "jensenshannon" and same.threshold == 0.1 and not same.drifted
    moved = column_drift(col, histogram(col, rng.choice(cats, N, p=[0.1, 0.2, 0.3, 0.4])))
    assert moved.drifted
    with_new = histogram(col, np.array(["a"] * 500 + ["brand-new"] * 500))
    assert with_new.new == 500 and column_drift(col, with_new).drifted
    # a reference of <= 1000 rows: chi-square p-value, drifted when p < 0.05
    small = build_profile({"c": rng.choice(cats, 800)}, {"c": CAT}, "v").columns["c"]
    d = column_drift(small, histogram(small, rng.choice(cats, 800)))
    assert d.method == "chisquare" and d.threshold == 0.05 and 0.0 <= d.score <= 1.0
    assert column_drift(small, histogram(small, np.array(["a"] * 800))).drifted


def test_empty_current_window_is_not_drift() -> None:
    d = column_drift(COL, empty_histogram(COL))
    assert math.isnan(d.score) and not d.drifted
    with pytest.raises(ValueError):
        column_drift(COL, empty_histogram(COL), method="nope")


def test_dataset_drift_share() -> None:
    def cd(name: str, drifted: bool, score: float = 0.5) -> ColumnDrift:
        return ColumnDrift(name, score, "psi", 0.1, drifted)

    assert dataset_drift([cd("a", True), cd("b", False)]) == (0.5, True)
    share, drifted = dataset_drift({"a": cd("a", True), "b": cd("b", False), "c": cd("c", False)})
    assert share == pytest.approx(1 / 3) and not drifted
    assert dataset_drift([cd("a", True), cd("b", False, math.nan)]) == (1.0, True)
    assert dataset_drift([]) == (0.0, False)
    assert dataset_drift([cd("a", True), cd("b", False)], share=0.75) == (0.5, False)


def test_window_score_equals_score_of_the_merged_slices() -> None:
    rng = np.random.default_rng(8)
    slices = [rng.normal(0.5, 1.0, 200) for _ in range(60)]
    merged = merge_many([histogram(COL, s) for s in slices])
    whole = histogram(COL, np.concatenate(slices))
    for method in ("wasserstein", "psi", "jensenshannon"):
        assert column_drift(COL, merged, method).score == pytest.approx(column_drift(COL, whole, method).score)


# ---------------------------------------------------------------------------------------------- quality


def test_quality_and_schema() -> None:
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 5_000), "c": rng.choice(["a", "b"], 5_000), "gone": np.ones(5_000)})
    kinds = {"x": NUM, "c": CAT, "gone": NUM}
    profile = build_profile({k: ref[k].to_numpy() for k in kinds}, kinds, "v")
    cur = pd.DataFrame(
        {
            "x": [0.0, 100.0, -100.0, np.nan],
            "c": ["a", "new", None, "b"],
            "extra": ["u", "v", "w", "x"],
        }
    )
    arrays = {k: cur[k].to_numpy() for k in cur.columns}
    q = dataset_quality(profile, histogram_batch(profile, arrays))
    assert set(q) == {"x", "c"}
    assert q["x"].missing_share == 0.25 and q["x"].out_of_range_share == pytest.approx(2 / 3)
    assert q["c"].new_categories == 1 and q["c"].new_category_share == pytest.approx(1 / 3)
    assert q["c"].new_examples == ("new",) and q["c"].reference_missing_share == 0.0
    assert column_quality(profile.columns["x"], empty_histogram(profile.columns["x"])).missing_share == 0.0
    schema = schema_check(profile, {k: infer_kind(v) for k, v in arrays.items()} | {"x": CAT})
    assert schema.missing_columns == ("gone",) and schema.unexpected_columns == ("extra",)
    assert schema.kind_changed == (("x", NUM, CAT),) and not schema.ok
    assert schema_check(profile, profile.kinds()).ok
    assert infer_kind(np.array([1, 2])) is NUM and infer_kind(np.array([True])) is CAT


@settings(max_examples=150, deadline=None)
@given(
    ref=st.lists(st.integers(0, 1_000), min_size=2, max_size=12),
    data=st.data(),
)
def test_score_ranges(ref: list[int], data: st.DataObject) -> None:
    cur = data.draw(st.lists(st.integers(0, 1_000), min_size=len(ref), max_size=len(ref)))
    if sum(ref) == 0 or sum(cur) == 0:
        return
    assert psi(ref, cur) >= -1e-12
    assert -1e-12 <= jensenshannon(ref, cur) <= 1.0 + 1e-12
    assert jensenshannon(ref, cur) == pytest.approx(jensenshannon(cur, ref))
    assert 0.0 <= chisquare_pvalue(ref, cur) <= 1.0
    assert jensenshannon(ref, ref) == pytest.approx(0.0, abs=1e-7) and psi(ref, ref) == 0.0
