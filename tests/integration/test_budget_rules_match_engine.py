"""The generated recording rules compute the service's own numbers: every window from 5m to 3d, the
period and the error budget (consumed and remaining), for ratio, latency and threshold SLIs with
occurrences and timeslices budgeting, within 1e-6 (`promtool test rules` on synthetic series).

Scenario: 3 days and 2 hours of counters sampled every 5 minutes (promtool refuses queries of more
than 10,000 samples), starting at 0 so Prometheus does not extrapolate before the series start, whose
error share changes from step to step (seeded, with an early outage and short bursts), and a gauge.
The engine (CountsMatrix, slice verdicts written at each slice end as the Evaluator does, evaluate)
reads the same increments: the increment between the samples at t and t + 5m is filed under minute t,
and the gauge sample at t + 5m is the one scrape taken in [t, t + 5m). At each checked instant every
recorded `slo:*` series of every SLO must equal the engine's value.

The live counterpart (a real Prometheus scraping a local exporter next to the real service) is
test_budget_live.py; windows longer than that test can run are checked here.
"""

from __future__ import annotations

import random
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from slo_service.core.alerting.conditions import alert_windows
from slo_service.core.alerting.policy import AlertPolicy
from slo_service.core.counts_matrix import CountsMatrix
from slo_service.core.evaluation import SLICES_SUFFIX, evaluate
from slo_service.core.model import (
    SLO,
    Aggregation,
    Budgeting,
    BudgetingMethod,
    Comparison,
    Config,
    LatencySLI,
    Period,
    RatioSLI,
    ScrapeSource,
    Service,
    ThresholdSLI,
)
from slo_service.core.slo_math import SLOStatus
from slo_service.core.timeslices import slice_seconds, slice_verdicts
from slo_service.core.windows import PERIOD_WINDOW
from slo_service.generate import dump_rules, prometheus_rules
from slo_service.generate.prometheus_rules import period_window
from tests.support.process import require_tool

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # engine time of promtool's t=0
STEP = 5  # minutes between samples: promtool refuses queries of more than 10,000 samples
STEPS = (3 * 24 * 60 + 120) // STEP
CHECK_HOURS = (2, 7, 26, 49, 72, 74)  # minute-aligned instants; the later ones have every window full
# promtool's sample limit stops the 30-day subqueries of timeslice periods after ~1.5 days of 5-minute
# data (a real Prometheus has 5,000 times the room): the period and the budget are checked up to here
PERIOD_CHECK_HOURS = (2, 7, 26)
PERIOD_SERIES = (
    "slo:period_burn_rate:ratio",
    "slo:period_error_budget_consumed:ratio",
    "slo:period_error_budget_remaining:ratio",
)
TOLERANCE = 1e-6
OBJECTIVE = 0.99


def _slos() -> tuple[SLO, ...]:
    """Ratio and latency with both methods, a gauge; 5m and 10m slices. promtool refuses queries of more
    than 10,000 samples (a real Prometheus allows 50 million): a 30-day period of 1-minute slices
    (43,200 steps) or of gauge samples every minute is checked by the live test instead."""
    month = Period.rolling(timedelta(days=30))

    def ts(minutes: int, threshold: float) -> Budgeting:
        return Budgeting(BudgetingMethod.TIMESLICES, timedelta(minutes=minutes), threshold)

    ratio_bad = RatioSLI("app", total="req_total", bad="req_errors_total")
    ratio_good = RatioSLI("app", total="req_total", good="req_ok_total")
    latency = LatencySLI("app", "lat_seconds", 0.25)
    gauge = ThresholdSLI("gauge", "queue_depth", Comparison.LT, 100, Aggregation.MAX)
    return (
        SLO("app", "ratio-occ", OBJECTIVE, month, ratio_bad),
        SLO("app", "ratio-ts", OBJECTIVE, month, ratio_good, budgeting=ts(5, 0.98)),
        SLO("app", "latency-occ", OBJECTIVE, month, latency),
        SLO("app", "latency-ts", OBJECTIVE, month, latency, budgeting=ts(10, 0.95)),
        SLO("app", "threshold-ts", OBJECTIVE, month, gauge, budgeting=ts(5, 1.0)),
    )


def _config() -> Config:
    sources = {
        "app": ScrapeSource("app", "http://127.0.0.1:1/metrics", interval=timedelta(minutes=1)),
        # one gauge sample per 5-minute step on both sides
        "gauge": ScrapeSource("gauge", "http://127.0.0.1:1/metrics", interval=timedelta(minutes=5)),
    }
    return Config(services={"app": Service("app")}, sources=sources, slos=_slos())


def _minutes() -> list[dict[str, float]]:
    """Increments per 5-minute step (requests, errors, fast requests) and the gauge during the step."""
    rng = random.Random(9)
    out: list[dict[str, float]] = []
    burst = 0
    for k in range(STEPS):
        if burst == 0 and rng.random() < 0.01:
            burst = rng.choice((1, 2))  # whole 5-minute slices at 5% errors: clearly bad slices
        outage = 20 <= k < 23  # overspends the budget early; later steps earn it back
        total = float(rng.randint(200, 2000))
        # error shares far from the slice thresholds, so no verdict hangs on a rounding
        if outage:
            share, slow, gauge = 0.4, 0.6, 150.0
        else:
            share = 0.05 if burst else rng.choice((0.0, 0.0, 0.001, 0.004))
            slow = 0.2 if burst else rng.choice((0.0, 0.01))
            gauge = 150.0 if rng.random() < 0.01 else float(rng.choice((5, 20, 60)))
        out.append(
            {
                "total": total,
                "errors": float(round(total * share)),
                "fast": float(round(total * (1 - slow))),
                "gauge": gauge,
            }
        )
        burst = max(burst - 1, 0)
    return out


def _cumulative(minutes: list[dict[str, float]], field: str) -> str:
    values = [0.0]
    for m in minutes:
        values.append(values[-1] + m[field])
    return " ".join(f"{v:g}" for v in values)


def _input_series(minutes: list[dict[str, float]]) -> list[dict[str, str]]:
    ok = [{**m, "ok": m["total"] - m["errors"]} for m in minutes]
    gauge = " ".join(f"{m['gauge']:g}" for m in minutes)  # sample k + 1 = scraped during step k
    return [
        {"series": "req_total", "values": _cumulative(minutes, "total")},
        {"series": "req_errors_total", "values": _cumulative(minutes, "errors")},
        {"series": "req_ok_total", "values": _cumulative(ok, "ok")},
        {"series": 'lat_seconds_bucket{le="0.1"}', "values": _cumulative(minutes, "fast")},
        {"series": 'lat_seconds_bucket{le="0.25"}', "values": _cumulative(minutes, "fast")},
        {"series": 'lat_seconds_bucket{le="+Inf"}', "values": _cumulative(minutes, "total")},
        {"series": "queue_depth", "values": f"_ {gauge}"},  # no sample at 0: nothing was scraped before
    ]


def _engine(minutes: list[dict[str, float]], at: list[int]) -> dict[int, dict[str, SLOStatus]]:
    """The engine's statuses at the given minutes, fed step by step as the pipeline feeds it."""
    slos = _slos()
    policy = AlertPolicy()
    keys = [s.key for s in slos] + [s.key + SLICES_SUFFIX for s in slos if s.budgeting.slice]
    matrix = CountsMatrix(keys, T0)
    out: dict[int, dict[str, SLOStatus]] = {}
    for k in range(1, STEPS + 1):
        m = k * STEP
        now = T0 + timedelta(minutes=m)
        matrix.advance(now)
        inc, minute = minutes[k - 1], now - timedelta(minutes=STEP)
        for slo in slos:
            if isinstance(slo.sli, ThresholdSLI):
                good, total = (1.0 if inc["gauge"] < 100 else 0.0), 1.0
            elif isinstance(slo.sli, LatencySLI):
                good, total = inc["fast"], inc["total"]
            else:
                good, total = inc["total"] - inc["errors"], inc["total"]
            assert matrix.add(slo.key, minute, good, total)
            if slo.budgeting.slice is not None and (m * 60) % slice_seconds(slo) == 0:
                for start, ok in slice_verdicts(matrix, slo.key, slo, now - slo.budgeting.slice, now):
                    matrix.add(slo.key + SLICES_SUFFIX, start, 1.0 if ok else 0.0, 1.0)
        if m in at:
            out[m] = evaluate(matrix, slos, now, lambda s: alert_windows(s, policy))
    return out


def _is_period(record: str) -> bool:
    return record in PERIOD_SERIES or record == "slo:sli_error:ratio_rate30d"


def _checks(
    doc: dict[str, Any], statuses: dict[int, dict[str, SLOStatus]], period: bool = True
) -> list[dict[str, Any]]:
    """One promql_expr_test per (instant, SLO, recorded series): |rule - engine| < TOLERANCE."""
    recorded = {r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r}
    tests: list[dict[str, Any]] = []
    for m, by_key in statuses.items():
        for slo in _slos():
            st = by_key[slo.key]
            sel = f'{{sloth_service="{slo.service}",sloth_slo="{slo.name}"}}'
            expected: dict[str, float | None] = {}
            for name, w in st.windows.items():
                rule_name = period_window(slo) if name == PERIOD_WINDOW else name
                if f"slo:sli_error:ratio_rate{rule_name}" in recorded:
                    expected[f"slo:sli_error:ratio_rate{rule_name}"] = w.error_ratio
            expected["slo:current_burn_rate:ratio"] = st.windows["5m"].burn_rate
            expected["slo:period_burn_rate:ratio"] = st.period.burn_rate
            expected["slo:period_error_budget_consumed:ratio"] = st.budget.consumed_ratio
            expected["slo:period_error_budget_remaining:ratio"] = st.budget.remaining_ratio
            for series, value in expected.items():
                if _is_period(series) and not period:
                    continue
                # no value (a window shorter than a slice holds no completed slice): no series either
                expr = (
                    f"count({series}{sel})"
                    if value is None
                    else f"count(abs({series}{sel} - ({value!r})) < {TOLERANCE})"
                )
                tests.append(
                    {
                        "expr": f"{expr} or vector(0)",
                        "eval_time": f"{m}m",
                        "exp_samples": [{"labels": "{}", "value": 0 if value is None else 1}],
                    }
                )
    return tests


def _promtool_test(tmp_path: Path, doc: dict[str, Any], tests: list[dict[str, Any]], period: bool = True) -> str:
    promtool = require_tool("promtool")
    for g in doc["groups"]:
        # the alerts have their own tests; without `period` the 30-day rules are left out
        g["rules"] = [r for r in g["rules"] if "record" in r and (period or not _is_period(r["record"]))]
    doc["groups"] = [g for g in doc["groups"] if g["rules"]]
    (tmp_path / "rules.yml").write_text(dump_rules(doc))
    test_doc = {
        "rule_files": ["rules.yml"],
        # rules are evaluated every 60 minutes: the checked instants are whole hours
        "evaluation_interval": "60m",
        "group_eval_order": [g["name"] for g in doc["groups"]],
        "tests": [{"interval": f"{STEP}m", "input_series": _input_series(_minutes()), "promql_expr_test": tests}],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test_doc, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "test.yml"], capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False
    )
    return "" if result.returncode == 0 else (result.stdout + result.stderr)[-6000:]


def test_scenario_is_not_vacuous() -> None:
    statuses = _engine(_minutes(), [h * 60 for h in CHECK_HOURS])
    last = statuses[CHECK_HOURS[-1] * 60]
    for slo in _slos():
        st = last[slo.key]
        burns = {name: w.burn_rate for name, w in st.windows.items()}
        assert len({round(b or 0, 9) for b in burns.values()}) >= 4, (slo.key, burns)  # windows differ
        assert st.windows["3d"].start >= T0 and st.windows["3d"].total > 0  # a full 3d of data
    # both signs of the budget occur, and a timeslice SLO's budget is not its event ratio
    remaining = [st.budget.remaining_ratio or 0 for by in statuses.values() for st in by.values()]
    assert min(remaining) < 0 < max(remaining)
    assert last["app/ratio-ts"].budget.consumed_ratio != pytest.approx(last["app/ratio-occ"].budget.consumed_ratio)


def test_recorded_series_equal_the_engine_for_every_window_kind_and_method(tmp_path: Path) -> None:
    statuses = _engine(_minutes(), [h * 60 for h in CHECK_HOURS])
    # windows 5m .. 3d at every checked instant
    doc = prometheus_rules(_config())
    tests = _checks(doc, statuses, period=False)
    assert len(tests) >= len(CHECK_HOURS) * len(_slos()) * 8
    failure = _promtool_test(tmp_path, doc, tests, period=False)
    assert not failure, failure
    # everything, the period and the error budget included, while promtool allows the period queries
    early = {m: st for m, st in statuses.items() if m <= PERIOD_CHECK_HOURS[-1] * 60}
    doc = prometheus_rules(_config())
    tests = _checks(doc, early)
    assert sum("period_error_budget_remaining" in t["expr"] for t in tests) == len(early) * len(_slos())
    failure = _promtool_test(tmp_path, doc, tests)
    assert not failure, failure


def test_the_comparison_has_teeth(tmp_path: Path) -> None:
    """Timeslice windows of a full W (Prometheus 2 then reads one slice more than the service) fail it."""
    statuses = _engine(_minutes(), [CHECK_HOURS[-1] * 60])
    doc = prometheus_rules(_config())
    for g in doc["groups"]:
        for r in g["rules"]:
            r["expr"] = re.sub(r"(\d+)ms:", lambda x: f"{int(x.group(1)) + 1}ms:", r["expr"])
    failure = _promtool_test(tmp_path, doc, _checks(doc, statuses, period=False), period=False)
    assert "ratio-ts" in failure
