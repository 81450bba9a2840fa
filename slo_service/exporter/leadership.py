"""Which replica leads: `slo_service_leader{replica}` (1 on the leader, 0 elsewhere) and its elections; which
config files it runs: `slo_service_config_info{replica, hash}` (replicas that read different files differ)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
    def __init__(self, leadership: LeadershipView, config_hash: Callable[[], str] | None = None) -> None:
        self.leadership = leadership
        self.config_hash = config_hash

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
        if self.config_hash is not None:
            info = GaugeMetricFamily(
                c.CONFIG_INFO,
                "1, labelled with a hash of the config files this replica runs (names and bytes)",
                labels=["replica", "hash"],
            )
            info.add_metric([replica, self.config_hash()], 1.0)
            yield info
