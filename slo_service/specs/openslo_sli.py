"""OpenSLO SLIs (inline indicators and SLI documents) read into core SLIs.

ratioMetric good or bad, and total (counter queries): a ratio SLI; thresholdMetric: a threshold SLI (op and
value on the objective). ``slo-service/`` annotations on the SLI's metadata keep what OpenSLO has no field
for: ``aggregate`` of a threshold SLI, and ``histogram``, ``threshold``, ``matchers``, ``buckets`` of a
latency SLI, which export writes as a ratioMetric over its histogram buckets (`latency_queries`).
"""

from __future__ import annotations

from typing import Any

from slo_service.core.model import SLI, Aggregation, Comparison, LatencySLI, RatioSLI, ThresholdSLI
from slo_service.core.selector import Matcher, Selector, parse_selector
from slo_service.specs.native_sli import latency_sli
from slo_service.specs.openslo_annotations import (
    annotation_path,
    check_annotations,
    parse_number,
    service_annotations,
)
from slo_service.specs.openslo_common import DEFAULT_SOURCE, Context, check_known, mapping_at, string_at
from slo_service.specs.openslo_sources import data_source_kind
from slo_service.specs.problems import Problem, SpecFile, describe, validate_spec
from slo_service.specs.schema import LatencySpec
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["indicator", "latency_queries"]

_LATENCY_KEYS = ("histogram", "threshold", "matchers", "buckets")


def latency_queries(sli: LatencySLI) -> tuple[str, str]:
    """(good, total) selectors of a latency SLI's histogram buckets: le at the threshold, and le="+Inf"."""
    base = parse_selector(sli.matchers).matchers if sli.matchers.strip() else ()
    bucket = f"{sli.histogram}_bucket"
    threshold = int(sli.threshold) if float(sli.threshold).is_integer() else sli.threshold
    # Prometheus clients write an integral bound as "1" (Go) or "1.0" (Python): match both.
    le = (
        Matcher("le", "=~", f"{threshold}(\\.0)?")
        if isinstance(threshold, int)
        else Matcher("le", "=", repr(threshold))
    )
    return str(Selector(bucket, (*base, le))), str(Selector(bucket, (*base, Matcher("le", "=", "+Inf"))))


def indicator(file: SpecFile, spec: dict[str, Any], ctx: Context, op: Comparison | None, value: Any) -> SLI | None:
    inline, ref = spec.get("indicator"), spec.get("indicatorRef")
    if (inline is None) == (ref is None):
        file.add(("spec",), "set exactly one of indicator (inline SLI) or indicatorRef (the name of an SLI)")
        return None
    slis = ctx.named("SLI")
    if ref is not None:
        if not isinstance(ref, str) or ref not in slis:
            known = ", ".join(sorted(slis)) or "none are defined"
            file.add(("spec", "indicatorRef"), f"unknown SLI {describe(ref)}; known SLIs: {known}")
            return None
        sli_doc = slis[ref]
        return _sli(sli_doc.file, ("spec",), sli_doc.data["spec"], ctx, op, value, file)
    path: YPath = ("spec", "indicator")
    sli = mapping_at(file, path, inline)
    if sli is None:
        return None
    ok = check_known(file, path, sli, {"metadata", "spec"})
    if isinstance(sli.get("metadata"), dict):
        ok = check_annotations(file, path, sli["metadata"], "SLI") and ok
    sli_spec = mapping_at(file, (*path, "spec"), sli.get("spec"))
    if sli_spec is None:
        return None
    built = _sli(file, (*path, "spec"), sli_spec, ctx, op, value, file)
    return built if ok else None


def _sli(
    file: SpecFile,
    path: YPath,
    spec: dict[str, Any],
    ctx: Context,
    op: Comparison | None,
    value: Any,
    slo_file: SpecFile,
) -> SLI | None:
    ok = check_known(file, path, spec, {"description", "ratioMetric", "thresholdMetric"})
    ratio, threshold = spec.get("ratioMetric"), spec.get("thresholdMetric")
    if (ratio is None) == (threshold is None):
        file.add(path, "set exactly one of ratioMetric or thresholdMetric")
        return None
    objective: YPath = ("spec", "objectives", 0)
    root: YPath = path[:-1]  # the SLI document, or the inline indicator
    meta = file.doc.data
    for part in root:
        meta = meta[part]
    settings = {k: v for k, v in service_annotations(meta.get("metadata")).items() if isinstance(v, str)}
    if threshold is not None:
        metric = _metric(file, (*path, "thresholdMetric"), threshold, ctx)
        for key in _LATENCY_KEYS:
            if key in settings:
                file.add(annotation_path(root, key), f"slo-service/{key} only applies to a ratioMetric")
                ok = False
        aggregate = settings.get("aggregate", Aggregation.MAX.value)
        if aggregate not in {a.value for a in Aggregation}:
            choices = ", ".join(a.value for a in Aggregation)
            file.add(annotation_path(root, "aggregate"), f"expected one of {choices}, got {aggregate!r}")
            ok = False
        if op is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            slo_file.add(objective, "a thresholdMetric needs op (lt, lte, gt, gte) and value")
            return None
        if metric is None or not ok:
            return None
        source, query = metric
        return ThresholdSLI(source=source, metric=query, op=op, value=float(value), aggregate=Aggregation(aggregate))
    if value is not None:
        slo_file.add((*objective, "value"), "value only applies to a thresholdMetric; a ratioMetric has none")
        ok = False
    if op in (Comparison.LT, Comparison.LE):
        # OpenSLO's own examples write `op: gt` on ratio objectives: that is what a ratio SLO means anyway
        slo_file.add(
            (*objective, "op"),
            "op lt/lte on a ratioMetric would mean the objective is met while the good share is BELOW target; "
            "a ratio SLO is met at or above it (leave op out, or gt/gte)",
        )
        ok = False
    if "aggregate" in settings:
        file.add(annotation_path(root, "aggregate"), "slo-service/aggregate only applies to a thresholdMetric")
        ok = False
    ratio_sli = _ratio(file, (*path, "ratioMetric"), ratio, ctx)
    if ratio_sli is not None and any(k in settings for k in _LATENCY_KEYS):
        return _latency(file, root, settings, ratio_sli, (*path, "ratioMetric")) if ok else None
    return ratio_sli if ok else None


def _latency(file: SpecFile, root: YPath, settings: dict[str, str], ratio: RatioSLI, at: YPath) -> LatencySLI | None:
    """The latency SLI the slo-service/ annotations describe, when the ratioMetric is exactly its buckets."""
    if "histogram" not in settings or "threshold" not in settings:
        file.add(annotation_path(root, "histogram"), "a latency SLI needs slo-service/histogram and /threshold")
        return None
    raw: dict[str, Any] = {"source": ratio.source, "histogram": settings["histogram"]}
    raw["threshold"] = parse_number(file, annotation_path(root, "threshold"), settings["threshold"])
    if "matchers" in settings:
        raw["matchers"] = settings["matchers"]
    if "buckets" in settings:
        parts = [parse_number(file, annotation_path(root, "buckets"), b) for b in settings["buckets"].split(",")]
        raw["buckets"] = None if None in parts else parts
    if raw["threshold"] is None or raw.get("buckets", ()) is None:
        return None
    found: list[Problem] = []
    scratch = SpecFile(file.name, file.doc, found)
    spec = validate_spec(scratch, LatencySpec, raw, ("latency",))
    sli = latency_sli(scratch, ("latency",), spec, None) if spec is not None else None
    for problem in found:
        key = problem.field.removeprefix("latency.").split(".")[0].split("[")[0]
        file.add(annotation_path(root, key if key in _LATENCY_KEYS else "histogram"), problem.message)
    if sli is None or found:
        return None
    good, total = latency_queries(sli)
    if (ratio.good, ratio.bad, ratio.total) != (good, None, total):
        file.add(
            at,
            f"the ratioMetric is not the histogram the slo-service/ annotations name: expected good {good} and "
            f"total {total}",
        )
        return None
    return sli


def _ratio(file: SpecFile, path: YPath, raw: Any, ctx: Context) -> RatioSLI | None:
    body = mapping_at(file, path, raw)
    if body is None:
        return None
    ok = check_known(file, path, body, {"counter", "good", "bad", "total", "raw", "rawType"})
    for key in ("rawType", "raw"):
        if key in body:
            file.add(
                (*path, key),
                "raw ratio metrics (a precomputed ratio) are not supported: slo-service needs event counts to "
                "weigh windows and budgets; give good or bad, and total",
            )
            ok = False
    counter = body.get("counter", True)
    if counter is False:
        file.add(
            (*path, "counter"),
            "counter: false (gauge queries) cannot be honoured: slo-service counts events with increase() "
            "over counters; give counter queries, or use a thresholdMetric with budgetingMethod Timeslices",
        )
        ok = False
    elif counter is not True:
        file.add((*path, "counter"), f"expected true or false, got {describe(counter)}")
        ok = False
    if "raw" in body or "rawType" in body:
        return None  # good/bad/total are not given with raw: nothing more to report
    if ("good" in body) == ("bad" in body):
        file.add(path, "set exactly one of good or bad (the other is total minus it)")
        ok = False
    if "total" not in body:
        file.add((*path, "total"), "required field is missing")
        ok = False
    queries: dict[str, tuple[str, str]] = {}
    for key in ("good", "bad", "total"):
        if key in body:
            found = _metric(file, (*path, key), body[key], ctx)
            if found is None:
                ok = False
            else:
                queries[key] = found
    if not ok:
        return None
    sources = {s for s, _ in queries.values()}
    if len(sources) != 1:
        file.add(path, f"good/bad and total must use the same data source; got {', '.join(sorted(sources))}")
        return None
    good, bad = queries.get("good"), queries.get("bad")
    return RatioSLI(
        source=sources.pop(), total=queries["total"][1], good=good[1] if good else None, bad=bad[1] if bad else None
    )


def _metric(file: SpecFile, path: YPath, raw: Any, ctx: Context) -> tuple[str, str] | None:
    """(source name, query) of `{metricSource: {metricSourceRef, type, spec: {query}}}`; without `type`
    the type is the referenced DataSource's (slo-service sources are all Prometheus)."""
    body = mapping_at(file, path, raw)
    if body is None:
        return None
    ok = check_known(file, path, body, {"metricSource"})
    path = (*path, "metricSource")
    ms = mapping_at(file, path, body.get("metricSource"))
    if ms is None:
        return None
    ok = check_known(file, path, ms, {"metricSourceRef", "type", "spec"}) and ok
    ref, kind = ms.get("metricSourceRef"), ms.get("type")
    if ref is not None and not isinstance(ref, str):
        file.add((*path, "metricSourceRef"), f"expected a data source name, got {describe(ref)}")
        ref, ok = None, False
    if kind is None and ref is None:
        file.add((*path, "type"), "required when metricSourceRef is not given (the type comes from a DataSource)")
        ok = False
    elif kind is not None and (not isinstance(kind, str) or kind.lower() != "prometheus"):
        file.add((*path, "type"), f"metric source type {describe(kind)} is not supported; only Prometheus is")
        ok = False
    declared = ctx.named("DataSource").get(ref or "")
    ds_type = declared.data["spec"].get("type") if declared is not None else None
    if kind is None and isinstance(ds_type, str) and data_source_kind(ds_type) is None:
        file.add((*path, "metricSourceRef"), f"DataSource {ref!r} has type {ds_type!r}; slo-service does not read it")
        ok = False
    source = declared.name if declared is not None else ref or DEFAULT_SOURCE
    spec = mapping_at(file, (*path, "spec"), ms.get("spec"))
    query = None
    if spec is not None:
        ok = check_known(file, (*path, "spec"), spec, {"query"}) and ok
        query = string_at(file, (*path, "spec", "query"), spec.get("query"))
    kinds = ctx.source_kinds
    if kinds is not None:
        where: YPath = (*path, "metricSourceRef") if "metricSourceRef" in ms else path
        if source not in kinds and declared is None:  # a declared but refused DataSource is reported there
            known = ", ".join(sorted(kinds)) or "none are defined"
            file.add(where, f"unknown data source {source!r}; known sources: {known}")
            ok = False
        elif kinds.get(source) in ("scrape", "push") and query is not None:
            try:
                parse_selector(query)
            except ValueError as exc:
                file.add((*path, "spec", "query"), f"{exc} ({kinds[source]} sources take a series selector)")
                ok = False
    if not ok or query is None:
        return None
    return source, query.strip()
