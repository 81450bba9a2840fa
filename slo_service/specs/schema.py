"""Pydantic models of the YAML file format (apiVersion slo-service/v1), structure and types only.

Every model forbids unknown fields, so a typo such as ``goood`` is reported instead of ignored. Rules
that need more context (names, ranges, durations, references between sections) live in native.py and
native_sli.py, which turn these specs into the frozen core model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat

from slo_service.core.durations import format_duration
from slo_service.core.model import DEFAULT_BODY_SIZE_LIMIT, DEFAULT_MAX_GAP
from slo_service.core.sizes import format_size

API_VERSION = "slo-service/v1"
SUPPORTED_API_VERSIONS = (API_VERSION,)

SOURCE_TYPES = ("scrape", "promql", "push")

# YAML already types its scalars, so numbers and booleans are taken strictly: `objective: "99.9"` or
# `objective: true` is a mistake worth reporting, not something to coerce. Integers are fine as floats.
Number = StrictFloat


class Spec(BaseModel):
    """Base of every spec: unknown fields are errors, values are immutable once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DocumentSpec(Spec):
    """One file. Items are validated one by one (see loader) so one bad item does not hide the others."""

    apiVersion: str
    kind: Literal["Config"] = "Config"
    services: list[Any] | None = None
    sources: list[Any] | None = None
    slos: list[Any] | None = None
    alerting: Any = None  # validated in pass 2 by specs/alerting.py
    monitors: list[Any] | None = None  # drift monitors, validated item by item by specs/monitors.py
    responses: Any = None  # response policies and CI targets, validated in pass 2 by specs/responses.py


class ServiceSpec(Spec):
    name: str
    description: str = ""
    labels: dict[str, str] = {}


class ScrapeSourceSpec(Spec):
    name: str
    type: Literal["scrape"]
    url: str
    interval: str = "15s"
    timeout: str = "5s"
    body_size_limit: str = format_size(DEFAULT_BODY_SIZE_LIMIT)
    max_gap: str = format_duration(DEFAULT_MAX_GAP)


class PromQLSourceSpec(Spec):
    name: str
    type: Literal["promql"]
    url: str
    interval: str = "1m"
    timeout: str = "10s"
    backfill: StrictBool = True
    headers: dict[str, str] = {}


class PushSourceSpec(Spec):
    name: str
    type: Literal["push"]


SOURCE_SPECS: dict[str, type[Spec]] = {
    "scrape": ScrapeSourceSpec,
    "promql": PromQLSourceSpec,
    "push": PushSourceSpec,
}


class PeriodSpec(Spec):
    """The mapping form of `period`; the string form ("28d") is handled by native.py."""

    rolling: str | None = None
    calendar: Literal["week", "month"] | None = None
    timezone: str | None = None


class BudgetingSpec(Spec):
    method: Literal["occurrences", "timeslices"] = "occurrences"
    slice: str | None = None
    slice_threshold: Number | None = None


class RatioSpec(Spec):
    source: str
    total: str
    good: str | None = None
    bad: str | None = None


class LatencySpec(Spec):
    source: str
    histogram: str
    threshold: Number
    matchers: str = ""
    buckets: list[Number] | None = None


class ThresholdSpec(Spec):
    source: str
    metric: str
    op: Literal["<", "<=", ">", ">="]
    value: Number
    aggregate: Literal["max", "min", "avg", "sum"] = "max"


class DriftSLISpec(Spec):
    """Each run of a drift monitor (specs/monitors.py) is one event: good or bad by `check`."""

    monitor: str
    check: Literal["dataset", "column", "quality", "run"] = "dataset"
    column: str | None = None  # check: column
    metric: str | None = None  # check: quality
    op: Literal["<", "<=", ">", ">="] | None = None  # check: quality; default by metric (>= scores, <= errors)
    value: Number | None = None  # check: quality


class SLISpec(Spec):
    ratio: RatioSpec | None = None
    latency: LatencySpec | None = None
    threshold: ThresholdSpec | None = None
    drift: DriftSLISpec | None = None


class SLOSpec(Spec):
    service: str
    name: str
    objective: Number
    period: Any  # "28d" | {rolling: 28d} | {calendar: month, timezone: ...}; checked by native.py
    sli: SLISpec
    description: str = ""
    labels: dict[str, str] = {}
    budgeting: BudgetingSpec | None = None
    alerting: Any = None  # {policy: NAME, ...overrides}; checked with the alerting section (specs/alerting.py)
