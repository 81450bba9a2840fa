"""Wire the response actions of a running process: the SQL stores, the targets of the config, check-data
through the drift monitors, the time-out self-alert, and leadership (only the leader acts)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from slo_service.adapters.sql.action_store import SqlActionStore
from slo_service.adapters.sql.deployment_store import SqlDeploymentStore
from slo_service.adapters.targets import build_targets
from slo_service.core.actions.runs import ActionRun
from slo_service.core.alerting.conditions import AlertCondition
from slo_service.core.clock import Clock
from slo_service.core.model import Config
from slo_service.pipeline.actions import ActionService
from slo_service.pipeline.alerting import AlertingService
from slo_service.pipeline.drift import DriftService

log = logging.getLogger(__name__)

TIMED_OUT_ALERT = "SLOServiceActionTimedOut"


def build_actions(
    engine: Engine, clock: Clock, alerting: AlertingService, drift: DriftService, leads: Callable[[], bool]
) -> ActionService:
    """The ActionService of a running process (not started: `start()` runs its sender thread)."""

    def check_data(service: str) -> list[dict[str, Any]]:
        """Run the service's data monitors (label service=...) now; their verdicts."""
        out = []
        for monitor in drift.monitors().values():
            if monitor.labels.get("service") != service:
                continue
            run = drift.run_monitor(monitor)
            out.append(
                {
                    "monitor": monitor.name,
                    "run_id": run.id,
                    "status": run.status.value,
                    "drift_found": run.drift_found,
                    "drifted_share": run.drifted_share,
                    "data_quality": list(run.data_quality),
                    "schema_problems": list(run.schema_problems),
                }
            )
        return out

    actions = ActionService(SqlActionStore(engine, clock), clock.now, SqlDeploymentStore(engine, clock), check_data)
    actions.drift_store = drift.store
    actions.leads = leads

    def timed_out(run: ActionRun) -> None:
        labels = {
            "alertname": TIMED_OUT_ALERT,
            "severity": "ticket",
            "service": run.service,
            "action": run.action,
            "action_run": str(run.id),
        }
        summary = f"{run.action} run {run.id} for {run.service} got no report from CI in time"
        description = f"sent to {run.target} at {run.sent_at}; see GET /api/v1/actions/{run.id}"
        condition = AlertCondition(labels, {"summary": summary, "description": description}, True, {})
        alerting.receive_external([condition], clock.now())

    actions.on_timeout = timed_out

    def alert(conditions: list[AlertCondition]) -> None:
        """notify and approval requests: our alerts join the routing like any alert (raised and resolved); an
        approval taken on a replica that does not lead is applied by the leader."""
        alerting.receive_external_json(conditions, clock.now())

    actions.alert = alert
    return actions


def use_config(actions: ActionService, config: Config) -> None:
    """Apply a (re)loaded config's response policies and targets."""
    responses = config.responses
    actions.apply(responses, build_targets(responses.targets) if responses is not None else {})
