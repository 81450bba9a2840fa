"""Benchmark: from the evaluation that crosses a page threshold to the request reaching a fake Slack.

    .venv/bin/python bench/bench_alert_latency.py [--pages 30] [--slos 1000]

In one process, as `slo-service serve` runs it: the pipeline (LiveHistory, Evaluator, AlertingService,
DeliveryWorker, Cycle) on a real SQLite database (history and alert store, WAL), the real
SlackReceiver (slack-sdk WebClient) pointed at a local HTTP server that answers chat.postMessage
like Slack. Traffic is simulated on a ManualClock (one scrape per minute per SLO); each page episode is
a clean hour, then a 100% outage on one SLO until its page fires, then recovery until it resolves.
The latency is wall time from the start of the cycle whose evaluation crosses the threshold (evaluate
→ alert → route → outbox → deliver) to the moment the fake Slack server receives chat.postMessage,
i.e. what the service adds beyond the evaluation interval. --slos adds that many healthy SLOs to
every cycle, so the evaluation has realistic work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from slo_service.adapters.receivers.slack import SlackReceiver
from slo_service.adapters.sql.alert_store import SqlAlertStore
from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.migrate import upgrade
from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.alerting.config import AlertingConfig, ReceiverKind, ReceiverSpec
from slo_service.core.alerting.policy import AlertPolicy, default_tiers
from slo_service.core.clock import ManualClock
from slo_service.core.model import SLO, Config, Period, PushSource, RatioSLI, Service
from slo_service.core.ports import CountIncrement
from slo_service.core.routing.tree import Route
from slo_service.pipeline.alerting import AlertingService
from slo_service.pipeline.cycle import Cycle
from slo_service.pipeline.delivery import DeliveryWorker
from slo_service.pipeline.evaluate import Evaluator
from slo_service.pipeline.history import LiveHistory
from slo_service.pipeline.runtime import Adapters, Runtime

ARRIVALS: list[float] = []


class FakeSlack(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        ARRIVALS.append(time.perf_counter())
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"ok": True, "channel": "C1", "ts": f"{time.time():.6f}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--slos", type=int, default=1000)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSlack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slack_url = f"http://127.0.0.1:{server.server_address[1]}/api/"

    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp}/bench.db"
    upgrade(url)
    engine = make_engine(url)
    clock = ManualClock(datetime(2026, 11, 28, tzinfo=UTC))
    period = Period.rolling(timedelta(days=30))
    slos = tuple(
        SLO(
            "svc",
            f"slo{i}",
            0.999,
            period,
            RatioSLI("push", total=f'req_total{{s="{i}"}}', bad=f'req_total{{code="500",s="{i}"}}'),
        )
        for i in range(args.slos + 1)
    )
    alerting_cfg = AlertingConfig(
        policies={"default": AlertPolicy(tiers=(default_tiers()[0],), no_data_after=None, budget_exhausted=False)},
        receivers={"slack": ReceiverSpec("slack", ReceiverKind.SLACK)},
        route=Route(receiver="slack", group_by=("service", "slo"), group_wait=timedelta(0)),
    )
    config = Config({"svc": Service("svc")}, {"push": PushSource("push")}, slos, alerting=alerting_cfg)
    store = SqlHistoryStore(engine)
    history = LiveHistory(store, clock.now())
    runtime = Runtime(
        config,
        store,
        history,
        Evaluator(history),
        Adapters(scrape=None, promql=None),
        clock,
        lambda: config,  # type: ignore[arg-type]
    )
    alert_store = SqlAlertStore(engine, clock=clock)
    alerting = AlertingService(alert_store, clock.now)
    alerting.apply(config)
    receiver = SlackReceiver("slack", "xoxb-bench", "#alerts", base_url=slack_url)
    worker = DeliveryWorker(alert_store, {"slack": receiver}, clock.now)
    cycle = Cycle(runtime, alerting, worker)

    def minute(bad_share: float) -> None:
        # Counts go straight into the history (what collection produces), so the loop measures the
        # cycle, not the simulation: slo0 gets `bad_share` errors, every other SLO none.
        clock.advance(timedelta(minutes=1))
        at = clock.now()
        increments = [CountIncrement(s.key, at, 1000.0, 1000.0) for s in slos[1:]]
        increments.append(CountIncrement(slos[0].key, at, 1000.0 * (1 - bad_share), 1000.0))
        runtime.history.record(increments)

    latencies: list[float] = []
    cycle_times: list[float] = []
    for _ in range(args.pages):
        for _ in range(60):
            minute(0.0)
        cycle.run()
        for _ in range(120):  # a 100% outage must page within minutes; bounded in case it never does
            minute(1.0)
            before = len(ARRIVALS)
            started = time.perf_counter()
            cycle.run()
            cycle_times.append(time.perf_counter() - started)
            if len(ARRIVALS) > before:
                latencies.append(ARRIVALS[before] - started)
                break
        else:
            raise SystemExit("the outage never paged: check the SLO selectors")
        for _ in range(70):  # recover: the page resolves, the next episode starts clean
            minute(0.0)
            cycle.run()
    server.shutdown()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(f"{args.pages} pages, {args.slos + 1} SLOs per cycle, SQLite, slack-sdk -> local fake Slack")
    print(f"evaluation-to-Slack latency: median {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms,")
    print(f"max {max(latencies) * 1000:.1f} ms; median cycle {statistics.median(cycle_times) * 1000:.1f} ms")
    asyncio.run(asyncio.sleep(0))


if __name__ == "__main__":
    main()
