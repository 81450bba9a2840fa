"""The flow, written down once: evaluate → alert → route → notify, and act (collection runs on its own timers).

    sources ──collect──▶ history ──evaluate──▶ SLO status ──alert──▶ alert state ──route──▶ outbox ──notify──▶ receivers

Collection jobs (one per source, pipeline/collect.py) feed the history continuously; every evaluation
interval the scheduler calls `Cycle.run()`, which computes every SLO's status (pipeline/evaluate.py),
turns it into alerts and routed notifications (pipeline/alerting.py) and wakes the delivery lanes
(pipeline/delivery.py, one per receiver) right away, so a page leaves within the same cycle that
crossed the threshold, and no receiver waits for another. The leader then runs the response policies
(pipeline/actions.py) over the same evaluation; their sender thread triggers CI.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from slo_service.pipeline.actions import ActionService
from slo_service.pipeline.alerting import AlertingService, CycleResult
from slo_service.pipeline.delivery import DeliveryWorker
from slo_service.pipeline.evaluate import EvaluationResult
from slo_service.pipeline.failures import log_failure
from slo_service.pipeline.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CycleReport:
    evaluation: EvaluationResult
    alerting: CycleResult | None
    delivered: int  # DeliveryWorker.run_once: attempts made, or lanes started when it does not wait
    duration_seconds: float


class Cycle:
    """One evaluation cycle of the whole service."""

    def __init__(self, runtime: Runtime, alerting: AlertingService | None, worker: DeliveryWorker | None) -> None:
        self.runtime = runtime
        self.alerting = alerting
        self.worker = worker
        self.actions: ActionService | None = None  # response policies: the leader decides after alerting

    def run(self, lead: bool = True) -> CycleReport:
        """`lead=False` (a replica that does not lead): statuses for reads and delivery only; alert
        transitions and routing are the leader's, and this replica loads the alert state the leader stored
        (its alert gauges and notification groups stay current)."""
        started = time.perf_counter()
        evaluation = self.runtime.evaluate(lead=lead)
        alerting = None
        if self.alerting is not None and lead:
            health, down_since = self.runtime.health()
            try:
                alerting = self.alerting.cycle(
                    self.runtime.config, evaluation.statuses, health, down_since, evaluation.evaluated_at
                )
            except Exception:  # the store may be down: the next cycle re-derives the same alerts
                log_failure(log, "alerting step failed")
            self.act(evaluation)
        elif self.alerting is not None:
            try:
                self.alerting.refresh()
            except Exception:
                log_failure(log, "loading the leader's alert state failed")
        delivered = self.deliver()
        return CycleReport(evaluation, alerting, delivered, time.perf_counter() - started)

    def act(self, evaluation: EvaluationResult) -> None:
        """The leader: response policies over this evaluation (decisions are stored once per key, so a cycle
        that repeats one after a failure decides nothing twice); the sender thread is woken for new runs."""
        if self.actions is None or self.alerting is None:
            return
        try:
            self.actions.evaluate(self.runtime.config, evaluation.statuses, self.alerting.book.active())
        except Exception:
            log_failure(log, "response policies step failed")

    def deliver(self) -> int:
        if self.worker is None:
            return 0
        try:
            return self.worker.run_once()
        except Exception:
            log_failure(log, "delivery step failed")
            return 0

    def flush(self, lead: bool = True) -> int:
        """Between evaluations: flush routing groups that became due (the leader) and deliver retries (any
        replica: the outbox is claimed with leases)."""
        if self.alerting is not None and lead:
            try:
                self.alerting.tick(self.runtime.clock.now())
            except Exception:
                log_failure(log, "routing tick failed")
        return self.deliver()
