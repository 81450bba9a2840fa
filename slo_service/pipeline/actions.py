"""The act step: response policies turn one evaluation's facts into decisions, decisions into action runs, and
runs into triggers sent to CI (a sender thread, woken by the cycle), with reports, approvals and time-outs.

    facts ──match──▶ decisions ──guards──▶ runs (stored with the decision, once per idempotency key)
                                           └─▶ sender: claim (leased) ─▶ local effect or target ─▶ sent ─▶ CI reports

A crash between claiming and recording the answer leaves the claim to expire; the run is sent again with the
same idempotency key (GitHub `inputs.idempotency_key`, GitLab/Jenkins/Argo parameters, `webhook-id`), so a CI
that deduplicates on it runs the action once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from slo_service.core.actions.facts import Facts, GateFact
from slo_service.core.actions.matching import Decision, Matcher
from slo_service.core.actions.notices import approval_decided, approval_request, cleared_notices, notice
from slo_service.core.actions.policy import ActionKind, ResponsePolicy, ResponsesConfig
from slo_service.core.actions.ports import ActionStore, AuditEntry, Target, TriggerRequest
from slo_service.core.actions.runs import ActionRun, RunState, guard
from slo_service.core.alerting.conditions import AlertCondition
from slo_service.core.alerting.lifecycle import Alert
from slo_service.core.deployments import Deployment, DeploymentStore
from slo_service.core.drift.ports import DriftStore
from slo_service.core.durations import format_duration
from slo_service.core.gates import GateStatus, StoredGate
from slo_service.core.model import Config
from slo_service.core.notify import DeliveryResult, Outcome, RetryPolicy
from slo_service.core.slo_math import SLOStatus
from slo_service.pipeline.action_endings import holding, lift_policy_freezes, mark_rolled_back, overdue_approvals
from slo_service.pipeline.action_facts import DEPLOYMENT_HISTORY, gather
from slo_service.pipeline.failures import log_failure

log = logging.getLogger(__name__)

CheckData = Callable[[str], list[dict[str, Any]]]
"""Run a service's data monitors now; their verdicts (check-data)."""


@dataclass
class ActionStats:
    """slo_service_actions_total{action,target,outcome}."""

    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, action: str, target: str | None, outcome: str) -> None:
        key = (action, target or "", outcome)
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def snapshot(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            return dict(self.counts)


class ActionService:
    """Decides (the leader, after each evaluation) and sends (a thread of its own). Thread-safe."""

    def __init__(
        self,
        store: ActionStore,
        clock_now: Callable[[], datetime],
        deployments: DeploymentStore | None = None,
        check_data: CheckData | None = None,
        retry: RetryPolicy | None = None,
        lease: timedelta = timedelta(seconds=30),
    ) -> None:
        self.store = store
        self.now = clock_now
        self.deployments = deployments
        self.check_data = check_data
        self.retry = retry or RetryPolicy(base=timedelta(seconds=1), cap=timedelta(minutes=2))
        self.lease = lease
        self.config = ResponsesConfig()
        self.targets: dict[str, Target] = {}
        self.stats = ActionStats()
        self.on_timeout: Callable[[ActionRun], None] | None = None  # the self-alert
        self.alert: Callable[[list[AlertCondition]], None] | None = None  # notify: into the alert routing
        self.leads: Callable[[], bool] = lambda: True
        self.drift_store: DriftStore | None = None  # the drift runs the policies look at
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._remaining: list[tuple[str, str, float | None]] = []  # the last evaluation's budgets

    def apply(self, config: ResponsesConfig | None, targets: Mapping[str, Target]) -> None:
        self.config = config or ResponsesConfig()
        self.targets = dict(targets)

    # ---- deciding

    def evaluate(self, config: Config, statuses: Mapping[str, SLOStatus], alerts: Iterable[Alert]) -> int:
        """One evaluation's decisions (the leader's cycle, after alerting); the number of new ones."""
        if not self.config.policies:
            return 0
        alerts = list(alerts)
        facts = gather(self.config, config, alerts, statuses, self.deployments, self.drift_store)
        new = len(self.decide(facts))
        remaining = [
            (s.service, s.key, statuses[s.key].budget.remaining_ratio) for s in config.slos if s.key in statuses
        ]
        self.settle(facts, remaining, [a.labels for a in alerts])
        return new

    def _frozen_services(self) -> list[str]:
        return [f.service for f in self.deployments.active_freezes()] if self.deployments is not None else []

    def settle(
        self,
        facts: Facts,
        remaining: Iterable[tuple[str, str, float | None]] | None = None,
        open_alerts: Iterable[Mapping[str, str]] = (),
    ) -> list[str]:
        """End what the policies started once its cause is gone: lift a policy's freeze when its condition
        cleared and no budget of the service is exhausted (audited, with the reason), and resolve the notify
        alerts whose condition cleared. `remaining`: (service, SLO key, budget remaining) of every SLO (None:
        the last evaluation's). Returns the freezes lifted, for the log."""
        if remaining is not None:
            self._remaining = list(remaining)
        freeze_policies = [p.name for p in self.config.policies if p.action is ActionKind.FREEZE]
        lifted = self._lift_freezes(facts, freeze_policies)
        notifying = holding(self.config, facts, [ActionKind.NOTIFY], self.now(), self._frozen_services)
        resolved = cleared_notices(open_alerts, notifying)
        if resolved and self.alert is not None:
            self.alert(resolved)
        return lifted

    def _lift_freezes(self, facts: Facts, policies: list[str], only: str | None = None) -> list[str]:
        """Lift the freezes `policies` made whose condition no longer holds in `facts` (policy_freeze_lifts);
        `only`: of that service alone (the facts say nothing of the others)."""
        if self.deployments is None or not policies:
            return []
        held = holding(self.config, facts, [ActionKind.FREEZE], self.now(), self._frozen_services)
        return lift_policy_freezes(self.deployments, self.store, policies, held, self._remaining, self.now(), only)

    def decide(self, facts: Facts) -> list[tuple[Decision, str, int | None]]:
        """Match, guard and store the new decisions of one evaluation: (decision, outcome, run id) of each new
        one. Decisions already stored (same idempotency key) are skipped without a write."""
        if not self.config.policies:
            return []
        now = self.now()
        decisions = Matcher(self.config).decide(facts, now)
        known = self.store.known_keys([d.key for d in decisions])
        policies = {p.name: p for p in self.config.policies}
        out: list[tuple[Decision, str, int | None]] = []
        for decision in decisions:
            if decision.key in known:
                continue
            known.add(decision.key)
            policy = policies[decision.policy]
            verdict = guard(
                policy, self.store.runs_of(decision.service, decision.action), now, dry_run=self.config.dry_run
            )
            run = self._run(decision, policy, verdict.state, now) if verdict.state is not None else None
            stored, run_id = self.store.record(decision, verdict, run)
            if not stored:
                continue
            self.stats.count(decision.action, decision.target, verdict.outcome)
            log.info(
                "policy %s decided %s for %s (%s): %s",
                decision.policy,
                decision.action,
                decision.subject,
                verdict.outcome,
                verdict.detail or "sent next",
            )
            out.append((decision, verdict.outcome, run_id))
            if verdict.state is RunState.PENDING_APPROVAL and run_id is not None:
                self._tell(approval_request(run_id, decision.policy, decision.action, decision.service, decision.why))
        if any(outcome == "run" for _, outcome, _ in out):
            self.wake()
        return out

    def gate_finished(self, gate: StoredGate) -> int:
        """A quality gate got its answer (any replica): the gate_failed policies decide on it now; the number of
        new decisions (the key is the gate's id, so a gate answered twice decides once)."""
        if not self.config.policies or gate.status is GateStatus.PENDING:
            return 0
        at = gate.evaluated_at or self.now()
        fact = GateFact(gate.id, gate.service, gate.status.value, at, gate.deployment_id)
        if gate.status in (GateStatus.PASS, GateStatus.WARNING):
            # a later gate that passed clears the condition of the gate policies' freezes of the service
            if self._remaining:  # the budgets are known (an evaluation ran since the start)
                gated = [
                    p.name for p in self.config.policies if p.action is ActionKind.FREEZE and p.when.trigger == "gate"
                ]
                self._lift_freezes(Facts(gates=[fact]), gated, only=gate.service)
            return 0
        if gate.status is not GateStatus.FAIL:
            return 0
        history: dict[str, list[Deployment]] = {}
        if self.deployments is not None:
            found = self.deployments.list(service=gate.service, limit=DEPLOYMENT_HISTORY)
            history[gate.service] = sorted(found, key=lambda d: d.at)
        return len(self.decide(Facts(gates=[fact], deployments=history)))

    def _run(self, d: Decision, policy: ResponsePolicy, state: RunState, now: datetime) -> ActionRun:
        return ActionRun(
            d.key, d.policy, d.action, d.service, d.target, state, now, now, d.payload, dict(policy.params)
        )

    # ---- people and CI

    def approve(self, run_id: int, who: str) -> ActionRun:
        run = self.store.move(run_id, RunState.APPROVED, who, self.now())
        self.wake()
        self._tell(approval_decided(run))
        return run

    def deny(self, run_id: int, who: str, reason: str | None = None) -> ActionRun:
        run = self.store.move(run_id, RunState.DENIED, who, self.now(), {"reason": reason} if reason else None)
        self.stats.count(run.action, run.target, "denied")
        self._tell(approval_decided(run))
        return run

    def _tell(self, condition: AlertCondition) -> None:
        """Raise or resolve an alert of ours (approval requests): a failure is logged, the run goes on."""
        if self.alert is None:
            return
        try:
            self.alert([condition])
        except Exception:
            log_failure(log, "the %s alert could not be raised", condition.labels.get("alertname"))

    def report(self, run_id: int, state: RunState, who: str, detail: Mapping[str, Any]) -> ActionRun:
        """CI says how the run went (running, succeeded, failed). A rollback that succeeded marks the deployment
        it rolled back `rolled_back`, so the next rollback's "previous good version" skips it."""
        run = self.store.move(run_id, state, who, self.now(), dict(detail))
        if state is not RunState.RUNNING:
            self.stats.count(run.action, run.target, state.value)
        if state is RunState.SUCCEEDED and self._kind(run) is ActionKind.ROLLBACK and self.deployments is not None:
            mark_rolled_back(run, self.deployments, self.store, self.now())
        return run

    def _kind(self, run: ActionRun) -> ActionKind | None:
        policy = next((p for p in self.config.policies if p.name == run.policy), None)
        if policy is not None:
            return policy.action
        return ActionKind.ROLLBACK if run.action == ActionKind.ROLLBACK.value else None

    # ---- sending

    def send_due(self) -> int:
        """Claim the approved runs that are due and carry each out; the number handled."""
        now = self.now()
        runs = self.store.claim_due(now, self.lease)
        for run in runs:
            try:
                self._carry_out(run)
            except Exception:  # the claim expires and the run is tried again
                log_failure(log, "action run %s failed unexpectedly", run.id)
        return len(runs)

    def _carry_out(self, run: ActionRun) -> None:
        assert run.id is not None
        policy = next((p for p in self.config.policies if p.name == run.policy), None)
        kind = policy.action if policy is not None else None
        local: dict[str, Any] = {}
        if kind is ActionKind.FREEZE and self.deployments is not None:
            why = f"policy {run.policy}: {run.payload.get('service')}"
            freeze = self.deployments.freeze(run.service, why, self.now(), f"policy:{run.policy}")
            local = {"frozen_since": freeze.since.isoformat(), "reason": freeze.reason}
        elif kind is ActionKind.CHECK_DATA and self.check_data is not None:
            local = {"verdicts": self.check_data(run.service)}
        elif kind is ActionKind.NOTIFY and self.alert is not None:
            condition = notice(run, self._why(run))
            self.alert([condition])
            local = {"notified": dict(condition.labels), "description": condition.annotations["description"]}
        if local:
            self.store.add_audit(AuditEntry(self.now(), "local", "slo-service", run.decision_key, run.id, local))
        if run.target is None:
            result = DeliveryResult(Outcome.DELIVERED, external_ref={"local": local})
            self.store.sent(replace(run, attempts=run.attempts + 1), result, RunState.SUCCEEDED, self.now())
            self.stats.count(run.action, None, "succeeded")
            return
        target = self.targets.get(run.target)
        if target is None:
            result = DeliveryResult(Outcome.FAILED, error=f"target {run.target!r} is not configured")
        else:
            payload = {**run.payload, **({"check_data": local} if local else {})}
            request = TriggerRequest(run.id, run.decision_key, run.action, run.service, run.params, payload)
            result = target.trigger(request)
        self._record(run, result, policy)

    def _why(self, run: ActionRun) -> Mapping[str, Any]:
        """The reasons of the run's decision (the newest decisions of its service are searched)."""
        found = self.store.decisions(200, run.service)
        return next((s.decision.why for s in found if s.decision.key == run.decision_key), {})

    def _record(self, run: ActionRun, result: DeliveryResult, policy: ResponsePolicy | None) -> None:
        now = self.now()
        attempts = run.attempts + 1
        if result.outcome is Outcome.DELIVERED:
            deadline = now + (self.config.timeout_of(policy) if policy else self.config.status_timeout)
            run = replace(run, attempts=attempts, report_deadline=deadline)
            self.store.sent(run, result, RunState.SENT, now)
            self.stats.count(run.action, run.target, "sent")
            log.info("action run %s (%s) sent to %s", run.id, run.action, run.target)
        elif result.outcome is Outcome.RETRY and attempts < self.config.max_attempts:
            when = self.retry.next_attempt(attempts, now, result.retry_after)
            self.store.sent(replace(run, attempts=attempts, next_attempt_at=when), result, None, now)
            self.stats.count(run.action, run.target, "retry")
        else:
            self.store.sent(replace(run, attempts=attempts), result, RunState.FAILED, now)
            self.stats.count(run.action, run.target, "failed")
            log.warning("action run %s (%s) to %s failed: %s", run.id, run.action, run.target, result.error)

    def expire_approvals(self) -> list[ActionRun]:
        """Runs nobody approved or denied within their policy's approval_timeout become expired (audited); their
        approval request alert resolves."""
        now = self.now()
        out = []
        for run, limit in overdue_approvals(self.config, self.store, now):
            assert run.id is not None
            reason = f"nobody approved or denied it within {format_duration(limit)}"
            try:
                moved = self.store.move(run.id, RunState.EXPIRED, "slo-service", now, {"reason": reason})
            except (KeyError, ValueError):  # decided meanwhile
                continue
            self.stats.count(run.action, run.target, "expired")
            log.warning("action run %s (%s) expired: %s", run.id, run.action, reason)
            self._tell(approval_decided(moved))
            out.append(moved)
        return out

    def expire(self) -> list[ActionRun]:
        """Runs CI did not report on within their time: timed_out, and the self-alert."""
        out = []
        now = self.now()
        for run in self.store.overdue(now):
            assert run.id is not None
            try:
                moved = self.store.move(run.id, RunState.TIMED_OUT, "slo-service", now, {"reason": "no report from CI"})
            except (KeyError, ValueError):  # reported meanwhile
                continue
            self.stats.count(run.action, run.target, "timed_out")
            log.warning("action run %s (%s) timed out: no report from CI", run.id, run.action)
            out.append(moved)
            if self.on_timeout is not None:
                try:
                    self.on_timeout(moved)
                except Exception:
                    log_failure(log, "the time-out alert of action run %s failed", run.id)
        return out

    # ---- the sender thread

    def wake(self) -> None:
        self._wake.set()

    def start(self, poll: float = 1.0) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, args=(poll,), name="actions", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self, poll: float) -> None:
        while not self._stop.is_set():
            self._wake.wait(poll)
            self._wake.clear()
            if self._stop.is_set() or not self.leads():
                continue
            try:
                while self.send_due():
                    pass
                self.expire()
                self.expire_approvals()
            except Exception:  # the store may be down: the next pass retries
                log_failure(log, "sending actions failed")
