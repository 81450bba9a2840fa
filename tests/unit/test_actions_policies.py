"""Response policies, pure: matching, attribution, idempotency keys, guards (cooldown, in-flight, dry-run,
approval) and the action-run state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from slo_service.core.actions.facts import (
    BudgetFact,
    BurnEpisode,
    DriftRunFact,
    Facts,
    GateFact,
    MonitorFact,
)
from slo_service.core.actions.matching import Matcher
from slo_service.core.actions.policy import (
    ActionKind,
    Conditions,
    DriftCondition,
    QualityCondition,
    ResponsePolicy,
    ResponsesConfig,
)
from slo_service.core.actions.runs import ActionRun, InvalidTransition, RunState, check_transition, guard
from slo_service.core.clock import ManualClock
from slo_service.core.deployments import Deployment

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def burn(started: datetime, severity: str = "page", slo: str = "latency", service: str = "checkout") -> BurnEpisode:
    return BurnEpisode(service, slo, severity, "page-1h", "fp1", started, 15.2, 16.0, "1h", "5m", 0.7)


def deploys() -> list[Deployment]:
    return [
        Deployment("d1", "checkout", "prod", "v1", None, None, None, T0 - timedelta(days=2)),
        Deployment("d2", "checkout", "prod", "v2-bad", None, None, None, T0 - timedelta(days=1), "failed"),
        Deployment("d3", "checkout", "prod", "v3", None, None, None, T0 - timedelta(minutes=10)),
    ]


ROLLBACK = ResponsePolicy(
    "rollback-after-deploy",
    Conditions(service="checkout", burn_severity="page", after_deploy=timedelta(minutes=30)),
    ActionKind.ROLLBACK,
    target="gh",
)
NOTIFY = ResponsePolicy("page-notify", Conditions(burn_severity="page"), ActionKind.NOTIFY)


def test_burn_shortly_after_a_deploy_rolls_back_to_the_previous_good_version() -> None:
    matcher = Matcher(ResponsesConfig(policies=(ROLLBACK, NOTIFY)))
    [decision] = matcher.decide(Facts(burns=[burn(T0)], deployments={"checkout": deploys()}), T0)
    assert decision.policy == "rollback-after-deploy"
    assert decision.payload["from_version"] == "v3"
    assert decision.payload["to_version"] == "v1"  # v2-bad failed: never a rollback destination
    assert decision.why["attributed_to"]["id"] == "d3"
    assert decision.why["burn"]["burn_rate_long"] == 15.2
    assert decision.why["burn"]["long_window"] == "1h"


def test_burn_long_after_the_deploy_falls_through_to_the_next_policy() -> None:
    matcher = Matcher(ResponsesConfig(policies=(ROLLBACK, NOTIFY)))
    [decision] = matcher.decide(
        Facts(burns=[burn(T0 + timedelta(hours=2))], deployments={"checkout": deploys()}), T0 + timedelta(hours=2)
    )
    assert decision.policy == "page-notify"


def test_continue_lets_later_policies_decide_too() -> None:
    first = ResponsePolicy(ROLLBACK.name, ROLLBACK.when, ROLLBACK.action, "gh", continue_=True)
    decisions = Matcher(ResponsesConfig(policies=(first, NOTIFY))).decide(
        Facts(burns=[burn(T0)], deployments={"checkout": deploys()}), T0
    )
    assert [d.policy for d in decisions] == ["rollback-after-deploy", "page-notify"]


def test_other_severity_or_service_does_not_match() -> None:
    matcher = Matcher(ResponsesConfig(policies=(ROLLBACK,)))
    assert matcher.decide(Facts(burns=[burn(T0, "ticket")], deployments={"checkout": deploys()}), T0) == []
    assert matcher.decide(Facts(burns=[burn(T0, service="search")], deployments={"search": deploys()}), T0) == []


def test_the_same_episode_gives_the_same_key_a_new_episode_a_new_one() -> None:
    matcher = Matcher(ResponsesConfig(policies=(NOTIFY,)))
    a = matcher.decide(Facts(burns=[burn(T0)]), T0)[0]
    b = matcher.decide(Facts(burns=[burn(T0)]), T0 + timedelta(minutes=5))[0]
    c = matcher.decide(Facts(burns=[burn(T0 + timedelta(hours=3))]), T0 + timedelta(hours=3))[0]
    assert a.key == b.key
    assert a.key != c.key


def _runs(monitor: str, verdicts: list[bool]) -> MonitorFact:
    runs = [
        DriftRunFact(
            100 - i,
            T0 - timedelta(hours=i),
            v,
            0.6 if v else 0.0,
            ("age",) if v else (),
            T0 - timedelta(hours=i + 24),
            T0 - timedelta(hours=i),
            {"accuracy": 0.71},
        )
        for i, v in enumerate(verdicts)
    ]
    return MonitorFact(monitor, "fraud", runs)


RETRAIN = ResponsePolicy(
    "retrain-on-drift", Conditions(drift=DriftCondition("fraud-features", 3)), ActionKind.RETRAIN, target="gitlab"
)


@pytest.mark.parametrize(
    ("verdicts", "fires"),
    [([True, True, True], True), ([True, True, False, True], False), ([True, True, True, True], True)],
    ids=["three-in-a-row", "broken-streak", "four-in-a-row"],
)
def test_retrain_needs_k_consecutive_drifted_runs(verdicts: list[bool], fires: bool) -> None:
    decisions = Matcher(ResponsesConfig(policies=(RETRAIN,))).decide(
        Facts(monitors=[_runs("fraud-features", verdicts)]), T0
    )
    assert bool(decisions) is fires
    if fires:
        payload = decisions[0].payload
        assert payload["monitor"] == "fraud-features"
        assert payload["drift_summary"]["consecutive"] == 3
        assert [r["id"] for r in payload["drift_summary"]["runs"]] == [100, 99, 98]
        assert payload["data_window"]["end"] == "2026-12-07T10:00:00Z"


def test_a_longer_streak_is_the_same_episode() -> None:
    matcher = Matcher(ResponsesConfig(policies=(RETRAIN,)))
    three = matcher.decide(Facts(monitors=[_runs("fraud-features", [True] * 3)]), T0)[0]
    # one more drifted run: the newest three shift by one, yet the streak began at the same run (98)
    runs = _runs("fraud-features", [True] * 3).runs
    longer = MonitorFact("fraud-features", "fraud", [DriftRunFact(101, T0, True), *runs])
    again = matcher.decide(Facts(monitors=[longer]), T0)[0]
    assert three.key == again.key
    broken = MonitorFact(
        "fraud-features", "fraud", [DriftRunFact(103, T0, True), *runs[:2], DriftRunFact(9, T0, False)]
    )
    assert matcher.decide(Facts(monitors=[broken]), T0)[0].key != three.key


def test_quality_below_threshold_matches() -> None:
    policy = ResponsePolicy(
        "quality", Conditions(quality=QualityCondition("fraud-features", "accuracy", 0.8)), ActionKind.RETRAIN
    )
    [d] = Matcher(ResponsesConfig(policies=(policy,))).decide(Facts(monitors=[_runs("fraud-features", [False])]), T0)
    assert d.why["quality"] == {"monitor": "fraud-features", "metric": "accuracy", "value": 0.71, "threshold": 0.8}


def test_budget_below_and_exhausted() -> None:
    low = ResponsePolicy("freeze-low", Conditions(budget_below=0.1), ActionKind.FREEZE)
    gone = ResponsePolicy("freeze-gone", Conditions(budget_exhausted=True), ActionKind.FREEZE)
    matcher = Matcher(ResponsesConfig(policies=(gone, low)))
    assert matcher.decide(Facts(budgets=[BudgetFact("checkout", "latency", 0.5)]), T0) == []
    [d] = matcher.decide(Facts(budgets=[BudgetFact("checkout", "latency", 0.05)]), T0)
    assert d.policy == "freeze-low"
    [d] = matcher.decide(Facts(budgets=[BudgetFact("checkout", "latency", -0.2)]), T0)
    assert d.policy == "freeze-gone" and d.why["budget"]["exhausted"] is True


def test_gate_failed() -> None:
    policy = ResponsePolicy("gate", Conditions(gate_failed=True), ActionKind.ROLLBACK, target="gh")
    facts = Facts(gates=[GateFact("g1", "checkout", "fail", T0, "d3")], deployments={"checkout": deploys()})
    [d] = Matcher(ResponsesConfig(policies=(policy,))).decide(facts, T0)
    assert d.why["gate"]["id"] == "g1" and d.payload["to_version"] == "v1"
    passed = Facts(gates=[GateFact("g2", "checkout", "pass", T0)], deployments={"checkout": deploys()})
    assert Matcher(ResponsesConfig(policies=(policy,))).decide(passed, T0) == []


def _run(state: RunState, created: datetime, run_id: int = 1) -> ActionRun:
    return ActionRun("k", "p", "rollback", "checkout", "gh", state, created, created, id=run_id)


def test_guards_in_flight_then_cooldown_then_dry_run_then_approval() -> None:
    clock = ManualClock(T0)
    policy = ResponsePolicy("p", Conditions(burn_severity="page"), ActionKind.ROLLBACK, cooldown=timedelta(hours=1))
    assert guard(policy, [], clock.now()).outcome == "run"
    assert guard(policy, [_run(RunState.SENT, T0)], clock.now()).outcome == "in_flight"
    assert guard(policy, [_run(RunState.SUCCEEDED, T0)], clock.now()).outcome == "cooldown"
    clock.advance(timedelta(minutes=59))
    assert guard(policy, [_run(RunState.SUCCEEDED, T0)], clock.now()).outcome == "cooldown"
    clock.advance(timedelta(minutes=1))
    assert guard(policy, [_run(RunState.SUCCEEDED, T0)], clock.now()).outcome == "run"
    # a denied or dry run does not start a cooldown
    assert guard(policy, [_run(RunState.DENIED, clock.now())], clock.now()).outcome == "run"
    assert guard(policy, [], clock.now(), dry_run=True).outcome == "dry_run"
    approval = ResponsePolicy("p", policy.when, policy.action, approval=True)
    verdict = guard(approval, [], clock.now())
    assert verdict.outcome == "pending_approval" and verdict.state is RunState.PENDING_APPROVAL


@pytest.mark.parametrize(
    ("current", "new", "ok"),
    [
        (RunState.PENDING_APPROVAL, RunState.APPROVED, True),
        (RunState.PENDING_APPROVAL, RunState.DENIED, True),
        (RunState.PENDING_APPROVAL, RunState.SENT, False),
        (RunState.DENIED, RunState.APPROVED, False),
        (RunState.APPROVED, RunState.SENT, True),
        (RunState.SENT, RunState.RUNNING, True),
        (RunState.RUNNING, RunState.SUCCEEDED, True),
        (RunState.SENT, RunState.TIMED_OUT, True),
        (RunState.SUCCEEDED, RunState.FAILED, False),
        (RunState.TIMED_OUT, RunState.SUCCEEDED, False),
    ],
    ids=lambda v: str(v),
)
def test_run_state_machine(current: RunState, new: RunState, ok: bool) -> None:
    if ok:
        check_transition(current, new)
    else:
        with pytest.raises(InvalidTransition):
            check_transition(current, new)
