"""Custom collector: SLO gauges, event counters and self-metrics, read from the runtime on each scrape."""

from __future__ import annotations

import platform
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from slo_service import __version__
from slo_service.core import conventions as c
from slo_service.core.extract import INVALID_COUNTER_REASONS
from slo_service.core.model import Config, ScrapeSource
from slo_service.core.slo_math import SLOStatus
from slo_service.exporter.alerting import AlertingCollector, AlertingView, DeliveryView, delivery_histogram
from slo_service.exporter.exposition import ExportWindows, SLOExposition


class RuntimeView(Protocol):
    """What the exporter reads; the pipeline's Runtime satisfies it."""

    @property
    def config(self) -> Config: ...

    @property
    def statuses(self) -> Mapping[str, SLOStatus]: ...

    @property
    def sources(self) -> Mapping[str, object]: ...

    @property
    def collection_errors(self) -> Mapping[str, int]: ...

    @property
    def duplicate_series(self) -> Mapping[str, int]: ...

    @property
    def invalid_counter_samples(self) -> Mapping[tuple[str, str], int]: ...

    @property
    def history(self) -> object: ...

    @property
    def last_evaluation(self) -> object: ...

    @property
    def last_reload(self) -> object: ...


SLO_HELP: dict[str, tuple[str, str]] = {
    c.SLO_OBJECTIVE_RATIO: ("gauge", "SLO objective as a ratio (0.999)"),
    c.SLO_PERIOD_SECONDS: ("gauge", "Length of the SLO period in seconds"),
    c.SLO_SLI_RATIO: ("gauge", "SLI (good/total) over the window"),
    c.SLO_BURN_RATE: ("gauge", "Error-budget burn rate over the window"),
    c.SLO_DATA_COVERAGE_RATIO: ("gauge", "Share of the window's slices that had data"),
    c.SLO_ERROR_BUDGET_REMAINING_RATIO: (
        "gauge",
        "Error budget left in the period so far: 1 - consumed (negative when overspent)",
    ),
    c.SLO_ERROR_BUDGET_CONSUMED_RATIO: (
        "gauge",
        "Bad events (slices) / allowed bad of the events (judged slices) so far: the period's burn rate",
    ),
    c.SLO_PERIOD_BUDGET_CONSUMED_RATIO: (
        "gauge",
        "Timeslice SLOs: bad slices / allowed bad slices of the WHOLE period",
    ),
    c.SLO_EVENTS + "_total": ("counter", "Events recorded since the process started, by outcome"),
    c.SLO_INFO: ("gauge", "SLO metadata"),
}
"""The SLO families in the order they are exposed: (type, help) by the name a sample carries."""


class SLOCollector(Collector):
    """Builds every family from one consistent read of the runtime.

    /metrics serves the SLO families from exposition.SLOExposition (the same text, rendered once per
    evaluation); this collector's `_slo_metrics` is its reference, and `slos=False` leaves them out.
    """

    def __init__(
        self,
        runtime: RuntimeView,
        export_labels: Sequence[str] = (),
        windows: ExportWindows | None = None,
        slos: bool = True,
    ) -> None:
        self.runtime = runtime
        self.export_labels = [lbl for lbl in export_labels if lbl not in c.RESERVED_LABELS]
        self.windows = windows or ExportWindows()
        self.slos = slos

    def collect(self) -> Iterator[Metric]:
        if self.slos:
            yield from self._slo_metrics()
        yield from self._self_metrics()

    def _slo_metrics(self) -> Iterator[Metric]:
        rt = self.runtime
        config = rt.config
        statuses = dict(rt.statuses)
        base = [c.SERVICE_LABEL, c.SLO_LABEL, *self.export_labels]
        objective = GaugeMetricFamily(c.SLO_OBJECTIVE_RATIO, "SLO objective as a ratio (0.999)", labels=base)
        period = GaugeMetricFamily(c.SLO_PERIOD_SECONDS, "Length of the SLO period in seconds", labels=base)
        sli = GaugeMetricFamily(c.SLO_SLI_RATIO, "SLI (good/total) over the window", labels=[*base, "window"])
        burn = GaugeMetricFamily(c.SLO_BURN_RATE, "Error-budget burn rate over the window", labels=[*base, "window"])
        coverage = GaugeMetricFamily(
            c.SLO_DATA_COVERAGE_RATIO, "Share of the window's slices that had data", labels=[*base, "window"]
        )
        remaining = GaugeMetricFamily(
            c.SLO_ERROR_BUDGET_REMAINING_RATIO,
            "Error budget left in the period so far: 1 - consumed (negative when overspent)",
            labels=base,
        )
        consumed = GaugeMetricFamily(
            c.SLO_ERROR_BUDGET_CONSUMED_RATIO,
            "Bad events (slices) / allowed bad of the events (judged slices) so far: the period's burn rate",
            labels=base,
        )
        period_consumed = GaugeMetricFamily(
            c.SLO_PERIOD_BUDGET_CONSUMED_RATIO,
            "Timeslice SLOs: bad slices / allowed bad slices of the WHOLE period",
            labels=base,
        )
        events = CounterMetricFamily(
            c.SLO_EVENTS, "Events recorded since the process started, by outcome", labels=[*base, "outcome"]
        )
        meta_keys = sorted(
            {k for s in config.services.values() for k in s.labels} | {k for s in config.slos for k in s.labels}
        )
        meta_keys = [k for k in meta_keys if k not in c.RESERVED_LABELS]
        info = InfoMetricFamily(c.SLO_INFO.removesuffix("_info"), "SLO metadata", labels=None)
        counts = getattr(rt.history, "event_counts", {})
        for slo in config.slos:
            service = config.services.get(slo.service)
            labels = {**(service.labels if service else {}), **slo.labels}
            values = [slo.service, slo.name, *(labels.get(k, "") for k in self.export_labels)]
            objective.add_metric(values, slo.objective)
            period.add_metric(values, slo.period.nominal_length.total_seconds())
            info.add_metric(
                [],
                {
                    c.SERVICE_LABEL: slo.service,
                    c.SLO_LABEL: slo.name,
                    "sli_kind": str(slo.sli.kind),
                    "budgeting": str(slo.budgeting.method),
                    "period": period_label(slo.period),
                    **{k: labels.get(k, "") for k in meta_keys},
                },
            )
            good, total = counts.get(slo.key, (0.0, 0.0))
            events.add_metric([*values, "good"], good)
            events.add_metric([*values, "bad"], max(total - good, 0.0))
            st = statuses.get(slo.key)
            if st is None:
                continue
            ew = self.windows
            for name, w in st.windows.items():
                if w.sli is not None and ew.wants(ew.sli, name):
                    sli.add_metric([*values, name], w.sli)
                if w.burn_rate is not None and ew.wants(ew.burn_rate, name):
                    burn.add_metric([*values, name], w.burn_rate)
                if ew.wants(ew.coverage, name):
                    coverage.add_metric([*values, name], w.data_coverage)
            if st.budget.remaining_ratio is not None:
                remaining.add_metric(values, st.budget.remaining_ratio)
            if st.budget.consumed_ratio is not None:
                consumed.add_metric(values, st.budget.consumed_ratio)
            if st.budget.period_consumed_ratio is not None:
                period_consumed.add_metric(values, st.budget.period_consumed_ratio)
        yield from (objective, period, sli, burn, coverage, remaining, consumed, period_consumed, events, info)

    def _self_metrics(self) -> Iterator[Metric]:
        rt = self.runtime
        up = GaugeMetricFamily(
            c.SCRAPE_UP, "1 if the last collection from the target succeeded", labels=["source", "target"]
        )
        duration = GaugeMetricFamily(
            c.SCRAPE_DURATION_SECONDS, "Duration of the last collection", labels=["source", "target"]
        )
        samples = GaugeMetricFamily(c.SCRAPE_SAMPLES, "Samples in the last collection", labels=["source", "target"])
        for name, state in dict(rt.sources).items():
            health = getattr(state, "health", None)
            if health is None:
                continue
            up.add_metric([name, health.target], 1.0 if health.up else 0.0)
            duration.add_metric([name, health.target], health.duration_seconds)
            samples.add_metric([name, health.target], float(health.samples))
        yield from (up, duration, samples)
        errors = CounterMetricFamily(
            c.COLLECTION_ERRORS, "Collections that failed or reported SLI errors", labels=["source"]
        )
        # every configured source from the first scrape (0 until it fails), so health panels and
        # increase() have a series to read on a healthy service
        counts = {name: 0 for name in rt.config.sources} | dict(rt.collection_errors)
        for name, count in counts.items():
            errors.add_metric([name], float(count))
        yield errors
        yield from self._scrape_quality()
        evaluation = rt.last_evaluation
        if evaluation is not None:
            yield GaugeMetricFamily(
                c.EVALUATION_DURATION_SECONDS,
                "Duration of the last evaluation cycle",
                value=getattr(evaluation, "duration_seconds", 0.0),
            )
            evaluated_at = getattr(evaluation, "evaluated_at", None)
            if evaluated_at is not None:
                yield GaugeMetricFamily(
                    c.LAST_EVALUATION_TIMESTAMP_SECONDS,
                    "Unix time of the last evaluation cycle",
                    value=evaluated_at.timestamp(),
                )
        pending = getattr(rt.history, "pending_writes", 0)
        yield GaugeMetricFamily(c.STORE_PENDING_WRITES, "Increments waiting for the database", value=float(pending))
        yield CounterMetricFamily(
            c.STORE_DROPPED_INCREMENTS,
            "Increments dropped because more waited for the database than the pending-write limit allows",
            value=float(getattr(rt.history, "dropped_increments", 0)),
        )
        reload = rt.last_reload
        # before any reload the running config is the one the service started with, which loaded
        yield GaugeMetricFamily(
            c.CONFIG_LAST_RELOAD_SUCCESS,
            "1 if the last config reload succeeded (1 from start: the startup config loaded)",
            value=1.0 if reload is None or getattr(reload, "ok", False) else 0.0,
        )
        build = InfoMetricFamily(c.BUILD_INFO.removesuffix("_info"), "Build information")
        build.add_metric([], {"version": __version__, "python": platform.python_version()})
        yield build

    def _scrape_quality(self) -> Iterator[Metric]:
        """What Prometheus reports per target too: repeated series, and counter values that are none."""
        rt = self.runtime
        scraped = [n for n, s in rt.config.sources.items() if isinstance(s, ScrapeSource)]
        duplicates = CounterMetricFamily(
            c.SCRAPE_DUPLICATE_SERIES,
            "Samples of a series already in the same scrape: dropped, the first sample of each kept",
            labels=["source"],
        )
        for name, count in ({n: 0 for n in scraped} | dict(rt.duplicate_series)).items():
            duplicates.add_metric([name], float(count))
        invalid = CounterMetricFamily(
            c.SCRAPE_INVALID_COUNTER_SAMPLES,
            "Counter samples skipped for a negative (reason=negative) or NaN/infinite (nan, inf) value",
            labels=["source", "reason"],
        )
        zero = {(n, r): 0 for n in scraped for r in INVALID_COUNTER_REASONS}
        for (name, reason), count in (zero | dict(rt.invalid_counter_samples)).items():
            invalid.add_metric([name, reason], float(count))
        yield duplicates
        yield invalid


def period_label(period: object) -> str:
    from slo_service.core.durations import format_duration
    from slo_service.core.model import Period, PeriodKind

    assert isinstance(period, Period)
    if period.kind is PeriodKind.ROLLING:
        return format_duration(period.nominal_length)
    return f"calendar-{period.unit}"


class ServiceRegistry(CollectorRegistry):
    """The service's registry (self-metrics, alerting, drift) plus the cached SLO families /metrics puts first."""

    def __init__(self, slo_exposition: SLOExposition) -> None:
        super().__init__(auto_describe=False)
        self.slo_exposition = slo_exposition


def build_registry(
    runtime: RuntimeView,
    export_labels: Sequence[str] = (),
    alerting: AlertingView | None = None,
    delivery: DeliveryView | None = None,
    windows: ExportWindows | None = None,
) -> ServiceRegistry:
    """A registry of our own (never the global one), so tests and embedders get only these metrics."""
    registry = ServiceRegistry(SLOExposition(runtime, export_labels, windows or ExportWindows()))
    registry.register(SLOCollector(runtime, export_labels, windows, slos=False))
    if alerting is not None and delivery is not None:
        registry.register(AlertingCollector(alerting, delivery))
        histogram = delivery_histogram(registry)
        delivery.observe_latency = lambda receiver, seconds: histogram.labels(receiver).observe(seconds)
    return registry
