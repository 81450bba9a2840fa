"""The OpenSLO v1 corpus (tests/corpus/openslo/): each file's expected import, or its expected refusal
with every problem listed (file:line: field: message) and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from slo_service.core.alerting.config import NO_RECEIVER, ReceiverKind
from slo_service.core.model import (
    BudgetingMethod,
    CalendarUnit,
    Comparison,
    Config,
    Period,
    PeriodKind,
    RatioSLI,
    ThresholdSLI,
)
from slo_service.core.routing.tree import RoutingTree
from slo_service.specs import load_config, validate_files

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "openslo"
ALERTING = "_alerting.yaml"  # a slo-service file with sources, receivers and a route


def _receivers(config: Config, **labels: str) -> list[str]:
    assert config.alerting is not None and config.alerting.route is not None
    return [r.receiver for r in RoutingTree(config.alerting.route).match(labels)]


def _checkout(config: Config) -> None:
    (slo,) = config.slos
    assert (slo.key, slo.objective, slo.labels) == ("checkout/checkout-availability", 0.999, {"tier": "1"})
    assert slo.period == Period.rolling(timedelta(days=28))
    assert slo.budgeting.method is BudgetingMethod.OCCURRENCES
    # metricSourceRef without type: the source is the DataSource, whose type is Prometheus
    assert slo.sli == RatioSLI(
        source="prom-main",
        good='sum(rate(checkout_requests_total{code!~"5.."}[5m]))',
        total="sum(rate(checkout_requests_total[5m]))",
    )
    assert config.sources["prom-main"].url == "http://prometheus.monitoring:9090"  # type: ignore[union-attr]
    assert config.services["checkout"].labels == {"team": "payments"}
    assert config.alerting is not None
    policy = config.alerting.policy_for(slo.key)
    fast, slow = policy.tiers
    assert (fast.name, fast.severity, fast.long_window, fast.short_window, fast.for_) == (
        "fast-burn",
        "page",
        timedelta(hours=1),
        timedelta(minutes=5),
        timedelta(minutes=2),
    )
    assert (slow.name, slow.severity, slow.long_window, slow.short_window) == (
        "slow-burn",
        "ticket",
        timedelta(days=1),
        timedelta(hours=2),
    )
    # the conditions' thresholds are the burn rates the tiers fire above, for this SLO's period
    assert fast.factor(timedelta(days=28)) == pytest.approx(13.44)
    assert slow.factor(timedelta(days=28)) == pytest.approx(2.8)
    # only the conditions alert: no no-data (alertWhenNoData false), no budget-exhausted alert
    assert (policy.no_data_after, policy.budget_exhausted) == (None, False)
    pager, hook = config.alerting.receivers["checkout-pager"], config.alerting.receivers["checkout-tickets-hook"]
    assert (pager.kind, pager.settings["routing_key"], pager.send_resolved) == (ReceiverKind.PAGERDUTY, "pd-key", True)
    assert (hook.kind, hook.settings["url"], hook.settings["max_alerts"]) == (
        ReceiverKind.WEBHOOK,
        "http://tickets.internal:8000/hooks/slo",
        20,
    )
    assert hook.send_resolved is False  # alertWhenResolved: false
    alert = {"alertname": "SLOBurnRateHigh", "service": "checkout", "slo": "checkout-availability"}
    assert _receivers(config, **alert, burn_tier="fast-burn") == ["checkout-pager"]
    assert _receivers(config, **alert, burn_tier="slow-burn") == ["checkout-tickets-hook"]
    assert _receivers(config, **{**alert, "slo": "other"}, burn_tier="fast-burn") == [NO_RECEIVER]  # no route: nobody


def _search(config: Config) -> None:
    slos = {s.name: s for s in config.slos}
    p99 = slos["search-latency-p99"]
    assert p99.sli == ThresholdSLI(
        "thanos", "histogram_quantile(0.99, sum by (le) (rate(search_duration_seconds_bucket[5m])))", Comparison.LE, 0.4
    )
    assert (p99.period.kind, p99.period.unit, p99.period.timezone) == (
        PeriodKind.CALENDAR,
        CalendarUnit.MONTH,
        "America/New_York",
    )
    assert (p99.objective, p99.budgeting.method, p99.budgeting.slice, p99.budgeting.slice_threshold) == (
        0.95,
        BudgetingMethod.TIMESLICES,
        timedelta(minutes=5),  # timeSliceWindow: 5 is minutes
        0.9,
    )
    weekly = slos["search-errors-weekly"]
    assert weekly.period == Period.calendar(CalendarUnit.WEEK, "Europe/Berlin")
    assert weekly.sli == RatioSLI(
        source="thanos",
        bad='sum(rate(search_requests_total{code=~"5.."}[5m]))',
        total="sum(rate(search_requests_total[5m]))",
    )
    assert config.alerting is not None and config.alerting.route is None  # no alert policies: no routes
    assert len(config.alerting.policy_for(weekly.key).tiers) == 4  # the service's default policy


def _payments(config: Config) -> None:
    (slo,) = config.slos
    assert (slo.key, slo.objective, slo.period) == (
        "payments/payments-success",
        0.99,
        Period.rolling(timedelta(days=30)),
    )
    assert isinstance(slo.sli, RatioSLI) and slo.sli.source == "prometheus"  # type: Prometheus, no ref
    assert config.alerting is not None
    policy = config.alerting.policy_for(slo.key)
    (tier,) = policy.tiers
    assert (tier.name, tier.long_window, tier.short_window) == ("payments-3d", timedelta(days=3), timedelta(hours=6))
    assert tier.factor(timedelta(days=30)) == pytest.approx(1.5)
    assert policy.no_data_after is not None  # alertWhenNoData: true keeps the no-data alert
    assert set(config.alerting.receivers) == {"team-payments-slack", "catch-all"}  # the target named a receiver
    labels = {"service": "payments", "slo": "payments-success"}
    assert _receivers(config, **labels, alertname="SLOBurnRateHigh", burn_tier="payments-3d") == ["team-payments-slack"]
    assert _receivers(config, **labels, alertname="SLONoData") == ["team-payments-slack"]
    # the section's own route still applies to everything else
    assert _receivers(config, service="auth", slo="x", alertname="SLONoData") == ["catch-all"]


def _orders(config: Config) -> None:
    (slo,) = config.slos
    assert config.alerting is not None
    fast, slow = config.alerting.policy_for(slo.key).tiers
    assert (fast.name, fast.for_, fast.factor(timedelta(days=30))) == ("orders-fast", timedelta(0), pytest.approx(14.4))
    assert (slow.name, slow.long_window, slow.factor(timedelta(days=30))) == (
        "orders-slow",
        timedelta(days=3),
        pytest.approx(1.2),
    )
    assert set(config.alerting.receivers) == {"orders-team-hook", "team-payments-slack", "catch-all"}
    labels = {"service": "orders", "slo": "orders-availability"}
    burn = {**labels, "alertname": "SLOBurnRateHigh"}
    assert _receivers(config, **burn, burn_tier="orders-fast") == ["orders-team-hook"]
    assert _receivers(config, **burn, burn_tier="orders-slow") == ["catch-all"]  # the section's route
    assert _receivers(config, **labels, alertname="SLONoData") == ["orders-team-hook", "catch-all"]


IMPORTS: list[tuple[list[str], Callable[[Config], None]]] = [
    (["checkout-availability.yaml"], _checkout),
    (["search-calendar.yaml"], _search),
    (["payments-inline.yaml", ALERTING], _payments),
    (["orders-section-target.yaml", ALERTING], _orders),
]


@pytest.mark.parametrize(("files", "check"), IMPORTS, ids=[f[0] for f, _ in IMPORTS])
def test_corpus_file_imports_as_the_spec_defines(
    files: list[str], check: Callable[[Config], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECKOUT_PD_KEY", "pd-key")
    config = load_config([CORPUS / f for f in files])
    check(config)


REFUSALS: list[tuple[list[str], list[str]]] = [
    (
        ["refused-many-problems.yaml"],
        [
            "16: spec.service: unknown service 'inventory'",
            "22: spec.indicator.spec.ratioMetric.counter: counter: false (gauge queries) cannot be honoured",
            "37: spec.timeWindow[0].calendar.startTime: startTime 2024-01-15 09:00:00 cannot be honoured",
            "38: spec.timeWindow[0].calendar.timeZone: unknown time zone str 'Mars/Olympus_Mons'",
            "42: spec.objectives[0].timeSliceWindow: timeSliceWindow only applies to budgetingMethod Timeslices",
            "50: spec.notificationTargets: required by OpenSLO",
            "59: spec.conditions[0].spec.condition.op: op must be gt or gte, got str 'lte'",
            "61: spec.conditions[0].spec.condition.lookbackWindow: lookbackWindow 2h is not supported",
        ],
    ),
    (
        ["refused-raw-ratio.yaml"],
        [
            "20: spec.indicator.spec.ratioMetric.rawType: raw ratio metrics (a precomputed ratio) are not supported",
            "21: spec.indicator.spec.ratioMetric.raw: raw ratio metrics (a precomputed ratio) are not supported",
        ],
    ),
    (
        ["refused-targets.yaml", ALERTING],
        [
            "14: spec.target: target 'email' names no receiver of the alerting section (known receivers: "
            "catch-all, team-payments-slack)",
            "22: metadata.annotations.slo-service/token: secrets are not written in files",
            "41: spec.notificationTargets: required by OpenSLO",
        ],
    ),
    (
        ["refused-receivers.yaml", ALERTING],
        [
            "13: metadata.annotations.slo-service/url: url 'ftp://archive.internal/alerts' must be an http:// or "
            "https:// URL",
            "23: metadata.annotations.slo-service/token_env: environment variable LEDGER_SLACK_TOKEN_NOT_SET "
            "is not set",
            "30: metadata.name: receiver 'catch-all' is already defined in the alerting section",
            "41: spec.alertWhenResolved: alertWhenResolved false disagrees with receiver 'team-payments-slack' "
            "(send_resolved: true in the alerting section)",
        ],
    ),
    (
        ["refused-short-period.yaml"],
        [
            "15: spec.type: data source type str 'Datadog' is not supported",
            "32: spec.indicator.spec.ratioMetric.bad.metricSource.metricSourceRef: DataSource 'dd' has type 'Datadog'",
            "36: spec.indicator.spec.ratioMetric.total.metricSource.metricSourceRef: DataSource 'dd' has type",
            "50: spec.alertPolicies[0].spec.conditions[0].spec.condition.lookbackWindow: lookbackWindow 1h at "
            "threshold 14.4 cannot be honoured for this SLO: slo-service would evaluate 15m",
        ],
    ),
    (
        ["refused-conditions.yaml"],
        [
            "26: spec.condition.threshold: threshold 0.5 is too low for a 30d period",
            "39: spec.condition.lookbackWindow: lookbackWindow 1h at threshold 10 cannot be honoured for this SLO: "
            "slo-service would evaluate 1h (short 1h)",
            "46: spec.alertWhenBreaching: a policy that never alerts on breaches",
            "50: spec.conditions[2].conditionRef: unknown AlertCondition 'batch-missing'",
        ],
    ),
]


@pytest.mark.parametrize(("files", "expected"), REFUSALS, ids=[f[0] for f, _ in REFUSALS])
def test_corpus_file_is_refused_with_every_problem(files: list[str], expected: list[str]) -> None:
    name = str(CORPUS / files[0])
    problems = [str(p) for p in validate_files([CORPUS / f for f in files])]
    assert all(p.startswith(name + ":") for p in problems), problems  # nothing blamed on the other files
    assert len(problems) == len(expected), "\n".join(problems)
    for line in expected:
        assert any(p.startswith(f"{name}:{line}") for p in problems), (line, problems)


def test_corpus_covers_every_kind() -> None:
    kinds = set()
    for path in CORPUS.glob("*.yaml"):
        kinds |= {line.split(":", 1)[1].strip() for line in path.read_text().splitlines() if line.startswith("kind:")}
    assert kinds >= {"Service", "DataSource", "SLI", "SLO", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"}
