"""Deployments on /metrics: `slo_deployments_total{service,environment}`,
`slo_deployment_info{service,environment,version,model_version}` = 1 for the latest deployment, and
`slo_last_deployment_timestamp_seconds{service,environment}`. Rendered at each scrape from the
DeploymentService's view, which a new deployment updates at once (not per evaluation like the SLO families)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from slo_service.core import conventions as c
from slo_service.core.deployments import DeploymentMetrics

_TARGET = [c.SERVICE_LABEL, c.ENVIRONMENT_LABEL]


class DeploymentCollector(Collector):
    def __init__(self, metrics: Callable[[], DeploymentMetrics]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        view = self.metrics()
        total = CounterMetricFamily(c.DEPLOYMENTS, "Deployments recorded from CI", labels=_TARGET)
        for (service, environment), n in sorted(view.counts.items()):
            total.add_metric([service, environment], float(n))
        yield total
        info = GaugeMetricFamily(
            c.DEPLOYMENT_INFO,
            "1, labelled with the version and model version of the latest deployment",
            labels=[*_TARGET, "version", "model_version"],
        )
        last = GaugeMetricFamily(
            c.LAST_DEPLOYMENT_TIMESTAMP_SECONDS, "When the latest deployment happened (Unix seconds)", labels=_TARGET
        )
        for (service, environment), d in sorted(view.latest.items()):
            info.add_metric([service, environment, d.version, d.model_version or ""], 1.0)
            last.add_metric([service, environment], d.at.timestamp())
        yield info
        yield last
