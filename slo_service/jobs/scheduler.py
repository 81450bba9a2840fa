"""Schedules one job per source, the evaluation cycle and compaction; reschedules on config reload.

With several replicas on one PostgreSQL, every replica runs every job, and the jobs that must run once
(collection, alert transitions and routing, drift runs, compaction, backfill) return at once unless
`Leadership.check()` says this replica leads. Evaluation for reads, the change-log tail and delivery (leased)
run on every replica, and so does the config generation check (a reload on one replica reaches all).
The leader also applies, every `ACTION_POLL`, the operator actions replicas that do not lead stored for it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from slo_service.core.leadership import Leadership, SingleProcessLock
from slo_service.core.model import Config, PromQLSource, ScrapeSource
from slo_service.pipeline.cycle import Cycle
from slo_service.pipeline.drift import DriftService
from slo_service.pipeline.failures import log_failure
from slo_service.pipeline.reloads import ReloadBroadcast, poll_quietly
from slo_service.pipeline.runtime import Runtime
from slo_service.pipeline.tail import ChangeTail

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., None])
SOURCE_JOB_PREFIX = "collect:"
DRIFT_JOB_PREFIX = "drift:"
FAILURE_REMINDER_SECONDS = 300.0
"""A source that keeps failing with the same error is logged again at most this often."""
ACTION_POLL = timedelta(milliseconds=500)
"""How often the leader looks for operator actions other replicas stored (their callers wait for it)."""
COLLECT_THREADS = 32
"""Threads for collection jobs, apart from the evaluation's: a source that hangs until its timeout holds one
thread, and must not delay the other sources or the evaluation."""


@dataclass
class _Failing:
    error: str
    failures: int
    logged_at: float


def tracked(job: F) -> F:
    """A job method that counts as running work for `Jobs.shutdown` (and does not start once it began)."""

    @functools.wraps(job)
    def run(self: Jobs, *args: Any) -> None:
        with self._activity:
            if self._stopping:
                return
            self._running[job.__name__] = self._running.get(job.__name__, 0) + 1
        try:
            job(self, *args)
        finally:
            with self._activity:
                self._running[job.__name__] -= 1
                if not self._running[job.__name__]:
                    del self._running[job.__name__]
                self._activity.notify_all()

    return run  # type: ignore[return-value]


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
        leadership: Leadership | None = None,
        tail: ChangeTail | None = None,
        reloads: ReloadBroadcast | None = None,
        checkpoint_interval: timedelta | None = None,
    ) -> None:
        self.runtime = runtime
        self.cycle = cycle
        # run after each evaluation cycle, in its job (e.g. render the SLO metrics before the next scrape)
        self.after_evaluation: list[Callable[[], None]] = []
        self.drift = drift
        self.tail = tail
        self.reloads = reloads
        self.leadership = leadership or Leadership(
            SingleProcessLock(), "single", runtime.clock, evaluation_interval, on_elected=self.take_over
        )
        if leadership is not None and leadership.on_elected is None:
            leadership.on_elected = self.take_over
        self.raw_retention = raw_retention
        self.retention = retention
        self._activity = threading.Condition()
        self._running: dict[str, int] = {}  # job name -> runs in progress
        self._stopping = False
        self._failing: dict[str, _Failing] = {}
        self.scheduler = BackgroundScheduler(
            # evaluation, flush and compaction; the collections; drift runs (each may take minutes in Evidently)
            executors={
                "default": ThreadPoolExecutor(8),
                "collect": ThreadPoolExecutor(COLLECT_THREADS),
                "drift": ThreadPoolExecutor(2),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            timezone=UTC,
        )
        # (job, interval, first run after start): evaluation soon, compaction once the service settled
        jobs = [
            (self.lead, self.leadership.retry, 0),
            (self.evaluate, evaluation_interval, 1),
            (self.flush, flush_interval, 2),
            (self.apply_actions, ACTION_POLL, 1),
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

    def shutdown(self, deadline: float | None = None) -> list[str]:
        """Start no more jobs; with a `deadline` (time.monotonic()), wait until then for the running ones.
        Returns the jobs still running (left to finish or die with the process)."""
        with self._activity:
            self._stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        with self._activity:
            if deadline is not None:
                self._activity.wait_for(lambda: not self._running, max(0.0, deadline - time.monotonic()))
            still_running = sorted(self._running)
        # only once this process's jobs are done (or given up): the next leader must not overlap them
        try:
            self.leadership.resign()  # the next replica takes over at its next attempt, not when TCP notices
        except Exception:
            log_failure(log, "could not give the leader lock back")

        return still_running

    @property
    def leader(self) -> bool:
        return self.leadership.leader

    def lead(self) -> None:
        """Take the leader lock if it is free (or confirm it); a new leader evaluates and scrapes at once."""
        try:
            if self.leadership.check() and self.tail is not None:
                self.tail.prune()
        except Exception:
            log_failure(log, "leadership check failed")

    def take_over(self) -> None:
        """On becoming the leader: the window is current (tail it once more), then scrape collectors from
        the stored counter baselines and alert state from the store."""
        if self.tail is not None:
            self.tail.poll()
        self.runtime.take_over()
        if self.cycle.alerting is not None:
            self.cycle.alerting.take_over()
        self._schedule_backfills()
        now = datetime.now(UTC)
        for job in self.scheduler.get_jobs():  # evaluate and scrape now, not at their next tick
            if job.id == "evaluate" or job.id.startswith(SOURCE_JOB_PREFIX):
                job.modify(next_run_time=now)

    def _leads(self) -> bool:
        try:
            return self.leadership.check()
        except Exception:
            log_failure(log, "leadership check failed")
            return False

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
                executor="collect",
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
                    self.run_monitor,
                    trigger,
                    args=[name],
                    id=DRIFT_JOB_PREFIX + name,
                    executor="drift",
                    replace_existing=True,
                )
        if self.leadership.leader:
            self._schedule_backfills()

    def _schedule_backfills(self) -> None:
        """Backfill, once and now, every PromQL SLO without stored history (the leader's job)."""
        for source, slo in self.runtime.slos_needing_backfill():
            self.scheduler.add_job(
                self.backfill,
                "date",
                args=[source, slo],
                id=f"backfill:{slo.key}",
                executor="collect",
                replace_existing=True,
            )

    @tracked
    def collect(self, source_name: str) -> None:
        if not self._leads():
            return
        try:
            outcome = asyncio.run(self.runtime.collect(source_name))
            if outcome is not None:
                self._log_health(source_name, outcome.health.up, outcome.health.error)
        except Exception:
            log_failure(log, "collection job for %s failed", source_name)

    def _log_health(self, source: str, up: bool, error: str | None) -> None:
        """One line when a source starts failing or its error changes, a reminder every 5 minutes while it
        fails the same way, one line when it works again: a hanging target scraped every 15 s must not
        write 5,760 lines a day (`GET /api/v1/sources` and `slo_service_scrape_up` show every attempt)."""
        failing = self._failing.get(source)
        if up:
            if failing is not None:
                del self._failing[source]
                log.info("collection from %s works again after %d failed attempts", source, failing.failures)
            return
        now = time.monotonic()
        text = error or "unknown error"
        if failing is None or failing.error != text:
            self._failing[source] = _Failing(text, (failing.failures if failing else 0) + 1, now)
            log.warning("collection from %s failed: %s", source, text)
            return
        failing.failures += 1
        if now - failing.logged_at >= FAILURE_REMINDER_SECONDS:
            failing.logged_at = now
            log.warning("collection from %s still fails (%d attempts so far): %s", source, failing.failures, text)

    @tracked
    def backfill(self, source: PromQLSource, slo: object) -> None:
        if not self._leads():
            return
        try:
            asyncio.run(self.runtime.backfill(source, slo))  # type: ignore[arg-type]
        except Exception:
            log_failure(log, "backfill of %s failed", getattr(slo, "key", slo))

    @tracked
    def run_monitor(self, name: str) -> None:
        """One scheduled drift run; the DriftService stores and logs it (failures too) and never raises."""
        monitor = self.runtime.config.monitors.get(name)
        if self.drift is not None and monitor is not None and self._leads():
            self.drift.run_monitor(monitor)

    @tracked
    def apply_actions(self) -> None:
        """The leader applies the operator actions other replicas stored (no database call elsewhere)."""
        if self.cycle.alerting is None or not self.leadership.leader:
            return
        try:
            self.cycle.alerting.apply_actions()
        except Exception:
            log_failure(log, "applying stored operator actions failed")

    @tracked
    def evaluate(self) -> None:
        poll_quietly(self.reloads)  # before the cycle: it then runs with the new config
        if self.tail is not None:
            try:
                self.tail.poll()
            except Exception:
                log_failure(log, "reading the change log failed")
        try:
            report = self.cycle.run(lead=self._leads())
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

    @tracked
    def flush(self) -> None:
        try:
            self.cycle.flush(lead=self._leads())
        except Exception:
            log_failure(log, "notification flush failed")

    @tracked
    def checkpoint(self) -> None:
        """The leader stores the matrix (pipeline/checkpoint.py); first it reads the change log, so the copy
        holds the other replicas' writes up to the mark it records too."""
        if not self._leads():
            return
        try:
            sync = self.tail.poll if self.tail is not None else None
            if not self.runtime.history.save_checkpoint(self.runtime.clock.now(), sync=sync):
                log.info("matrix checkpoint skipped: writes wait for the database")
        except Exception:
            log_failure(log, "matrix checkpoint failed", traceback=False)

    @tracked
    def compact(self) -> None:
        if not self._leads():
            return
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
                reports = self.drift.prune_reports(now)  # each monitor's own report_retention
                if reports:
                    log.info("drift report retention: deleted %d reports", len(reports))
        except Exception:
            log_failure(log, "compaction failed")
