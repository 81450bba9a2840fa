"""Policy matching: which ordered policy decides for each subject found in one evaluation, and why.

A subject is one episode of something a policy reacts to: a firing burn-rate alert (its fingerprint and
start), a drift streak (its first run), a quality run, a budget (per deployment of the service), a gate.
The decision's idempotency key hashes the policy, the subject and the episode, so every later evaluation
that sees the same episode derives the same key and the store lets it through once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slo_service.core.actions.facts import (
    BurnEpisode,
    Facts,
    MonitorFact,
    deployment_why,
    iso,
)
from slo_service.core.actions.policy import ActionKind, ResponsePolicy, ResponsesConfig
from slo_service.core.deployments import Deployment, previous_good


@dataclass(frozen=True)
class Decision:
    """A policy matched a subject: what to do, for whom, and why (stored and shown as is)."""

    key: str  # idempotency key: one decision per policy, subject and episode
    policy: str
    action: str  # ResponsePolicy.action_name
    kind: ActionKind
    service: str
    subject: str  # an SLO key, a monitor, or a gate
    episode: str
    target: str | None
    decided_at: datetime
    why: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)  # what the target receives (besides params)


def decision_key(policy: str, subject: str, episode: str) -> str:
    """The idempotency key of a decision (stable across evaluations, restarts and replicas)."""
    return hashlib.sha256(f"{policy}\x00{subject}\x00{episode}".encode()).hexdigest()[:32]


def _slo_matches(wanted: str | None, service: str, slo: str) -> bool:
    return wanted is None or wanted in (slo, f"{service}/{slo}")


def attributed_deployment(
    deployments: Sequence[Deployment], started_at: datetime, policy: ResponsePolicy
) -> Deployment | None:
    """The newest deployment at or before the burn's start, when the burn began within `after_deploy` of it."""
    before = [d for d in deployments if d.at <= started_at]
    if not before:
        return None
    last = max(before, key=lambda d: d.at)
    window = policy.when.after_deploy
    if window is not None and started_at - last.at > window:
        return None
    return last


def streak(monitor: MonitorFact) -> int:
    """How many of the newest runs in a row found drift."""
    n = 0
    for run in monitor.runs:
        if run.drift_found is not True:
            break
        n += 1
    return n


class Matcher:
    """Runs the ordered policies over one evaluation's facts."""

    def __init__(self, config: ResponsesConfig) -> None:
        self.config = config

    def decide(self, facts: Facts, now: datetime) -> list[Decision]:
        """Every decision the policies make on `facts` (before the guards: idempotency, cooldown, ...)."""
        out: list[Decision] = []
        for subject in self._subjects(facts):
            for policy in self.config.policies:
                decision = self._match(policy, subject, facts, now)
                if decision is None:
                    continue
                out.append(decision)
                if not policy.continue_:
                    break
        return out

    # ---- subjects: (trigger, service, subject, episode, facts about it)

    def _subjects(self, facts: Facts) -> Iterator[tuple[str, str, str, str, Any]]:
        for burn in facts.burns:
            yield "burn", burn.service, burn.slo_key, burn.episode, burn
        for monitor in facts.monitors:
            if monitor.runs:
                yield "drift", monitor.service or "", monitor.monitor, "", monitor
        for budget in facts.budgets:
            deploys = facts.deployments.get(budget.service, ())
            episode = f"budget@{deploys[-1].id}" if deploys else "budget"
            yield "budget", budget.service, budget.slo_key, episode, budget
        for gate in facts.gates:
            yield "gate", gate.service, gate.id, gate.id, gate

    def _match(
        self, policy: ResponsePolicy, subject: tuple[str, str, str, str, Any], facts: Facts, now: datetime
    ) -> Decision | None:
        trigger, service, name, episode, fact = subject
        when = policy.when
        if when.trigger != trigger and not (trigger == "drift" and when.trigger == "quality"):
            return None
        if when.service is not None and when.service != service:
            return None
        why: dict[str, Any] = {"policy": policy.name, "trigger": trigger}
        payload: dict[str, Any] = {"service": service}
        deploys = facts.deployments.get(service, ())
        if trigger == "burn":
            assert isinstance(fact, BurnEpisode)
            if not _slo_matches(when.slo, fact.service, fact.slo):
                return None
            if when.burn_severity is not None and fact.severity != when.burn_severity:
                return None
            why["burn"] = fact.why()
            deployment = attributed_deployment(deploys, fact.started_at, policy)
            if when.after_deploy is not None:
                if deployment is None:
                    return None
                why["attributed_to"] = deployment_why(deployment)
                why["after_deploy_minutes"] = round((fact.started_at - deployment.at).total_seconds() / 60, 1)
            if not self._budget_holds(policy, facts, service, fact.slo_key, fact.budget_remaining, why):
                return None
            if deployment is not None:
                payload["deployment"] = deployment_why(deployment)
        elif trigger == "drift":
            assert isinstance(fact, MonitorFact)
            if when.drift is not None:
                if when.drift.monitor != fact.monitor or streak(fact) < when.drift.consecutive:
                    return None
                runs = list(fact.runs[: when.drift.consecutive])
                # The streak's first run names the episode: a run that lengthens the streak is the same one.
                episode = f"streak@{fact.runs[streak(fact) - 1].id}"
                self._drift_why(why, payload, fact, runs)
            if when.quality is not None:
                if when.quality.monitor != fact.monitor:
                    return None
                newest = fact.runs[0]
                value = newest.quality.get(when.quality.metric)
                if value is None or not value < when.quality.below:
                    return None
                why["quality"] = {"monitor": fact.monitor, "metric": when.quality.metric, "value": value}
                why["quality"]["threshold"] = when.quality.below
                episode = episode or f"quality@{newest.id}"
                if when.drift is None:
                    self._drift_why(why, payload, fact, [newest])
            if not self._budget_holds(policy, facts, service, None, None, why):
                return None
        elif trigger == "budget":
            if not _slo_matches(when.slo, fact.service, fact.slo):
                return None
            if not self._budget_holds(policy, facts, service, fact.slo_key, fact.remaining, why):
                return None
        else:
            if fact.result != "fail" or not when.gate_failed:
                return None
            why["gate"] = {"id": fact.id, "result": fact.result, "at": iso(fact.at), "deployment": fact.deployment_id}
        if when.gate_failed and trigger != "gate" and not self._gate_failed(facts, service, why):
            return None
        if policy.action is ActionKind.ROLLBACK and not self._rollback_payload(deploys, payload, why):
            return None
        payload.update({"action": policy.action_name, "policy": policy.name})
        key = decision_key(policy.name, name, episode)
        return Decision(
            key,
            policy.name,
            policy.action_name,
            policy.action,
            service,
            name,
            episode,
            policy.target,
            now,
            why,
            payload,
        )

    @staticmethod
    def _drift_why(why: dict[str, Any], payload: dict[str, Any], monitor: MonitorFact, runs: list[Any]) -> None:
        starts = [r.window_start for r in runs if r.window_start is not None]
        ends = [r.window_end or r.finished_at for r in runs]
        summary = {
            "monitor": monitor.monitor,
            "runs": [r.why() for r in runs],
            "consecutive": len(runs),
            "drifted_columns": sorted({c for r in runs for c in r.drifted_columns}),
        }
        window = {"start": iso(min(starts)) if starts else None, "end": iso(max(ends)) if ends else None}
        why["drift"] = summary
        payload.update({"monitor": monitor.monitor, "drift_summary": summary, "data_window": window})

    def _budget_holds(
        self,
        policy: ResponsePolicy,
        facts: Facts,
        service: str,
        slo_key: str | None,
        remaining: float | None,
        why: dict[str, Any],
    ) -> bool:
        when = policy.when
        if when.budget_below is None and not when.budget_exhausted:
            return True
        candidates = [remaining] if slo_key is not None and remaining is not None else []
        if not candidates:
            candidates = [
                b.remaining
                for b in facts.budgets
                if b.service == service and (slo_key is None or b.slo_key == slo_key) and b.remaining is not None
            ]
        if not candidates:
            return False
        lowest = min(candidates)
        if when.budget_exhausted and lowest > 0:
            return False
        if when.budget_below is not None and not lowest < when.budget_below:
            return False
        why["budget"] = {"slo": slo_key, "remaining": lowest, "below": when.budget_below}
        why["budget"]["exhausted"] = lowest <= 0
        return True

    @staticmethod
    def _gate_failed(facts: Facts, service: str, why: dict[str, Any]) -> bool:
        gates = sorted((g for g in facts.gates if g.service == service), key=lambda g: g.at)
        if not gates or gates[-1].result != "fail":
            return False
        why["gate"] = {"id": gates[-1].id, "result": "fail", "at": iso(gates[-1].at)}
        return True

    @staticmethod
    def _rollback_payload(deploys: Sequence[Deployment], payload: dict[str, Any], why: dict[str, Any]) -> bool:
        """Roll back from the attributed (else the newest) deployment to the previous good version."""
        if not deploys:
            why["skipped"] = "no deployment history for a rollback"
            return False
        current_id = payload.get("deployment", {}).get("id")
        current = next((d for d in deploys if d.id == current_id), None) or max(deploys, key=lambda d: d.at)
        target = previous_good(deploys, current.service, current.environment, current.version)
        if target is None:
            return False
        payload["deployment"] = deployment_why(current)
        payload["rollback_to"] = deployment_why(target)
        payload.update({"environment": current.environment, "from_version": current.version})
        payload["to_version"] = target.version
        why["rollback"] = {"from": current.version, "to": target.version, "environment": current.environment}
        return True
