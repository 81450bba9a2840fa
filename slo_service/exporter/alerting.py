"""Alerting self-metrics: alerts by state, notification outcomes and delivery latency."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from slo_service.core import conventions as c
from slo_service.core.alerting.lifecycle import Alert


class AlertingView(Protocol):
    def active_alerts(self) -> Sequence[Alert]: ...

    def open_group_count(self) -> int: ...


class DeliveryView(Protocol):
    observe_latency: Callable[[str, float], None] | None

    @property
    def outcome_counts(self) -> Mapping[tuple[str, str], int]: ...


class AlertingCollector(Collector):
    def __init__(self, alerting: AlertingView, delivery: DeliveryView) -> None:
        self.alerting = alerting
        self.delivery = delivery

    def collect(self) -> Iterator[Metric]:
        alerts = GaugeMetricFamily(c.ALERTS, "Open alerts by state and severity", labels=["state", "severity"])
        counts: dict[tuple[str, str], int] = {}
        for a in self.alerting.active_alerts():
            key = (str(a.state), a.labels.get("severity", ""))
            counts[key] = counts.get(key, 0) + 1
        for (state, severity), n in sorted(counts.items()):
            alerts.add_metric([state, severity], float(n))
        yield alerts
        yield GaugeMetricFamily(
            c.NOTIFICATION_GROUPS, "Notification groups with a firing episode", value=self.alerting.open_group_count()
        )
        outcomes = CounterMetricFamily(
            c.NOTIFICATIONS, "Notification delivery attempts by receiver and outcome", labels=["receiver", "outcome"]
        )
        for (receiver, outcome), n in sorted(dict(self.delivery.outcome_counts).items()):
            outcomes.add_metric([receiver, outcome], float(n))
        yield outcomes


def delivery_histogram(registry: CollectorRegistry) -> Histogram:
    """Seconds from a notification being enqueued to the receiver accepting it."""
    return Histogram(
        c.NOTIFICATION_DELIVERY_SECONDS,
        "Time from enqueueing a notification to its delivery",
        ["receiver"],
        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
        registry=registry,
    )
