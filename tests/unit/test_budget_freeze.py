"""The error-budget freeze decision (core/deployments.py budget_freeze_decisions)."""

from __future__ import annotations

from datetime import UTC, datetime

from slo_service.core.deployments import AUTO_FREEZE_BY, Freeze, FreezeDecision, budget_freeze_decisions

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
