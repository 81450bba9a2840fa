"""Data drift monitoring with Evidently 0.7, run in a worker process (the service never imports Evidently)."""

from slo_service.adapters.drift.worker import ColumnMapping, ColumnResult, DriftJob, DriftOutcome, DriftWorkerPool

__all__ = ["ColumnMapping", "ColumnResult", "DriftJob", "DriftOutcome", "DriftWorkerPool"]
