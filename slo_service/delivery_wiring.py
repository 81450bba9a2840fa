"""Composition of the delivery pipeline (deployments, freezes, quality gates): the SQL store, the services,
their /metrics families and what runs after each evaluation. Kept beside wiring.py, like drift_wiring.py."""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from slo_service.adapters.sql.deployment_store import SqlDeploymentStore
from slo_service.core.clock import Clock
from slo_service.exporter.deployments import DeploymentCollector
from slo_service.pipeline.deployments import DeliveryPipeline, DeploymentService
from slo_service.pipeline.drift import DriftService
from slo_service.pipeline.failures import log_failure
from slo_service.pipeline.gates import GateService, live_counts
from slo_service.pipeline.runtime import Runtime
from slo_service.settings import Settings

log = logging.getLogger(__name__)


def build_delivery(
    settings: Settings, engine: Engine, clock: Clock, runtime: Runtime, drift: DriftService | None
) -> DeliveryPipeline:
    store = SqlDeploymentStore(engine, clock)
    deployments = DeploymentService(store, clock, auto_freeze=settings.budget_freeze)
    counts = live_counts(runtime.history)
    gates = GateService(store, counts, drift.store if drift else None, lambda: runtime.config, clock)
    return DeliveryPipeline(deployments, gates, settings.ci_secret_value())


def after_evaluation(delivery: DeliveryPipeline, runtime: Runtime, leads: Callable[[], bool]) -> Callable[[], None]:
    """The hook run after each evaluation: every replica re-reads what /metrics shows of deployments; the
    leader applies the error-budget freeze and answers the gates whose window has passed."""

    def hook() -> None:
        try:
            delivery.deployments.refresh()
        except Exception:
            log_failure(log, "reading deployments for /metrics failed")
        if not leads():
            return
        try:
            services = {s.key: s.service for s in runtime.config.slos}
            delivery.deployments.apply_budgets(runtime.statuses.values(), services)
        except Exception:
            log_failure(log, "applying the error-budget freeze failed")
        try:
            delivery.gates.evaluate_due()
        except Exception:
            log_failure(log, "evaluating due quality gates failed")

    return hook


def register_delivery_metrics(registry: CollectorRegistry, delivery: DeliveryPipeline) -> None:
    registry.register(DeploymentCollector(delivery.deployments.metrics))
