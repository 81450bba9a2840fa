"""OpenSLO v1 SLO documents (with their inline or referenced SLI) read into core SLOs.

Every field is checked even after an earlier one failed, so a document's problems are reported at once.
The mapping is described in openslo.py's module doc and docs/configuration.md.
"""

from __future__ import annotations

from typing import Any

from slo_service.core.model import (
    SLO,
    Budgeting,
    BudgetingMethod,
    Comparison,
    ThresholdSLI,
)
from slo_service.specs.checks import MAX_SLICE, MIN_SLICE, duration_at
from slo_service.specs.openslo_alerts import alert_policies
from slo_service.specs.openslo_annotations import display_text
from slo_service.specs.openslo_common import (
    Context,
    Doc,
    check_known,
    labels_at,
    mapping_at,
    string_at,
    time_window,
)
from slo_service.specs.openslo_routes import SLORouting
from slo_service.specs.openslo_sli import indicator
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
    if service is not None and service in ctx.named("Service"):
        service = ctx.named("Service")[service].name  # a Service document's slo-service name
    if service is not None and ctx.services is not None and service not in ctx.services:
        known = ", ".join(sorted(ctx.services)) or "none are defined"
        file.add(("spec", "service"), f"unknown service {service!r}; known services: {known}")
        ok = False
    labels = labels_at(file, ("metadata", "labels"), meta.get("labels"))
    period = time_window(file, spec.get("timeWindow"))
    objective, budgeting, op, value = _objectives(file, spec)
    sli = indicator(file, spec, ctx, op, value)
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
        description=str(spec.get("description") or display_text(meta) or ""),
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
