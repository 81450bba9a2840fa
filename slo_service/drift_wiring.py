"""Composition of the drift monitors: SQL store, readers, the Evidently worker pool, the DriftService.

Kept beside wiring.py (the composition root) because it is the one place that joins the drift
pipeline to its adapters: the worker pool (spawned processes, Evidently imported only there), the
file / SQL / push readers and the batch writer.
"""

from __future__ import annotations

import logging
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from slo_service.adapters.drift.readers import BatchWriter, FileReader, PushReader, SqlReader
from slo_service.adapters.drift.worker import ColumnMapping, DriftJob, DriftOutcome, DriftWorkerPool
from slo_service.adapters.sql.drift_store import SqlDriftStore
from slo_service.core.clock import Clock
from slo_service.core.drift.monitor import CurrentData, CurrentKind, DriftMonitor, DriftRun
from slo_service.core.drift.ports import FrameReader, StoredBatch
from slo_service.core.drift.sli import observations_for
from slo_service.core.model import Config
from slo_service.pipeline.alerting import AlertingService
from slo_service.pipeline.drift import DriftJobSpec, DriftService, SubmitDrift
from slo_service.pipeline.drift_live import LiveDrift
from slo_service.pipeline.failures import log_failure
from slo_service.pipeline.history import to_increments
from slo_service.pipeline.runtime import Runtime

log = logging.getLogger(__name__)


def pool_submit(pool: DriftWorkerPool) -> SubmitDrift:
    """Adapt DriftWorkerPool.submit to the pipeline's contract: samples become DataFrames."""

    def side(data: Any) -> Any:
        import pandas as pd  # here, not at import: pandas and pyarrow are ~0.4 s of a start-up

        return data if isinstance(data, str) else pd.DataFrame(dict(data))

    def submit(spec: DriftJobSpec, timeout_s: float) -> DriftOutcome:
        mapping = ColumnMapping(**{f.name: getattr(spec.columns, f.name) for f in fields(ColumnMapping)})
        job = DriftJob(
            reference=side(spec.reference),
            current=side(spec.current),
            columns=mapping,
            sample_rows=spec.sample_rows,
            seed=spec.seed,
            stattests=dict(spec.stattests),
            thresholds=dict(spec.thresholds),
            drift_share=spec.drift_share,
            report_path=spec.report_path,
            findings=list(spec.findings),
        )
        return pool.submit(job, timeout_s)

    return submit


def build_drift(
    engine: Engine,
    clock: Clock,
    runtime: Runtime,
    alerting: AlertingService,
    data_dir: Path,
    pool: DriftWorkerPool,
) -> DriftService:
    """The DriftService of a running process; each run feeds drift SLIs and drift alerts."""
    store = SqlDriftStore(engine, clock=clock)
    files, sql = FileReader(), SqlReader()
    writer = BatchWriter(data_dir / "batches", clock=clock)

    def reader(monitor: str, source: CurrentData, labels: bool) -> FrameReader:
        if source.kind is CurrentKind.PUSH:
            return PushReader(store, monitor, labels=labels)
        return sql if source.kind is CurrentKind.SQL else files

    # Several replicas (PostgreSQL) need not share a disk: the database keeps each batch's bytes too, so the
    # leader's run reads a batch pushed to another replica.
    keep_bytes = engine.dialect.name == "postgresql"

    def write_batch(monitor: DriftMonitor, frame: Any, at: datetime) -> StoredBatch:
        data = frame.to_parquet(index=False)
        batch = writer.write(monitor.name, data, at)
        return replace(batch, content=data) if keep_bytes else batch

    def on_run(run: DriftRun) -> None:
        config: Config = runtime.config
        observations = observations_for(run, config.slos)
        if observations:
            runtime.history.record(to_increments(observations))
        try:
            alerting.drift_runs(list(drift.latest().values()), config, clock.now())
        except Exception:  # alerting must not lose the run; the next run re-derives the alerts
            log_failure(log, "drift alerting failed")

    drift = DriftService(
        store,
        reader,
        pool_submit(pool),
        clock.now,
        report_dir=data_dir / "reports",
        on_run=on_run,
        monitors=lambda: runtime.config.monitors,
        write_batch=write_batch,
    )
    drift.live = LiveDrift(store, clock.now)
    return drift
