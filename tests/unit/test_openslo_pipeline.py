"""An OpenSLO AlertPolicy drives the real alert → route → notify pipeline: its burnrate condition pages
its AlertNotificationTarget's receiver at the burn rate it names, and nobody else."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.adapters.memory_alerts import InMemoryAlertStore
from slo_service.core.clock import ManualClock
from slo_service.core.notify import RetryPolicy
from slo_service.pipeline.alerting import AlertingService
from slo_service.pipeline.cycle import Cycle
from slo_service.pipeline.delivery import DeliveryWorker
from slo_service.specs import load_config
from tests.unit.test_alerting_pipeline import FakeReceiver
from tests.unit.test_pipeline import START, FakeTarget, make_runtime

SOURCES = """\
apiVersion: slo-service/v1
sources:
  - {name: model, type: scrape, url: "http://127.0.0.1:1/metrics"}
alerting:
  receivers:
    - {name: everything-else, type: webhook, url: "http://127.0.0.1:2/hook"}
  route: {receiver: everything-else, group_wait: 0s}
"""

OPENSLO = """\
apiVersion: openslo/v1
kind: Service
metadata: {name: fraud}
spec: {description: Fraud scoring}
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata:
  name: fraud-pager
  annotations: {slo-service/url: "http://127.0.0.1:3/page"}
spec: {target: webhook}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: fraud-paging}
spec:
  conditions:
    - kind: AlertCondition
      metadata: {name: fast}
      spec:
        severity: page
        condition: {kind: burnrate, op: gte, threshold: 14.4, lookbackWindow: 1h}
  notificationTargets:
    - targetRef: fraud-pager
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: availability}
spec:
  service: fraud
  indicator:
    metadata: {name: fraud-errors}
    spec:
      ratioMetric:
        counter: true
        bad: {metricSource: {metricSourceRef: model, spec: {query: 'requests_total{code="500"}'}}}
        total: {metricSource: {metricSourceRef: model, spec: {query: requests_total}}}
  timeWindow: [{duration: 30d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.999}]
  alertPolicies: [{alertPolicyRef: fraud-paging}]
"""


def test_openslo_condition_pages_its_target_at_its_burn_rate(tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text(SOURCES)
    (tmp_path / "fraud.yaml").write_text(OPENSLO)
    config = load_config([tmp_path])
    clock = ManualClock(START)
    target = FakeTarget()
    runtime = make_runtime(config, InMemoryHistoryStore(), clock, target)
    store = InMemoryAlertStore()
    alerting = AlertingService(store, clock.now)
    alerting.apply(config)
    receivers = {"fraud-pager": FakeReceiver("fraud-pager"), "everything-else": FakeReceiver("everything-else")}
    worker = DeliveryWorker(store, receivers, clock.now, RetryPolicy(base=timedelta(seconds=10)))
    cycle = Cycle(runtime, alerting, worker)
    asyncio.run(runtime.collect("model"))

    def minutes(n: int, ok: int, errors: int) -> None:
        for _ in range(n):
            clock.advance(timedelta(minutes=1))
            target.ok += ok
            target.errors += errors
            asyncio.run(runtime.collect("model"))
            clock.advance(timedelta(seconds=1))
            cycle.run()
            clock.advance(timedelta(seconds=-1))

    minutes(120, ok=10_000, errors=0)
    minutes(120, ok=9_870, errors=130)  # 1.3% errors: a 13x burn, under the condition's 14.4
    assert receivers["fraud-pager"].delivered == []
    minutes(70, ok=9_850, errors=150)  # 1.5%: 15x, above 14.4 once the hour is mostly at 15x
    (page,) = receivers["fraud-pager"].delivered
    alert = page.payload["alerts"][0]
    assert (alert["labels"]["burn_tier"], alert["labels"]["severity"]) == ("fast", "page")
    assert alert["values"]["burn_rate_long"] > 14.4
    # alertWhenNoData is false and budget exhaustion is no OpenSLO condition: nothing else was sent anywhere
    assert receivers["everything-else"].delivered == []
    assert pytest.approx(14.4) == config.alerting.policy_for("fraud/availability").tiers[0].factor(timedelta(days=30))  # type: ignore[union-attr]
