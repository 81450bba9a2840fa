"""Data quality of current data from its histograms and the reference profile: missing values, new
categories, values out of the reference range, and the schema (missing / unexpected columns, kind changes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from slo_service.core.drift.histograms import SliceHistogram
from slo_service.core.drift.profile import ColumnKind, ColumnProfile, ReferenceProfile


@dataclass(frozen=True)
class ColumnQuality:
    column: str
    rows: int
    missing_share: float  # of the current rows
    reference_missing_share: float
    new_categories: int  # categorical: current values of categories unseen in the reference
    new_category_share: float  # of the non-missing current values
    new_examples: tuple[str, ...]
    out_of_range_share: float  # numerical: share of the non-missing current values outside [ref min, ref max]


@dataclass(frozen=True)
class SchemaCheck:
    missing_columns: tuple[str, ...]  # in the reference, not in the current data
    unexpected_columns: tuple[str, ...]  # in the current data, not in the reference
    kind_changed: tuple[tuple[str, ColumnKind, ColumnKind], ...]  # (column, reference kind, current kind)

    @property
    def ok(self) -> bool:
        return not (self.missing_columns or self.unexpected_columns or self.kind_changed)


def column_quality(col: ColumnProfile, hist: SliceHistogram) -> ColumnQuality:
    values = hist.values
    return ColumnQuality(
        column=col.name,
        rows=hist.rows,
        missing_share=hist.missing / hist.rows if hist.rows else 0.0,
        reference_missing_share=col.missing_share,
        new_categories=hist.new,
        new_category_share=hist.new / values if values else 0.0,
        new_examples=hist.new_examples,
        out_of_range_share=hist.out_of_range / values if values else 0.0,
    )


def dataset_quality(profile: ReferenceProfile, hists: Mapping[str, SliceHistogram]) -> dict[str, ColumnQuality]:
    """Quality of every profiled column that has a histogram."""
    return {name: column_quality(col, hists[name]) for name, col in profile.columns.items() if name in hists}


def infer_kind(values: npt.ArrayLike) -> ColumnKind:
    """Numerical for integer and float arrays; categorical for everything else (booleans, strings, objects)."""
    return ColumnKind.NUMERICAL if np.asarray(values).dtype.kind in "iuf" else ColumnKind.CATEGORICAL


def schema_check(profile: ReferenceProfile, current: Mapping[str, ColumnKind]) -> SchemaCheck:
    """Compare the current column names and kinds (e.g. from `infer_kind`) to the reference profile."""
    ref = profile.kinds()
    return SchemaCheck(
        missing_columns=tuple(sorted(set(ref) - set(current))),
        unexpected_columns=tuple(sorted(set(current) - set(ref))),
        kind_changed=tuple(
            (name, ref[name], ColumnKind(current[name]))
            for name in sorted(set(ref) & set(current))
            if ColumnKind(current[name]) is not ref[name]
        ),
    )


def data_quality_findings(quality: Mapping[str, ColumnQuality], max_missing_increase: float) -> list[str]:
    """Columns whose data is broken: entirely empty, or missing values up by more than `max_missing_increase`
    (a share, 0.5 = 50 points) over the reference."""
    out: list[str] = []
    for name, q in quality.items():
        if q.rows and q.missing_share >= 1.0:
            out.append(f"column {name!r} is entirely empty ({q.rows} rows)")
        elif q.rows and q.missing_share - q.reference_missing_share > max_missing_increase:
            out.append(
                f"column {name!r} is {q.missing_share:.0%} missing (reference {q.reference_missing_share:.0%}), "
                f"more than {max_missing_increase:.0%} above the reference"
            )
    return out
