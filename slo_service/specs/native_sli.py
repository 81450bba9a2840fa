"""The SLI of a slo-service SLO: ratio, latency and threshold checked against their source; drift by monitors."""

from __future__ import annotations

import itertools
import math

from slo_service.core.model import (
    SLI,
    Aggregation,
    Comparison,
    LatencySLI,
    RatioSLI,
    ThresholdSLI,
)
from slo_service.core.selector import parse_selector
from slo_service.specs.checks import METRIC_NAME, number_text
from slo_service.specs.monitors import MonitorSet
from slo_service.specs.problems import SpecFile
from slo_service.specs.schema import LatencySpec, RatioSpec, SLOSpec, ThresholdSpec
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["build_sli", "latency_sli"]


def build_sli(
    file: SpecFile,
    path: YPath,
    spec: SLOSpec,
    source_kinds: dict[str, str | None] | None,
    monitors: MonitorSet | None = None,
) -> SLI | None:
    sli = spec.sli
    given = [k for k in ("ratio", "latency", "threshold", "drift") if getattr(sli, k) is not None]
    if len(given) != 1:
        got = "none" if not given else " and ".join(given)
        if "drift" in given:
            file.add(path, f"set exactly one SLI kind: ratio, latency, threshold or drift; got {got}")
        else:
            file.add(
                path, f"set exactly one SLI kind: ratio, latency or threshold; got {got} (or drift, for a monitor)"
            )
        return None
    kind = given[0]
    sub = getattr(sli, kind)
    sub_path = (*path, kind)
    if kind == "drift":
        if monitors is None:
            monitors = MonitorSet([], complete=False)
        return monitors.sli(file, sub_path, sub)
    source_kind = _source_kind(file, (*sub_path, "source"), sub.source, source_kinds)
    if isinstance(sub, RatioSpec):
        return _ratio(file, sub_path, sub, source_kind)
    if isinstance(sub, LatencySpec):
        return latency_sli(file, sub_path, sub, source_kind)
    assert isinstance(sub, ThresholdSpec)
    return _threshold(file, sub_path, sub, source_kind)


_UNKNOWN = "(unknown)"


def _source_kind(file: SpecFile, path: YPath, name: str, source_kinds: dict[str, str | None] | None) -> str | None:
    """The type of the named source; _UNKNOWN after reporting a missing source; None if unknowable."""
    if source_kinds is None:
        return None
    if name not in source_kinds:
        known = ", ".join(sorted(source_kinds)) if source_kinds else "none are defined"
        file.add(path, f"unknown source {name!r}; known sources: {known}")
        return _UNKNOWN
    return source_kinds[name]


def _query(file: SpecFile, path: YPath, text: str, source_kind: str | None) -> bool:
    """A selector for scrape and push sources; any non-empty text (PromQL) for promql sources."""
    if not text.strip():
        file.add(path, "must not be empty")
        return False
    if source_kind in ("scrape", "push"):
        try:
            parse_selector(text)
        except ValueError as exc:
            file.add(path, f"{exc} ({source_kind} sources take a series selector, not PromQL)")
            return False
    return True


def _ratio(file: SpecFile, path: YPath, spec: RatioSpec, source_kind: str | None) -> RatioSLI | None:
    ok = source_kind != _UNKNOWN
    if (spec.good is None) == (spec.bad is None):
        which = "both" if spec.good is not None else "neither"
        file.add(path, f"set exactly one of good or bad (the other is total minus it); got {which}")
        ok = False
    for name in ("good", "bad", "total"):
        text = getattr(spec, name)
        if text is not None:
            ok = _query(file, (*path, name), text, source_kind) and ok
    if not ok:
        return None
    return RatioSLI(source=spec.source, total=spec.total, good=spec.good, bad=spec.bad)


def latency_sli(file: SpecFile, path: YPath, spec: LatencySpec, source_kind: str | None) -> LatencySLI | None:
    """A latency SLI after its histogram, matchers, threshold and buckets are checked (OpenSLO reads it too)."""
    ok = source_kind != _UNKNOWN
    if not METRIC_NAME.match(spec.histogram):
        file.add((*path, "histogram"), f"{spec.histogram!r} is not a metric name")
        ok = False
    elif spec.histogram.endswith("_bucket"):
        file.add(
            (*path, "histogram"),
            f"give the histogram's base name without _bucket: {spec.histogram.removesuffix('_bucket')!r}",
        )
        ok = False
    if spec.matchers.strip():
        try:
            selector = parse_selector(spec.matchers)
        except ValueError as exc:
            file.add((*path, "matchers"), str(exc))
            ok = False
        else:
            if selector.metric is not None:
                file.add(
                    (*path, "matchers"),
                    f"matchers must be label matchers only, like '{{route=\"/predict\"}}'; "
                    f"got a metric name {selector.metric!r}",
                )
                ok = False
    threshold_ok = spec.threshold > 0 and math.isfinite(spec.threshold)
    if not threshold_ok:
        file.add((*path, "threshold"), f"threshold {number_text(spec.threshold)} must be a positive number of seconds")
        ok = False
    buckets: tuple[float, ...] | None = None
    if spec.buckets is not None:
        buckets = tuple(spec.buckets)
        if not buckets:
            file.add((*path, "buckets"), "buckets must not be empty; leave the field out instead")
            ok = False
        elif any(not math.isfinite(b) or b <= 0 for b in buckets) or any(
            a >= b for a, b in itertools.pairwise(buckets)
        ):
            file.add((*path, "buckets"), "buckets must be positive and strictly increasing")
            ok = False
        elif threshold_ok and not any(math.isclose(spec.threshold, b, rel_tol=1e-9) for b in buckets):
            file.add(
                (*path, "threshold"),
                f"threshold {number_text(spec.threshold)} is not a bucket boundary of {spec.histogram}; "
                f"boundaries: {', '.join(number_text(b) for b in buckets)}",
            )
            ok = False
    if not ok:
        return None
    return LatencySLI(
        source=spec.source,
        histogram=spec.histogram,
        threshold=spec.threshold,
        matchers=spec.matchers.strip(),
        buckets=buckets,
    )


def _threshold(file: SpecFile, path: YPath, spec: ThresholdSpec, source_kind: str | None) -> ThresholdSLI | None:
    ok = source_kind != _UNKNOWN
    ok = _query(file, (*path, "metric"), spec.metric, source_kind) and ok
    if not math.isfinite(spec.value):
        file.add((*path, "value"), f"value {spec.value} must be a finite number")
        ok = False
    if not ok:
        return None
    return ThresholdSLI(
        source=spec.source,
        metric=spec.metric,
        op=Comparison(spec.op),
        value=spec.value,
        aggregate=Aggregation(spec.aggregate),
    )
