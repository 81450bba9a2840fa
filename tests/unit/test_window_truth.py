"""The burst test of issue 9: through the real pipeline, the 5m burn rate is the exact rolling-window truth.

A model server takes 20 requests/s; for 3 minutes (from 00:06:20) 20 % of them fail. The service
scrapes its counters every 15 s (:00, :15, :30, :45) and evaluates every 30 s at :07 and :37, i.e. off
the minute, on a ManualClock. The timeline of requests is known exactly (closed-form counters).

What "exact truth" means here: the service only learns the counters at scrapes, and files the increase
a scrape reports (the requests of the 15 s before it) under the minute the scrape happened in. The
service's 5m window at an evaluation at ``now`` is the last 5 whole minutes ``[M - 5m, M)``
(``M`` = ``now`` rounded down to the minute), i.e. the increases of the 20 scrapes at ``M - 5m`` …
``M - 15s``, which together report exactly the requests of the interval ``(M - 5m - 15s, M - 15s]``.
The truth is the error ratio of the request timeline over that 5-minute interval, computed from the
timeline's formulas, not from the service's counts. The issue asks for 2 %; the window is exact, so the
test holds it to 1e-9.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from test_pipeline import START, FakeTarget, config_of, make_runtime, ratio_slo

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.core.clock import ManualClock
from slo_service.core.windows import align

RATE = 20.0  # requests per second
BAD_SHARE = 0.2
BURST_START = 6 * 60 + 20  # seconds after START: inside a scrape interval and off the minute
BURST_LENGTH = 180
OBJECTIVE = 0.999
SCRAPE = 15
EVALUATE_AT = (7, 37)  # seconds past each minute


def requests(t: float) -> float:
    """Requests served in (START, START + t]."""
    return RATE * t


def failures(t: float) -> float:
    """Failed requests in (START, START + t]: 20 % of the requests inside the burst."""
    inside = min(max(t - BURST_START, 0.0), BURST_LENGTH)
    return RATE * BAD_SHARE * inside


def true_error_ratio(lo: float, hi: float) -> float:
    """Error ratio of the request timeline over (START + lo, START + hi]."""
    return (failures(hi) - failures(lo)) / (requests(hi) - requests(lo))


def test_burst_5m_burn_rate_equals_the_exact_rolling_window_truth_at_every_evaluation() -> None:
    clock, store, target = ManualClock(START), InMemoryHistoryStore(), FakeTarget()
    rt = make_runtime(config_of(ratio_slo(objective=OBJECTIVE)), store, clock, target)
    asyncio.run(rt.collect("model"))  # the baseline scrape at 00:00:00
    burns: dict[int, float] = {}
    for second in range(1, 17 * 60):
        clock.advance(timedelta(seconds=1))
        if second % SCRAPE == 0:
            target.errors = failures(second)
            target.ok = requests(second) - failures(second)
            asyncio.run(rt.collect("model"))
        if second % 60 not in EVALUATE_AT or second < 6 * 60:
            continue  # from the first whole 5 minutes after the baseline scrape (which counts nothing)
        window = rt.evaluate().statuses["fraud/availability"].windows["5m"]
        now = clock.now()
        minute = align(now, 60)
        assert (window.start, window.end) == (minute - timedelta(minutes=5), minute)
        m = (minute - START).total_seconds()
        truth = true_error_ratio(m - 300 - SCRAPE, m - SCRAPE) / (1 - OBJECTIVE)
        assert window.total == pytest.approx(RATE * 300, rel=1e-12), now  # exactly 5 minutes of requests
        assert window.burn_rate == pytest.approx(truth, rel=1e-9, abs=1e-9), now
        burns[second] = window.burn_rate
    # no swing between the two evaluations of a minute; the burst is fully in the window for a while
    for second, burn in burns.items():
        if second % 60 == EVALUATE_AT[1]:
            assert burn == burns[second - 30]
    assert max(burns.values()) == pytest.approx(BAD_SHARE * BURST_LENGTH / 300 / (1 - OBJECTIVE))
    plateau = [s for s, b in burns.items() if b == pytest.approx(120)]
    assert len(plateau) >= 4
    assert burns[8 * 60 + 7] > 0 and burns[max(burns)] == 0  # it rises during the burst, falls back to 0
