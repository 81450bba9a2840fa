"""Reference profile: what the cheap drift metrics need from the reference, computed once per reference version.

A `ReferenceProfile` is built once per reference version (`build_profile` on in-memory arrays, or
`ProfileBuilder` on chunks) and stored as JSON; the per-slice histograms (histograms.py) and the scores
(scores.py) never read reference rows again.

Per column:

- numerical: inner quantile bin edges of the reference (``bins`` bins from the quantiles
  1/bins .. (bins-1)/bins, deduplicated; the outer bins are open, i.e. the edges are
  ``-inf, *inner_edges, +inf``, and bins are left-closed ``[e_i, e_{i+1})``), the reference share and
  mean of every bin, min/max, mean/std and the missing count;
- categorical: the top-K categories with their shares, an "other" share (the rest of the reference),
  the other categories seen in the reference (``rare``, capped) so that values unseen in the reference
  can be counted as NEW, and the missing count.

Missing values: NaN, None and (as Evidently does) +-inf for numerical columns; None, NaN and pandas' NA
for categorical ones. Shares (``frequencies``) are of the non-missing values. Categories are compared by
their string form (``str(value)``), so they survive JSON; ``1`` and ``"1"`` are the same category.

Memory and the approximation of `ProfileBuilder`: the moments (count, mean, std via Chan's parallel
update), min/max and missing counts are exact whatever the input size; the quantile edges, bin shares and
bin means come from a uniform reservoir sample (Algorithm R, seeded RNG) of at most ``reservoir``
non-missing values per column, so they are exact when a column has at most ``reservoir`` values and
otherwise estimates (the standard error of a bin share p is about sqrt(p(1-p)/reservoir): 0.0007 for
p=0.05 and 100k values). Categorical counts are exact while a column has at most ``max_categories``
distinct values; after that, values of categories not yet seen are only counted (as other).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DEFAULT_BINS = 20
DEFAULT_TOP_K = 50
DEFAULT_RESERVOIR = 100_000
DEFAULT_MAX_CATEGORIES = 100_000
MAX_RARE = 10_000  # categories beyond the top K kept in a profile to tell "other" from "new"


class ColumnKind(StrEnum):
    NUMERICAL = "numerical"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class ColumnProfile:
    """The reference of one column. Numerical fields are empty/None for a categorical column and vice versa."""

    name: str
    kind: ColumnKind
    rows: int  # reference rows, missing included
    missing: int
    # numerical
    edges: tuple[float, ...] = ()  # inner edges; bins = len(edges) + 1
    bin_means: tuple[float, ...] = ()  # reference mean of each bin (bin centre when the bin is empty)
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None  # population std (ddof=0), as numpy and Evidently's normalisation use
    approximate: bool = False  # edges/shares from a reservoir sample, not from every value
    # categorical
    categories: tuple[str, ...] = ()  # top-K, most frequent first
    rare: tuple[str, ...] = ()  # other categories seen in the reference (at most MAX_RARE)
    rare_truncated: bool = False  # more categories than `rare` holds: "new" is then an upper bound
    # both: shares of the non-missing reference values per bin; categorical: per category, then "other"
    frequencies: tuple[float, ...] = ()

    @property
    def missing_share(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    @property
    def n_bins(self) -> int:
        """Bins of a histogram of this column: numerical bins, or categories + other + new."""
        if self.kind is ColumnKind.NUMERICAL:
            return len(self.edges) + 1
        return len(self.categories) + 2

    def reference_shares(self) -> FloatArray:
        """Reference shares aligned with a histogram's counts (categorical: "new" has share 0)."""
        f = np.asarray(self.frequencies, dtype=np.float64)
        if self.kind is ColumnKind.CATEGORICAL:
            f = np.append(f, 0.0)
        return f

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "rows": self.rows,
            "missing": self.missing,
            "edges": list(self.edges),
            "bin_means": list(self.bin_means),
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            "approximate": self.approximate,
            "categories": list(self.categories),
            "rare": list(self.rare),
            "rare_truncated": self.rare_truncated,
            "frequencies": list(self.frequencies),
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> ColumnProfile:
        def opt(v: Any) -> float | None:
            return None if v is None else float(v)

        return ColumnProfile(
            name=str(d["name"]),
            kind=ColumnKind(d["kind"]),
            rows=int(d["rows"]),
            missing=int(d["missing"]),
            edges=tuple(float(x) for x in d.get("edges", ())),
            bin_means=tuple(float(x) for x in d.get("bin_means", ())),
            min=opt(d.get("min")),
            max=opt(d.get("max")),
            mean=opt(d.get("mean")),
            std=opt(d.get("std")),
            approximate=bool(d.get("approximate", False)),
            categories=tuple(str(x) for x in d.get("categories", ())),
            rare=tuple(str(x) for x in d.get("rare", ())),
            rare_truncated=bool(d.get("rare_truncated", False)),
            frequencies=tuple(float(x) for x in d.get("frequencies", ())),
        )


@dataclass(frozen=True)
class ReferenceProfile:
    version: str
    columns: Mapping[str, ColumnProfile]
    rows: int

    def to_json(self) -> str:
        doc = {
            "version": self.version,
            "rows": self.rows,
            "columns": [c.to_dict() for c in self.columns.values()],
        }
        return json.dumps(doc, allow_nan=False, separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> ReferenceProfile:
        doc = json.loads(text)
        cols = [ColumnProfile.from_dict(c) for c in doc["columns"]]
        return ReferenceProfile(version=str(doc["version"]), columns={c.name: c for c in cols}, rows=int(doc["rows"]))

    def kinds(self) -> dict[str, ColumnKind]:
        return {name: c.kind for name, c in self.columns.items()}


# ---------------------------------------------------------------------------------------------- values


def _is_missing(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return v != v  # NaN only: in a categorical column "inf" is a category
    return type(v).__name__ in ("NAType", "NaTType")


def as_float(values: npt.ArrayLike) -> FloatArray:
    """Values of a numerical column as float64, missing (None, NA, NaN, +-inf) as NaN."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        out = arr.astype(np.float64, copy=False)
    else:
        try:
            out = arr.astype(np.float64)
        except (TypeError, ValueError):
            out = np.array([np.nan if _is_missing(v) else float(v) for v in arr.ravel().tolist()], dtype=np.float64)
    out = out.ravel()
    if not np.isfinite(out).all():
        out = np.where(np.isfinite(out), out, np.nan)
    return out


def category_counts(values: npt.ArrayLike) -> tuple[Counter[str], int, int]:
    """(count per category label, missing count, rows) of a categorical column."""
    arr = np.asarray(values).ravel()
    raw: Counter[Any] = Counter(arr.tolist())
    out: Counter[str] = Counter()
    missing = 0
    for v, n in raw.items():
        if _is_missing(v):
            missing += n
        else:
            out[v if isinstance(v, str) else str(v)] += n
    return out, missing, int(arr.size)


# ---------------------------------------------------------------------------------------------- builder


@dataclass
class _NumState:
    rows: int = 0
    missing: int = 0
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    seen: int = 0  # values offered to the reservoir
    reservoir: FloatArray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    filled: int = 0


@dataclass
class _CatState:
    rows: int = 0
    missing: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    overflow: int = 0  # values of categories first seen after the distinct cap was reached
    capped: bool = False


class ProfileBuilder:
    """Builds a `ReferenceProfile` from chunks of columns, in bounded memory (see the module docstring)."""

    def __init__(
        self,
        kinds: Mapping[str, ColumnKind],
        version: str,
        *,
        bins: int = DEFAULT_BINS,
        top_k: int = DEFAULT_TOP_K,
        reservoir: int = DEFAULT_RESERVOIR,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
        seed: int = 0,
    ) -> None:
        if bins < 1 or top_k < 0 or reservoir < 1 or max_categories < 1:
            raise ValueError("bins, reservoir and max_categories must be >= 1, top_k >= 0")
        self.kinds = {k: ColumnKind(v) for k, v in kinds.items()}
        self.version = version
        self.bins = bins
        self.top_k = top_k
        self.reservoir_size = reservoir
        self.max_categories = max_categories
        self._rng = np.random.default_rng(seed)
        self._rows = 0
        self._num: dict[str, _NumState] = {}
        self._cat: dict[str, _CatState] = {}
        for name, kind in self.kinds.items():
            if kind is ColumnKind.NUMERICAL:
                self._num[name] = _NumState(reservoir=np.empty(reservoir, dtype=np.float64))
            else:
                self._cat[name] = _CatState()

    @property
    def rows(self) -> int:
        return self._rows

    def reservoir(self, column: str) -> FloatArray:
        """The current reservoir sample of a numerical column (a view; its size never exceeds `reservoir`)."""
        st = self._num[column]
        return st.reservoir[: st.filled]

    def update(self, columns: Mapping[str, npt.ArrayLike]) -> None:
        """Add one chunk. Every profiled column must be present, with the same number of rows."""
        sizes = set()
        for name in self.kinds:
            if name not in columns:
                raise KeyError(f"chunk lacks column {name!r}")
        for name, st in self._num.items():
            sizes.add(self._update_num(st, as_float(columns[name])))
        for name, cs in self._cat.items():
            sizes.add(self._update_cat(cs, columns[name]))
        if len(sizes) > 1:
            raise ValueError(f"columns of a chunk differ in length: {sorted(sizes)}")
        self._rows += sizes.pop() if sizes else 0

    def _update_num(self, st: _NumState, x: FloatArray) -> int:
        st.rows += x.size
        v = x[~np.isnan(x)]
        st.missing += x.size - v.size
        if v.size == 0:
            return int(x.size)
        # Chan et al. parallel update of count/mean/M2
        n_b = v.size
        mean_b = float(v.mean())
        m2_b = float(((v - mean_b) ** 2).sum())
        n = st.n + n_b
        delta = mean_b - st.mean
        st.mean += delta * n_b / n
        st.m2 += m2_b + delta * delta * st.n * n_b / n
        st.n = n
        st.min = min(st.min, float(v.min()))
        st.max = max(st.max, float(v.max()))
        # reservoir sampling (Algorithm R), vectorised: value j (0-based over the column) replaces slot
        # r ~ U{0..j} when r < capacity; among several hits of one slot in a chunk the last one wins.
        cap = st.reservoir.size
        take = min(cap - st.filled, v.size)
        if take > 0:
            st.reservoir[st.filled : st.filled + take] = v[:take]
            st.filled += take
        rest = v[take:]
        if rest.size:
            j = np.arange(st.seen + take, st.seen + take + rest.size, dtype=np.float64)
            r = np.floor(self._rng.random(rest.size) * (j + 1.0)).astype(np.int64)
            hit = np.flatnonzero(r < cap)
            if hit.size:
                slots = r[hit][::-1]
                vals = rest[hit][::-1]
                uniq, first = np.unique(slots, return_index=True)  # first in reversed order = last hit
                st.reservoir[uniq] = vals[first]
        st.seen += v.size
        return int(x.size)

    def _update_cat(self, cs: _CatState, values: npt.ArrayLike) -> int:
        counts, missing, rows = category_counts(values)
        cs.rows += rows
        cs.missing += missing
        for label, n in counts.items():
            if label in cs.counts or len(cs.counts) < self.max_categories:
                cs.counts[label] += n
            else:
                cs.overflow += n
                cs.capped = True
        return rows

    def build(self) -> ReferenceProfile:
        cols: dict[str, ColumnProfile] = {}
        for name, kind in self.kinds.items():
            if kind is ColumnKind.NUMERICAL:
                cols[name] = self._build_num(name, self._num[name])
            else:
                cols[name] = self._build_cat(name, self._cat[name])
        return ReferenceProfile(version=self.version, columns=cols, rows=self._rows)

    def _build_num(self, name: str, st: _NumState) -> ColumnProfile:
        sample = np.sort(st.reservoir[: st.filled])
        if sample.size == 0:
            return ColumnProfile(
                name=name,
                kind=ColumnKind.NUMERICAL,
                rows=st.rows,
                missing=st.missing,
                frequencies=(0.0,),
                bin_means=(0.0,),
            )
        qs = np.linspace(0.0, 1.0, self.bins + 1)[1:-1]
        inner = np.unique(np.quantile(sample, qs)) if qs.size else np.empty(0)
        if inner.size == 0:
            inner = np.array([sample[0]])
        idx = np.searchsorted(inner, sample, side="right")
        nb = inner.size + 1
        counts = np.bincount(idx, minlength=nb).astype(np.float64)
        sums = np.bincount(idx, weights=sample, minlength=nb)
        lo = np.concatenate(([st.min], inner))
        hi = np.concatenate((inner, [st.max]))
        centres = (lo + np.maximum(lo, hi)) / 2.0
        means = np.where(counts > 0, sums / np.maximum(counts, 1.0), centres)
        std = math.sqrt(max(st.m2 / st.n, 0.0))
        return ColumnProfile(
            name=name,
            kind=ColumnKind.NUMERICAL,
            rows=st.rows,
            missing=st.missing,
            edges=tuple(float(e) for e in inner),
            bin_means=tuple(float(m) for m in means),
            min=st.min,
            max=st.max,
            mean=st.mean,
            std=std,
            approximate=st.seen > st.filled,
            frequencies=tuple(float(c) for c in counts / sample.size),
        )

    def _build_cat(self, name: str, cs: _CatState) -> ColumnProfile:
        ranked = sorted(cs.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        top = ranked[: self.top_k]
        rest = ranked[self.top_k :]
        total = cs.rows - cs.missing
        other = sum(n for _, n in rest) + cs.overflow
        freqs = [n / total if total else 0.0 for _, n in top] + [other / total if total else 0.0]
        rare = sorted(label for label, _ in rest[:MAX_RARE])
        return ColumnProfile(
            name=name,
            kind=ColumnKind.CATEGORICAL,
            rows=cs.rows,
            missing=cs.missing,
            categories=tuple(label for label, _ in top),
            rare=tuple(rare),
            rare_truncated=cs.capped or len(rest) > MAX_RARE,
            frequencies=tuple(freqs),
        )


def build_profile(
    columns: Mapping[str, npt.ArrayLike],
    kinds: Mapping[str, ColumnKind],
    version: str,
    bins: int = DEFAULT_BINS,
    top_k: int = DEFAULT_TOP_K,
) -> ReferenceProfile:
    """The exact profile of in-memory reference columns (the reservoir holds every value)."""
    sizes: Iterable[int] = (np.asarray(columns[k]).size for k in kinds)
    n = max(sizes, default=0)
    b = ProfileBuilder(kinds, version, bins=bins, top_k=top_k, reservoir=max(1, n), max_categories=max(1, n))
    b.update({k: columns[k] for k in kinds})
    return b.build()
