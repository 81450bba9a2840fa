"""Reference profile: quantile edges, shares and moments; chunked building in bounded memory; JSON round trip."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.core.drift.profile import (
    ColumnKind,
    ColumnProfile,
    ProfileBuilder,
    ReferenceProfile,
    as_float,
    build_profile,
    category_counts,
)

NUM = ColumnKind.NUMERICAL
CAT = ColumnKind.CATEGORICAL


def test_numerical_profile_has_quantile_edges_shares_and_moments() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(10.0, 2.0, 50_000)
    x[:500] = np.nan
    p = build_profile({"x": x}, {"x": NUM}, "v1", bins=20)
    col = p.columns["x"]
    v = x[~np.isnan(x)]
    assert p.rows == 50_000 and p.version == "v1"
    assert col.rows == 50_000 and col.missing == 500 and col.missing_share == pytest.approx(0.01)
    assert len(col.edges) == 19 and col.n_bins == 20
    assert list(col.edges) == sorted(col.edges)
    np.testing.assert_allclose(col.edges, np.quantile(v, np.linspace(0, 1, 21)[1:-1]))
    np.testing.assert_allclose(col.frequencies, 0.05, atol=1e-4)
    assert sum(col.frequencies) == pytest.approx(1.0)
    assert col.min == v.min() and col.max == v.max()
    assert col.mean == pytest.approx(v.mean()) and col.std == pytest.approx(v.std())
    assert not col.approximate
    # bin means lie inside their bins
    assert col.min is not None and col.max is not None
    lo = (col.min, *col.edges)
    hi = (*col.edges, col.max)
    assert all(a <= m <= b for a, m, b in zip(lo, col.bin_means, hi, strict=True))


def test_duplicate_quantiles_are_deduplicated() -> None:
    x = np.concatenate([np.zeros(9_000), np.arange(1, 1_001, dtype=float)])
    col = build_profile({"x": x}, {"x": NUM}, "v")
    assert len(set(col.columns["x"].edges)) == len(col.columns["x"].edges) < 19
    assert sum(col.columns["x"].frequencies) == pytest.approx(1.0)
    const = build_profile({"x": np.full(100, 3.0)}, {"x": NUM}, "v").columns["x"]
    assert const.edges == (3.0,) and const.frequencies == (0.0, 1.0) and const.std == 0.0


def test_all_missing_numerical_column() -> None:
    col = build_profile({"x": np.full(10, np.nan)}, {"x": NUM}, "v").columns["x"]
    assert col.missing == 10 and col.n_bins == 1 and col.min is None
    assert ReferenceProfile.from_json(ReferenceProfile("v", {"x": col}, 10).to_json()).columns["x"] == col


def test_categorical_profile_top_k_other_and_rare() -> None:
    values = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 15 + ["d"] * 4 + ["e"] * 1 + [None] * 10, dtype=object)
    col = build_profile({"c": values}, {"c": CAT}, "v", top_k=3).columns["c"]
    assert col.categories == ("a", "b", "c")
    assert col.rare == ("d", "e")
    assert col.frequencies == pytest.approx((0.5, 0.3, 0.15, 0.05))
    assert col.missing == 10 and col.rows == 110 and col.n_bins == 5
    np.testing.assert_allclose(col.reference_shares(), [0.5, 0.3, 0.15, 0.05, 0.0])


def test_missing_values_of_every_flavour() -> None:
    obj = pd.Series(["a", None, np.nan, pd.NA, "b"], dtype=object).to_numpy()
    counts, missing, rows = category_counts(obj)
    assert dict(counts) == {"a": 1, "b": 1} and missing == 3 and rows == 5
    nullable = pd.array([1.5, None, 2.5], dtype="Float64").to_numpy()
    np.testing.assert_array_equal(np.isnan(as_float(nullable)), [False, True, False])
    np.testing.assert_array_equal(np.isnan(as_float(np.array([1.0, np.inf, -np.inf, np.nan]))), [0, 1, 1, 1])
    assert dict(category_counts(np.array([1, 2, 2]))[0]) == {"1": 1, "2": 2}


def test_chunked_build_equals_in_memory_build_while_the_reservoir_holds_everything() -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.exponential(2.0, 20_000), "c": rng.choice(["u", "v", "w"], 20_000)})
    kinds = {"x": NUM, "c": CAT}
    whole = build_profile({k: df[k].to_numpy() for k in kinds}, kinds, "v")
    b = ProfileBuilder(kinds, "v", reservoir=50_000)
    for start in range(0, len(df), 3_000):
        chunk = df.iloc[start : start + 3_000]
        b.update({k: chunk[k].to_numpy() for k in kinds})
    chunked = b.build()
    assert chunked.rows == whole.rows == 20_000
    assert chunked.columns["c"] == whole.columns["c"]
    cx, wx = chunked.columns["x"], whole.columns["x"]
    assert cx.edges == wx.edges and cx.frequencies == wx.frequencies and cx.min == wx.min and cx.max == wx.max
    assert cx.mean == pytest.approx(wx.mean, rel=1e-12) and cx.std == pytest.approx(wx.std, rel=1e-12)


def test_memory_bounded_reservoir_on_two_million_rows() -> None:
    cap = 100_000
    b = ProfileBuilder({"x": NUM, "c": CAT}, "v", reservoir=cap, max_categories=1_000, seed=11)
    rng = np.random.default_rng(5)
    total = 0
    sizes = []
    for _ in range(20):
        x = rng.normal(5.0, 3.0, 100_000)
        c = rng.integers(0, 5_000, 100_000)  # more distinct values than the cap
        b.update({"x": x, "c": c})
        total += x.size
        sizes.append(b.reservoir("x").size)
    assert total == 2_000_000 and b.rows == total
    assert sizes[-1] == cap and max(sizes) == cap
    assert b.reservoir("x").nbytes == cap * 8
    p = b.build()
    px = p.columns["x"]
    assert px.approximate
    # exact moments, approximate quantiles: the reservoir's edges are close to the true normal quantiles
    assert px.mean == pytest.approx(5.0, abs=0.01) and px.std == pytest.approx(3.0, abs=0.01)
    true = np.array([NormalDist(5.0, 3.0).inv_cdf(float(q)) for q in np.linspace(0, 1, 21)[1:-1]])
    np.testing.assert_allclose(px.edges, true, atol=0.05)
    np.testing.assert_allclose(px.frequencies, 0.05, atol=0.003)
    pc = p.columns["c"]
    assert pc.rare_truncated and len(pc.rare) <= 1_000 and sum(pc.frequencies) == pytest.approx(1.0)


def test_reservoir_is_a_uniform_sample() -> None:
    # values 0..N-1 in chunks: a uniform sample has mean ~ N/2 and covers the whole range
    n, cap = 1_000_000, 20_000
    b = ProfileBuilder({"x": NUM}, "v", reservoir=cap, seed=1)
    for start in range(0, n, 70_001):
        b.update({"x": np.arange(start, min(n, start + 70_001), dtype=float)})
    s = b.reservoir("x")
    assert s.size == cap and np.unique(s).size == cap
    assert s.mean() == pytest.approx(n / 2, rel=0.02)
    counts = np.histogram(s, bins=10, range=(0, n))[0]
    assert counts.min() > cap / 10 * 0.9


def test_builder_rejects_bad_chunks() -> None:
    b = ProfileBuilder({"x": NUM, "c": CAT}, "v")
    with pytest.raises(KeyError):
        b.update({"x": np.ones(3)})
    with pytest.raises(ValueError):
        b.update({"x": np.ones(3), "c": np.array(["a"])})


@settings(max_examples=60, deadline=None)
@given(
    x=st.lists(st.one_of(st.floats(-1e6, 1e6), st.none()), min_size=0, max_size=60),
    c=st.lists(st.one_of(st.sampled_from(["a", "b", "c", "zz", ""]), st.none()), min_size=0, max_size=60),
    bins=st.integers(1, 25),
    top_k=st.integers(0, 4),
)
def test_profile_json_round_trip(x: list[float | None], c: list[str | None], bins: int, top_k: int) -> None:
    n = min(len(x), len(c))
    cols = {"x": np.array(x[:n], dtype=object), "c": np.array(c[:n], dtype=object)}
    p = build_profile(cols, {"x": NUM, "c": CAT}, "ref-2026-11", bins=bins, top_k=top_k)
    back = ReferenceProfile.from_json(p.to_json())
    assert back == p
    assert back.to_json() == p.to_json()
    for col in p.columns.values():
        assert isinstance(col, ColumnProfile)
        assert all(math.isfinite(f) for f in col.frequencies)
