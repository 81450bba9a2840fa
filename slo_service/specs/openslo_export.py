"""The core model exported as OpenSLO v1 documents (read back by specs/openslo.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from slo_service.core.durations import format_duration
from slo_service.core.model import (
    SLI,
    SLO,
    BudgetingMethod,
    CalendarUnit,
    Config,
    DriftSLI,
    ErrorRatioSLI,
    LatencySLI,
    PeriodKind,
    PromQLSource,
    ThresholdSLI,
)
from slo_service.core.selector import Matcher, Selector, parse_selector
from slo_service.specs.openslo import CALENDAR_START, OPENSLO_API_VERSION, OPS

__all__ = ["dump_openslo", "export_openslo", "not_exported"]


def not_exported(config: Config) -> list[str]:
    """ "KEY: why" for every SLO export_openslo leaves out (drift and error-ratio SLIs)."""
    return [
        f"{slo.key}: {slo.sli.kind} SLIs have no OpenSLO form slo-service reads back; the SLO runs as defined"
        for slo in config.slos
        if isinstance(slo.sli, DriftSLI | ErrorRatioSLI)
    ]


def export_openslo(config: Config) -> list[dict[str, Any]]:
    """The configuration's services, promql sources (as DataSources) and SLOs (inline SLIs) as OpenSLO v1.

    Scrape and push sources have no OpenSLO DataSource: their SLIs name them in metricSourceRef and use the
    series selector as the query. A latency SLI becomes a ratioMetric over its histogram buckets (good: le
    at the threshold, total: le="+Inf"), so it reads back as a ratio SLI. Alerting is not exported.
    """
    docs: list[dict[str, Any]] = []
    for service in config.services.values():
        docs.append(_doc("Service", service.name, service.labels, _description(service.description)))
    for source in config.sources.values():
        if isinstance(source, PromQLSource):
            connection = {"type": "prometheus", "connectionDetails": {"url": source.url}}
            docs.append(_doc("DataSource", source.name, {}, connection))
    names = [s.name for s in config.slos]
    for slo in config.slos:
        if isinstance(slo.sli, DriftSLI | ErrorRatioSLI):
            # OpenSLO has no drift-check indicator, and its raw ratio is not read back by specs/openslo.py:
            # these SLOs stay in their own format
            continue
        name = slo.name if names.count(slo.name) == 1 else f"{slo.service}-{slo.name}"
        docs.append(_doc("SLO", name, slo.labels, _slo_spec(slo)))
    return docs


def dump_openslo(docs: Iterable[Mapping[str, Any]]) -> str:
    """Multi-document YAML, documents separated by ---."""
    return yaml.safe_dump_all([dict(d) for d in docs], sort_keys=False, default_flow_style=False, width=1000)


def _description(text: str) -> dict[str, Any]:
    return {"description": text} if text else {}


def _doc(kind: str, name: str, labels: Mapping[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": OPENSLO_API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _slo_spec(slo: SLO) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if slo.description:
        spec["description"] = slo.description
    spec["service"] = slo.service
    spec["indicator"] = {"metadata": {"name": slo.name}, "spec": _sli_spec(slo.sli)}
    period = slo.period
    if period.kind is PeriodKind.ROLLING:
        assert period.length is not None
        spec["timeWindow"] = [{"duration": format_duration(period.length), "isRolling": True}]
    else:
        duration = "1w" if period.unit is CalendarUnit.WEEK else "1M"
        calendar = {"startTime": CALENDAR_START, "timeZone": period.timezone}
        spec["timeWindow"] = [{"duration": duration, "isRolling": False, "calendar": calendar}]
    objective: dict[str, Any] = {"target": slo.objective}
    if isinstance(slo.sli, ThresholdSLI):
        op = next(k for k, v in OPS.items() if v is slo.sli.op)
        objective = {"op": op, "value": _number(slo.sli.value), **objective}
    if slo.budgeting.method is BudgetingMethod.TIMESLICES:
        assert slo.budgeting.slice is not None
        spec["budgetingMethod"] = "Timeslices"
        objective["timeSliceTarget"] = _number(slo.budgeting.slice_threshold)
        objective["timeSliceWindow"] = format_duration(slo.budgeting.slice)
    else:
        spec["budgetingMethod"] = "Occurrences"
    spec["objectives"] = [objective]
    return spec


def _metric_spec(source: str, query: str) -> dict[str, Any]:
    return {"metricSource": {"metricSourceRef": source, "type": "Prometheus", "spec": {"query": query}}}


def _sli_spec(sli: SLI) -> dict[str, Any]:
    if isinstance(sli, DriftSLI | ErrorRatioSLI):
        raise ValueError(f"{sli.kind} SLIs are not exported to OpenSLO")  # export_openslo skips them
    if isinstance(sli, ThresholdSLI):
        return {"thresholdMetric": _metric_spec(sli.source, sli.metric)}
    if isinstance(sli, LatencySLI):
        base = parse_selector(sli.matchers).matchers if sli.matchers.strip() else ()
        bucket = f"{sli.histogram}_bucket"
        threshold = _number(sli.threshold)
        # Prometheus clients write an integral bound as "1" (Go) or "1.0" (Python): match both.
        le = (
            Matcher("le", "=~", f"{threshold}(\\.0)?")
            if isinstance(threshold, int)
            else Matcher("le", "=", str(threshold))
        )
        good = str(Selector(bucket, (*base, le)))
        total = str(Selector(bucket, (*base, Matcher("le", "=", "+Inf"))))
        ratio = {"counter": True, "good": _metric_spec(sli.source, good), "total": _metric_spec(sli.source, total)}
        return {"ratioMetric": ratio}
    body: dict[str, Any] = {"counter": True}
    if sli.good is not None:
        body["good"] = _metric_spec(sli.source, sli.good)
    if sli.bad is not None:
        body["bad"] = _metric_spec(sli.source, sli.bad)
    body["total"] = _metric_spec(sli.source, sli.total)
    return {"ratioMetric": body}
