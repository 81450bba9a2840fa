"""End to end: the real Prometheus evaluates the generated rules on the demo model server's metrics and
agrees with the service about the error budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from slo_service.demo.model_server import DemoModelServer
from slo_service.generate.prometheus_rules import dump_rules, prometheus_rules
from slo_service.specs.loader import load_config
from tests.integration.test_service_process import metric_value
from tests.support.process import prom_query, run_prometheus, run_service, wait_for


def test_prometheus_and_the_service_agree_on_budget_remaining(sqlite_url: str, tmp_path: Path) -> None:
    # 5% errors against a 90% objective: half the budget spent, a value both sides must reproduce.
    with DemoModelServer(port=0, rate=200.0, error_rate=0.05, tick_seconds=0.2) as model:
        host_port = model.url.removeprefix("http://")
        config = tmp_path / "slo.yaml"
        config.write_text(
            f"""apiVersion: slo-service/v1
services: [{{name: fraud-detector}}]
sources: [{{name: demo, type: scrape, url: "{model.url}/metrics", interval: 1s, timeout: 900ms}}]
slos:
  - service: fraud-detector
    name: availability
    objective: 90
    period: 30d
    sli:
      ratio: {{source: demo, good: 'model_requests_total{{code!~"5.."}}', total: model_requests_total}}
"""
        )
        rules = tmp_path / "rules.yml"
        rules.write_text(dump_rules(prometheus_rules(load_config([config]))))
        with (
            run_service([config], sqlite_url, tmp_path) as svc,
            run_prometheus(tmp_path, [host_port], rule_files=[rules]) as prom,
        ):
            selector = (
                'slo:period_error_budget_remaining:ratio{sloth_service="fraud-detector",sloth_slo="availability"}'
            )
            wait_for(lambda: prom_query(prom, selector), timeout=60, what="the recording rule to have a value")
            # Give both sides a minute of the same traffic, then compare.
            wait_for(
                lambda: (
                    (r := prom_query(prom, "sum(increase(model_requests_total[30d]))"))
                    and float(r[0]["value"][1]) > 5000
                ),
                timeout=120,
                what="5000 requests in Prometheus",
            )
            theirs = float(prom_query(prom, selector)[0]["value"][1])
            ours = metric_value(svc.get("/metrics").text, "slo_error_budget_remaining_ratio", slo="availability")
            assert ours is not None
            assert ours == pytest.approx(0.5, abs=0.15)  # the simulated 5% errors, within sampling noise
            assert theirs == pytest.approx(ours, abs=0.05)
            objective = prom_query(prom, 'slo:objective:ratio{sloth_slo="availability"}')
            assert float(objective[0]["value"][1]) == pytest.approx(0.9)
