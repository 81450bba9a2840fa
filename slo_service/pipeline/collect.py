"""The collection step: fetch samples from a source, turn them into per-SLO counts, hand them to history."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slo_service.core.durations import format_duration
from slo_service.core.extract import ExtractResult, Observation, SLIExtractor
from slo_service.core.model import SLO, ScrapeSource
from slo_service.core.ports import CounterBaselines, ScrapeHealth
from slo_service.core.samples import Sample, value_text
from slo_service.pipeline.history import LiveHistory, to_increments

log = logging.getLogger(__name__)

FetchSamples = Callable[[datetime], Awaitable[tuple[list[Sample], ScrapeHealth]]]
"""Scrape a target: samples (empty on failure) and the health of the attempt."""

FetchObservations = Callable[[datetime], Awaitable[tuple[list[Observation], ScrapeHealth, dict[str, str]]]]
"""Query a PromQL source: ready observations (increases over the interval), the health, per-SLO errors."""


@dataclass
class CollectOutcome:
    health: ScrapeHealth
    observations: int = 0
    slo_errors: dict[str, str] = field(default_factory=dict)
    duplicate_series: int = 0
    """Samples of a series the scrape had already exposed (dropped; the first one counted)."""
    invalid_counters: dict[str, float] = field(default_factory=dict)
    """Series read as counters whose value was negative or not finite, with that value."""


class ScrapeCollector:
    """One scrape source: fetch, extract counter increases per SLO, record them with the counter baselines."""

    def __init__(
        self,
        slos: Sequence[SLO],
        fetch: FetchSamples,
        history: LiveHistory,
        previous: ScrapeCollector | None = None,
        source: ScrapeSource | None = None,
        stored: Sequence[CounterBaselines] = (),
    ) -> None:
        """`previous`: the collector of the config before a reload, whose baselines of unchanged SLIs are kept
        so no interval is lost; otherwise `stored` baselines (start-up) are taken up where they fit."""
        max_gap, target = (source.max_gap, source.url) if source else (None, None)
        if previous is not None:
            self.extractor: SLIExtractor = previous.extractor.reconfigure(slos, max_gap, target)
        elif source is not None:
            self.extractor = SLIExtractor(slos, max_gap=source.max_gap, target=source.url)
        else:
            self.extractor = SLIExtractor(slos)
        self.restored = self.extractor.restore(stored) if previous is None else []
        self.slo_keys = [s.key for s in slos]
        self.fetch = fetch
        self.history = history

    async def collect(self, now: datetime) -> CollectOutcome:
        samples, health = await self.fetch(now)
        if not health.up:
            # A failed scrape is recorded as such; its interval is missing data, never good events.
            return CollectOutcome(health, slo_errors={k: f"source down: {health.error}" for k in self.slo_keys})
        result = self.extractor.from_scrape(samples, now)
        self.history.record(to_increments(result.observations), baselines=result.baselines)
        _log_gaps(health.source, result, self.extractor.max_gap)
        # one line per scrape, not per series: a target exposing 10k series twice must not flood the log
        if result.duplicates:
            log.warning(
                "source %s: %d samples repeat a series already in the scrape; kept the first of each "
                "(as Prometheus does), e.g. %s",
                health.source,
                len(result.duplicates),
                result.duplicates[0].describe(),
            )
        if result.invalid_counters:
            series, value = next(iter(result.invalid_counters.items()))
            log.warning(
                "source %s: %d counter series with a negative or non-finite value skipped, e.g. %s = %s",
                health.source,
                len(result.invalid_counters),
                series,
                value_text(value),
            )
        return CollectOutcome(
            health,
            len(result.observations),
            dict(result.errors),
            duplicate_series=len(result.duplicates),
            invalid_counters=dict(result.invalid_counters),
        )


_GAP_LINES = (
    (logging.INFO, "counted the counter increase across a gap of up to {gap} for {n} SLOs (e.g. {key}), "
     "spread over the minutes of the gap"),
    (logging.WARNING, "{n} SLOs (e.g. {key}) were last counted {gap} ago, longer than the source's max_gap "
     "{max_gap}: the increase across the gap is not counted, counting starts again from this scrape"),
)  # fmt: skip


def _log_gaps(source: str, result: ExtractResult, max_gap: timedelta) -> None:
    """One line per scrape for SLOs counted across a gap, one for gaps too long to count."""
    for gaps, (level, text) in zip((result.gaps_spread, result.gaps_over_limit), _GAP_LINES, strict=True):
        if gaps:
            key, gap = max(gaps.items(), key=lambda kv: kv[1])
            line = text.format(gap=format_duration(gap), n=len(gaps), key=key, max_gap=format_duration(max_gap))
            log.log(level, "source %s: %s", source, line)


class PromQLCollector:
    """One PromQL source: the adapter already returns increases over the interval."""

    def __init__(self, slos: Sequence[SLO], fetch: FetchObservations, history: LiveHistory) -> None:
        self.slo_keys = [s.key for s in slos]
        self.fetch = fetch
        self.history = history

    async def collect(self, now: datetime) -> CollectOutcome:
        observations, health, errors = await self.fetch(now)
        if not health.up:
            return CollectOutcome(health, slo_errors={k: f"source down: {health.error}" for k in self.slo_keys})
        self.history.record(to_increments(observations))
        return CollectOutcome(health, len(observations), dict(errors))


class BadPush(ValueError):
    """Pushed samples that are not event counts (negative, or good above total): nothing was stored."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class PushReceiver:
    """Samples POSTed to /api/v1/ingest for one push source."""

    def __init__(self, slos: Sequence[SLO], history: LiveHistory) -> None:
        self.extractor = SLIExtractor(slos)
        self.history = history

    def receive(self, samples: Sequence[Sample], idempotency_key: str | None) -> tuple[bool, int, dict[str, str]]:
        """Returns (stored, observations, per-SLO errors); stored is False for a repeated key.
        Raises BadPush, storing nothing, when a sample cannot be an event count."""
        problems = self.extractor.push_problems(samples)
        if problems:
            raise BadPush(problems)
        result = self.extractor.from_push(samples)
        increments = to_increments(result.observations)
        stored = self.history.record(increments, idempotency_key=idempotency_key)
        return stored, len(result.observations), dict(result.errors)
