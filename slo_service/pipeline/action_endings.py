"""What ends what the response policies started: a policy's freeze lifted once its condition cleared and no budget
is exhausted, a rollback's deployment marked rolled_back when CI reports success, approvals that expire. The
ActionService (pipeline/actions.py) calls these; each is one store step and audited."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from slo_service.core.actions.facts import Facts
from slo_service.core.actions.matching import Matcher
from slo_service.core.actions.policy import ActionKind, ResponsesConfig
from slo_service.core.actions.ports import ActionStore, AuditEntry
from slo_service.core.actions.runs import ActionRun, RunState
from slo_service.core.deployments import ROLLED_BACK, DeploymentStore, policy_freeze_lifts

log = logging.getLogger(__name__)

Remaining = list[tuple[str, str, float | None]]
"""(service, SLO key, error budget remaining) of every SLO, as the last evaluation saw them."""


def holding(
    config: ResponsesConfig, facts: Facts, kinds: Iterable[ActionKind], now: datetime, frozen: Callable[[], list[str]]
) -> set[tuple[str, str]]:
    """(policy, service) of every policy of these kinds whose conditions hold in `facts`, each policy judged
    alone (an earlier policy deciding for the subject does not hide that a later one's condition holds).
    A gate policy's condition is the service's newest gate: without gate facts it still holds (for the
    services `frozen` returns)."""
    wanted = set(kinds)
    out: set[tuple[str, str]] = set()
    for policy in config.policies:
        if policy.action not in wanted:
            continue
        if policy.when.trigger == "gate" and not facts.gates:
            out.update((policy.name, s) for s in frozen())
            continue
        alone = Matcher(replace(config, policies=(policy,)))
        out.update((d.policy, d.service) for d in alone.decide(facts, now))
    return out


def lift_policy_freezes(
    deployments: DeploymentStore,
    audit: ActionStore,
    policies: list[str],
    held: set[tuple[str, str]],
    remaining: Remaining,
    now: datetime,
    only: str | None = None,
) -> list[str]:
    """Lift the freezes `policies` made whose condition does not hold (`held`) when no budget of the service is
    exhausted (policy_freeze_lifts), audited as `unfreeze`; `only`: of that service alone. The services lifted."""
    lifted: list[str] = []
    active = deployments.active_freezes()
    for lift in policy_freeze_lifts(active, remaining, policies, held):
        if only is not None and lift.service != only:
            continue
        before = next(f for f in active if f.service == lift.service)
        if deployments.lift(lift.service, now, before.by) is None:  # a person lifted it meanwhile
            continue
        detail = {"service": lift.service, "reason": lift.reason, "frozen_since": before.since.isoformat()}
        audit.add_audit(AuditEntry(now, "unfreeze", before.by, None, None, detail))
        log.warning("deploys of %s unfrozen: %s", lift.service, lift.reason)
        lifted.append(lift.service)
    return lifted


def mark_rolled_back(run: ActionRun, deployments: DeploymentStore, audit: ActionStore, now: datetime) -> None:
    """A rollback run succeeded: the deployment it rolled back becomes rolled_back (never a previous good one)."""
    deployment = run.payload.get("deployment")
    if not isinstance(deployment, Mapping) or not isinstance(deployment.get("id"), str):
        return
    deployment_id = str(deployment["id"])
    if deployments.mark(deployment_id, ROLLED_BACK) is None:
        return
    detail = {"deployment": deployment_id, "status": ROLLED_BACK, "version": deployment.get("version")}
    audit.add_audit(AuditEntry(now, "local", "slo-service", run.decision_key, run.id, detail))
    log.info("deployment %s marked rolled_back: rollback run %s succeeded", deployment_id, run.id)


def overdue_approvals(config: ResponsesConfig, store: ActionStore, now: datetime) -> list[tuple[ActionRun, timedelta]]:
    """Runs waiting for approval longer than their policy's approval_timeout, each with that timeout."""
    timeouts = {p.name: p.approval_timeout for p in config.policies if p.approval_timeout is not None}
    if not timeouts:
        return []
    out = []
    for run in store.runs(1000, RunState.PENDING_APPROVAL.value):
        limit = timeouts.get(run.policy)
        if limit is not None and run.id is not None and now - run.created_at >= limit:
            out.append((run, limit))
    return out
