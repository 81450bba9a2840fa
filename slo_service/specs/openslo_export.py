"""The core model exported as OpenSLO v1 documents that read back (specs/openslo.py) as the same configuration.

What OpenSLO has a field for goes there; what it has not goes into ``slo-service/`` annotations
(openslo_annotations.py), which other tools ignore. What neither can hold (drift and error-ratio SLIs, drift
monitors, the `alerting:` section's receivers, routes and on-call, Sloth's sub-1x tiers) is left out and
named in `Export.lossy`: `slo-service export` fails on it unless ``--allow-lossy``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import yaml

from slo_service.core.alerting.config import DEFAULT_POLICY, AlertingConfig
from slo_service.core.alerting.policy import MINUTE, AlertPolicy, BurnRateTier
from slo_service.core.durations import format_duration
from slo_service.core.model import (
    SLI,
    SLO,
    Aggregation,
    BudgetingMethod,
    CalendarUnit,
    Config,
    DriftSLI,
    ErrorRatioSLI,
    LatencySLI,
    PeriodKind,
    PromQLSource,
    PushSource,
    ScrapeSource,
    ThresholdSLI,
)
from slo_service.core.sizes import format_size
from slo_service.specs.checks import number_text
from slo_service.specs.openslo import CALENDAR_START, OPENSLO_API_VERSION, OPS
from slo_service.specs.openslo_annotations import NAME_KEY, SERVICE_PREFIX, openslo_name
from slo_service.specs.openslo_conditions import LOOKBACKS, SHORT_WINDOW_DIVISOR
from slo_service.specs.openslo_routes import SECTION_TARGET
from slo_service.specs.openslo_sli import latency_queries
from slo_service.specs.openslo_sources import PUSH_TYPE, SCRAPE_TYPE

__all__ = ["Export", "dump_openslo", "export_openslo"]

_SECTION_HINT = "OpenSLO has no form for them; keep the alerting: section beside the export"


@dataclass
class Export:
    """The documents, and "WHAT: why" for every part of the configuration they do not hold."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    lossy: list[str] = field(default_factory=list)


def export_openslo(config: Config) -> Export:
    """The configuration as OpenSLO v1: every service, source (as a DataSource) and SLO (inline SLI), and
    each SLO's alerting policy as an AlertPolicy whose notification target is ``slo-service`` (the alerts
    go where the `alerting:` section routes them)."""
    out = Export()
    names = _Names({n for n, s in config.sources.items() if not isinstance(s, PromQLSource)})
    for service in config.services.values():
        meta = names.meta("Service", service.name)
        out.docs.append(_doc("Service", meta, service.labels, {"description": service.description}))
    for source in config.sources.values():
        meta = names.meta("DataSource", source.name)
        out.docs.append(_doc("DataSource", meta, {}, _source_spec(source, meta)))
    policies = _Policies(names, config.alerting)
    clashing = {s.name for s in config.slos if sum(o.name == s.name for o in config.slos) > 1}
    for slo in config.slos:
        if isinstance(slo.sli, DriftSLI | ErrorRatioSLI):
            out.lossy.append(f"SLO {slo.key}: {slo.sli.kind} SLIs have no OpenSLO form slo-service reads back")
            continue
        meta = names.meta("SLO", slo.name, f"{slo.service}-{slo.name}" if slo.name in clashing else None)
        spec = _slo_spec(slo, names)
        if config.alerting is not None:
            loss = _policy_loss(slo, config.alerting.policy_for(slo.key))
            if loss is None:
                spec["alertPolicies"] = [{"alertPolicyRef": policies.ref(slo)}]
            else:
                out.lossy.append(loss)
        out.docs.append(_doc("SLO", meta, slo.labels, spec))
    out.docs.extend(policies.docs)
    out.lossy.extend(_section_losses(config))
    return out


def dump_openslo(docs: Iterable[Mapping[str, Any]]) -> str:
    """Multi-document YAML, documents separated by ---."""
    return yaml.safe_dump_all([dict(d) for d in docs], sort_keys=False, default_flow_style=False, width=1000)


class _Names:
    """OpenSLO names per kind, unique, with the slo-service name kept where it differs."""

    def __init__(self, selector_sources: set[str]) -> None:
        self.taken: dict[str, set[str]] = {}
        self.of: dict[tuple[str, str], str] = {}
        self.selector_sources = selector_sources  # scrape and push: queries are series selectors

    def fresh(self, kind: str, wanted: str) -> str:
        """An unused OpenSLO name of `kind` for `wanted`."""
        taken = self.taken.setdefault(kind, set())
        exported = openslo_name(wanted, taken)
        taken.add(exported)
        return exported

    def meta(self, kind: str, name: str, wanted: str | None = None) -> dict[str, Any]:
        """metadata of the object slo-service calls `name`: an OpenSLO name, and the original when it differs."""
        exported = self.fresh(kind, wanted or name)
        self.of[(kind, name)] = exported
        meta: dict[str, Any] = {"name": exported}
        if exported != name:
            meta["displayName"] = name
            meta["annotations"] = {SERVICE_PREFIX + NAME_KEY: name}
        return meta

    def ref(self, kind: str, name: str) -> str:
        return self.of.get((kind, name), name)


def _doc(kind: str, meta: dict[str, Any], labels: Mapping[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    metadata = dict(meta)
    if labels:
        metadata["labels"] = dict(labels)
    spec = {k: v for k, v in spec.items() if v not in ("", None)}
    return {"apiVersion": OPENSLO_API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def _annotate(meta: dict[str, Any], values: Mapping[str, str]) -> None:
    if values:
        meta["annotations"] = {**meta.get("annotations", {}), **{SERVICE_PREFIX + k: v for k, v in values.items()}}


def _source_spec(source: ScrapeSource | PromQLSource | PushSource, meta: dict[str, Any]) -> dict[str, Any]:
    if isinstance(source, PushSource):
        return {"type": PUSH_TYPE}
    settings = {"interval": format_duration(source.interval), "timeout": format_duration(source.timeout)}
    if isinstance(source, ScrapeSource):
        settings["body_size_limit"] = format_size(source.body_size_limit)
        settings["max_gap"] = format_duration(source.max_gap)
        _annotate(meta, settings)
        return {"type": SCRAPE_TYPE, "connectionDetails": {"url": source.url}}
    settings["backfill"] = str(source.backfill).lower()
    settings.update({f"header.{k}": v for k, v in source.headers.items()})
    _annotate(meta, settings)
    return {"type": "Prometheus", "connectionDetails": {"url": source.url}}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _slo_spec(slo: SLO, names: _Names) -> dict[str, Any]:
    spec: dict[str, Any] = {"description": slo.description, "service": names.ref("Service", slo.service)}
    indicator_meta: dict[str, Any] = {"name": openslo_name(slo.name)}
    spec["indicator"] = {"metadata": indicator_meta, "spec": _sli_spec(slo.sli, names, indicator_meta)}
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


def _metric(source: str, query: str, names: _Names) -> dict[str, Any]:
    ms: dict[str, Any] = {"metricSourceRef": names.ref("DataSource", source)}
    if source not in names.selector_sources:  # scrape, push: the type is the DataSource's, only slo-service's
        ms["type"] = "Prometheus"
    ms["spec"] = {"query": query}
    return {"metricSource": ms}


def _sli_spec(sli: SLI, names: _Names, meta: dict[str, Any]) -> dict[str, Any]:
    assert not isinstance(sli, DriftSLI | ErrorRatioSLI)  # export_openslo leaves them out
    if isinstance(sli, ThresholdSLI):
        if sli.aggregate is not Aggregation.MAX:
            _annotate(meta, {"aggregate": sli.aggregate.value})
        return {"thresholdMetric": _metric(sli.source, sli.metric, names)}
    if isinstance(sli, LatencySLI):
        settings = {"histogram": sli.histogram, "threshold": number_text(sli.threshold)}
        if sli.matchers:
            settings["matchers"] = sli.matchers
        if sli.buckets is not None:
            settings["buckets"] = ",".join(number_text(b) for b in sli.buckets)
        _annotate(meta, settings)
        good, total = latency_queries(sli)
        latency = {"counter": True, "good": _metric(sli.source, good, names)}
        return {"ratioMetric": {**latency, "total": _metric(sli.source, total, names)}}
    body: dict[str, Any] = {"counter": True}
    if sli.good is not None:
        body["good"] = _metric(sli.source, sli.good, names)
    if sli.bad is not None:
        body["bad"] = _metric(sli.source, sli.bad, names)
    body["total"] = _metric(sli.source, sli.total, names)
    return {"ratioMetric": body}


# --------------------------------------------------------------------------------------------------------
# Alert policies


def _policy_loss(slo: SLO, policy: AlertPolicy) -> str | None:
    """Why `slo`'s alert policy has no OpenSLO form slo-service reads back (None: it has one)."""
    if not policy.tiers:
        return (
            f"SLO {slo.key}: its alert policy has no burn-rate tiers, and an OpenSLO AlertPolicy needs a "
            "condition; without one the SLO reads back with the default policy"
        )
    low = [t.name for t in policy.tiers if t.min_factor < 1.0]
    if low:
        return (
            f"SLO {slo.key}: alerting tiers {', '.join(low)} fire below a 1x burn rate of a 28-day budget, "
            "which slo-service takes only from Sloth files (Sloth's own tiers); its alert policy is not "
            "exported: keep the Sloth file"
        )
    return None


class _Policies:
    """One AlertPolicy document per distinct policy as applied to an SLO (its thresholds depend on the
    period), each with the slo-service/ annotations of the policy's fields and one inline condition per tier."""

    def __init__(self, names: _Names, alerting: AlertingConfig | None) -> None:
        self.names, self.alerting = names, alerting
        self.docs: list[dict[str, Any]] = []
        self.by_content: dict[str, str] = {}

    def ref(self, slo: SLO) -> str:
        """The AlertPolicy name of `slo`'s policy (writing the document once)."""
        assert self.alerting is not None
        policy = self.alerting.policy_for(slo.key)
        unit = slo.budgeting.slice if slo.budgeting.method is BudgetingMethod.TIMESLICES else None
        conditions = [_condition(t, slo.period.nominal_length, unit or MINUTE) for t in policy.tiers]
        meta: dict[str, Any] = {}
        _annotate(meta, _policy_settings(policy))
        target = {"kind": "AlertNotificationTarget", "metadata": {"name": SECTION_TARGET}}
        spec = {
            "alertWhenBreaching": True,
            "alertWhenResolved": True,
            "alertWhenNoData": policy.no_data_after is not None,
            "conditions": conditions,
            "notificationTargets": [{**target, "spec": {"target": SECTION_TARGET}}],
        }
        content = json.dumps([meta, spec], sort_keys=True)
        if content not in self.by_content:
            name = self.alerting.slo_policies.get(slo.key, DEFAULT_POLICY).replace("/", "-")  # own: named by key
            exported = self.names.fresh("AlertPolicy", name)
            self.by_content[content] = exported
            self.docs.append(_doc("AlertPolicy", {"name": exported, **meta}, {}, spec))
        return self.by_content[content]


def _condition(tier: BurnRateTier, length: timedelta, unit: timedelta) -> dict[str, Any]:
    """The burnrate condition the service evaluates for `tier` on an SLO with this period and resolution."""
    meta: dict[str, Any] = {"name": openslo_name(tier.name)}
    settings = {NAME_KEY: tier.name} if meta["name"] != tier.name else {}
    effective = tier.effective(length, unit)
    threshold: float = tier.budget_share * (length / tier.long_window)
    as_written = (
        tier.long_window in LOOKBACKS
        and tier.short_window * SHORT_WINDOW_DIVISOR == tier.long_window
        and (effective.long_window, effective.short_window) == (tier.long_window, tier.short_window)
        and not effective.clamped
    )
    if not as_written:  # the condition says what is evaluated; the tier's definition is in annotations
        threshold = effective.factor
        settings["long_window"] = format_duration(tier.long_window)
        settings["short_window"] = format_duration(tier.short_window)
        settings["budget_share"] = repr(tier.budget_share)
    settings.update({f"labels.{k}": v for k, v in tier.labels.items()})
    settings.update({f"annotations.{k}": v for k, v in tier.annotations.items()})
    _annotate(meta, settings)
    condition: dict[str, Any] = {
        "kind": "burnrate",
        "op": "gt",  # the service fires strictly above the threshold (core/alerting/conditions.py)
        "threshold": _number(threshold),
        "lookbackWindow": format_duration(effective.long_window),
    }
    if tier.for_ > timedelta(0):
        condition["alertAfter"] = format_duration(tier.for_)
    return {"kind": "AlertCondition", "metadata": meta, "spec": {"severity": tier.severity, "condition": condition}}


def _policy_settings(policy: AlertPolicy) -> dict[str, str]:
    """Every field of `policy` but its tiers, as slo-service/ annotation values (read back over any default)."""
    out = {
        "min_events": repr(float(policy.min_events)),
        "min_slice_coverage": repr(float(policy.min_slice_coverage)),
        "min_budget_coverage": repr(float(policy.min_budget_coverage)),
        "budget_exhausted": str(policy.budget_exhausted).lower(),
        "for": format_duration(policy.for_),
        "no_data_severity": policy.no_data_severity,
        "budget_exhausted_severity": policy.budget_exhausted_severity,
    }
    if policy.no_data_after is not None:
        out["no_data_after"] = format_duration(policy.no_data_after)
    if policy.alert_name is not None:
        out["alert_name"] = policy.alert_name
    out.update({f"labels.{k}": v for k, v in policy.labels.items()})
    out.update({f"annotations.{k}": v for k, v in policy.annotations.items()})
    return out


def _section_losses(config: Config) -> list[str]:
    """The parts of the configuration outside OpenSLO's kinds."""
    out = [f"drift monitor {name}: OpenSLO has no drift monitors" for name in config.monitors]
    alerting = config.alerting
    if alerting is None:
        return out
    parts = {
        # receivers hold secrets resolved from the environment: never written to a file
        "receivers": bool(alerting.receivers),
        "routing tree": alerting.route is not None,
        "inhibit rules": bool(alerting.inhibit_rules),
        "time intervals": bool(alerting.time_intervals),
        "on-call schedules": bool(alerting.schedules),
        "escalation policies": bool(alerting.escalation_policies),
        "users": bool(alerting.users),
        "external_url": alerting.external_url != AlertingConfig().external_url,
    }
    out.extend(f"alerting {what}: {_SECTION_HINT}" for what, present in parts.items() if present)
    return out
