"""Cheap, mergeable drift metrics: a reference profile computed once per reference version, per-slice
histograms of the current data (a window is a merge of slices) and drift/quality scores on them.
numpy only, no I/O."""

from slo_service.core.drift.histograms import (
    SliceHistogram,
    empty_histogram,
    histogram,
    histogram_batch,
    merge,
    merge_many,
)
from slo_service.core.drift.profile import (
    ColumnKind,
    ColumnProfile,
    ProfileBuilder,
    ReferenceProfile,
    build_profile,
)
from slo_service.core.drift.quality import (
    ColumnQuality,
    SchemaCheck,
    column_quality,
    dataset_quality,
    infer_kind,
    schema_check,
)
from slo_service.core.drift.scores import (
    DEFAULT_THRESHOLDS,
    ColumnDrift,
    chi2_sf,
    column_drift,
    dataset_drift,
    jensenshannon,
    psi,
    wasserstein_normed,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "ColumnDrift",
    "ColumnKind",
    "ColumnProfile",
    "ColumnQuality",
    "ProfileBuilder",
    "ReferenceProfile",
    "SchemaCheck",
    "SliceHistogram",
    "build_profile",
    "chi2_sf",
    "column_drift",
    "column_quality",
    "dataset_drift",
    "dataset_quality",
    "empty_histogram",
    "histogram",
    "histogram_batch",
    "infer_kind",
    "jensenshannon",
    "merge",
    "merge_many",
    "psi",
    "schema_check",
    "wasserstein_normed",
]
