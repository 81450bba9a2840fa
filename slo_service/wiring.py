"""The composition root: the one place that turns Settings into concrete, connected objects."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.pool import NullPool

from slo_service.actions_wiring import build_actions
from slo_service.actions_wiring import use_config as use_actions_config
from slo_service.adapters import promql as promql_adapter
from slo_service.adapters import scrape as scrape_adapter
from slo_service.adapters.drift.worker import DriftWorkerPool
from slo_service.adapters.receivers.factory import build_receivers
from slo_service.adapters.spill import SpillDir, SpillDirInUse
from slo_service.adapters.sql.alert_store import SqlAlertStore
from slo_service.adapters.sql.availability import (
    RETRY_MAX_SECONDS,
    Availability,
    database_location,
    masked_url,
    wait_for_database,
)
from slo_service.adapters.sql.engine import make_engine
from slo_service.adapters.sql.leader_lock import PostgresLeaderLock, SqliteProcessLock
from slo_service.adapters.sql.migrate import upgrade
from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.adapters.sql.token_store import SqlTokenStore
from slo_service.api.app import create_app
from slo_service.api.auth import ApiAuth
from slo_service.api.limits import InputLimits, set_input_limits
from slo_service.api.starting import StartingApp
from slo_service.core.clock import Clock, SystemClock
from slo_service.core.extract import Observation
from slo_service.core.leadership import LeaderLock, Leadership, SingleProcessLock
from slo_service.core.model import SLO, Config, PromQLSource, ScrapeSource
from slo_service.core.ports import ScrapeHealth, StoreUnavailable
from slo_service.core.samples import Sample
from slo_service.core.tokens import TokenVerifier, check_admin_token
from slo_service.delivery_wiring import after_evaluation, build_delivery, register_delivery_metrics
from slo_service.drift_wiring import build_drift
from slo_service.exporter.actions import ActionsCollector
from slo_service.exporter.collector import build_registry
from slo_service.exporter.drift import DriftCollector
from slo_service.exporter.exposition import ExportWindows
from slo_service.exporter.leadership import LeadershipCollector
from slo_service.jobs.scheduler import Jobs
from slo_service.pipeline.actions import ActionService
from slo_service.pipeline.alerting import AlertingService
from slo_service.pipeline.collect import FetchObservations, FetchSamples
from slo_service.pipeline.cycle import Cycle
from slo_service.pipeline.delivery import DeliveryWorker
from slo_service.pipeline.deployments import DeliveryPipeline
from slo_service.pipeline.drift import DriftService
from slo_service.pipeline.evaluate import Evaluator
from slo_service.pipeline.history import LiveHistory
from slo_service.pipeline.reloads import ReloadBroadcast
from slo_service.pipeline.runtime import Adapters, Runtime
from slo_service.pipeline.tail import ChangeTail
from slo_service.settings import Settings, SettingsError
from slo_service.specs.loader import load_config

log = logging.getLogger(__name__)

OUTAGE_CONSEQUENCE = (
    "API reads that need it answer 503 and collected counts wait in memory and in the spill directory until it is back"
)
START_CONSEQUENCE = (
    f"the service starts once it answers (retrying with backoff, at most {RETRY_MAX_SECONDS:g}s apart); "
    "meanwhile /healthz answers 200, /readyz and the API 503"
)


def scrape_fetcher(source: ScrapeSource) -> FetchSamples:
    async def fetch(now: datetime) -> tuple[list[Sample], ScrapeHealth]:
        async with scrape_adapter.http_client() as client:
            outcome = await scrape_adapter.scrape(client, source, now)
        return outcome.samples, outcome.health

    return fetch


def promql_fetcher(source: PromQLSource, slos: Sequence[SLO]) -> FetchObservations:
    async def fetch(now: datetime) -> tuple[list[Observation], ScrapeHealth, dict[str, str]]:
        client = promql_adapter.PromQLClient(source.url, source.timeout.total_seconds(), dict(source.headers))
        async with client:
            result = await promql_adapter.collect_promql_detailed(client, list(slos), source, now, source.interval)
        return result.observations, result.health, result.errors

    return fetch


async def promql_backfill(source: PromQLSource, slo: SLO, start: datetime, end: datetime) -> list[Observation]:
    client = promql_adapter.PromQLClient(source.url, source.timeout.total_seconds(), dict(source.headers))
    async with client:
        return await promql_adapter.backfill(client, slo, source, start, end)


@dataclass
class Service:
    """Everything a running process holds."""

    settings: Settings
    engine: Engine
    runtime: Runtime
    alerting: AlertingService
    worker: DeliveryWorker
    drift: DriftService
    drift_pool: DriftWorkerPool
    cycle: Cycle
    jobs: Jobs
    registry: CollectorRegistry
    app: FastAPI
    spill: SpillDir | None = None
    delivery: DeliveryPipeline | None = None
    actions: ActionService | None = None

    def close(self, deadline: float | None = None) -> None:
        """Stop: no new jobs; running jobs and deliveries get until `deadline` (time.monotonic(); default:
        the shutdown grace from now), deliveries still running then are handed back to the outbox; buffered
        increments are written (or stay in the spill file if the database is down); the database is closed.
        One log line says what was finished and what was handed back."""
        if deadline is None:
            deadline = time.monotonic() + self.settings.shutdown_grace.total_seconds()
        started = time.monotonic()
        unfinished = self.jobs.shutdown(deadline)
        if self.actions is not None:
            self.actions.close(max(0.0, deadline - time.monotonic()))
        handed_back = self.worker.close(max(0.0, deadline - time.monotonic()))
        history = self.runtime.history
        history.flush()
        pending = history.pending_writes
        self.drift_pool.close()
        self.engine.dispose()
        if self.spill is not None:
            self.spill.close()
        if pending and self.spill is not None:
            buffered = f"{pending} increments left in the spill directory {self.spill.path} (the database is down)"
        elif pending:
            buffered = f"{pending} buffered increments lost (no spill directory)"
        else:
            buffered = "no increments waiting"
        log.info(
            "stopped in %.1fs: %s, %d notifications in delivery handed back, %s",
            time.monotonic() - started,
            f"jobs still running abandoned: {', '.join(unfinished)}" if unfinished else "running jobs finished",
            handed_back,
            buffered,
        )


def read_admin_token(settings: Settings) -> str | None:
    """The bootstrap admin token, checked; SettingsError naming the variable (never holding the token)."""
    admin_token = settings.admin_token_value()
    try:
        return check_admin_token(admin_token) if admin_token else None
    except ValueError as exc:  # too short
        raise SettingsError(f"SLO_SERVICE_ADMIN_TOKEN: {exc}") from None


def build_auth(settings: Settings, admin_token: str | None, engine: Engine, clock: Clock) -> ApiAuth:
    """Tokens from the database and the bootstrap admin token (from read_admin_token)."""
    verifier = TokenVerifier(SqlTokenStore(engine, clock), admin_token, clock.now)
    auth = ApiAuth(verifier, settings.anonymous_read, settings.metrics_auth, tuple(settings.cors_origins))
    log.info(
        "API authorisation: anonymous reads %s, /metrics %s, bootstrap admin token %s",
        "on" if auth.anonymous_read else "off",
        "needs a read token" if auth.metrics_auth else "open",
        "set" if verifier.has_admin_token else "not set",
    )
    return auth


def warn_if_locked_out(auth: ApiAuth) -> None:
    """Say how to get in when no token could call the API (a new install)."""
    if auth.anonymous_read or auth.verifier.has_admin_token or auth.verifier.store is None:
        return
    try:
        active = [t for t in auth.verifier.store.tokens() if t.revoked_at is None]
    except Exception:  # the database is down: /readyz says so
        return
    if not active:
        log.warning(
            "no API token exists, so the API refuses every call but /healthz, /readyz and /metrics: "
            "create one with `slo-service token create --name NAME --scope admin` (docs/operations.md)"
        )


def build_service(
    settings: Settings, clock: Clock | None = None, config: Config | None = None, spill: SpillDir | None = None
) -> Service:
    """Migrate, load the config (raising ConfigError if it is bad), and connect every part. Starts nothing.
    Raises StoreUnavailable if the database cannot be reached. With a `spill`, the segments a stopped process
    left there are written first, and buffered writes go there during an outage."""
    clock = clock or SystemClock()
    settings = settings.resolved()  # database URL and password from their files; secrets registered for masking
    paths = list(settings.config)

    def load() -> Config:
        return load_config(paths)

    config = config or load()
    admin_token = read_admin_token(settings)  # bad settings fail before anything waits for the database
    if settings.run_migrations:
        upgrade(settings.database_url)
    # One Availability for the engine every store shares: an outage is one log line, not one per call.
    availability = Availability(database_location(settings.database_url), OUTAGE_CONSEQUENCE)
    engine = make_engine(settings.database_url, availability)
    auth = build_auth(settings, admin_token, engine, clock)
    warn_if_locked_out(auth)
    store = SqlHistoryStore(engine, replica=settings.replica_id)
    history = LiveHistory(
        store, clock.now(), pending_limit=settings.pending_write_limit, spill=spill, checkpoints=store
    )
    history.replay_spill()  # before the history loads: it then holds what a killed process had buffered
    evaluator = Evaluator(history, settings.snapshot_interval)
    adapters = Adapters(scrape=scrape_fetcher, promql=promql_fetcher, backfill=promql_backfill)
    runtime = Runtime(config, store, history, evaluator, adapters, clock, load)
    alert_store = SqlAlertStore(engine, clock=clock)
    alerting = AlertingService(alert_store, clock.now)
    # wait=False: each receiver's lane runs in its own thread; the scheduler's jobs only wake them.
    worker = DeliveryWorker(alert_store, {}, clock.now, lease=settings.delivery_lease, wait=False)

    def use_config(new: Config) -> None:
        alerting.apply(new)
        worker.set_receivers(build_receivers(new.alerting.receivers if new.alerting else {}))

    use_config(config)
    runtime.listeners.append(use_config)
    cycle = Cycle(runtime, alerting, worker)
    # Evidently runs only in these worker processes, started on first use: the API never imports it.
    drift_pool = DriftWorkerPool(max_workers=settings.drift_workers)
    drift = build_drift(engine, clock, runtime, alerting, Path(settings.data_dir), drift_pool)
    actions = build_actions(engine, clock, alerting, drift, lambda: leadership.leader)
    use_actions_config(actions, config)
    runtime.listeners.append(lambda new: use_actions_config(actions, new))
    cycle.actions = actions
    lock: LeaderLock = PostgresLeaderLock(engine) if engine.dialect.name == "postgresql" else SingleProcessLock()
    leadership = Leadership(lock, settings.replica_id, clock, settings.leader_retry_interval())
    tail = None
    if store.change_log:  # PostgreSQL: other replicas may write counts
        position = store.last_load_position or store.change_position()
        tail = ChangeTail(
            store,
            history,
            settings.replica_id,
            clock,
            position,
            settings.change_log_retention,
            reposition=lambda: store.last_load_position,
        )

    def deposed() -> None:
        alert_store.drop_epoch()  # fenced from here on, even if a job already past its leadership check saves
        dropped = history.discard_pending()
        if dropped:
            log.warning("dropped %d buffered increments: the new leader counts them from the stored baselines", dropped)

    leadership.on_deposed = deposed
    reloads = None
    if engine.dialect.name == "postgresql":
        # Several replicas may run: alert changes and notifications commit only under this replica's leader
        # epoch; operator actions received while not leading go to the leader; reloads reach every replica.
        alert_store.fenced = True
        alerting.leads = lambda: leadership.leader
        alerting.replica = settings.replica_id
        reloads = ReloadBroadcast(alert_store, runtime, settings.replica_id)
    jobs = Jobs(
        runtime,
        cycle,
        settings.evaluation_interval,
        settings.compaction_interval,
        settings.raw_retention,
        settings.retention,
        settings.flush_interval,
        drift,
        leadership,
        tail,
        reloads,
        checkpoint_interval=settings.checkpoint_interval,
    )

    def elected() -> None:
        # The epoch first: from its commit on, the previous leader can commit no alert change or message, and
        # the state loaded next includes everything it committed.
        if alert_store.fenced:
            alert_store.take_epoch(settings.replica_id)
        try:
            jobs.take_over()
        except Exception:
            alert_store.drop_epoch()
            raise

    leadership.on_elected = elected
    registry = build_registry(
        runtime, settings.export_labels, alerting, worker, ExportWindows.parse(settings.export_windows)
    )
    jobs.after_evaluation.append(registry.slo_exposition.refresh)
    registry.register(DriftCollector(drift))
    registry.register(ActionsCollector(actions.stats))
    registry.register(LeadershipCollector(leadership, lambda: runtime.config_hash))
    delivery = build_delivery(settings, engine, clock, runtime, drift)
    register_delivery_metrics(registry, delivery)
    jobs.after_evaluation.append(after_evaluation(delivery, runtime, lambda: leadership.leader))
    delivery.gates.on_finished = actions.gate_finished  # a failed gate is a condition of the response policies
    slack_secret = settings.slack_signing_secret_value()
    app = create_app(
        runtime,
        registry,
        lambda: jobs.running,
        alerting,
        slack_secret,
        drift,
        auth=auth,
        leadership=leadership,
        pipeline=delivery,
        grafana_url=settings.grafana_url,
    )
    limits = InputLimits(settings.max_body_bytes, settings.max_batch_body_bytes, ingest_max_age=settings.raw_retention)
    set_input_limits(app, limits)
    app.state.actions = actions
    return Service(
        settings,
        engine,
        runtime,
        alerting,
        worker,
        drift,
        drift_pool,
        cycle,
        jobs,
        registry,
        app,
        spill,
        delivery,
        actions,
    )


@contextmanager
def building() -> Iterator[None]:
    """Collect no garbage while start-up builds what lives as long as the process, then freeze it.

    The config and the history of 10,000 SLOs are millions of objects that stay alive: every full
    collection during start-up walked all of them for nothing (~1 s of CPU). Frozen, they are skipped
    by the collections of the running service as well."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def take_sqlite_lock(database_url: str) -> SqliteProcessLock | None:
    """On a SQLite file, make sure this is the only `serve` on it (the lock is held while the returned object
    lives, and by the kernel until the process ends): SettingsError otherwise (several replicas
    need PostgreSQL, docs/operations.md)."""
    if not SqliteProcessLock.applies(database_url):
        return None
    lock = SqliteProcessLock(database_url)
    if not lock.take():
        raise SettingsError(
            f"another slo-service serve (pid {lock.holder()}) already runs on this SQLite database "
            f"({lock.path.with_suffix('').with_suffix('')}); SQLite takes one process: run several replicas on "
            "PostgreSQL (docs/operations.md, Several replicas)"
        )
    return lock


class Starter:
    """Waits for the database (backoff), builds the service and starts its jobs, in a thread, while the
    server already serves `app`: /healthz answers from the first second and /readyz is 503 until the
    service is built; then `app` passes every request to the service's app."""

    def __init__(self, settings: Settings, config: Config, on_failure: Callable[[], None]) -> None:
        self.settings = settings
        self.config = config
        url = settings.database_url
        self.availability = Availability(f"{database_location(url)} ({masked_url(url)})", START_CONSEQUENCE)
        self.app = StartingApp(self._database_state)
        self.service: Service | None = None
        self.failed = False
        self._on_failure = on_failure
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._spill: SpillDir | None = None
        self._thread = threading.Thread(target=self._run, name="service-start", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> Service | None:
        """Stop waiting; the service, if it was built (the caller closes it)."""
        with self._lock:
            self._stop.set()
            if self.service is None and self._spill is not None:
                self._spill.close()  # a build still running finds _stop set and closes its service
            return self.service

    def _database_state(self) -> str:
        return "ok" if self.availability.up else f"unreachable: {self.availability.reason}"

    def _run(self) -> None:
        try:
            self._spill = SpillDir(self.settings.spill_path())
        except (SpillDirInUse, OSError) as exc:  # two processes must not replay each other's live segments
            log.error("the service could not start: %s", exc)
            self.failed = True
            self._on_failure()
            return
        try:
            service = self._build()
        except Exception:  # a bug or a broken migration: waiting would not fix it
            log.exception("the service could not start")
            self.failed = True
            self._on_failure()
            return
        if service is None:
            return
        with self._lock:
            if self._stop.is_set():  # shut down while building
                service.close()
                return
            self.service = service
            service.jobs.start()
            if service.actions is not None:
                service.actions.start()
        self.app.serve(service.app)
        log.info("service ready: %d SLOs, %d sources", len(self.config.slos), len(self.config.sources))

    def _build(self) -> Service | None:
        # NullPool: the probe keeps no connection open once the service has its own engine.
        probe = make_engine(self.settings.database_url, self.availability, poolclass=NullPool)
        try:
            while wait_for_database(probe, self._stop):
                try:
                    with building():
                        return build_service(self.settings, config=self.config, spill=self._spill)
                except StoreUnavailable as exc:  # lost again between the probe and the migrations
                    self.availability.failed(exc.reason)
            return None
        finally:
            probe.dispose()
