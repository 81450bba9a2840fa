"""Alert conditions: hand-made statuses for the rules, then time travel through the REAL math
(CountsMatrix + evaluate) minute by minute for the SRE workbook scenarios."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from slo_service.core.alerting.conditions import (
    BUDGET_EXHAUSTED,
    BURN_RATE_HIGH,
    NO_DATA,
    TARGET_DOWN,
    AlertCondition,
    alert_windows,
    render,
    slo_conditions,
    slo_scope,
    target_down_conditions,
)
from slo_service.core.alerting.lifecycle import AlertBook, AlertState, Transition
from slo_service.core.alerting.policy import AlertPolicy, BurnRateTier, default_tiers
from slo_service.core.counts_matrix import CountsMatrix
from slo_service.core.evaluation import evaluate
from slo_service.core.model import SLO, Period, RatioSLI
from slo_service.core.ports import ScrapeHealth
from slo_service.core.slo_math import BudgetStatus, SLOStatus, WindowStatus, burn_rate
from slo_service.core.windows import ALERT_WINDOWS, PERIOD_WINDOW, floor_seconds

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a whole hour: where each scenario's interesting part starts


def make_slo(objective: float = 0.999, period: timedelta = 30 * DAY, **kw: object) -> SLO:
    sli = RatioSLI(source="model", total="requests_total", bad='requests_total{code=~"5.."}')
    return SLO("fraud-detector", "availability", objective, Period.rolling(period), sli, **kw)  # type: ignore[arg-type]


def by_rule(conditions: list[AlertCondition]) -> dict[str, AlertCondition]:
    """Conditions by tier name, or by alertname for the non-burn rules."""
    return {_rule(c.labels): c for c in conditions}


def _rule(labels: Mapping[str, str]) -> str:
    return labels["burn_tier"] if labels["alertname"] == BURN_RATE_HIGH else labels["alertname"]


# ---------------------------------------------------------------------------------------------- hand-made statuses


def fake_status(
    slo: SLO,
    counts: Mapping[str, tuple[float, float]] | None = None,
    remaining: float | None = 0.5,
    now: datetime = T0,
    default: tuple[float, float] = (1000.0, 1000.0),
) -> SLOStatus:
    """A status with (good, total) per window name (every alert window + period; `default` elsewhere)."""
    counts = counts or {}
    windows: dict[str, WindowStatus] = {}
    named = {**ALERT_WINDOWS, **alert_windows(slo, AlertPolicy())}
    for name, w in [*named.items(), (PERIOD_WINDOW, slo.period.nominal_length)]:
        good, total = counts.get(name, default)
        b = burn_rate(good, total, slo.objective)
        s = good / total if total else None
        windows[name] = WindowStatus(name, now - w, now, good, total, s, None if s is None else 1 - s, b, 1.0)
    consumed = None if remaining is None else 1.0 - remaining
    budget = BudgetStatus(100.0, 100.0 * (consumed or 0.0), consumed, remaining)
    return SLOStatus(slo.key, now, slo.objective, windows, budget, now - slo.period.nominal_length, now)


def bad(burn: float, total: float = 100_000.0, objective: float = 0.999) -> tuple[float, float]:
    """(good, total) burning at `burn`."""
    return total - burn * (1 - objective) * total, total


def test_one_condition_per_rule_every_time() -> None:
    slo = make_slo()
    conds = slo_conditions(slo, fake_status(slo), AlertPolicy(), T0)
    assert [c.labels["alertname"] for c in conds] == [BURN_RATE_HIGH] * 4 + [BUDGET_EXHAUSTED, NO_DATA]
    assert [c.labels.get("burn_tier") for c in conds[:4]] == ["page-fast", "page-slow", "ticket-fast", "ticket-slow"]
    assert not any(c.active for c in conds)
    assert len(slo_conditions(slo, fake_status(slo), AlertPolicy(budget_exhausted=False, no_data_after=None), T0)) == 4


def test_tier_needs_both_windows_at_or_above_the_factor() -> None:
    slo = make_slo()
    only_long = by_rule(slo_conditions(slo, fake_status(slo, {"1h": bad(20), "5m": bad(10)}), AlertPolicy(), T0))
    assert not only_long["page-fast"].active
    only_short = by_rule(slo_conditions(slo, fake_status(slo, {"1h": bad(10), "5m": bad(20)}), AlertPolicy(), T0))
    assert not only_short["page-fast"].active
    both = by_rule(slo_conditions(slo, fake_status(slo, {"1h": bad(15.2), "5m": bad(20)}), AlertPolicy(), T0))
    c = both["page-fast"]
    assert c.active
    assert c.labels["severity"] == "page"
    assert c.values["burn_rate_long"] == pytest.approx(15.2)
    assert c.values["burn_rate_short"] == pytest.approx(20)
    assert c.values["threshold"] == pytest.approx(14.4)
    assert c.values["events_long"] == 100_000
    assert c.annotations["summary"] == "fraud-detector/availability is burning its error budget at 15.2x (page-fast)"
    assert c.annotations["description"] == (
        "Burn rate 15.2x over 1h and 20x over 5m; threshold 14.4x (2.0% of the 30d error budget in 1h). "
        "Error budget remaining: 50.0%. Objective 99.9%."
    )
    assert not both["page-slow"].active


def test_exactly_the_factor_does_not_fire_despite_float_rounding() -> None:
    slo = make_slo()
    # 1.44% errors burn exactly 14.4x: tiers fire strictly above their threshold (Sloth's `>`)
    exact = (98_560.0, 100_000.0)
    c = by_rule(slo_conditions(slo, fake_status(slo, {"1h": exact, "5m": exact}), AlertPolicy(), T0))["page-fast"]
    assert not c.active
    # a burn that float arithmetic puts a hair above 14.4x is still exactly 14.4x
    hair = (100_000.0 - 14.4 * (1 - 0.999) * 100_000.0 * (1 + 1e-12), 100_000.0)
    assert burn_rate(*hair, 0.999) > 14.4  # type: ignore[operator]
    c = by_rule(slo_conditions(slo, fake_status(slo, {"1h": hair, "5m": hair}), AlertPolicy(), T0))["page-fast"]
    assert not c.active
    above = (98_559.0, 100_000.0)  # 14.41x
    c = by_rule(slo_conditions(slo, fake_status(slo, {"1h": above, "5m": above}), AlertPolicy(), T0))["page-fast"]
    assert c.active


def test_missing_data_never_fires_a_burn_alert() -> None:
    slo = make_slo()
    status = fake_status(slo, {"1h": bad(100), "5m": (0.0, 0.0)})
    c = by_rule(slo_conditions(slo, status, AlertPolicy(), T0))["page-fast"]
    assert not c.active and c.values["burn_rate_short"] is None
    for c in slo_conditions(slo, None, AlertPolicy(), T0)[:5]:
        assert not c.active
        assert c.values["burn_rate_long"] is None if "burn_tier" in c.labels else c.values["budget_remaining"] is None


def test_min_events_guard() -> None:
    slo = make_slo()
    status = fake_status(slo, {"1h": (2.0, 3.0), "5m": (2.0, 3.0)})
    assert by_rule(slo_conditions(slo, status, AlertPolicy(), T0))["page-fast"].active
    guarded = by_rule(slo_conditions(slo, status, AlertPolicy(min_events=100), T0))["page-fast"]
    assert not guarded.active and guarded.values["events_long"] == 3 and guarded.values["min_events"] == 100


def test_short_periods_shrink_the_windows_not_the_threshold() -> None:
    slo = make_slo(period=7 * DAY)
    # a 7-day SLO's page-fast reads 15m and 5m windows at 13.44x: 3.4x there pages nobody
    mild = fake_status(slo, {"15m": bad(3.4), "5m": bad(3.4)})
    c = by_rule(slo_conditions(slo, mild, AlertPolicy(), T0))["page-fast"]
    assert c.values["threshold"] == pytest.approx(13.44) and not c.active
    assert c.annotations["description"].startswith("Burn rate 3.4x over 15m and 3.4x over 5m; threshold 13.4x")
    # the 1h window burning (what a 30-day SLO's page-fast reads) is not what a 7-day SLO reads
    c = by_rule(slo_conditions(slo, fake_status(slo, {"1h": bad(20), "5m": bad(20)}), AlertPolicy(), T0))
    assert not c["page-fast"].active
    c = by_rule(slo_conditions(slo, fake_status(slo, {"15m": bad(14), "5m": bad(20)}), AlertPolicy(), T0))
    assert c["page-fast"].active
    assert all(cond.values["threshold"] > 1.0 for cond in c.values() if cond.labels["alertname"] == BURN_RATE_HIGH)


def test_missing_window_is_a_clear_error() -> None:
    slo = make_slo()
    status = fake_status(slo)
    windows = {k: v for k, v in status.windows.items() if k != "3d"}
    status = SLOStatus(slo.key, T0, slo.objective, windows, status.budget, status.period_start, status.period_end)
    with pytest.raises(ValueError, match=r"'3d' window.*ticket-slow"):
        slo_conditions(slo, status, AlertPolicy(), T0)
    odd = AlertPolicy(tiers=(BurnRateTier("odd", "page", timedelta(minutes=45), timedelta(minutes=5), 0.02),))
    with pytest.raises(ValueError, match="'45m'"):
        slo_conditions(slo, fake_status(slo), odd, T0)
    with pytest.raises(ValueError, match="status of 'x/y' given for SLO"):
        slo_conditions(slo, replace(status, key="x/y"), AlertPolicy(), T0)


def test_budget_exhausted_strictly_below_zero() -> None:
    slo = make_slo()
    cases = [(0.01, False), (0.0, False), (-1e-12, False), (-0.001, True), (-0.5, True), (None, False)]
    for remaining, active in cases:
        c = by_rule(slo_conditions(slo, fake_status(slo, remaining=remaining), AlertPolicy(), T0))[BUDGET_EXHAUSTED]
        assert c.active is active, remaining
        assert c.values["budget_remaining"] == remaining
    c = by_rule(slo_conditions(slo, fake_status(slo, remaining=-0.25), AlertPolicy(), T0))[BUDGET_EXHAUSTED]
    assert c.annotations["summary"] == "fraud-detector/availability has exhausted its error budget"
    assert "-25.0%" in c.annotations["description"]
    assert c.labels["severity"] == "ticket"


def test_no_data_rule() -> None:
    slo = make_slo()
    policy = AlertPolicy(for_=timedelta(minutes=2))
    silent = fake_status(slo, {"30m": (0.0, 0.0), "5m": (0.0, 0.0)})
    c = by_rule(slo_conditions(slo, silent, policy, T0))[NO_DATA]
    assert c.active and c.for_ == timedelta(minutes=2)
    assert c.annotations["summary"] == "fraud-detector/availability has had no data for at least 30m"
    assert not by_rule(slo_conditions(slo, fake_status(slo), policy, T0))[NO_DATA].active
    # last_data_at wins over the window
    c = by_rule(slo_conditions(slo, silent, policy, T0, last_data_at=T0 - timedelta(minutes=29)))[NO_DATA]
    assert not c.active and c.values["no_data_for_seconds"] == 29 * 60
    c = by_rule(slo_conditions(slo, None, policy, T0, last_data_at=T0 - timedelta(minutes=42)))[NO_DATA]
    assert c.active and c.annotations["summary"].endswith("no data for 42m")
    # never evaluated, nothing known: active, but the lifecycle must wait no_data_after
    c = by_rule(slo_conditions(slo, None, policy, T0))[NO_DATA]
    assert c.active and c.for_ == timedelta(minutes=30)


def test_labels_precedence_and_templates() -> None:
    slo = make_slo(labels={"team": "risk", "severity": "low", "tier": "gold"})
    policy = AlertPolicy(
        labels={"team": "ml-platform", "env": "prod"},
        annotations={
            "runbook_url": "https://runbooks.example/{service}/{slo}#{alertname}",
            "description": "see {runbook_url} ({team}, {unknown})",
        },
    )
    conds = slo_conditions(slo, fake_status(slo), policy, T0, extra_labels={"env": "staging", "owner": "ann"})
    fast = by_rule(conds)["page-fast"]
    assert dict(fast.labels) == {
        "alertname": BURN_RATE_HIGH,
        "service": "fraud-detector",
        "slo": "availability",
        "severity": "page",
        "burn_tier": "page-fast",
        "tier": "gold",
        "team": "ml-platform",
        "env": "prod",
        "owner": "ann",
    }
    assert fast.annotations["runbook_url"] == "https://runbooks.example/fraud-detector/availability#SLOBurnRateHigh"
    assert fast.annotations["description"] == (
        "see https://runbooks.example/fraud-detector/availability#SLOBurnRateHigh (ml-platform, {unknown})"
    )
    assert "dashboard_url" not in fast.annotations  # empty annotations are left out
    no_data = by_rule(conds)[NO_DATA]
    assert no_data.labels["tier"] == "gold" and no_data.labels["severity"] == "ticket"
    assert no_data.annotations["runbook_url"].endswith("#SLONoData")
    assert render("{a}{b} {{c}}", {"a": "1"}) == "1{b} {{c}}"


def test_target_down_conditions() -> None:
    def h(target: str, at: datetime, up: bool, error: str | None = None) -> ScrapeHealth:
        return ScrapeHealth("model", target, at, up, 0.1, 10 if up else 0, error)

    health = [
        h("b:9100", T0 - MIN, True),
        h("b:9100", T0, False, "connection refused"),
        h("a:9100", T0, True),
        h("a:9100", T0 - MIN, False, "timeout"),
    ]
    conds = target_down_conditions(health, {("model", "b:9100"): T0 - timedelta(minutes=7)})
    assert [(c.labels["target"], c.active) for c in conds] == [("a:9100", False), ("b:9100", True)]
    down = conds[1]
    assert down.labels["alertname"] == TARGET_DOWN and down.labels["source"] == "model"
    assert down.values["down_seconds"] == 420 and down.values["up"] == 0.0
    assert down.for_ == timedelta(minutes=5)
    assert down.annotations["summary"] == "Scrape target b:9100 of source model is down"
    assert "connection refused" in down.annotations["description"]
    assert conds[0].values["down_seconds"] is None


# ---------------------------------------------------------------------------------------------- the real math


class Sim:
    """Synthetic traffic fed into a real CountsMatrix, evaluated by the real evaluate(), alerts kept
    in a real AlertBook. The clock is `self.now`; nothing reads the wall clock."""

    def __init__(self, slo: SLO, policy: AlertPolicy, now: datetime = T0, history: timedelta = 30 * DAY) -> None:
        self.slo, self.policy, self.now = slo, policy, now
        self.matrix = CountsMatrix([slo.key], now)
        self.book = AlertBook()
        self.conditions: dict[str, AlertCondition] = {}
        self.status: SLOStatus | None = None
        if history:
            self.load(now - history, now, 1000.0, 0.0)

    def load(self, start: datetime, end: datetime, total: float, bad_ratio: float) -> None:
        """`total` events a minute, `bad_ratio` of them bad, for every minute in [start, end) (in the past)."""
        secs = np.arange(floor_seconds(start), floor_seconds(end), 60, dtype=np.int64)
        totals = np.full(len(secs), total)
        accepted = self.matrix.add_many(np.zeros(len(secs), np.int64), secs, totals * (1 - bad_ratio), totals)
        assert accepted == len(secs)

    def run(
        self, minutes: int, total: float, bad_ratio: float, every: int = 1
    ) -> Iterator[tuple[int, list[Transition]]]:
        """Traffic for `minutes` minutes, evaluated every `every` minutes: yields (minutes so far, transitions)."""
        assert minutes % every == 0
        for k in range(every, minutes + 1, every):
            start, self.now = self.now, self.now + every * MIN
            self.matrix.advance(self.now)
            if total > 0:
                self.load(start, self.now, total, bad_ratio)
            yield k, self.evaluate()

    def evaluate(self) -> list[Transition]:
        self.status = evaluate(self.matrix, [self.slo], self.now, lambda s: alert_windows(s, self.policy))[self.slo.key]
        conds = slo_conditions(self.slo, self.status, self.policy, self.now)
        self.conditions = by_rule(conds)
        return self.book.update(conds, self.now, scope=slo_scope())

    def state(self, rule: str) -> AlertState | None:
        from slo_service.core.alerting.fingerprint import fingerprint

        alert = self.book.get(fingerprint(self.conditions[rule].labels))
        return None if alert is None else alert.state


def rules_of(transitions: list[Transition]) -> list[tuple[str, AlertState]]:
    return [(_rule(t.alert.labels), t.current) for t in transitions]


def test_steady_burn_exactly_at_14_4x_never_pages() -> None:
    sim = Sim(make_slo(), AlertPolicy())  # 30 clean days of 1000 requests a minute before T0
    events = [(k, rules_of(t)) for k, t in sim.run(90, 1000.0, 0.0144) if t]  # 1.44% errors = 14.4x
    assert events == []
    assert sim.conditions["page-fast"].values["burn_rate_long"] == pytest.approx(14.4)


def test_steady_15x_burn_pages_after_58_minutes_not_before() -> None:
    sim = Sim(make_slo(), AlertPolicy())
    fired: list[tuple[int, list[tuple[str, AlertState]]]] = []
    for k, transitions in sim.run(62, 1000.0, 0.015):  # 1.5% errors = 15x from T0 on
        if transitions:
            fired.append((k, rules_of(transitions)))
        if k == 57:
            c = sim.conditions["page-fast"]
            assert not c.active
            assert c.values["burn_rate_long"] == pytest.approx(15 * 57 / 60)  # 14.25x: not above 14.4x yet
            assert c.values["burn_rate_short"] == pytest.approx(15)
    assert fired == [(58, [("page-fast", AlertState.FIRING)])]  # 15 * 58 / 60 = 14.5x
    c = sim.conditions["page-fast"]
    assert c.annotations["summary"] == "fraud-detector/availability is burning its error budget at 15x (page-fast)"
    assert sim.state("page-slow") is None  # 6h window at 15 * 1/6 = 2.5x


def test_a_burst_that_stops_resolves_once_the_short_window_recovers() -> None:
    # 10 minutes at 15% errors (150x): 1500 bad requests, 25x over 1h but 4.2x over 6h (< 6x: no page-slow)
    sim = Sim(make_slo(), AlertPolicy())
    events = [(k, rules_of(t)) for k, t in sim.run(10, 1000.0, 0.15) if t]
    assert events == [(6, [("page-fast", AlertState.FIRING)])]  # 1h window: 150x * k/60 >= 14.4 from k = 5.76
    after = [(k, rules_of(t)) for k, t in sim.run(15, 1000.0, 0.0) if t]
    # the 5m window holds 5-j burst minutes j minutes after the end: 30x(5-j) >= 14.4 until j = 5
    assert after == [(5, [("page-fast", AlertState.RESOLVED)])]
    # resolved although the 1h window still burns at 25x: the short window says it is over
    assert sim.conditions["page-fast"].values["burn_rate_long"] == pytest.approx(25.0)


def test_a_steady_2x_burn_never_pages_and_tickets_after_43_hours() -> None:
    # by hand, 99.9% / 30d, clean history: page-fast 14.4x, page-slow 6x, ticket-fast 3x: never at 2x.
    # ticket-slow (1.2x over 3d and 6h): the 3d window burns 2x * t / 72h, which passes 1.2x after
    # t = 43.2h = 43h12m; the 6h short window is at 2x from t = 3h on.
    sim = Sim(make_slo(), AlertPolicy())
    hourly = [(k, rules_of(t)) for k, t in sim.run(43 * 60, 1000.0, 0.002, every=60) if t]
    assert hourly == []
    assert sim.conditions["ticket-slow"].values["burn_rate_long"] == pytest.approx(2 * 43 / 72)
    last_hour = [(k, rules_of(t)) for k, t in sim.run(20, 1000.0, 0.002) if t]
    # by hand 43h13m (at 43h12m it is exactly 1.2x); the 3d window starts inside a 5-minute slot, which it
    # leaves out (counts_matrix), so it holds up to 5 fewer clean minutes and passes 1.2x up to 5 minutes early
    assert len(last_hour) == 1 and last_hour[0][1] == [("ticket-slow", AlertState.FIRING)]
    assert 8 <= last_hour[0][0] <= 13
    assert sim.conditions["ticket-slow"].values["burn_rate_long"] > 1.2
    assert sim.conditions["ticket-fast"].values["burn_rate_long"] == pytest.approx(2.0)
    assert sim.conditions["ticket-slow"].annotations["summary"].endswith("at 1.2x (ticket-slow)")
    assert sim.state("page-fast") is sim.state("page-slow") is sim.state("ticket-fast") is None


@pytest.mark.parametrize("days", [1, 7, 28, 30, 90])
def test_an_error_ratio_exactly_at_the_objective_never_fires_from_a_fresh_start(days: int) -> None:
    # no history at all: the first minutes alone must not decide anything
    sim = Sim(make_slo(period=days * DAY), AlertPolicy(), history=timedelta(0))
    first_hours = [(k, rules_of(t)) for k, t in sim.run(120, 1000.0, 0.001) if t]  # 0.1% errors = 1x
    later = [(k, rules_of(t)) for k, t in sim.run(4 * 1440, 1000.0, 0.001, every=30) if t]
    assert first_hours == [] and later == []
    burns = [c.values["burn_rate_long"] for c in sim.conditions.values() if "burn_rate_long" in c.values]
    assert burns and all(b == pytest.approx(1.0) for b in burns)
    assert sim.conditions[BUDGET_EXHAUSTED].values["budget_remaining"] == pytest.approx(0.0, abs=1e-9)


def test_budget_exhausted_waits_for_a_tenth_of_the_period() -> None:
    # fresh start at 1.05x: over budget from the first minute, but one minute is no verdict on 30 days
    sim = Sim(make_slo(), AlertPolicy(), history=timedelta(0))
    first = [(k, rules_of(t)) for k, t in sim.run(60, 1000.0, 0.00105) if t]
    assert first == []
    c = sim.conditions[BUDGET_EXHAUSTED]
    assert c.values["budget_remaining"] == pytest.approx(-0.05) and not c.active
    assert c.values["period_coverage"] == pytest.approx((60 - 1) / (30 * 1440), rel=0.02)
    # 10% of 30 days = 72 hours of data (the first hour above + 71): then the overspent budget is judged
    hours = [(k, rules_of(t)) for k, t in sim.run(74 * 60, 1000.0, 0.00105, every=60) if t]
    assert hours == [(71 * 60, [(BUDGET_EXHAUSTED, AlertState.FIRING)])]


def test_a_tier_is_not_judged_on_less_data_than_its_short_window() -> None:
    # fresh start at 2x: the 3-day ticket's windows hold one minute of data, which says nothing about 3 days
    sim = Sim(make_slo(), AlertPolicy(), history=timedelta(0))
    early = [(k, rules_of(t)) for k, t in sim.run(4 * 60, 1000.0, 0.002, every=10) if t]
    assert early == []
    c = sim.conditions["ticket-slow"]
    assert c.values["burn_rate_long"] == pytest.approx(2.0) and c.values["burn_rate_short"] == pytest.approx(2.0)
    # 80% of its 6h short window in data (4h48m): from then on a steady 2x opens the ticket
    later = [(k, rules_of(t)) for k, t in sim.run(60, 1000.0, 0.002) if t]
    assert later == [(48, [("ticket-slow", AlertState.FIRING)])]
    # a page needs only 4 of its 5 short-window minutes: an incident right after a start pages in minutes
    fresh = Sim(make_slo(), AlertPolicy(), history=timedelta(0))
    pages = [(k, rules_of(t)) for k, t in fresh.run(30, 1000.0, 0.05) if t]  # 50x
    assert pages == [(4, [("page-fast", AlertState.FIRING)]), (24, [("page-slow", AlertState.FIRING)])]


def test_low_traffic_guard_at_night() -> None:
    def night(policy: AlertPolicy) -> tuple[Sim, list[tuple[str, AlertState]]]:
        sim = Sim(make_slo(), policy, history=timedelta(0))
        sim.load(T0 - 30 * DAY, T0 - 3 * HOUR, 1000.0, 0.0)  # busy days, then 3 silent hours
        transitions = [tr for _, t in sim.run(5, 3.0, 1 / 3) for tr in t]  # 1 failed request out of 3 a minute
        return sim, rules_of(transitions)

    guarded, transitions = night(AlertPolicy(min_events=100))
    assert transitions == []
    c = guarded.conditions["page-fast"]
    assert not c.active and c.values["events_long"] == 15
    assert c.values["burn_rate_long"] == pytest.approx(1000 / 3)  # 333x: the guard is what stops it
    _, unguarded = night(AlertPolicy())
    assert ("page-fast", AlertState.FIRING) in unguarded


def test_for_makes_alerts_pending_first() -> None:
    fast = default_tiers()[0]
    tier = BurnRateTier(fast.name, fast.severity, fast.long_window, fast.short_window, fast.budget_share, 2 * MIN)
    sim = Sim(make_slo(), AlertPolicy(tiers=(tier,), budget_exhausted=False, no_data_after=None))
    steps = {k: rules_of(t) for k, t in sim.run(4, 1000.0, 1.0)}  # total outage: 1000x
    assert steps[1] == [("page-fast", AlertState.PENDING)]  # 1h: 1000 bad of 60000 = 16.7x
    assert steps[2] == []  # active for 1 minute < 2
    assert steps[3] == [("page-fast", AlertState.FIRING)]
    assert steps[4] == []
    alert = sim.book.firing()[0]
    assert alert.active_since == T0 + MIN and alert.fired_at == T0 + 3 * MIN and alert.for_ == 2 * MIN


def test_no_data_silences_burn_alerts_and_raises_no_data_after_30_minutes() -> None:
    sim = Sim(make_slo(), AlertPolicy())
    assert next(rules_of(t) for _, t in sim.run(10, 1000.0, 1.0) if t) == [("page-fast", AlertState.FIRING)]
    assert sim.state("page-fast") is AlertState.FIRING
    silent = {k: rules_of(t) for k, t in sim.run(31, 0.0, 0.0)}  # the source dies
    assert sim.state("page-fast") is AlertState.RESOLVED  # 5m window without data: burn None
    assert ("page-fast", AlertState.RESOLVED) in silent[5]
    assert all((NO_DATA, AlertState.FIRING) not in silent[k] for k in range(1, 30))
    assert (NO_DATA, AlertState.FIRING) in silent[30]
    summary = sim.conditions[NO_DATA].annotations["summary"]
    assert summary == "fraud-detector/availability has had no data for at least 30m"
    back = [rules_of(t) for _, t in sim.run(1, 1000.0, 0.0)]
    assert back == [[(NO_DATA, AlertState.RESOLVED)]]


def test_budget_exhausted_fires_when_remaining_reaches_zero() -> None:
    # 30 days x 1000/min allow ~43,200 bad requests: a total outage spends them in ~43.2 minutes
    sim = Sim(make_slo(), AlertPolicy())
    fired_at = None
    for k, transitions in sim.run(46, 1000.0, 1.0):
        if (BUDGET_EXHAUSTED, AlertState.FIRING) in rules_of(transitions):
            fired_at = k
        if k == 43:
            remaining = sim.conditions[BUDGET_EXHAUSTED].values["budget_remaining"]
            assert remaining is not None and 0 < remaining < 0.01
    assert fired_at == 44
    remaining = sim.conditions[BUDGET_EXHAUSTED].values["budget_remaining"]
    assert remaining is not None and remaining < 0
