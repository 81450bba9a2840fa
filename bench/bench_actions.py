"""Benchmark: from the evaluation that fires a matching response policy to the CI stand-in receiving the trigger.

    .venv/bin/python bench/bench_actions.py [--trials 200] [--runs 3]

In one process, as `slo-service serve` runs it: the ActionService on a real SQLite database (decisions, runs
and audit log in SQL, deployments in part A's store), its sender thread (woken by the decision, as the cycle
does), the real GitHub workflow_dispatch target (httpx), and the demo's stand-in CI (slo_service/demo, the
GitHub API shape) on a local port. Each trial is one evaluation in which a new page fires for a service
deployed 5 minutes before: the facts are gathered from the alert and the deployment store, the policy matches,
the decision and its run are stored, the sender claims the run and POSTs the rollback.

Latency: wall time from the start of the evaluation's act step (ActionService.evaluate) to the stand-in
receiving the POST. p50, p99 and max per run, then the median over runs; the target is p99 < 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from slo_service.adapters.sql.action_store import SqlActionStore
from slo_service.adapters.sql.deployment_store import SqlDeploymentStore
from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.migrate import upgrade
from slo_service.adapters.targets import build_targets
from slo_service.core.actions.policy import (
    ActionKind,
    Conditions,
    ResponsePolicy,
    ResponsesConfig,
    TargetConfig,
    TargetKind,
)
from slo_service.core.alerting.lifecycle import Alert, AlertState
from slo_service.core.clock import SystemClock
from slo_service.core.deployments import Deployment
from slo_service.core.model import Config
from slo_service.demo.alert_sink import AlertSink
from slo_service.pipeline.actions import ActionService


def _alert(service: str, started: datetime) -> Alert:
    labels = {"alertname": "SLOBurnRateHigh", "service": service, "slo": "availability", "severity": "page"}
    labels["burn_tier"] = "page-fast"
    values: dict[str, float | None] = {"burn_rate_long": 20.0, "burn_rate_short": 25.0, "budget_remaining": 0.6}
    return Alert(f"fp-{service}", labels, {}, AlertState.FIRING, started, started, None, values, started)


def run(trials: int, directory: Path) -> list[float]:
    url = f"sqlite:///{directory}/bench.db"
    upgrade(url)
    engine = make_engine(url)
    clock = SystemClock()
    deployments = SqlDeploymentStore(engine, clock)
    now = clock.now()
    for i in range(trials):
        for n, (version, ago) in enumerate((("v1", timedelta(days=1)), ("v2", timedelta(minutes=5)))):
            deployments.record(Deployment(f"s{i}-{n}", f"svc-{i}", "prod", version, None, None, None, now - ago))
    sink = AlertSink(0, echo=False)
    arrived: list[float] = []
    got = threading.Event()

    def on_line(_: str) -> None:
        arrived.append(time.perf_counter())
        got.set()

    sink.echo = on_line  # type: ignore[method-assign]
    sink.start()
    target = TargetConfig(
        "ci",
        TargetKind.GITHUB_WORKFLOW,
        f"http://127.0.0.1:{sink.port}",
        {"repo": "acme/shop", "workflow": "rollback.yml"},
        "ghp_benchtoken",
    )
    policy = ResponsePolicy(
        "rollback", Conditions(burn_severity="page", after_deploy=timedelta(minutes=30)), ActionKind.ROLLBACK, "ci"
    )
    responses = ResponsesConfig(policies=(policy,), targets={"ci": target})
    service = ActionService(SqlActionStore(engine, clock), clock.now, deployments)
    service.apply(responses, build_targets(responses.targets))
    service.start(poll=1.0)
    config = Config(services={}, sources={}, slos=())
    latencies: list[float] = []
    try:
        for i in range(trials):
            got.clear()
            alert = _alert(f"svc-{i}", clock.now() - timedelta(seconds=30))
            start = time.perf_counter()
            decided = service.evaluate(config, {}, [alert])
            assert decided == 1, decided
            if not got.wait(10):
                raise SystemExit(f"trial {i}: no trigger within 10 s")
            latencies.append(arrived[-1] - start)
        assert len(sink.dispatches) == trials
    finally:
        service.close()
        sink.stop()
        engine.dispose()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    p99s = []
    for r in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            lat = sorted(run(args.trials, Path(tmp)))
        p50, p99 = statistics.median(lat), lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        p99s.append(p99)
        ms = f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms"
        print(f"run {r + 1}: {len(lat)} triggers, {ms}")
    print(f"median p99 over {args.runs} runs: {statistics.median(p99s) * 1000:.1f} ms (target < 1000 ms)")


if __name__ == "__main__":
    main()
