"""The SLO domain model: services, sources, SLIs, periods and budgeting, as frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the alerting config imports routing and on-call; the model stays import-light
    from slo_service.core.actions.policy import ResponsesConfig
    from slo_service.core.alerting.config import AlertingConfig
    from slo_service.core.drift.monitor import DriftMonitor


DEFAULT_BODY_SIZE_LIMIT = 10 * 1024 * 1024
"""10 MiB of decompressed exposition per scrape. Prometheus has no limit by default, but it is a TSDB; here a
parsed body costs about 11 bytes of Python objects per byte, so 10 MiB (~100k series, far above the
application endpoints SLIs read) peaks near 120 MB per scrape in flight. Bigger targets belong behind
Prometheus and a promql source."""
DEFAULT_MAX_GAP = timedelta(hours=1)
"""A scrape source's `max_gap` default: the increase across a longer gap in scraping is not counted."""


class SourceKind(StrEnum):
    SCRAPE = "scrape"
    PROMQL = "promql"
    PUSH = "push"


@dataclass(frozen=True)
class ScrapeSource:
    """A Prometheus text-format endpoint the service scrapes itself."""

    name: str
    url: str
    interval: timedelta = timedelta(seconds=15)
    timeout: timedelta = timedelta(seconds=5)
    body_size_limit: int = DEFAULT_BODY_SIZE_LIMIT
    """Most bytes of decompressed body a scrape reads before it fails; 0 = no limit (as in Prometheus)."""
    max_gap: timedelta = DEFAULT_MAX_GAP
    """The longest gap between counted scrapes (a restart, an outage) whose counter increase is counted."""
    kind: SourceKind = SourceKind.SCRAPE


@dataclass(frozen=True)
class PromQLSource:
    """A Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir) queried for increases."""

    name: str
    url: str
    interval: timedelta = timedelta(minutes=1)
    timeout: timedelta = timedelta(seconds=10)
    backfill: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    kind: SourceKind = SourceKind.PROMQL


@dataclass(frozen=True)
class PushSource:
    """Producers POST samples to /api/v1/ingest under this source name."""

    name: str
    kind: SourceKind = SourceKind.PUSH


Source = ScrapeSource | PromQLSource | PushSource


class SLIKind(StrEnum):
    RATIO = "ratio"
    LATENCY = "latency"
    THRESHOLD = "threshold"
    DRIFT = "drift"
    ERROR_RATIO = "error_ratio"


@dataclass(frozen=True)
class RatioSLI:
    """good/total or bad/total event counts; each query is a selector (scrape, push) or PromQL (promql)."""

    source: str
    total: str
    good: str | None = None
    bad: str | None = None
    kind: SLIKind = SLIKind.RATIO


@dataclass(frozen=True)
class LatencySLI:
    """Share of requests at or under `threshold` seconds, read from a histogram's `le` buckets."""

    source: str
    histogram: str  # base metric name, without _bucket
    threshold: float
    matchers: str = ""  # extra label matchers, e.g. '{route="/predict"}'
    buckets: tuple[float, ...] | None = None  # declared boundaries, checked at validation time
    kind: SLIKind = SLIKind.LATENCY


class Comparison(StrEnum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    def holds(self, value: float, bound: float) -> bool:
        if self is Comparison.LT:
            return value < bound
        if self is Comparison.LE:
            return value <= bound
        if self is Comparison.GT:
            return value > bound
        return value >= bound


class Aggregation(StrEnum):
    MAX = "max"
    MIN = "min"
    AVG = "avg"
    SUM = "sum"


@dataclass(frozen=True)
class ThresholdSLI:
    """A gauge compared with a bound; each sample is good or bad, evaluated per timeslice."""

    source: str
    metric: str  # selector (scrape, push) or PromQL expression (promql)
    op: Comparison
    value: float
    aggregate: Aggregation = Aggregation.MAX  # how several matching series become one sample
    kind: SLIKind = SLIKind.THRESHOLD


class DriftCheck(StrEnum):
    DATASET = "dataset"  # good when the run found no dataset drift
    COLUMN = "column"  # good when `column` did not drift
    QUALITY = "quality"  # good when model-quality `metric` op `value` holds (e.g. accuracy >= 0.9)
    RUN = "run"  # good when the run succeeded


@dataclass(frozen=True)
class DriftSLI:
    """Each run of drift monitor `source` is one event (or one sample of a timeslice): good or bad."""

    source: str  # the monitor's name
    check: DriftCheck = DriftCheck.DATASET
    column: str | None = None
    metric: str | None = None
    op: Comparison = Comparison.GE
    value: float | None = None
    kind: SLIKind = SLIKind.DRIFT


@dataclass(frozen=True)
class ErrorRatioSLI:
    """An error ratio PromQL computes over `$window`, on a promql source, as Sloth defines its SLIs.

    * `total` None: `error` IS the error ratio (0..1; Sloth's raw SLI). The service reads it over each
      collection interval and counts the interval's minutes as events, their bad share that ratio, so a
      window's ratio is the AVERAGE of its minutes' ratios.
    * `total` set: the ratio is `(error) / (total)` (Sloth's events SLI when its queries are not plain
      counter rates). The service reads both over each interval and a window's ratio is the sum of the
      error values over the sum of the total values: Sloth's ratio over the window when both queries add up
      over time (increase, sum_over_time, count_over_time) or both are averages (rate, avg_over_time).

    Generated rules evaluate the ratio over each whole alert window and average the 5-minute ratios over
    the period, as Sloth does (a subquery over a whole period is too heavy for Prometheus).
    """

    source: str
    error: str  # PromQL with `$window`
    total: str | None = None  # PromQL with `$window`
    kind: SLIKind = SLIKind.ERROR_RATIO

    def ratio(self) -> str:
        """The ratio over `$window`, as Sloth's rules write it."""
        if self.total is None:
            return f"({self.error.strip()})"
        return f"({self.error.strip()})\n/\n({self.total.strip()})"


SLI = RatioSLI | LatencySLI | ThresholdSLI | DriftSLI | ErrorRatioSLI


class PeriodKind(StrEnum):
    ROLLING = "rolling"
    CALENDAR = "calendar"


class CalendarUnit(StrEnum):
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class Period:
    """A rolling window (e.g. 28d) or a calendar week/month that resets at local midnight in `timezone`."""

    kind: PeriodKind
    length: timedelta | None = None  # rolling only
    unit: CalendarUnit | None = None  # calendar only
    timezone: str = "UTC"

    @staticmethod
    def rolling(length: timedelta) -> Period:
        return Period(PeriodKind.ROLLING, length=length)

    @staticmethod
    def calendar(unit: CalendarUnit, timezone: str = "UTC") -> Period:
        return Period(PeriodKind.CALENDAR, unit=unit, timezone=timezone)

    @property
    def nominal_length(self) -> timedelta:
        """Length used to scale burn-rate tiers: the rolling length, 7d for a week, 30d for a month."""
        if self.kind is PeriodKind.ROLLING:
            assert self.length is not None
            return self.length
        return timedelta(days=7) if self.unit is CalendarUnit.WEEK else timedelta(days=30)

    @property
    def max_length(self) -> timedelta:
        """Longest span this period can cover (31 days for a calendar month)."""
        if self.kind is PeriodKind.CALENDAR and self.unit is CalendarUnit.MONTH:
            return timedelta(days=31)
        return self.nominal_length


class BudgetingMethod(StrEnum):
    OCCURRENCES = "occurrences"
    TIMESLICES = "timeslices"


@dataclass(frozen=True)
class Budgeting:
    """Occurrences count events; timeslices count slices whose good share reaches `slice_threshold`."""

    method: BudgetingMethod = BudgetingMethod.OCCURRENCES
    slice: timedelta | None = None
    slice_threshold: float = 1.0


@dataclass(frozen=True)
class Service:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class SLO:
    """One objective of one service. `objective` is a ratio in (0, 1), e.g. 0.999."""

    service: str
    name: str
    objective: float
    period: Period
    sli: SLI
    budgeting: Budgeting = Budgeting()
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def key(self) -> str:
        return slo_key(self.service, self.name)

    @property
    def error_budget(self) -> float:
        """Allowed bad share of events or slices, e.g. 0.001 for 99.9%."""
        return 1.0 - self.objective


def slo_key(service: str, name: str) -> str:
    """The stable identifier of an SLO across config, storage and API."""
    return f"{service}/{name}"


@dataclass(frozen=True)
class Config:
    """A whole, validated configuration: what the service runs with until the next good reload."""

    services: Mapping[str, Service]
    sources: Mapping[str, Source]
    slos: tuple[SLO, ...]
    files: tuple[str, ...] = ()
    alerting: AlertingConfig | None = None  # None: evaluate SLOs, notify nobody
    monitors: Mapping[str, DriftMonitor] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # "file:line: field: message" the loader accepted but wants a human to see
    responses: ResponsesConfig | None = None  # response policies and CI targets (core/actions)

    def slo(self, key: str) -> SLO | None:
        return next((s for s in self.slos if s.key == key), None)
