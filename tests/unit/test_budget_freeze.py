"""The error-budget freeze decision and the end of a response policy's freeze (core/deployments.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from slo_service.adapters.memory_deployments import InMemoryDeploymentStore
from slo_service.core.clock import ManualClock
from slo_service.core.deployments import (
    AUTO_FREEZE_BY,
    Freeze,
    FreezeDecision,
    budget_freeze_decisions,
    policy_freeze_lifts,
)
from slo_service.pipeline.deployments import DeploymentService

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_an_exhausted_budget_freezes_its_service_once() -> None:
    remaining = [("api", "api/a", 0.5), ("api", "api/b", -0.2), ("api", "api/c", 0.0), ("web", "web/a", 0.9)]
    assert budget_freeze_decisions(remaining, []) == [
        FreezeDecision("api", True, "error budget exhausted: api/b, api/c")
    ]
    frozen = Freeze("api", "error budget exhausted: api/b", T0, AUTO_FREEZE_BY)
    assert budget_freeze_decisions(remaining, [frozen]) == []


def test_recovery_lifts_only_the_budget_freeze() -> None:
    healthy = [("api", "api/a", 0.5), ("web", "web/a", 0.1)]
    ours = Freeze("api", "error budget exhausted: api/a", T0, AUTO_FREEZE_BY)
    persons = Freeze("web", "release week", T0, "alice")
    assert budget_freeze_decisions(healthy, [ours, persons]) == [
        FreezeDecision("api", False, "error budgets recovered")
    ]


def test_no_data_is_not_exhausted_and_unknown_services_keep_their_freeze() -> None:
    assert budget_freeze_decisions([("api", "api/a", None)], []) == []
    gone = Freeze("old", "error budget exhausted: old/a", T0, AUTO_FREEZE_BY)
    assert budget_freeze_decisions([("api", "api/a", 0.5)], [gone]) == []  # not in the config: left alone


def test_a_policy_freeze_lifts_once_its_condition_cleared_and_no_budget_is_exhausted() -> None:
    ours = Freeze("api", "policy freeze-on-page: api", T0, "policy:freeze-on-page")
    persons = Freeze("web", "release week", T0, "alice")
    healthy = [("api", "api/a", 0.4), ("web", "web/a", 0.9)]
    lifted = [
        FreezeDecision("api", False, "policy freeze-on-page: its condition cleared and no error budget is exhausted")
    ]
    assert policy_freeze_lifts([ours, persons], healthy, ["freeze-on-page"], holding=[]) == lifted
    # the page still fires: kept
    assert policy_freeze_lifts([ours], healthy, ["freeze-on-page"], holding=[("freeze-on-page", "api")]) == []
    # the page ended but a budget of the service is exhausted: kept
    spent = [("api", "api/a", 0.4), ("api", "api/b", 0.0)]
    assert policy_freeze_lifts([ours], spent, ["freeze-on-page"], holding=[]) == []
    # another service's condition does not hold this one's freeze
    assert policy_freeze_lifts([ours], healthy, ["freeze-on-page"], holding=[("freeze-on-page", "web")]) == lifted


def test_a_person_freeze_and_one_of_a_policy_no_longer_configured_are_never_lifted_here() -> None:
    persons = Freeze("api", "release week", T0, "alice")
    gone = Freeze("web", "policy old: web", T0, "policy:old")
    lifted = Freeze("pay", "policy p: pay", T0, "policy:p", lifted_at=T0, lifted_by="bob")
    healthy = [("api", "api/a", 1.0), ("web", "web/a", 1.0), ("pay", "pay/a", 1.0)]
    assert policy_freeze_lifts([persons, gone, lifted], healthy, ["p", "alice"], holding=[]) == []


def test_a_person_freezing_a_policy_frozen_service_takes_the_freeze_over() -> None:
    store = InMemoryDeploymentStore()
    deployments = DeploymentService(store, ManualClock(T0))
    store.freeze("api", "policy freeze-on-page: api", T0, "policy:freeze-on-page")
    mine = deployments.freeze("api", "release week", "alice")
    assert (mine.by, mine.reason) == ("alice", "release week")
    healthy = [("api", "api/a", 1.0)]
    assert policy_freeze_lifts(store.active_freezes(), healthy, ["freeze-on-page"], holding=[]) == []
    assert deployments.freeze("api", "again", "bob").by == "alice"  # a person's freeze is kept as it is
