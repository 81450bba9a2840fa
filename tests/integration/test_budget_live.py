"""Live: a real Prometheus scraping a local exporter with the generated rules loaded records the same
windows, period burn and error budget (consumed and remaining) as the real service scraping the same
exporter, within 1e-6, for ratio, latency and threshold SLIs with occurrences and 1-minute timeslices.

Both sides see the same counters at different scrape instants, so the exporter makes the instants not
matter: its events happen only at :10, :20, :30, :40 and :50 of each minute (counters jump there) and
its gauge changes only at :00 and :30. The service's windows end on the minute (occurrences) or the
last completed slice (timeslices), and the rules' windows read whole minutes or slices too, so from
a few seconds after a minute boundary M until M + 10 s both sides hold exactly the same events: the
service's status read at M + 5 s and Prometheus' recorded series at M + 8.5 s (rules evaluated every
4 s) must agree.
Windows longer than this test (and periods at 5-minute steps) are compared with the engine in
test_budget_rules_match_engine.py.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from slo_service.core.windows import ALERT_WINDOWS
from slo_service.generate.prometheus_rules import dump_rules, prometheus_rules
from slo_service.specs.loader import load_config
from tests.support.process import prom_query, run_prometheus, run_service, wait_for

TOLERANCE = 1e-6
JUMP_SECONDS = (10, 20, 30, 40, 50)
COMPARISONS = 2


class Exporter:
    """Counters that jump only at :10 ... :50 of each minute after `arm()`, and a gauge that changes at :30."""

    def __init__(self) -> None:
        self.armed_at: float | None = None

    def arm(self) -> None:
        self.armed_at = time.time()

    def _jumps(self, now: float) -> list[int]:
        """Epoch seconds of the jumps since arming, up to now."""
        if self.armed_at is None:
            return []
        first = math.ceil(self.armed_at)
        return [t for t in range(first, math.floor(now) + 1) if t % 60 in JUMP_SECONDS]

    def text(self, now: float) -> str:
        total = errors = fast = 0
        for t in self._jumps(now):
            minute = t // 60
            n = 100 + 37 * (t % 7)
            total += n
            # odd minutes: 10% errors and 20% slow (bad slices); even minutes: 1 error, all fast
            errors += n // 10 if minute % 2 else 1
            fast += n - (n // 5 if minute % 2 else 0)
        lines = [
            f"req_total {total}",
            f"req_errors_total {errors}",
            f"req_ok_total {total - errors}",
            f'lat_seconds_bucket{{le="0.25"}} {fast}',
            f'lat_seconds_bucket{{le="+Inf"}} {total}',
        ]
        if self.armed_at is not None:
            # bad in the second half of odd minutes: half the samples of those slices break the bound
            bad = (int(now) // 60) % 2 == 1 and int(now) % 60 >= 30
            lines.append(f"queue_depth {500 if bad else 50}")
        return "\n".join(lines) + "\n"


@contextmanager
def serve(exporter: Exporter) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = exporter.text(time.time()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _config(path: Path, host_port: str) -> Path:
    path.write_text(
        f"""apiVersion: slo-service/v1
services: [{{name: app}}]
sources: [{{name: app, type: scrape, url: "http://{host_port}/metrics", interval: 2s, timeout: 1s}}]
slos:
  - {{service: app, name: ratio-occ, objective: 99, period: 30d,
     sli: {{ratio: {{source: app, bad: req_errors_total, total: req_total}}}}}}
  - {{service: app, name: ratio-ts, objective: 99, period: 30d,
     budgeting: {{method: timeslices, slice: 1m, slice_threshold: 0.98}},
     sli: {{ratio: {{source: app, good: req_ok_total, total: req_total}}}}}}
  - {{service: app, name: latency-occ, objective: 99, period: 30d,
     sli: {{latency: {{source: app, histogram: lat_seconds, threshold: 0.25}}}}}}
  - {{service: app, name: latency-ts, objective: 99, period: 7d,
     budgeting: {{method: timeslices, slice: 1m, slice_threshold: 0.95}},
     sli: {{latency: {{source: app, histogram: lat_seconds, threshold: 0.25}}}}}}
  - {{service: app, name: threshold-ts, objective: 99, period: 30d,
     budgeting: {{method: timeslices, slice: 1m, slice_threshold: 0.9}},
     sli: {{threshold: {{source: app, metric: queue_depth, op: "<", value: 100}}}}}}
"""
    )
    return path


def _wait_until(epoch: float) -> None:
    time.sleep(max(0.0, epoch - time.time()))


def _service_values(status: dict[str, Any], period_name: str) -> dict[str, float | None]:
    """The service's numbers under the names of the recorded series."""
    windows = status["windows"]
    budget = 1.0 / 100  # objective 99 for every SLO of the config

    def err(name: str) -> float | None:
        sli = (windows.get(name) or {}).get("sli")
        return None if sli is None else 1.0 - sli

    out: dict[str, float | None] = {f"slo:sli_error:ratio_rate{w}": err(w) for w in ALERT_WINDOWS}
    out[f"slo:sli_error:ratio_rate{period_name}"] = err("period")
    out["slo:period_burn_rate:ratio"] = windows["period"]["burn_rate"]
    out["slo:period_error_budget_consumed:ratio"] = status["budget"]["consumed_ratio"]
    out["slo:period_error_budget_remaining:ratio"] = status["budget"]["remaining_ratio"]
    five = err("5m")
    out["slo:current_burn_rate:ratio"] = None if five is None else five / budget
    return out


def test_prometheus_records_the_services_numbers(sqlite_url: str, tmp_path: Path) -> None:
    exporter = Exporter()
    with serve(exporter) as host_port:
        config = _config(tmp_path / "slo.yaml", host_port)
        rules = tmp_path / "rules.yml"
        rules.write_text(dump_rules(prometheus_rules(load_config([config]))))
        periods = {s.name: s.period.nominal_length for s in load_config([config]).slos}
        with (
            run_service([config], sqlite_url, tmp_path) as svc,
            # rules every 4 s: the 30-day period of 1-minute slices is a 43,200-step subquery
            run_prometheus(tmp_path, [host_port], rule_files=[rules], evaluation_interval="4s") as prom,
        ):
            wait_for(lambda: prom_query(prom, "up == 1"), timeout=30, what="Prometheus' first scrape")
            wait_for(lambda: (svc.get("/api/v1/sources").json()[0]["health"] or {}).get("up"), what="first scrape")
            # The gauge appears now: both sides judge its first, partial slice on the samples after this. Not in
            # the last half of a minute: the two sides scrape at different instants, so a gauge armed seconds
            # before the boundary may be in one side's first slice and not yet in the other's.
            now = time.time()
            if now % 60 >= 30:
                _wait_until(now // 60 * 60 + 63)
            exporter.arm()
            compared = 0
            mismatches: list[str] = []
            for k in range(1, COMPARISONS + 1):
                boundary = (exporter.armed_at or 0) // 60 * 60 + 60 * k
                _wait_until(boundary + 5)
                statuses = {s: svc.get(f"/api/v1/slos/app/{s}").json() for s in periods}
                # the newest rule evaluation at or before M + 8.5 s ran after M + 4.5 s: whole minutes
                _wait_until(boundary + 9.5)
                for slo_name, item in statuses.items():
                    status = item["status"]
                    evaluated = status["evaluated_at"]
                    period_name = f"{int(periods[slo_name].total_seconds() // 86400)}d"
                    for series, ours in _service_values(status, period_name).items():
                        sel = f'{series}{{sloth_service="app",sloth_slo="{slo_name}"}}'
                        result = prom_query_at(prom, sel, boundary + 8.5)
                        theirs = float(result[0]["value"][1]) if result else None
                        if ours is None or theirs is None:
                            same = ours is None and (theirs is None or math.isnan(theirs))
                        else:
                            same = abs(ours - theirs) <= TOLERANCE
                        compared += 1
                        if not same:
                            mismatches.append(
                                f"{slo_name} {series} at M+{k}m ({evaluated}): service {ours}, rule {theirs}"
                            )
            assert not mismatches, "\n".join(mismatches)
            assert compared >= COMPARISONS * 5 * 12
            # not vacuous: the budget is spent (odd minutes are bad) and the SLOs differ
            final = {
                item["slo"]: item["status"]["budget"]["remaining_ratio"] for item in svc.get("/api/v1/slos").json()
            }
            assert all(v is not None for v in final.values()), final
            assert len({round(v, 6) for v in final.values()}) >= 3, final


def prom_query_at(base: str, expr: str, at: float) -> list[dict[str, Any]]:
    """Instant query at a given time: the recorded series' latest value at or before `at`."""
    import httpx

    body = httpx.get(f"{base}/api/v1/query", params={"query": expr, "time": f"{at:.3f}"}, timeout=20).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result
