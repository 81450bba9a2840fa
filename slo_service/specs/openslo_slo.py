"""OpenSLO v1 SLO documents (with their inline or referenced SLI) read into core SLOs.

Every field is checked even after an earlier one failed, so a document's problems are reported at once.
The mapping is described in openslo.py's module doc and docs/configuration.md.
"""

from __future__ import annotations

from typing import Any

from slo_service.core.model import (
    SLI,
    SLO,
    Budgeting,
    BudgetingMethod,
    Comparison,
    RatioSLI,
    ThresholdSLI,
)
from slo_service.core.selector import parse_selector
from slo_service.specs.checks import MAX_SLICE, MIN_SLICE, duration_at
from slo_service.specs.openslo_alerts import alert_policies
from slo_service.specs.openslo_common import (
    DEFAULT_SOURCE,
    Context,
    Doc,
    check_known,
    labels_at,
    mapping_at,
    string_at,
    time_window,
)
from slo_service.specs.openslo_routes import SLORouting
from slo_service.specs.problems import SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["OPS", "build_slo"]

OPS = {"lt": Comparison.LT, "lte": Comparison.LE, "gt": Comparison.GT, "gte": Comparison.GE}
_SLO_FIELDS = {
    "description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod", "objectives",
    "alertPolicies",
}  # fmt: skip
_OBJECTIVE_FIELDS = {"displayName", "op", "value", "target", "targetPercent", "timeSliceTarget", "timeSliceWindow"}


def build_slo(doc: Doc, ctx: Context) -> tuple[SLO, dict[str, Any] | None, SLORouting | None] | None:
    """The SLO, its alerting overrides (None: the default policy) and where its alerts go; None after
    reporting every problem of the document."""
    file, spec, meta = doc.file, doc.data["spec"], doc.data.get("metadata") or {}
    ok = check_known(file, ("spec",), spec, _SLO_FIELDS)
    service = string_at(file, ("spec", "service"), spec.get("service"))
    if service is not None and ctx.services is not None and service not in ctx.services:
        known = ", ".join(sorted(ctx.services)) or "none are defined"
        file.add(("spec", "service"), f"unknown service {service!r}; known services: {known}")
        ok = False
    labels = labels_at(file, ("metadata", "labels"), meta.get("labels"))
    period = time_window(file, spec.get("timeWindow"))
    objective, budgeting, op, value = _objectives(file, spec)
    sli = _indicator(file, spec, ctx, op, value)
    if isinstance(sli, ThresholdSLI) and budgeting is not None and budgeting.method is not BudgetingMethod.TIMESLICES:
        file.add(
            ("spec", "budgetingMethod"),
            "a thresholdMetric needs budgetingMethod Timeslices (a gauge has no events to count); "
            f"got {spec.get('budgetingMethod')!r}",
        )
        ok = False
    alerting = None
    if period is not None and budgeting is not None:
        unit = budgeting.slice if budgeting.method is BudgetingMethod.TIMESLICES else None
        alerting = alert_policies(file, spec.get("alertPolicies"), ctx, period, unit)
    elif spec.get("alertPolicies") is not None:
        alert_policies(file, spec.get("alertPolicies"), ctx, None, None)  # still report their own problems
    if not ok or None in (service, labels, period, objective, budgeting, sli, alerting):
        return None
    assert service is not None and labels is not None and period is not None and alerting is not None
    assert objective is not None and budgeting is not None and sli is not None
    slo = SLO(
        service=service,
        name=doc.name,
        objective=objective,
        period=period,
        sli=sli,
        budgeting=budgeting,
        labels=labels,
        description=str(spec.get("description") or meta.get("displayName") or ""),
    )
    overrides, routing = alerting
    if routing is not None:
        routing.service, routing.slo = service, doc.name
    return slo, overrides, routing


# --------------------------------------------------------------------------------------------------------
# Objectives, budgeting


def _objectives(file: SpecFile, spec: dict[str, Any]) -> tuple[float | None, Budgeting | None, Comparison | None, Any]:
    """(objective, budgeting, threshold op, threshold value); None parts after reporting."""
    path: YPath = ("spec", "objectives")
    raw = spec.get("objectives")
    if not isinstance(raw, list) or len(raw) != 1:
        got = f"{len(raw)} objectives" if isinstance(raw, list) else describe(raw)
        file.add(path, f"exactly one objective is supported (one SLO per objective); got {got}")
        _budgeting(file, spec.get("budgetingMethod"), {}, path)
        return None, None, None, None
    path = (*path, 0)
    obj = mapping_at(file, path, raw[0])
    if obj is None:
        return None, None, None, None
    known = check_known(file, path, obj, _OBJECTIVE_FIELDS)
    objective: float | None = None
    if ("target" in obj) == ("targetPercent" in obj):
        file.add(path, "set exactly one of target (e.g. 0.999) or targetPercent (e.g. 99.9)")
    elif "target" in obj:
        objective = _fraction(file, (*path, "target"), obj["target"], 1)
    else:
        percent = _fraction(file, (*path, "targetPercent"), obj["targetPercent"], 100)
        objective = None if percent is None else round(percent / 100, 12)
    budgeting = _budgeting(file, spec.get("budgetingMethod"), obj, path)
    op: Comparison | None = None
    if "op" in obj:
        op = OPS.get(obj["op"]) if isinstance(obj["op"], str) else None
        if op is None:
            file.add((*path, "op"), f"op must be one of {', '.join(OPS)}; got {describe(obj['op'])}")
    if not known:
        return None, budgeting, op, obj.get("value")
    return objective, budgeting, op, obj.get("value")


def _fraction(file: SpecFile, path: YPath, value: Any, scale: int) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < scale:
        file.add(path, f"expected a number strictly between 0 and {scale}, got {describe(value)}")
        return None
    return float(value)


def _budgeting(file: SpecFile, method: Any, obj: dict[str, Any], path: YPath) -> Budgeting | None:
    if method == "Occurrences":
        extra = [k for k in ("timeSliceTarget", "timeSliceWindow") if k in obj]
        for key in extra:
            file.add((*path, key), f"{key} only applies to budgetingMethod Timeslices")
        return None if extra else Budgeting()
    if method == "Timeslices":
        target, window = obj.get("timeSliceTarget"), obj.get("timeSliceWindow")
        ok = True
        for key, value in (("timeSliceTarget", target), ("timeSliceWindow", window)):
            if value is None:
                file.add((*path, key), "required with budgetingMethod Timeslices")
                ok = False
        if target is not None and (
            isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target <= 1
        ):
            file.add((*path, "timeSliceTarget"), f"expected a number in (0, 1], got {describe(target)}")
            ok = False
        length = None
        if window is not None:
            # The spec: "Default interpretation of unit if specified as a number in minutes".
            text = f"{window}m" if isinstance(window, int) and not isinstance(window, bool) else str(window)
            length = duration_at(file, (*path, "timeSliceWindow"), text)
            if length is not None and (length.total_seconds() % 60 or not MIN_SLICE <= length <= MAX_SLICE):
                file.add(
                    (*path, "timeSliceWindow"), f"timeSliceWindow {window} must be whole minutes between 1m and 1h"
                )
                length = None
        if not ok or length is None or target is None:
            return None
        return Budgeting(BudgetingMethod.TIMESLICES, slice=length, slice_threshold=float(target))
    if method == "RatioTimeslices":
        file.add(("spec", "budgetingMethod"), "RatioTimeslices is not supported; use Occurrences or Timeslices")
        return None
    file.add(("spec", "budgetingMethod"), f"expected Occurrences or Timeslices, got {describe(method)}")
    return None


# --------------------------------------------------------------------------------------------------------
# Indicators


def _indicator(file: SpecFile, spec: dict[str, Any], ctx: Context, op: Comparison | None, value: Any) -> SLI | None:
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
    if threshold is not None:
        metric = _metric(file, (*path, "thresholdMetric"), threshold, ctx)
        if op is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            slo_file.add(objective, "a thresholdMetric needs op (lt, lte, gt, gte) and value")
            return None
        if metric is None or not ok:
            return None
        return ThresholdSLI(source=metric[0], metric=metric[1], op=op, value=float(value))
    for key, given in (("op", op), ("value", value)):
        if given is not None:
            slo_file.add((*objective, key), f"{key} only applies to a thresholdMetric; a ratioMetric has none")
            ok = False
    ratio_sli = _ratio(file, (*path, "ratioMetric"), ratio, ctx)
    return ratio_sli if ok else None


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
    if kind is None and isinstance(ds_type, str) and ds_type.lower() != "prometheus":
        file.add((*path, "metricSourceRef"), f"DataSource {ref!r} has type {ds_type!r}; only Prometheus is supported")
        ok = False
    source = ref or DEFAULT_SOURCE
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
