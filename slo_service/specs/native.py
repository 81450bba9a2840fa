"""The slo-service YAML items (services, sources, SLOs): one item read and checked into the core model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from slo_service.core.alerting.config import AlertingConfig
from slo_service.core.alerting.explain import explain_tiers
from slo_service.core.durations import format_duration
from slo_service.core.model import (
    DEFAULT_MAX_GAP,
    SLO,
    Budgeting,
    BudgetingMethod,
    CalendarUnit,
    Period,
    PromQLSource,
    PushSource,
    ScrapeSource,
    Source,
)
from slo_service.specs.checks import (
    MAX_SLICE,
    MIN_SLICE,
    check_labels,
    check_name,
    check_url,
    duration_at,
    number_text,
    objective_from_percent,
    rolling_period,
    size_at,
    valid_timezone,
)
from slo_service.specs.monitors import MonitorSet
from slo_service.specs.native_sli import build_sli
from slo_service.specs.problems import SpecFile, describe, validate_spec
from slo_service.specs.schema import (
    SOURCE_SPECS,
    SOURCE_TYPES,
    BudgetingSpec,
    PeriodSpec,
    PromQLSourceSpec,
    PushSourceSpec,
    ScrapeSourceSpec,
    SLOSpec,
)
from slo_service.specs.yaml_lines import Path as YPath

__all__ = [
    "Item",
    "build_slo",
    "build_source",
    "raw_name",
    "raw_slo_key",
    "read_item",
    "read_source_item",
    "tier_warnings",
]


@dataclass
class Item:
    """One entry of services / sources / slos, with the spec when its structure was valid."""

    file: SpecFile
    path: YPath
    raw: dict[str, Any]
    spec: Any | None


def read_item(file: SpecFile, path: YPath, raw: Any, cls: type[BaseModel]) -> Item:
    """A services or slos entry, checked for structure and types."""
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping, got {describe(raw)}")
        return Item(file, path, {}, None)
    return Item(file, path, raw, validate_spec(file, cls, raw, path))


def read_source_item(file: SpecFile, path: YPath, raw: Any) -> Item:
    """A sources entry, checked against the spec of its `type`."""
    if not isinstance(raw, dict):
        file.add(path, f"expected a mapping, got {describe(raw)}")
        return Item(file, path, {}, None)
    kind = raw.get("type")
    known = ", ".join(SOURCE_TYPES)
    if kind is None:
        file.add((*path, "type"), f"required field is missing; source types: {known}")
        return Item(file, path, raw, None)
    if not isinstance(kind, str) or kind not in SOURCE_SPECS:
        file.add((*path, "type"), f"unknown source type {kind!r}; source types: {known}")
        return Item(file, path, raw, None)
    return Item(file, path, raw, validate_spec(file, SOURCE_SPECS[kind], raw, path))


def raw_name(raw: dict[str, Any]) -> str | None:
    """The `name` of a raw item, when it is a string (for duplicate and reference checks)."""
    name = raw.get("name")
    return name if isinstance(name, str) else None


def raw_slo_key(raw: dict[str, Any]) -> tuple[str, str] | None:
    """The (service, name) of a raw SLO item, when both are strings."""
    service, name = raw.get("service"), raw.get("name")
    return (service, name) if isinstance(service, str) and isinstance(name, str) else None


# --------------------------------------------------------------------------------------------------------
# Semantic checks, one item at a time. Each returns None (after reporting) when the item is invalid.


def build_source(file: SpecFile, path: YPath, spec: Any) -> Source | None:
    """A source (push, scrape or promql) after its name, URL, durations, body size limit and max gap are checked."""
    name_ok = check_name(file, (*path, "name"), spec.name)
    if isinstance(spec, PushSourceSpec):
        return PushSource(name=spec.name) if name_ok else None
    assert isinstance(spec, (ScrapeSourceSpec, PromQLSourceSpec))
    url_ok = check_url(file, (*path, "url"), spec.url)
    interval = duration_at(file, (*path, "interval"), spec.interval)
    timeout = duration_at(file, (*path, "timeout"), spec.timeout)
    scrape = isinstance(spec, ScrapeSourceSpec)
    limit: int | None = 0
    max_gap: timedelta | None = DEFAULT_MAX_GAP
    if isinstance(spec, ScrapeSourceSpec):
        limit = size_at(file, (*path, "body_size_limit"), spec.body_size_limit)
        max_gap = duration_at(file, (*path, "max_gap"), spec.max_gap)
    if interval is None or timeout is None or limit is None or max_gap is None:
        return None
    if scrape and max_gap <= interval:
        given = "max_gap" in spec.model_fields_set
        file.add(
            (*path, "max_gap") if given else (*path, "interval"),
            f"max_gap {format_duration(max_gap)}{'' if given else ' (the default)'} must be longer than "
            f"interval {format_duration(interval)}: a gap is longer than one interval",
        )
        return None
    if timeout >= interval:
        given = "timeout" in spec.model_fields_set
        file.add(
            (*path, "timeout") if given else (*path, "interval"),
            f"timeout {format_duration(timeout)}{'' if given else ' (the default)'} must be shorter than "
            f"interval {format_duration(interval)}",
        )
        return None
    if not (name_ok and url_ok):
        return None
    if isinstance(spec, ScrapeSourceSpec):
        return ScrapeSource(spec.name, spec.url, interval, timeout, body_size_limit=limit, max_gap=max_gap)
    return PromQLSource(
        name=spec.name,
        url=spec.url,
        interval=interval,
        timeout=timeout,
        backfill=spec.backfill,
        headers=dict(spec.headers),
    )


def build_slo(
    file: SpecFile,
    path: YPath,
    spec: SLOSpec,
    known_services: list[str] | None,
    source_kinds: dict[str, str | None] | None,
    monitors: MonitorSet | None = None,
) -> SLO | None:
    """An SLO after its name, service, objective, period, budgeting, SLI and labels are checked."""
    ok = check_name(file, (*path, "name"), spec.name)
    if known_services is not None and spec.service not in known_services:
        known = ", ".join(known_services) if known_services else "none are defined"
        file.add((*path, "service"), f"unknown service {spec.service!r}; known services: {known}")
        ok = False
    objective = objective_from_percent(file, (*path, "objective"), spec.objective)
    period = _period(file, (*path, "period"), spec.period)
    budgeting = _budgeting(file, (*path, "budgeting"), spec.budgeting)
    sli = build_sli(file, (*path, "sli"), spec, source_kinds, monitors)
    labels_ok = check_labels(file, (*path, "labels"), spec.labels)
    method = spec.budgeting.method if spec.budgeting is not None else "occurrences"
    if spec.sli.threshold is not None and method != "timeslices":
        file.add(
            (*path, "sli", "threshold"),
            "threshold SLIs need budgeting method timeslices, "
            "e.g. budgeting: {method: timeslices, slice: 1m}: "
            "a gauge has no events to count, so each slice is judged good or bad",
        )
        ok = False
    if not ok or not labels_ok or objective is None or period is None or budgeting is None or sli is None:
        return None
    return SLO(
        service=spec.service,
        name=spec.name,
        objective=objective,
        period=period,
        sli=sli,
        budgeting=budgeting,
        labels=dict(spec.labels),
        description=spec.description,
    )


def _period(file: SpecFile, path: YPath, raw: Any) -> Period | None:
    if isinstance(raw, str):
        length = duration_at(file, path, raw)
        return rolling_period(file, path, length)
    if isinstance(raw, dict):
        spec = validate_spec(file, PeriodSpec, raw, path)
        if spec is None:
            return None
        if (spec.rolling is None) == (spec.calendar is None):
            which = "both" if spec.rolling is not None else "neither"
            file.add(
                path,
                f"set exactly one of rolling (e.g. rolling: 28d) or calendar (week or month); got {which}",
            )
            return None
        if spec.rolling is not None:
            if spec.timezone is not None:
                file.add((*path, "timezone"), "timezone only applies to calendar periods")
                return None
            return rolling_period(file, (*path, "rolling"), duration_at(file, (*path, "rolling"), spec.rolling))
        assert spec.calendar is not None
        timezone = spec.timezone if spec.timezone is not None else "UTC"
        if not valid_timezone(timezone):
            file.add(
                (*path, "timezone"),
                f"unknown timezone {timezone!r}; use an IANA time zone name such as UTC or Europe/Berlin",
            )
            return None
        return Period.calendar(CalendarUnit(spec.calendar), timezone)
    file.add(
        path,
        "period must be a duration such as 28d, {rolling: 28d}, or {calendar: month, timezone: UTC}; "
        f"got {describe(raw)}",
    )
    return None


def _budgeting(file: SpecFile, path: YPath, spec: BudgetingSpec | None) -> Budgeting | None:
    if spec is None:
        return Budgeting()
    if spec.method == "occurrences":
        extra = [f for f in ("slice", "slice_threshold") if getattr(spec, f) is not None]
        if extra:
            file.add(
                (*path, extra[0]),
                f"{extra[0]} only applies to method timeslices; occurrences budgeting counts events",
            )
            return None
        return Budgeting()
    ok = True
    slice_length: timedelta | None = None
    if spec.slice is None:
        file.add(path, "method timeslices needs slice, the length of one timeslice, e.g. slice: 5m")
        ok = False
    else:
        slice_length = duration_at(file, (*path, "slice"), spec.slice)
        if slice_length is not None:
            whole_minutes = slice_length.total_seconds() % 60 == 0
            if not whole_minutes or not (MIN_SLICE <= slice_length <= MAX_SLICE):
                file.add(
                    (*path, "slice"),
                    f"slice {spec.slice} must be a whole number of minutes between 1m and 1h",
                )
                ok = False
        else:
            ok = False
    threshold = 1.0 if spec.slice_threshold is None else spec.slice_threshold
    if not (0 < threshold <= 1):
        file.add(
            (*path, "slice_threshold"),
            f"slice_threshold {number_text(threshold)} must be greater than 0 and at most 1 "
            "(the share of good events that makes a slice good)",
        )
        ok = False
    if not ok:
        return None
    return Budgeting(BudgetingMethod.TIMESLICES, slice=slice_length, slice_threshold=threshold)


def tier_warnings(slos: list[SLO], alerting: AlertingConfig, where: dict[str, str]) -> list[str]:
    """A warning per burn-rate tier that can never fire for its SLO (e.g. 14.4x on a 90% objective)."""
    out = []
    for slo in slos:
        for e in explain_tiers(slo, alerting.policy_for(slo.key)):
            if e.problem is not None:
                out.append(f"{where.get(slo.key, slo.key)}: alerting: {e.problem}")
    return out
