"""Response actions on /metrics: `slo_service_actions_total{action,target,outcome}`, where outcome is a guard's
verdict (run, pending_approval, dry_run, cooldown, in_flight), a send's (sent, retry, failed) or the run's end
(succeeded, failed, timed_out, denied); target is empty for actions the service carries out itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from slo_service.core import conventions as c


class ActionStatsView(Protocol):
    def snapshot(self) -> dict[tuple[str, str, str], int]: ...


class ActionsCollector(Collector):
    def __init__(self, stats: ActionStatsView) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            c.ACTIONS,
            "Response actions by action, target and outcome (decisions, sends, and how runs ended)",
            labels=["action", "target", "outcome"],
        )
        for (action, target, outcome), n in sorted(self.stats.snapshot().items()):
            family.add_metric([action, target, outcome], float(n))
        yield family
