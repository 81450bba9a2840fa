"""The act step on a real database (SQLite and PostgreSQL) against a fake GitHub Actions server: a decision
fires once however often evaluations repeat, cooldown, in-flight, approval and denial, retries on 503 and 429
until delivered once, CI's report closes the run, a missing report times it out, a crash mid-send resends
with the same idempotency key, freeze calls the deployment store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from slo_service.adapters.sql import migrate
from slo_service.adapters.sql.action_store import SqlActionStore
from slo_service.adapters.sql.deployment_store import SqlDeploymentStore
from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.targets import build_targets
from slo_service.core.actions.facts import BudgetFact, BurnEpisode, Facts
from slo_service.core.actions.policy import (
    ActionKind,
    Conditions,
    ResponsePolicy,
    ResponsesConfig,
    TargetConfig,
    TargetKind,
)
from slo_service.core.actions.runs import InvalidTransition, RunState
from slo_service.core.clock import ManualClock
from slo_service.core.deployments import Deployment
from slo_service.core.gates import GateStatus, StoredGate
from slo_service.core.notify import RetryPolicy
from slo_service.pipeline.actions import ActionService

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
PATH = "/repos/acme/shop/actions/workflows/rollback.yml/dispatches"


class FakeGitHub:
    """Answers with the statuses queued (204 once they run out) and keeps every request."""

    def __init__(self, server: HTTPServer) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, str]]] = []
        server.expect_request(PATH, method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        assert request.headers["Authorization"] == "Bearer ghp_test"
        assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
        self.requests.append(json.loads(request.data))
        status, headers = self.answers.pop(0) if self.answers else (204, {})
        return Response("", status=status, headers=headers)

    @property
    def delivered_keys(self) -> list[str]:
        return [r["inputs"]["idempotency_key"] for r in self.requests]


@pytest.fixture
def engine_url(db_url: str) -> Iterator[str]:
    migrate.upgrade(db_url)
    yield db_url


def _service(url: str, server: HTTPServer, *policies: ResponsePolicy) -> tuple[ActionService, ManualClock]:
    clock = ManualClock(T0)
    engine = make_engine(url)
    deployments = SqlDeploymentStore(engine, clock)
    for i, (version, minutes) in enumerate((("v1", 2 * 24 * 60), ("v2", 10))):
        deployments.record(
            Deployment(f"d{i}", "checkout", "prod", version, None, None, None, T0 - timedelta(minutes=minutes))
        )
    service = ActionService(
        SqlActionStore(engine, clock), clock.now, deployments, retry=RetryPolicy(base=timedelta(seconds=1))
    )
    target = TargetConfig(
        "gh",
        TargetKind.GITHUB_WORKFLOW,
        server.url_for("/").rstrip("/"),
        {"repo": "acme/shop", "workflow": "rollback.yml"},
        "ghp_test",
    )
    config = ResponsesConfig(policies=policies, targets={"gh": target})
    service.apply(config, build_targets(config.targets))
    return service, clock


def _facts(service: ActionService, started: datetime = T0) -> Facts:
    assert service.deployments is not None
    history = sorted(service.deployments.list(service="checkout"), key=lambda d: d.at)
    burn = BurnEpisode("checkout", "latency", "page", "page-1h", "fp", started, 15.0, 16.0, "1h", "5m", 0.8)
    return Facts(burns=[burn], deployments={"checkout": history})


ROLLBACK = ResponsePolicy(
    "rollback",
    Conditions(burn_severity="page", after_deploy=timedelta(minutes=30)),
    ActionKind.ROLLBACK,
    target="gh",
    cooldown=timedelta(hours=1),
)


def test_repeated_evaluations_send_one_rollback_and_the_report_closes_it(
    engine_url: str, httpserver: HTTPServer
) -> None:
    github = FakeGitHub(httpserver)
    service, clock = _service(engine_url, httpserver, ROLLBACK)
    for _ in range(5):
        service.decide(_facts(service))
        service.send_due()
        clock.advance(timedelta(seconds=30))
    assert len(github.requests) == 1
    inputs = github.requests[0]["inputs"]
    assert (inputs["from_version"], inputs["to_version"]) == ("v2", "v1")
    [run] = service.store.runs()
    assert run.state is RunState.SENT
    assert run.id is not None and inputs["action_run_id"] == str(run.id)
    [decision] = service.store.decisions()
    assert decision.decision.why["attributed_to"]["version"] == "v2"
    assert decision.decision.why["burn"]["long_window"] == "1h"
    service.report(run.id, RunState.RUNNING, "ci", {"url": "https://github.com/acme/shop/actions/runs/1"})
    closed = service.report(run.id, RunState.SUCCEEDED, "ci", {})
    assert closed.state is RunState.SUCCEEDED
    with pytest.raises(InvalidTransition):
        service.report(run.id, RunState.FAILED, "ci", {})
    kinds = [e.kind for e in reversed(service.store.audit())]
    assert kinds == ["decision", "send", "report", "report", "local"]  # local: the deployment marked rolled_back
    assert service.stats.snapshot()[("rollback", "gh", "sent")] == 1


def test_a_new_episode_within_the_cooldown_is_recorded_but_not_sent(engine_url: str, httpserver: HTTPServer) -> None:
    github = FakeGitHub(httpserver)
    service, clock = _service(engine_url, httpserver, ROLLBACK)
    service.decide(_facts(service))
    service.send_due()
    [run] = service.store.runs()
    assert run.id is not None
    service.report(run.id, RunState.SUCCEEDED, "ci", {})
    clock.advance(timedelta(minutes=20))
    [(_, outcome, _)] = service.decide(_facts(service, T0 + timedelta(minutes=5)))  # a new burn episode
    assert outcome == "cooldown"
    service.send_due()
    assert len(github.requests) == 1
    clock.advance(timedelta(minutes=45))  # cooldown over
    [(_, outcome, _)] = service.decide(_facts(service, T0 + timedelta(minutes=6)))
    assert outcome == "run"
    service.send_due()
    assert len(github.requests) == 2


def test_one_action_of_a_kind_in_flight_per_service(engine_url: str, httpserver: HTTPServer) -> None:
    FakeGitHub(httpserver)
    no_cooldown = ResponsePolicy(ROLLBACK.name, ROLLBACK.when, ROLLBACK.action, "gh", cooldown=timedelta(0))
    service, _clock = _service(engine_url, httpserver, no_cooldown)
    service.decide(_facts(service))
    service.send_due()
    [(_, outcome, _)] = service.decide(_facts(service, T0 + timedelta(minutes=1)))
    assert outcome == "in_flight"


def test_approval_nothing_fires_until_approved_and_denied_never(engine_url: str, httpserver: HTTPServer) -> None:
    github = FakeGitHub(httpserver)
    gated = ResponsePolicy(ROLLBACK.name, ROLLBACK.when, ROLLBACK.action, "gh", approval=True, cooldown=timedelta(0))
    service, _clock = _service(engine_url, httpserver, gated)
    service.decide(_facts(service))
    service.send_due()
    [run] = service.store.runs()
    assert run.state is RunState.PENDING_APPROVAL and github.requests == []
    assert run.id is not None
    approved = service.approve(run.id, "alice")
    assert approved.decided_by == "alice"
    service.send_due()
    assert len(github.requests) == 1
    service.report(run.id, RunState.SUCCEEDED, "ci", {})
    # a second episode, denied: nothing is sent
    service.decide(_facts(service, T0 + timedelta(minutes=2)))
    second = service.store.runs()[0]
    assert second.id is not None and second.state is RunState.PENDING_APPROVAL
    service.deny(second.id, "bob", "false alarm")
    service.send_due()
    assert len(github.requests) == 1
    with pytest.raises(InvalidTransition):
        service.approve(second.id, "carol")
    actors = {(e.kind, e.actor) for e in service.store.audit()}
    assert ("approval", "alice") in actors and ("denial", "bob") in actors


def test_dry_run_records_without_sending(engine_url: str, httpserver: HTTPServer) -> None:
    github = FakeGitHub(httpserver)
    dry = ResponsePolicy(ROLLBACK.name, ROLLBACK.when, ROLLBACK.action, "gh", dry_run=True)
    service, _ = _service(engine_url, httpserver, dry)
    [(_, outcome, _)] = service.decide(_facts(service))
    service.send_due()
    assert outcome == "dry_run" and github.requests == []
    assert service.store.runs()[0].state is RunState.DRY_RUN


def test_target_down_then_throttled_is_delivered_once_when_it_recovers(engine_url: str, httpserver: HTTPServer) -> None:
    github = FakeGitHub(httpserver)
    github.answers = [(503, {}), (503, {}), (429, {"Retry-After": "30"})]
    service, clock = _service(engine_url, httpserver, ROLLBACK)
    service.decide(_facts(service))
    sent_at = []
    for _ in range(40):
        service.send_due()
        sent_at.append(len(github.requests))
        clock.advance(timedelta(seconds=5))
    assert len(github.requests) == 4  # three refused, one taken
    assert len(set(github.delivered_keys)) == 1
    run = service.store.runs()[0]
    assert run.state is RunState.SENT and run.attempts == 4
    # the 429's Retry-After held the fourth attempt back 30 s (six 5-second steps)
    third = sent_at.index(3)
    assert sent_at.index(4) - third >= 6


def test_a_crash_mid_send_resends_with_the_same_key_after_the_lease(engine_url: str, httpserver: HTTPServer) -> None:
    github = FakeGitHub(httpserver)
    service, clock = _service(engine_url, httpserver, ROLLBACK)
    service.decide(_facts(service))
    [claimed] = service.store.claim_due(clock.now(), service.lease)  # a worker claims it, sends, then dies
    assert claimed.id is not None
    assert service.store.claim_due(clock.now(), service.lease) == []  # nobody else takes it meanwhile
    clock.advance(service.lease + timedelta(seconds=1))
    service.send_due()
    assert len(github.requests) == 1
    assert github.delivered_keys == [claimed.decision_key]


def test_no_report_in_time_times_out_and_alerts(engine_url: str, httpserver: HTTPServer) -> None:
    FakeGitHub(httpserver)
    quick = ResponsePolicy(ROLLBACK.name, ROLLBACK.when, ROLLBACK.action, "gh", status_timeout=timedelta(minutes=5))
    service, clock = _service(engine_url, httpserver, quick)
    alerts: list[int | None] = []
    service.on_timeout = lambda run: alerts.append(run.id)
    service.decide(_facts(service))
    service.send_due()
    clock.advance(timedelta(minutes=4))
    assert service.expire() == []
    clock.advance(timedelta(minutes=2))
    [expired] = service.expire()
    assert expired.state is RunState.TIMED_OUT and alerts == [expired.id]


def test_freeze_calls_the_deployment_store(engine_url: str, httpserver: HTTPServer) -> None:
    freeze = ResponsePolicy("freeze", Conditions(budget_exhausted=True), ActionKind.FREEZE)
    service, _clock = _service(engine_url, httpserver, freeze)
    service.decide(Facts(budgets=[BudgetFact("checkout", "latency", -0.1)]))
    service.send_due()
    assert service.deployments is not None
    frozen = service.deployments.active_freeze("checkout")
    assert frozen is not None and frozen.by == "policy:freeze"
    assert service.store.runs()[0].state is RunState.SUCCEEDED
    # evaluations keep seeing the exhausted budget: one decision
    service.decide(Facts(budgets=[BudgetFact("checkout", "latency", -0.2)]))
    assert len(service.store.decisions()) == 1


def test_a_failed_gate_rolls_back_once(engine_url: str, httpserver: HTTPServer) -> None:
    github = FakeGitHub(httpserver)
    policy = ResponsePolicy("gate-rollback", Conditions(gate_failed=True), ActionKind.ROLLBACK, "gh")
    service, clock = _service(engine_url, httpserver, policy)

    def gate(status: GateStatus, gate_id: str = "g1") -> StoredGate:
        return StoredGate(gate_id, "checkout", "d1", T0, T0, T0, {}, status, {}, clock.now())

    assert service.gate_finished(gate(GateStatus.PASS, "g0")) == 0
    assert service.gate_finished(gate(GateStatus.FAIL)) == 1
    assert service.gate_finished(gate(GateStatus.FAIL)) == 0  # answered again (another replica): same key
    service.send_due()
    [dispatch] = github.requests
    assert (dispatch["inputs"]["from_version"], dispatch["inputs"]["to_version"]) == ("v2", "v1")
    assert service.store.decisions()[0].decision.why["gate"]["id"] == "g1"


def test_check_data_runs_the_monitors_and_attaches_their_verdicts(engine_url: str, httpserver: HTTPServer) -> None:
    FakeGitHub(httpserver)
    asked: list[str] = []

    def check_data(service: str) -> list[dict[str, Any]]:
        asked.append(service)
        return [{"monitor": "fraud-features", "drift_found": True, "data_quality": ["amount: all values empty"]}]

    policy = ResponsePolicy("check", Conditions(burn_severity="page"), ActionKind.CHECK_DATA)
    service, _clock = _service(engine_url, httpserver, policy)
    service.check_data = check_data
    service.decide(_facts(service))
    service.send_due()
    assert asked == ["checkout"]
    [run] = service.store.runs()
    assert run.state is RunState.SUCCEEDED
    local = [e for e in service.store.audit() if e.kind == "local"]
    assert local[0].detail["verdicts"][0]["data_quality"] == ["amount: all values empty"]


def test_a_custom_action_goes_to_its_target_with_its_params(engine_url: str, httpserver: HTTPServer) -> None:
    github = FakeGitHub(httpserver)
    policy = ResponsePolicy(
        "warm", Conditions(burn_severity="page"), ActionKind.CUSTOM, "gh", custom="warm-cache", params={"size": "3"}
    )
    service, _clock = _service(engine_url, httpserver, policy)
    service.decide(_facts(service))
    service.send_due()
    [dispatch] = github.requests
    assert dispatch["inputs"]["action"] == "warm-cache" and dispatch["inputs"]["size"] == "3"
    assert service.stats.snapshot()[("warm-cache", "gh", "sent")] == 1


FREEZE_ON_PAGE = ResponsePolicy("freeze-on-page", Conditions(burn_severity="page"), ActionKind.FREEZE)


def test_a_policy_freeze_lifts_when_the_page_ended_and_no_budget_is_exhausted(
    engine_url: str, httpserver: HTTPServer
) -> None:
    service, clock = _service(engine_url, httpserver, FREEZE_ON_PAGE)
    deployments = service.deployments
    assert deployments is not None
    deployments.freeze("billing", "release week", T0, "alice")
    service.decide(_facts(service))
    service.send_due()
    assert deployments.active_freeze("checkout") is not None
    healthy = [("checkout", "checkout/latency", 0.6), ("billing", "billing/a", 0.9)]
    clock.advance(timedelta(minutes=5))
    assert service.settle(_facts(service), healthy) == []  # the page still fires
    assert service.settle(Facts(), [("checkout", "checkout/latency", -0.1)]) == []  # ended, but the budget is spent
    clock.advance(timedelta(minutes=5))
    assert service.settle(Facts(), healthy) == ["checkout"]
    assert deployments.active_freeze("checkout") is None
    [entry] = [e for e in service.store.audit() if e.kind == "unfreeze"]
    assert entry.at == T0 + timedelta(minutes=10) and entry.actor == "policy:freeze-on-page"
    assert "condition cleared" in entry.detail["reason"] and entry.detail["service"] == "checkout"
    person = deployments.active_freeze("billing")
    assert person is not None and person.by == "alice"  # a person's freeze stays
    assert service.settle(Facts(), healthy) == []


def test_notify_raises_one_alert_with_the_reasons_and_resolves_it_when_the_page_ends(
    engine_url: str, httpserver: HTTPServer
) -> None:
    policy = ResponsePolicy("tell", Conditions(burn_severity="page"), ActionKind.NOTIFY, params={"severity": "info"})
    service, _clock = _service(engine_url, httpserver, policy)
    raised: list[Any] = []
    service.alert = raised.extend
    for _ in range(3):
        service.decide(_facts(service))
        service.send_due()
    [condition] = raised
    assert condition.active and condition.labels == {
        "alertname": "SLOResponseDecision",
        "severity": "info",
        "service": "checkout",
        "policy": "tell",
        "action": "notify",
    }
    assert '"burn_rate_long": 15.0' in condition.annotations["description"]
    assert service.store.runs()[0].state is RunState.SUCCEEDED
    service.settle(_facts(service), [], [condition.labels])
    assert len(raised) == 1  # still paging: stays open
    service.settle(Facts(), [], [condition.labels])
    assert len(raised) == 2 and not raised[1].active and raised[1].labels == condition.labels


def test_a_rollback_ci_reports_succeeded_marks_the_deployment_rolled_back(
    engine_url: str, httpserver: HTTPServer
) -> None:
    FakeGitHub(httpserver)
    service, _clock = _service(engine_url, httpserver, ROLLBACK)
    deployments = service.deployments
    assert deployments is not None
    service.decide(_facts(service))
    service.send_due()
    [run] = service.store.runs()
    assert run.id is not None and run.payload["deployment"]["id"] == "d1"
    service.report(run.id, RunState.RUNNING, "ci", {})
    assert deployments.get("d1").status == "succeeded"  # type: ignore[union-attr]
    service.report(run.id, RunState.SUCCEEDED, "ci", {})
    assert deployments.get("d1").status == "rolled_back"  # type: ignore[union-attr]
    # v3 goes out after the rollback: its previous good version is v1, not the rolled back v2
    deployments.record(Deployment("d2", "checkout", "prod", "v3", None, None, None, T0 + timedelta(minutes=5)))
    previous = deployments.previous_good("checkout", "prod")
    assert previous is not None and previous.version == "v1"
    marked = [e for e in service.store.audit(run_id=run.id) if e.kind == "local"]
    assert marked[0].detail == {"deployment": "d1", "status": "rolled_back", "version": "v2"}


def test_a_run_nobody_approves_within_the_approval_timeout_expires(engine_url: str, httpserver: HTTPServer) -> None:
    FakeGitHub(httpserver)
    policy = replace(ROLLBACK, approval=True, approval_timeout=timedelta(minutes=10))
    service, clock = _service(engine_url, httpserver, policy)
    told: list[Any] = []
    service.alert = told.extend
    service.decide(_facts(service))
    [ask] = told
    assert ask.active and ask.labels["alertname"] == "SLOResponseApproval"
    clock.advance(timedelta(minutes=9))
    assert service.expire_approvals() == []
    clock.advance(timedelta(minutes=2))
    [expired] = service.expire_approvals()
    assert expired.state is RunState.EXPIRED
    assert not told[-1].active and told[-1].labels == ask.labels  # the approval request resolves
    [entry] = [e for e in service.store.audit(run_id=expired.id) if e.kind == "expiry"]
    assert entry.actor == "slo-service" and "within 10m" in entry.detail["reason"]
    assert expired.id is not None
    with pytest.raises(InvalidTransition):
        service.approve(expired.id, "late-alice")
    assert service.stats.snapshot()[("rollback", "gh", "expired")] == 1
