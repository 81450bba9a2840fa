"""Schedules one job per source, the evaluation cycle and compaction; reschedules on config reload."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from slo_service.core.model import Config, PromQLSource, ScrapeSource
from slo_service.pipeline.cycle import Cycle
from slo_service.pipeline.drift import DriftService
from slo_service.pipeline.failures import log_failure
from slo_service.pipeline.runtime import Runtime

log = logging.getLogger(__name__)
SOURCE_JOB_PREFIX = "collect:"
DRIFT_JOB_PREFIX = "drift:"


class Jobs:
    """Owns the BackgroundScheduler; every job swallows and logs its own errors so the timer keeps going."""

    def __init__(
        self,
        runtime: Runtime,
        cycle: Cycle,
        evaluation_interval: timedelta,
        compaction_interval: timedelta,
        raw_retention: timedelta,
        retention: timedelta,
        flush_interval: timedelta = timedelta(seconds=2),
        drift: DriftService | None = None,
        checkpoint_interval: timedelta | None = None,
    ) -> None:
        self.runtime = runtime
        self.cycle = cycle
        # run after each evaluation cycle, in its job (e.g. render the SLO metrics before the next scrape)
        self.after_evaluation: list[Callable[[], None]] = []
        self.drift = drift
        self.raw_retention = raw_retention
        self.retention = retention
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(8)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            timezone=UTC,
        )
        # (job, interval, first run after start): evaluation soon, compaction once the service settled
        jobs = [
            (self.evaluate, evaluation_interval, 1),
            (self.flush, flush_interval, 2),
            (self.compact, compaction_interval, 30),
        ]
        if checkpoint_interval:  # the first soon after start: the next restart then reads few slices
            jobs.append((self.checkpoint, checkpoint_interval, 60))
        for job, every, first in jobs:
            self.scheduler.add_job(
                job,
                "interval",
                seconds=every.total_seconds(),
                id=job.__name__,
                next_run_time=datetime.now(UTC) + timedelta(seconds=first),
            )
        self.sync(runtime.config)
        runtime.listeners.append(self.sync)

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def sync(self, config: Config) -> None:
        """Make the per-source jobs match the config: add new, reschedule changed, drop removed."""
        wanted = {}
        for source in config.sources.values():
            if isinstance(source, ScrapeSource | PromQLSource):
                wanted[SOURCE_JOB_PREFIX + source.name] = source
        for job in self.scheduler.get_jobs():
            if job.id.startswith(SOURCE_JOB_PREFIX) and job.id not in wanted:
                job.remove()
        for job_id, source in wanted.items():
            self.scheduler.add_job(
                self.collect,
                "interval",
                seconds=source.interval.total_seconds(),
                id=job_id,
                args=[source.name],
                replace_existing=True,
                next_run_time=datetime.now(UTC),
            )
        for job in self.scheduler.get_jobs():
            if job.id.startswith(DRIFT_JOB_PREFIX) and job.id.removeprefix(DRIFT_JOB_PREFIX) not in config.monitors:
                job.remove()
        if self.drift is not None:
            for name, monitor in config.monitors.items():
                trigger: Any
                if monitor.cron:
                    trigger = CronTrigger.from_crontab(monitor.cron, timezone=UTC)
                else:
                    assert monitor.interval is not None
                    trigger = IntervalTrigger(seconds=monitor.interval.total_seconds(), timezone=UTC)
                self.scheduler.add_job(
                    self.run_monitor, trigger, args=[name], id=DRIFT_JOB_PREFIX + name, replace_existing=True
                )
        for source, slo in self.runtime.slos_needing_backfill():
            self.scheduler.add_job(
                self.backfill, "date", args=[source, slo], id=f"backfill:{slo.key}", replace_existing=True
            )

    def collect(self, source_name: str) -> None:
        try:
            outcome = asyncio.run(self.runtime.collect(source_name))
            if outcome is not None and not outcome.health.up:
                log.warning("collection from %s failed: %s", source_name, outcome.health.error)
        except Exception:
            log_failure(log, "collection job for %s failed", source_name)

    def backfill(self, source: PromQLSource, slo: object) -> None:
        try:
            asyncio.run(self.runtime.backfill(source, slo))  # type: ignore[arg-type]
        except Exception:
            log_failure(log, "backfill of %s failed", getattr(slo, "key", slo))

    def run_monitor(self, name: str) -> None:
        """One scheduled drift run; the DriftService stores failures itself and never raises."""
        monitor = self.runtime.config.monitors.get(name)
        if self.drift is not None and monitor is not None:
            run = self.drift.run_monitor(monitor)
            if run.status != "ok":
                log.warning("drift run of %s failed: %s", name, run.reason)

    def evaluate(self) -> None:
        try:
            report = self.cycle.run()
            log.debug(
                "cycle: %d SLOs evaluated in %.3fs, %d delivery lanes woken",
                len(report.evaluation.statuses),
                report.duration_seconds,
                report.delivered,
            )
        except Exception:
            log_failure(log, "evaluation failed")
        for hook in self.after_evaluation:
            try:
                hook()
            except Exception:
                log_failure(log, "after-evaluation step failed")

    def flush(self) -> None:
        try:
            self.cycle.flush()
        except Exception:
            log_failure(log, "notification flush failed")

    def checkpoint(self) -> None:
        try:
            if not self.runtime.history.save_checkpoint(self.runtime.clock.now()):
                log.info("matrix checkpoint skipped: writes wait for the database")
        except Exception:
            log_failure(log, "matrix checkpoint failed", traceback=False)

    def compact(self) -> None:
        try:
            now = self.runtime.clock.now()
            result = self.runtime.store.compact(now, self.raw_retention, self.retention)
            log.info("compaction: rolled up %d slices, deleted %d", result.rolled_up, result.deleted)
            if self.cycle.alerting is not None:
                pruned = self.cycle.alerting.store.prune(now - self.retention)
                log.info("alert retention: deleted %d old alerts, messages, silences", pruned)
            if self.drift is not None:
                files = self.drift.store.prune(now - self.retention)
                for path in files:  # old HTML reports and pushed batches
                    Path(path).unlink(missing_ok=True)
                log.info("drift retention: deleted %d old report and batch files", len(files))
        except Exception:
            log_failure(log, "compaction failed")
