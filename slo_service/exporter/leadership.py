"""Which replica leads: `slo_service_leader{replica}` (1 on the leader, 0 elsewhere) and its elections."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from slo_service.core import conventions as c


class LeadershipView(Protocol):
    replica: str
    leader: bool
    elections: int


class LeadershipCollector(Collector):
    def __init__(self, leadership: LeadershipView) -> None:
        self.leadership = leadership

    def collect(self) -> Iterator[Metric]:
        replica = self.leadership.replica
        leader = GaugeMetricFamily(
            c.LEADER, "1 on the replica that scrapes, evaluates and alerts, 0 on the others", labels=["replica"]
        )
        leader.add_metric([replica], 1.0 if self.leadership.leader else 0.0)
        yield leader
        elections = CounterMetricFamily(c.LEADER_ELECTIONS, "Times this replica became the leader", labels=["replica"])
        elections.add_metric([replica], float(self.leadership.elections))
        yield elections
