"""Mergeable per-slice histograms of the current data, binned on a `ReferenceProfile`.

One `SliceHistogram` per column and time slice holds a fixed number of integers (plus, for numerical
columns, one float sum per bin), whatever the number of rows; the histogram of any window is the
`merge` of its slices, so drift over a window never re-reads rows.

Layout of ``counts``:

- numerical: one count per reference bin (``np.searchsorted`` on the profile's inner edges,
  ``side="right"``: bins are ``[e_i, e_{i+1})`` with open outer bins);
- categorical: one count per top-K reference category, then "other" (reference categories beyond the
  top K), then "new" (categories never seen in the reference).

`merge` is associative and commutative. Counts, missing, rows, min/max, below/above and the new
category examples merge exactly; the per-bin float ``sums`` (used only to place each bin's mass at its
mean for the Wasserstein distance) are float additions, exact up to rounding.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from slo_service.core.drift.profile import ColumnKind, ColumnProfile, ReferenceProfile, as_float, category_counts

MAX_NEW_EXAMPLES = 20  # new categories named in a histogram: the smallest labels, so merge stays associative


@dataclass(frozen=True)
class SliceHistogram:
    column: str
    kind: ColumnKind
    counts: tuple[int, ...]  # non-missing values per bin (see the module docstring)
    missing: int = 0
    rows: int = 0  # missing included
    min: float | None = None  # numerical: smallest/largest non-missing value seen
    max: float | None = None
    below: int = 0  # numerical: values < the reference min
    above: int = 0  # numerical: values > the reference max
    sums: tuple[float, ...] = ()  # numerical: sum of the values per bin
    new_examples: tuple[str, ...] = ()  # categorical: up to MAX_NEW_EXAMPLES new categories, sorted

    @property
    def values(self) -> int:
        """Non-missing values."""
        return sum(self.counts)

    @property
    def other(self) -> int:
        return self.counts[-2] if self.kind is ColumnKind.CATEGORICAL else 0

    @property
    def new(self) -> int:
        return self.counts[-1] if self.kind is ColumnKind.CATEGORICAL else 0

    @property
    def out_of_range(self) -> int:
        return self.below + self.above

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind.value,
            "counts": list(self.counts),
            "missing": self.missing,
            "rows": self.rows,
            "min": self.min,
            "max": self.max,
            "below": self.below,
            "above": self.above,
            "sums": list(self.sums),
            "new_examples": list(self.new_examples),
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> SliceHistogram:
        return SliceHistogram(
            column=str(d["column"]),
            kind=ColumnKind(d["kind"]),
            counts=tuple(int(c) for c in d["counts"]),
            missing=int(d.get("missing", 0)),
            rows=int(d.get("rows", 0)),
            min=None if d.get("min") is None else float(d["min"]),
            max=None if d.get("max") is None else float(d["max"]),
            below=int(d.get("below", 0)),
            above=int(d.get("above", 0)),
            sums=tuple(float(s) for s in d.get("sums", ())),
            new_examples=tuple(str(s) for s in d.get("new_examples", ())),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> SliceHistogram:
        return SliceHistogram.from_dict(json.loads(text))


def empty_histogram(col: ColumnProfile) -> SliceHistogram:
    """The histogram of no rows (the identity of `merge`)."""
    nb = col.n_bins
    sums = (0.0,) * nb if col.kind is ColumnKind.NUMERICAL else ()
    return SliceHistogram(column=col.name, kind=col.kind, counts=(0,) * nb, sums=sums)


def _opt(f: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return float(f(a, b))


def merge(a: SliceHistogram, b: SliceHistogram) -> SliceHistogram:
    """The histogram of the rows of both (same column, binned on the same profile)."""
    if a.column != b.column or a.kind is not b.kind or len(a.counts) != len(b.counts) or len(a.sums) != len(b.sums):
        raise ValueError(f"cannot merge histograms of {a.column!r} and {b.column!r} with different bins")
    return SliceHistogram(
        column=a.column,
        kind=a.kind,
        counts=tuple(x + y for x, y in zip(a.counts, b.counts, strict=True)),
        missing=a.missing + b.missing,
        rows=a.rows + b.rows,
        min=_opt(min, a.min, b.min),
        max=_opt(max, a.max, b.max),
        below=a.below + b.below,
        above=a.above + b.above,
        sums=tuple(x + y for x, y in zip(a.sums, b.sums, strict=True)),
        new_examples=tuple(sorted(set(a.new_examples) | set(b.new_examples))[:MAX_NEW_EXAMPLES]),
    )


def merge_many(hists: list[SliceHistogram]) -> SliceHistogram:
    """Merge of many slices of one column, summed with numpy (as folding `merge`; the float sums up to rounding)."""
    if not hists:
        raise ValueError("nothing to merge")
    first = hists[0]
    if len(hists) == 1:
        return first
    for h in hists:
        if h.column != first.column or h.kind is not first.kind or len(h.counts) != len(first.counts):
            raise ValueError(f"cannot merge histograms of {first.column!r} and {h.column!r} with different bins")
    counts = np.array([h.counts for h in hists], dtype=np.int64).sum(axis=0)
    sums: tuple[float, ...] = ()
    if first.sums:
        sums = tuple(float(x) for x in np.array([h.sums for h in hists], dtype=np.float64).sum(axis=0))
    mins = [h.min for h in hists if h.min is not None]
    maxs = [h.max for h in hists if h.max is not None]
    examples: set[str] = set()
    for h in hists:
        examples.update(h.new_examples)
    return SliceHistogram(
        column=first.column,
        kind=first.kind,
        counts=tuple(int(c) for c in counts),
        missing=sum(h.missing for h in hists),
        rows=sum(h.rows for h in hists),
        min=min(mins) if mins else None,
        max=max(maxs) if maxs else None,
        below=sum(h.below for h in hists),
        above=sum(h.above for h in hists),
        sums=sums,
        new_examples=tuple(sorted(examples)[:MAX_NEW_EXAMPLES]),
    )


def histogram(col: ColumnProfile, values: npt.ArrayLike) -> SliceHistogram:
    """The histogram of one column's values on its reference profile."""
    if col.kind is ColumnKind.NUMERICAL:
        return _numerical(col, as_float(values))
    return _categorical(col, values)


def _numerical(col: ColumnProfile, x: npt.NDArray[np.float64]) -> SliceHistogram:
    nb = col.n_bins
    v = x[~np.isnan(x)]
    if v.size == 0:
        return SliceHistogram(
            column=col.name, kind=col.kind, counts=(0,) * nb, missing=int(x.size), rows=int(x.size), sums=(0.0,) * nb
        )
    idx = np.searchsorted(np.asarray(col.edges, dtype=np.float64), v, side="right")
    counts = np.bincount(idx, minlength=nb)
    sums = np.bincount(idx, weights=v, minlength=nb)
    below = int(np.count_nonzero(v < col.min)) if col.min is not None else 0
    above = int(np.count_nonzero(v > col.max)) if col.max is not None else 0
    return SliceHistogram(
        column=col.name,
        kind=col.kind,
        counts=tuple(int(c) for c in counts),
        missing=int(x.size - v.size),
        rows=int(x.size),
        min=float(v.min()),
        max=float(v.max()),
        below=below,
        above=above,
        sums=tuple(float(s) for s in sums),
    )


def _categorical(col: ColumnProfile, values: npt.ArrayLike) -> SliceHistogram:
    counts, missing, rows = category_counts(values)
    index = {c: i for i, c in enumerate(col.categories)}
    rare = frozenset(col.rare)
    k = len(col.categories)
    out = [0] * (k + 2)
    new: list[str] = []
    for label, n in counts.items():
        i = index.get(label)
        if i is not None:
            out[i] += n
        elif label in rare:
            out[k] += n
        else:
            out[k + 1] += n
            new.append(label)
    return SliceHistogram(
        column=col.name,
        kind=col.kind,
        counts=tuple(out),
        missing=missing,
        rows=rows,
        new_examples=tuple(sorted(new)[:MAX_NEW_EXAMPLES]),
    )


def histogram_batch(profile: ReferenceProfile, columns: Mapping[str, npt.ArrayLike]) -> dict[str, SliceHistogram]:
    """Histograms of one slice for every profiled column present in `columns` (others are ignored)."""
    return {name: histogram(col, columns[name]) for name, col in profile.columns.items() if name in columns}
