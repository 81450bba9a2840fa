"""The running service's state: active config, collectors, latest statuses; reload keeps the old on error."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from slo_service.core.clock import Clock
from slo_service.core.extract import Observation, counter_problem
from slo_service.core.model import SLO, Config, PromQLSource, PushSource, ScrapeSource, Source
from slo_service.core.ports import EVENTS, CounterBaselines, HistoryStore, ScrapeHealth, StoreUnavailable
from slo_service.core.samples import Sample
from slo_service.core.slo_math import SLOStatus
from slo_service.pipeline.collect import (
    CollectOutcome,
    FetchObservations,
    FetchSamples,
    PromQLCollector,
    PushReceiver,
    ScrapeCollector,
)
from slo_service.pipeline.evaluate import EvaluationResult, Evaluator, rule_windows
from slo_service.pipeline.failures import log_failure
from slo_service.pipeline.history import LiveHistory, to_increments

log = logging.getLogger(__name__)

Backfill = Callable[[PromQLSource, SLO, datetime, datetime], Awaitable[list[Observation]]]


def config_digest(files: Sequence[str]) -> str:
    """The first 12 hex digits of the SHA-256 over the names and bytes of the files, in order ("" without
    files; a file that cannot be read counts by its name alone)."""
    if not files:
        return ""
    h = hashlib.sha256()
    for name in files:
        h.update(Path(name).name.encode() + b"\0")
        try:
            h.update(Path(name).read_bytes())
        except OSError:
            h.update(b"\0unreadable")
        h.update(b"\0\0")
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class Adapters:
    """Outside-world functions the runtime needs, injected by the composition root."""

    scrape: Callable[[ScrapeSource], FetchSamples]
    promql: Callable[[PromQLSource, Sequence[SLO]], FetchObservations]
    backfill: Backfill | None = None


@dataclass(frozen=True)
class ReloadOutcome:
    ok: bool
    at: datetime
    problems: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass
class SourceState:
    health: ScrapeHealth | None = None
    slo_errors: dict[str, str] = field(default_factory=dict)
    down_since: datetime | None = None  # first failure of the current failure streak
    duplicate_series: int = 0  # in the last collection
    invalid_counters: dict[str, float] = field(default_factory=dict)  # of the last collection


class Runtime:
    """Owns the active config and everything derived from it; thread-safe for jobs and API readers."""

    def __init__(
        self,
        config: Config,
        store: HistoryStore,
        history: LiveHistory,
        evaluator: Evaluator,
        adapters: Adapters,
        clock: Clock,
        load_config: Callable[[], Config],
    ) -> None:
        self.store = store
        self.history = history
        self.evaluator = evaluator
        self.adapters = adapters
        self.clock = clock
        self._load_config = load_config
        self._lock = threading.RLock()
        self.config = config
        self.collectors: dict[str, ScrapeCollector | PromQLCollector] = {}
        self.receivers: dict[str, PushReceiver] = {}
        self.sources: dict[str, SourceState] = {}
        self.statuses: dict[str, SLOStatus] = {}
        self.last_evaluation: EvaluationResult | None = None
        self.last_reload: ReloadOutcome | None = None
        self.collection_errors: dict[str, int] = {}
        # since start, for /metrics: samples dropped as repeats of a series; invalid counter samples by reason
        self.duplicate_series: dict[str, int] = {}
        self.invalid_counter_samples: dict[tuple[str, str], int] = {}
        self.listeners: list[Callable[[Config], None]] = []
        # Several replicas (pipeline/reloads.py): tell the others to reload too; which files this config is.
        self.announce_reload: Callable[[], None] | None = None
        self.config_hash = ""
        self._apply(config, previous=None)

    # --- configuration -------------------------------------------------------------------------

    def _apply(self, config: Config, previous: Config | None) -> tuple[list[str], list[str]]:
        now = self.clock.now()
        for warning in config.warnings:  # e.g. a burn-rate tier that can never fire for its SLO
            log.warning("config: %s", warning)
        self.history.rebuild(config.slos, now)
        self.evaluator.forget(config.slos)
        collectors: dict[str, ScrapeCollector | PromQLCollector] = {}
        receivers: dict[str, PushReceiver] = {}
        for source in config.sources.values():
            slos = [s for s in config.slos if s.sli.source == source.name]
            if isinstance(source, ScrapeSource):
                previous_collector = self.collectors.get(source.name) if previous else None
                kept = previous_collector if isinstance(previous_collector, ScrapeCollector) else None
                collectors[source.name] = self._scrape_collector(source, slos, kept)
            elif isinstance(source, PromQLSource):
                fetch = self.adapters.promql(source, slos)
                collectors[source.name] = PromQLCollector(slos, fetch, self.history)
            elif isinstance(source, PushSource):
                receivers[source.name] = PushReceiver(slos, self.history)
        old_keys = {s.key for s in previous.slos} if previous else set()
        new_keys = {s.key for s in config.slos}
        digest = config_digest(config.files)
        with self._lock:
            self.config = config
            self.config_hash = digest
            self.collectors = collectors
            self.receivers = receivers
            self.sources = {n: self.sources.get(n, SourceState()) for n in config.sources}
            self.statuses = {k: v for k, v in self.statuses.items() if k in new_keys}
        for listener in self.listeners:
            listener(config)
        return sorted(new_keys - old_keys), sorted(old_keys - new_keys)

    def _scrape_collector(
        self, source: ScrapeSource, slos: list[SLO], kept: ScrapeCollector | None, always_say: bool = False
    ) -> ScrapeCollector:
        """A collector for `source`: it keeps `kept`'s baselines (a reload), or else takes up the stored ones
        (start-up, a new leader), and says how many SLOs it counts on from."""
        stored = self._stored_baselines(source.name) if kept is None else ()
        collector = ScrapeCollector(slos, self.adapters.scrape(source), self.history, kept, source, stored)
        if collector.restored or always_say:
            log.info(
                "source %s: counting goes on from the stored counter values of %d SLOs",
                source.name,
                len(collector.restored),
            )
        return collector

    def _stored_baselines(self, source: str) -> list[CounterBaselines]:
        """Where the last process's counting of `source` left off; none when the store cannot say."""
        try:
            return self.store.load_baselines(source)
        except StoreUnavailable:
            raise  # start-up waits for the database (a reload is refused) rather than lose the downtime's events
        except Exception as exc:  # e.g. a row this version cannot read: count from the first scrape, as before
            log.warning("source %s: could not load the stored counter values, counting starts afresh: %s", source, exc)
            return []

    def take_over(self) -> None:
        """This replica became the leader: count every scrape source on from the counter baselines the last
        leader stored (the events since its last scrape are counted, spread over the gap), and settle
        timeslices from what the store holds."""
        with self._lock:
            config = self.config
            collectors = dict(self.collectors)
        for source in config.sources.values():
            if isinstance(source, ScrapeSource):
                slos = [s for s in config.slos if s.sli.source == source.name]
                collectors[source.name] = self._scrape_collector(source, slos, None, always_say=True)
        self.evaluator.forget_all()
        with self._lock:
            if self.config is config:  # a reload meanwhile built its own collectors from the store
                self.collectors = collectors

    def reload(self, announce: bool = True) -> ReloadOutcome:
        """Load the config files again; on any problem keep the active config and report why. `announce`: first
        tell the other replicas to reload theirs (a reload they follow does not announce again)."""
        if announce and self.announce_reload is not None:
            try:
                self.announce_reload()
            except Exception:  # the database is down: this replica reloads; the others on their next request
                log_failure(log, "could not tell the other replicas to reload", traceback=False)
        now = self.clock.now()
        try:
            config = self._load_config()
        except Exception as exc:  # ConfigError carries file:line problems; anything else is reported too
            problems = tuple(str(p) for p in getattr(exc, "problems", [])) or (str(exc),)
            outcome = ReloadOutcome(False, now, problems)
            log.error("config reload refused, keeping the active config:\n%s", "\n".join(problems))
        else:
            previous = self.config
            added, removed = self._apply(config, previous)
            outcome = ReloadOutcome(True, now, (), tuple(added), tuple(removed))
            log.info("config reloaded: %d SLOs (+%d, -%d)", len(config.slos), len(added), len(removed))
        self.last_reload = outcome
        return outcome

    def slos_needing_backfill(self) -> list[tuple[PromQLSource, SLO]]:
        """SLOs on a PromQL source with backfill enabled and no stored history yet."""
        out: list[tuple[PromQLSource, SLO]] = []
        for slo in self.config.slos:
            source = self.config.sources.get(slo.sli.source)
            if (
                isinstance(source, PromQLSource)
                and source.backfill
                and self.store.latest_slice_start(slo.key, EVENTS) is None
            ):
                out.append((source, slo))
        return out

    # --- the cycle's steps ---------------------------------------------------------------------

    async def collect(self, source_name: str) -> CollectOutcome | None:
        collector = self.collectors.get(source_name)
        if collector is None:
            return None
        outcome = await collector.collect(self.clock.now())
        self._note(source_name, outcome)
        return outcome

    async def backfill(self, source: PromQLSource, slo: SLO) -> int:
        if self.adapters.backfill is None:
            return 0
        now = self.clock.now()
        start = now - slo.period.max_length
        began = time.perf_counter()
        log.info("backfill of %s from %s started: %s to %s", slo.key, source.name, start.isoformat(), now.isoformat())
        observations = await self.adapters.backfill(source, slo, start, now)
        self.history.record(to_increments(observations))
        log.info(
            "backfilled %s with %d observations from %s in %.1fs",
            slo.key,
            len(observations),
            source.name,
            time.perf_counter() - began,
        )
        return len(observations)

    def ingest(
        self, source_name: str, samples: Sequence[Sample], idempotency_key: str | None
    ) -> tuple[bool, int, dict[str, str]]:
        receiver = self.receivers.get(source_name)
        if receiver is None:
            raise KeyError(source_name)
        return receiver.receive(samples, idempotency_key)

    def _note(self, source_name: str, outcome: CollectOutcome) -> None:
        # The store first: a reader that sees the new in-memory health then also finds the stored streak.
        try:
            self.store.record_scrapes([outcome.health])
        except Exception:  # health history is best effort; the in-memory state is current
            log_failure(log, "could not store scrape health", traceback=False)
        with self._lock:
            state = self.sources.setdefault(source_name, SourceState())
            state.health = outcome.health
            if outcome.health.up:
                state.down_since = None
            elif state.down_since is None:
                state.down_since = outcome.health.at
            state.slo_errors = outcome.slo_errors
            state.duplicate_series = outcome.duplicate_series
            state.invalid_counters = outcome.invalid_counters
            if not outcome.health.up or outcome.slo_errors:
                self.collection_errors[source_name] = self.collection_errors.get(source_name, 0) + 1
            if outcome.duplicate_series:
                self.duplicate_series[source_name] = (
                    self.duplicate_series.get(source_name, 0) + outcome.duplicate_series
                )
            for value in outcome.invalid_counters.values():
                reason = counter_problem(value)
                if reason is not None:
                    key = (source_name, reason)
                    self.invalid_counter_samples[key] = self.invalid_counter_samples.get(key, 0) + 1

    def evaluate(self, lead: bool = True) -> EvaluationResult:
        """Every SLO's status; `lead=False`: for reads only (Evaluator.run)."""
        config = self.config
        self.history.flush()
        result = self.evaluator.run(config.slos, self.clock.now(), windows_of=rule_windows(config), lead=lead)
        with self._lock:
            self.statuses = dict(result.statuses)
            self.last_evaluation = result
        return result

    # --- read side -----------------------------------------------------------------------------

    def health(self) -> tuple[list[ScrapeHealth], dict[tuple[str, str], datetime]]:
        """The newest collection health of every source, and since when failing ones are down."""
        with self._lock:
            states = list(self.sources.values())
        health = [st.health for st in states if st.health is not None]
        down = {
            (st.health.source, st.health.target): st.down_since
            for st in states
            if st.health is not None and st.down_since is not None
        }
        return health, down

    def status(self, key: str) -> SLOStatus | None:
        return self.statuses.get(key)

    def source_of(self, name: str) -> Source | None:
        return self.config.sources.get(name)
