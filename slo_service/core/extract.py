"""Turn scraped or pushed samples into per-SLO good/total observations.

Scraped counters are cumulative, so the extractor keeps the last value of every matched series
(per SLO and role) and reports increases, the way Prometheus' `increase()` does: a value lower than
the previous one is a counter reset and the new value is the increase; a series seen for the first
time is only a baseline; a series unseen for `forget_after` scrapes is forgotten. Pushed samples for
ratio and latency SLIs are already increments; for threshold SLIs each pushed value is one sample.

A scrape that exposes a series twice keeps the first sample, as Prometheus does (the others are reported
in `duplicates`, never added). A counter value that is negative, NaN or infinite is no counter value: the
series is reported in `invalid_counters` and the SLOs reading it record nothing from that scrape, their
baselines untouched, so the next valid scrape (within `forget_after`) counts the whole increase since the
last valid one. Skipping only that series would count the interval with one of its good (or total) series
missing: phantom bad (or good) events. So no observation is ever negative: increases of counters >= 0 are
>= 0.

Presence rule for counters: a role whose metric name does not occur in the scrape at all is an error
(`no series match ...`, no observation - never counted as good). A metric name that occurs but whose
series do not match the label matchers contributes 0, since an error counter such as
`requests_total{code=~"5.."}` only appears after the first error.

`good` is clamped into [0, total] (e.g. `total - bad` when a bad series was still a baseline), so an
observation can never add negative or more-than-total good events.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from slo_service.core.model import SLO, Aggregation, DriftSLI, ErrorRatioSLI, LatencySLI, RatioSLI, ThresholdSLI
from slo_service.core.samples import Sample, SeriesId, first_of_each_series, value_text
from slo_service.core.selector import Selector, parse_selector


@dataclass(frozen=True)
class Observation:
    """`good` and `total` increments of SLO `key` observed at `at` (end of the covered interval)."""

    key: str
    at: datetime
    good: float
    total: float


@dataclass(frozen=True)
class ExtractResult:
    observations: list[Observation] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    """SLO key -> readable reason why no observation was produced."""
    duplicates: list[Sample] = field(default_factory=list)
    """Later samples of series the scrape had already exposed: dropped, the first sample of each kept."""
    invalid_counters: dict[str, float] = field(default_factory=dict)
    """Series (`name{labels}`) read as counters whose value is negative or not finite -> that value."""


INVALID_COUNTER_REASONS = ("negative", "nan", "inf")


def counter_problem(value: float) -> str | None:
    """Why `value` is no counter value ("negative", "nan", "inf" for either sign), or None when it is one."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    return "negative" if value < 0 else None


LabelPredicate = Callable[[Mapping[str, str]], bool]


def _matcher_predicate(label: str, op: str, value: str) -> LabelPredicate:
    if op == "=":

        def eq(labels: Mapping[str, str]) -> bool:
            return labels.get(label, "") == value

        return eq
    if op == "!=":

        def ne(labels: Mapping[str, str]) -> bool:
            return labels.get(label, "") != value

        return ne
    pattern = re.compile(value)
    want = op == "=~"

    def regex(labels: Mapping[str, str]) -> bool:
        return (pattern.fullmatch(labels.get(label, "")) is not None) == want

    return regex


def _always(labels: Mapping[str, str]) -> bool:
    return True


def _compile(sel: Selector) -> LabelPredicate:
    """A fast equivalent of `Selector.matches` for samples already filtered by metric name."""
    checks = [_matcher_predicate(m.label, m.op, m.value) for m in sel.matchers]
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def every(labels: Mapping[str, str]) -> bool:
        return all(c(labels) for c in checks)

    return every


@dataclass(frozen=True)
class _Role:
    name: str  # "total", "good", "bad"
    selector: Selector
    text: str  # as configured, for messages
    predicate: LabelPredicate = field(default=_always, compare=False)

    @staticmethod
    def of(name: str, selector: Selector, text: str) -> _Role:
        return _Role(name, selector, text, _compile(selector))


@dataclass(frozen=True)
class _Plan:
    slo: SLO
    roles: tuple[_Role, ...] = ()
    count_selector: Selector | None = None  # latency fallback total
    error: str | None = None  # configuration problem found at build time


class _SLOError(Exception):
    pass


StateKey = tuple[str, str, SeriesId]


def _plan(slo: SLO) -> _Plan:
    sli = slo.sli
    try:
        if isinstance(sli, RatioSLI):
            roles = [_Role.of("total", parse_selector(sli.total), sli.total.strip())]
            if sli.good is not None:
                roles.append(_Role.of("good", parse_selector(sli.good), sli.good.strip()))
            elif sli.bad is not None:
                roles.append(_Role.of("bad", parse_selector(sli.bad), sli.bad.strip()))
            else:
                return _Plan(slo, error="ratio SLI needs `good` or `bad`")
            return _Plan(slo, tuple(roles))
        if isinstance(sli, DriftSLI):
            return _Plan(slo, error="drift SLIs are fed by their drift monitor, not by samples")
        if isinstance(sli, ErrorRatioSLI):
            return _Plan(slo, error="error-ratio SLIs are PromQL queries: they need a promql source")
        if isinstance(sli, LatencySLI):
            base = parse_selector(sli.matchers) if sli.matchers.strip() else Selector(None)
            bucket = base.with_metric(f"{sli.histogram}_bucket")
            count = base.with_metric(f"{sli.histogram}_count")
            return _Plan(slo, (_Role.of("bucket", bucket, str(bucket)),), count_selector=count)
        sel = parse_selector(sli.metric)
        return _Plan(slo, (_Role.of("value", sel, sli.metric.strip()),))
    except ValueError as exc:
        return _Plan(slo, error=str(exc))


def _le(sample: Sample) -> float | None:
    raw = sample.labels.get("le")
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _check_finite(samples: Iterable[Sample]) -> None:
    for s in samples:
        if not math.isfinite(s.value):
            raise _SLOError(f"non-finite value {value_text(s.value)} in {s.describe()}")


def _check_counters(samples: Iterable[Sample], invalid: dict[str, float]) -> None:
    """Note every sample in `samples` that is no counter value in `invalid`; raise when there was one."""
    bad = {s.describe(): s.value for s in samples if counter_problem(s.value) is not None}  # roles may share one
    if not bad:
        return
    invalid.update(bad)
    series, value = next(iter(bad.items()))
    more = f" (and {len(bad) - 1} more series)" if len(bad) > 1 else ""
    raise _SLOError(
        f"invalid counter value {value_text(value)} in {series}{more}: series skipped, "
        "nothing recorded from this scrape; counting resumes from the last valid value"
    )


def _check_increments(samples: Iterable[Sample]) -> None:
    for s in samples:
        if counter_problem(s.value) is not None:
            raise _SLOError(f"pushed increment {value_text(s.value)} in {s.describe()} is no event count (0 or more)")


def _aggregate(values: Sequence[float], how: Aggregation) -> float:
    if how is Aggregation.MAX:
        return max(values)
    if how is Aggregation.MIN:
        return min(values)
    if how is Aggregation.SUM:
        return math.fsum(values)
    return math.fsum(values) / len(values)


def _split_latency(buckets: Sequence[Sample], threshold: float, histogram: str) -> tuple[list[Sample], list[Sample]]:
    """(good series, +Inf series) of a histogram; raise if `threshold` is no bucket boundary."""
    good: list[Sample] = []
    inf: list[Sample] = []
    bounds: set[float] = set()
    for s in buckets:
        le = _le(s)
        if le is None:
            continue
        bounds.add(le)
        if math.isinf(le) and le > 0:
            inf.append(s)
        elif math.isclose(le, threshold, rel_tol=1e-9, abs_tol=0.0):
            good.append(s)
    if buckets and not good:
        finite = ", ".join(value_text(b) for b in sorted(b for b in bounds if math.isfinite(b)))
        raise _SLOError(
            f"threshold {value_text(threshold)} is not a bucket boundary of {histogram}; boundaries: {finite}"
        )
    return good, inf


class SLIExtractor:
    """Per-source extraction for the SLOs that read that source. Not thread-safe; one per source."""

    def __init__(self, slos: Sequence[SLO], forget_after: int = 10) -> None:
        if forget_after < 1:
            raise ValueError("forget_after must be at least 1")
        self._forget_after = forget_after
        self._plans = [_plan(s) for s in slos]
        self._state: dict[StateKey, tuple[float, int]] = {}
        self._generation = 0

    @property
    def slos(self) -> list[SLO]:
        return [p.slo for p in self._plans]

    def reconfigure(self, slos: Sequence[SLO]) -> SLIExtractor:
        """A new extractor for `slos` keeping the counter baselines of SLOs whose SLI did not change."""
        new = SLIExtractor(slos, self._forget_after)
        old = {p.slo.key: p.slo.sli for p in self._plans}
        same = {s.key for s in slos if old.get(s.key) == s.sli}
        new._state = {k: v for k, v in self._state.items() if k[0] in same}
        new._generation = self._generation
        return new

    @property
    def tracked_series(self) -> int:
        return len(self._state)

    # ----------------------------------------------------------------- scrape

    def from_scrape(self, samples: Sequence[Sample], at: datetime) -> ExtractResult:
        """Observations of one successful scrape at `at`. Call it only for scrapes that succeeded."""
        self._generation += 1
        samples, duplicates = first_of_each_series(samples)
        by_name = _index(samples)
        result = ExtractResult(duplicates=duplicates)
        for plan in self._plans:
            key = plan.slo.key
            if plan.error is not None:
                result.errors[key] = plan.error
                continue
            try:
                obs = self._scrape_one(plan, samples, by_name, at, result.invalid_counters)
            except _SLOError as exc:
                result.errors[key] = str(exc)
                continue
            if obs is not None:
                result.observations.append(obs)
        self._forget_stale()
        return result

    def _scrape_one(
        self,
        plan: _Plan,
        samples: Sequence[Sample],
        by_name: dict[str, list[Sample]],
        at: datetime,
        invalid: dict[str, float],
    ) -> Observation | None:
        sli = plan.slo.sli
        key = plan.slo.key
        if isinstance(sli, ThresholdSLI):
            role = plan.roles[0]
            matched = _match(role.selector, samples, by_name, role.predicate)
            if not matched:
                raise _SLOError(f"no series match {role.text}")
            _check_finite(matched)
            value = _aggregate([s.value for s in matched], sli.aggregate)
            return Observation(key, at, 1.0 if sli.op.holds(value, sli.value) else 0.0, 1.0)

        pending: dict[StateKey, float] = {}
        if isinstance(sli, RatioSLI):
            by_role: dict[str, list[Sample]] = {}
            for role in plan.roles:
                if not _present(role.selector, samples, by_name):
                    raise _SLOError(f"no series match {role.text}")
                by_role[role.name] = _match(role.selector, samples, by_name, role.predicate)
            _check_counters((s for series in by_role.values() for s in series), invalid)
            sums = {name: self._increase(key, name, series, pending) for name, series in by_role.items()}
            total, total_history = sums["total"]
            good = sums["good"][0] if "good" in sums else total - sums["bad"][0]
        else:
            assert isinstance(sli, LatencySLI)
            role = plan.roles[0]
            if not _present(role.selector, samples, by_name):
                raise _SLOError(f"no series match {role.text}")
            buckets = _match(role.selector, samples, by_name, role.predicate)
            good_series, inf_series = _split_latency(buckets, sli.threshold, sli.histogram)
            if not inf_series and buckets and plan.count_selector is not None:
                inf_series = _match(plan.count_selector, samples, by_name)
            _check_counters([*good_series, *inf_series], invalid)
            good, _ = self._increase(key, "good", good_series, pending)
            total, total_history = self._increase(key, "total", inf_series, pending)

        gen = self._generation
        for k, v in pending.items():
            self._state[k] = (v, gen)
        if not total_history:
            return None
        return Observation(key, at, min(max(good, 0.0), total), total)

    def _increase(
        self, key: str, role: str, matched: Sequence[Sample], pending: dict[StateKey, float]
    ) -> tuple[float, bool]:
        """Summed increase of `matched` since their previous values; whether any series had one."""
        total = 0.0
        history = False
        state = self._state
        for s in matched:
            skey = (key, role, s.series_id)
            prev = state.get(skey)
            pending[skey] = s.value
            if prev is None:
                continue
            history = True
            last = prev[0]
            total += s.value - last if s.value >= last else s.value
        return total, history

    def _forget_stale(self) -> None:
        horizon = self._generation - self._forget_after
        if not self._state:
            return
        stale = [k for k, (_, gen) in self._state.items() if gen < horizon]
        for k in stale:
            del self._state[k]

    # ------------------------------------------------------------------- push

    def from_push(self, samples: Sequence[Sample], at: datetime | None = None) -> ExtractResult:
        """Observations of pushed samples, grouped by sample timestamp (`at` for samples without one).

        Ratio/latency samples are increments; threshold samples are gauge values, each one sample.
        An SLO no pushed sample matches gets neither an observation nor an error.
        """
        groups: dict[datetime, list[Sample]] = {}
        undated = False
        for s in samples:
            ts = s.timestamp or at
            if ts is None:
                undated = True
                continue
            groups.setdefault(ts, []).append(s)
        result = ExtractResult()
        all_by_name = _index(samples) if undated else {}
        for plan in self._plans:
            key = plan.slo.key
            if plan.error is not None:
                result.errors[key] = plan.error
                continue
            if undated and any(_match(r.selector, samples, all_by_name, r.predicate) for r in plan.roles):
                result.errors[key] = "pushed sample without timestamp"
                continue
            obs: list[Observation] = []
            try:
                for ts in sorted(groups):
                    group = groups[ts]
                    obs.extend(self._push_one(plan, group, _index(group), ts))
            except _SLOError as exc:
                result.errors[key] = str(exc)
                continue
            result.observations.extend(obs)
        return result

    def _push_one(
        self, plan: _Plan, group: Sequence[Sample], by_name: dict[str, list[Sample]], ts: datetime
    ) -> list[Observation]:
        sli = plan.slo.sli
        key = plan.slo.key
        if isinstance(sli, ThresholdSLI):
            matched = _match(plan.roles[0].selector, group, by_name, plan.roles[0].predicate)
            if not matched:
                return []
            _check_finite(matched)
            good = sum(1.0 for s in matched if sli.op.holds(s.value, sli.value))
            return [Observation(key, ts, good, float(len(matched)))]
        if isinstance(sli, RatioSLI):
            found = {r.name: _match(r.selector, group, by_name, r.predicate) for r in plan.roles}
            if not any(found.values()):
                return []
            if not found["total"]:
                raise _SLOError(f"pushed samples at {ts.isoformat()} match no total series {plan.roles[0].text}")
            for matched in found.values():
                _check_increments(matched)
            total = math.fsum(s.value for s in found["total"])
            if "good" in found:
                good = math.fsum(s.value for s in found["good"])
            else:
                good = total - math.fsum(s.value for s in found["bad"])
            return [Observation(key, ts, min(max(good, 0.0), total), total)]
        assert isinstance(sli, LatencySLI)
        buckets = _match(plan.roles[0].selector, group, by_name, plan.roles[0].predicate)
        counts = _match(plan.count_selector, group, by_name) if plan.count_selector else []
        if not buckets:
            return []
        good_series, inf_series = _split_latency(buckets, sli.threshold, sli.histogram)
        if not inf_series:
            inf_series = counts
        if not inf_series:
            raise _SLOError(f'pushed histogram {sli.histogram} has neither an le="+Inf" bucket nor _count')
        _check_increments(good_series)
        _check_increments(inf_series)
        total = math.fsum(s.value for s in inf_series)
        good = math.fsum(s.value for s in good_series)
        return [Observation(key, ts, min(max(good, 0.0), total), total)]

    def push_problems(self, samples: Sequence[Sample]) -> list[str]:
        """Why pushed samples cannot be event counts, per SLO and timestamp: a negative count, or good (bad,
        a latency bucket) events above the total. Each problem names the sample by its index in `samples`,
        e.g. `samples[3].value: ...`. Gauges (threshold SLIs) may be negative and are not checked."""
        position = {id(s): i for i, s in enumerate(samples)}
        groups: dict[datetime, list[Sample]] = {}
        for s in samples:
            if s.timestamp is not None:  # undated samples are refused by from_push with an SLO error
                groups.setdefault(s.timestamp, []).append(s)
        problems: dict[int, str] = {}  # the first problem of each sample: one sample may feed several SLOs
        for plan in self._plans:
            if plan.error is not None or isinstance(plan.slo.sli, ThresholdSLI):
                continue
            for ts in sorted(groups):
                for problem in self._count_problems(plan, groups[ts], ts):
                    problems.setdefault(position[id(problem.sample)], problem.text)
        return [f"samples[{i}].value: {text}" for i, text in sorted(problems.items())]

    def _count_problems(self, plan: _Plan, group: Sequence[Sample], ts: datetime) -> list[_CountProblem]:
        by_name = _index(group)
        key = plan.slo.key
        found = {r.name: _match(r.selector, group, by_name, r.predicate) for r in plan.roles}
        if plan.count_selector is not None:
            found["count"] = _match(plan.count_selector, group, by_name)
        out = [
            _CountProblem(s, f"{value_text(s.value)} is negative; it is a {role} event count of {key}")
            for role, matched in found.items()
            for s in matched
            if s.value < 0
        ]
        if out:
            return out
        sli = plan.slo.sli
        if isinstance(sli, RatioSLI):
            part_role = "good" if "good" in found else "bad"
            parts, totals = found[part_role], found["total"]
        else:
            assert isinstance(sli, LatencySLI)
            try:
                parts, totals = _split_latency(found["bucket"], sli.threshold, sli.histogram)
            except _SLOError:  # not counts at all: from_push reports it as the SLO's error
                return []
            totals = totals or found.get("count", [])
            part_role = f"le={value_text(sli.threshold)} bucket"
        if not parts or not totals:
            return []
        part, total = math.fsum(s.value for s in parts), math.fsum(s.value for s in totals)
        if part - total <= 1e-9 * max(1.0, total):  # equal sums of floats may differ in the last bit
            return []
        sums = f"({value_text(part)}) exceed the total ({value_text(total)})"
        text = f"{part_role} events {sums} of {key} at {ts.isoformat()}"
        return [_CountProblem(parts[0], text)]


@dataclass(frozen=True)
class _CountProblem:
    sample: Sample
    text: str


def _index(samples: Sequence[Sample]) -> dict[str, list[Sample]]:
    by_name: dict[str, list[Sample]] = {}
    for s in samples:
        lst = by_name.get(s.name)
        if lst is None:
            by_name[s.name] = [s]
        else:
            lst.append(s)
    return by_name


def _present(sel: Selector, samples: Sequence[Sample], by_name: dict[str, list[Sample]]) -> bool:
    if sel.metric is not None:
        return sel.metric in by_name
    return bool(_match(sel, samples, by_name))


def _match(
    sel: Selector,
    samples: Sequence[Sample],
    by_name: dict[str, list[Sample]],
    predicate: LabelPredicate | None = None,
) -> list[Sample]:
    if sel.metric is None:
        return [s for s in samples if sel.matches(s.name, s.labels)]
    pool = by_name.get(sel.metric, [])
    if not sel.matchers:
        return list(pool)
    if predicate is None:
        return [s for s in pool if sel.matches(s.name, s.labels)]
    return [s for s in pool if predicate(s.labels)]
