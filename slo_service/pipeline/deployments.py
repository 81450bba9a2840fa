"""Deployments from CI and deploy freezes: record, list, "may this service deploy?", and the error-budget
freeze applied after each evaluation. What /metrics shows of deployments is kept here, current."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from slo_service.core.ci_signature import REPLAY_WINDOW
from slo_service.core.clock import Clock
from slo_service.core.deployments import (
    AUTO_FREEZE_BY,
    POLICY_BY_PREFIX,
    Deployment,
    DeploymentMetrics,
    DeploymentStore,
    Freeze,
    budget_freeze_decisions,
)
from slo_service.core.slo_math import SLOStatus
from slo_service.pipeline.gates import GateService

log = logging.getLogger(__name__)


class DeploymentService:
    """The use cases of deployments and freezes over a DeploymentStore. `auto_freeze`: an exhausted error
    budget of any SLO of a service freezes its deploys, and recovery lifts that freeze."""

    def __init__(self, store: DeploymentStore, clock: Clock, auto_freeze: bool = False) -> None:
        self.store = store
        self.clock = clock
        self.auto_freeze = auto_freeze
        self._lock = threading.Lock()
        self._metrics: DeploymentMetrics | None = None

    def record(
        self,
        service: str,
        environment: str,
        version: str,
        model_version: str | None = None,
        commit: str | None = None,
        pipeline_url: str | None = None,
        at: datetime | None = None,
        status: str = "succeeded",
    ) -> Deployment:
        """Store a deployment (at: now by default) and show it on /metrics at once."""
        d = Deployment(
            id=uuid.uuid4().hex,
            service=service,
            environment=environment,
            version=version,
            model_version=model_version,
            commit=commit,
            pipeline_url=pipeline_url,
            at=at or self.clock.now(),
            status=status,
        )
        self.store.record(d)
        with self._lock:
            if self._metrics is not None:
                target = (d.service, d.environment)
                self._metrics.counts[target] = self._metrics.counts.get(target, 0) + 1
                latest = self._metrics.latest.get(target)
                if latest is None or (d.at, d.id) >= (latest.at, latest.id):
                    self._metrics.latest[target] = d
        log.info("deployment %s of %s %s to %s recorded", d.id, service, version, environment)
        return d

    def accept_signature(self, signature: str) -> bool:
        """False if this signature was accepted before within the replay window (a replay)."""
        now = self.clock.now()
        return self.store.remember_signature(signature.strip().lower(), now, now - REPLAY_WINDOW)

    def metrics(self) -> DeploymentMetrics:
        """The exporter's view, read from the store on first use and after each evaluation (`refresh`)."""
        with self._lock:
            current = self._metrics
        if current is None:
            current = self.refresh()
        return current

    def refresh(self) -> DeploymentMetrics:
        """Read counts and latest deployments again: other replicas may have recorded some."""
        fresh = DeploymentMetrics(
            self.store.counts(), {(d.service, d.environment): d for d in self.store.latest_per_target()}
        )
        with self._lock:
            self._metrics = fresh
        return fresh

    def deploy_allowed(self, service: str) -> Freeze | None:
        """The active freeze of `service`, or None when it may deploy."""
        return self.store.active_freeze(service)

    def freeze(self, service: str, reason: str, by: str) -> Freeze:
        """A person freezes `service`. A freeze a policy made is taken over (lifted, then frozen by `by`), so it
        is no longer lifted automatically; a person's freeze already there is kept."""
        now = self.clock.now()
        active = self.store.active_freeze(service)
        if active is not None and active.by.startswith(POLICY_BY_PREFIX) and not by.startswith(POLICY_BY_PREFIX):
            self.store.lift(service, now, by)
        return self.store.freeze(service, reason, now, by)

    def lift(self, service: str, by: str) -> Freeze | None:
        return self.store.lift(service, self.clock.now(), by)

    def apply_budgets(self, statuses: Iterable[SLOStatus], services: dict[str, str]) -> list[str]:
        """With auto_freeze: freeze services with an exhausted budget, lift error-budget freezes of those that
        recovered. `services`: SLO key -> service. Returns what changed, for the log."""
        if not self.auto_freeze:
            return []
        remaining = [(services[s.key], s.key, s.budget.remaining_ratio) for s in statuses if s.key in services]
        changes = []
        for decision in budget_freeze_decisions(remaining, self.store.active_freezes()):
            now = self.clock.now()
            if decision.freeze:
                self.store.freeze(decision.service, decision.reason, now, AUTO_FREEZE_BY)
            else:
                self.store.lift(decision.service, now, AUTO_FREEZE_BY)
            verb = "frozen" if decision.freeze else "unfrozen"
            changes.append(f"{decision.service} {verb}: {decision.reason}")
            log.warning("deploys of %s %s: %s", decision.service, verb, decision.reason)
        return changes


@dataclass(frozen=True)
class DeliveryPipeline:
    """What the API and the jobs hold of the delivery pipeline: deployments and freezes, gates, and the CI
    signing secret (None: CI authenticates with tokens only)."""

    deployments: DeploymentService
    gates: GateService
    ci_secret: str | None = None
