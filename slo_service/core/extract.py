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

Across a gap (the service restarted, or the target was down) the increase since the SLO's last counted scrape
is counted too, spread over the minutes of the gap (core/gaps.py), unless a series of the SLO went down (a
reset: the new values are counted in the scrape's minute, from 0) or the gap is longer than `max_gap` (the
SLO's baselines are re-learnt and the gap counts nothing; reported in `gaps_over_limit`). The baselines an
SLO's scrape leaves are reported in `baselines` for the store, and `restore` takes them up after a restart.

Presence rule for counters: a role whose metric name does not occur in the scrape at all is an error
(`no series match ...`, no observation - never counted as good). A metric name that occurs but whose
series do not match the label matchers contributes 0, since an error counter such as
`requests_total{code=~"5.."}` only appears after the first error.

`good` is clamped into [0, total] (e.g. `total - bad` when a bad series was still a baseline), so an
observation can never add negative or more-than-total good events.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slo_service.core.gaps import spread
from slo_service.core.model import (
    DEFAULT_MAX_GAP,
    SLI,
    SLO,
    Aggregation,
    DriftSLI,
    ErrorRatioSLI,
    LatencySLI,
    RatioSLI,
    ThresholdSLI,
)
from slo_service.core.ports import CounterBaselines
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
    baselines: list[CounterBaselines] = field(default_factory=list)
    """The counter baselines of each SLO the scrape counted (to store with the minutes they produced)."""
    gaps_spread: dict[str, timedelta] = field(default_factory=dict)
    """SLO key -> the gap whose increase was spread over its minutes."""
    gaps_over_limit: dict[str, timedelta] = field(default_factory=dict)
    """SLO key -> a gap longer than max_gap: not counted, the SLO's baselines re-learnt."""


INVALID_COUNTER_REASONS = ("negative", "nan", "inf")


def sli_fingerprint(sli: SLI) -> str:
    """A stable digest of an SLI's definition: baselines stored for another SLI are never taken up.

    The digest of ``json.dumps(dataclasses.asdict(sli), sort_keys=True, default=str)`` (stored
    baselines carry it, so it must not change); `_plain` builds the same data without `asdict`'s deep
    copies, which cost ~1 s of a 10,000-SLO start-up.
    """
    text = json.dumps(_plain(sli), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _plain(value: object) -> object:
    """What `dataclasses.asdict` makes of `value` as far as `json.dumps` can tell (tuples become lists
    there either way), without copying the leaves."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    names = _field_names(type(value))
    if names is None:
        return value
    return {name: _plain(getattr(value, name)) for name in names}


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    if kind not in _FIELDS:
        is_dataclass = dataclasses.is_dataclass(kind)
        _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind)) if is_dataclass else None
    return _FIELDS[kind]


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
    fingerprint: str = ""  # sli_fingerprint of a counter SLI, "" for the others


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
            return _Plan(slo, tuple(roles), fingerprint=sli_fingerprint(sli))
        if isinstance(sli, DriftSLI):
            return _Plan(slo, error="drift SLIs are fed by their drift monitor, not by samples")
        if isinstance(sli, ErrorRatioSLI):
            return _Plan(slo, error="error-ratio SLIs are PromQL queries: they need a promql source")
        if isinstance(sli, LatencySLI):
            base = parse_selector(sli.matchers) if sli.matchers.strip() else Selector(None)
            bucket = base.with_metric(f"{sli.histogram}_bucket")
            count = base.with_metric(f"{sli.histogram}_count")
            return _Plan(
                slo, (_Role.of("bucket", bucket, str(bucket)),), count_selector=count, fingerprint=sli_fingerprint(sli)
            )
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
    """Per-source extraction for the SLOs that read that source. Not thread-safe; one per source.

    `target` names what is scraped (the URL): stored baselines of another target are not taken up. An
    increase across a gap longer than `max_gap` is not counted.
    """

    def __init__(
        self, slos: Sequence[SLO], forget_after: int = 10, max_gap: timedelta = DEFAULT_MAX_GAP, target: str = ""
    ) -> None:
        if forget_after < 1:
            raise ValueError("forget_after must be at least 1")
        self._forget_after = forget_after
        self._max_gap = max_gap
        self._target = target
        self._plans = [_plan(s) for s in slos]
        self._state: dict[StateKey, tuple[float, int]] = {}
        self._since: dict[str, datetime] = {}  # SLO key -> time of its last counted scrape
        self._generation = 0

    @property
    def slos(self) -> list[SLO]:
        return [p.slo for p in self._plans]

    @property
    def max_gap(self) -> timedelta:
        return self._max_gap

    def reconfigure(
        self, slos: Sequence[SLO], max_gap: timedelta | None = None, target: str | None = None
    ) -> SLIExtractor:
        """A new extractor for `slos` keeping the counter baselines of SLOs whose SLI did not change (none when
        the target changed)."""
        target = self._target if target is None else target
        new = SLIExtractor(slos, self._forget_after, self._max_gap if max_gap is None else max_gap, target)
        new._generation = self._generation
        if target != self._target:
            return new
        old = {p.slo.key: p.slo.sli for p in self._plans}
        same = {s.key for s in slos if old.get(s.key) == s.sli}
        new._state = {k: v for k, v in self._state.items() if k[0] in same}
        new._since = {k: v for k, v in self._since.items() if k in same}
        return new

    def restore(self, stored: Iterable[CounterBaselines]) -> list[str]:
        """Take up stored baselines (after a restart) of this extractor's SLOs whose SLI and target are the
        ones they were stored for; the next scrape counts from them. Returns the keys of the SLOs restored."""
        plans = {p.slo.key: p for p in self._plans if p.error is None and p.fingerprint}
        restored: list[str] = []
        for b in stored:
            plan = plans.get(b.slo)
            if plan is None or b.sli != plan.fingerprint or b.target != self._target or b.slo in self._since:
                continue
            for (role, series), value in b.values.items():
                self._state[(b.slo, role, series)] = (value, self._generation)
            self._since[b.slo] = b.at
            restored.append(b.slo)
        return restored

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
                result.observations.extend(self._scrape_one(plan, samples, by_name, at, result))
            except _SLOError as exc:
                result.errors[key] = str(exc)
        self._forget_stale()
        return result

    def _scrape_one(
        self,
        plan: _Plan,
        samples: Sequence[Sample],
        by_name: dict[str, list[Sample]],
        at: datetime,
        result: ExtractResult,
    ) -> list[Observation]:
        sli = plan.slo.sli
        key = plan.slo.key
        invalid = result.invalid_counters
        if isinstance(sli, ThresholdSLI):
            role = plan.roles[0]
            matched = _match(role.selector, samples, by_name, role.predicate)
            if not matched:
                raise _SLOError(f"no series match {role.text}")
            _check_finite(matched)
            value = _aggregate([s.value for s in matched], sli.aggregate)
            return [Observation(key, at, 1.0 if sli.op.holds(value, sli.value) else 0.0, 1.0)]

        self._start(key, at, result)
        pending: dict[StateKey, float] = {}
        resets: list[bool] = []  # whether some series went down
        if isinstance(sli, RatioSLI):
            by_role: dict[str, list[Sample]] = {}
            for role in plan.roles:
                if not _present(role.selector, samples, by_name):
                    raise _SLOError(f"no series match {role.text}")
                by_role[role.name] = _match(role.selector, samples, by_name, role.predicate)
            _check_counters((s for series in by_role.values() for s in series), invalid)
            sums = {name: self._increase(key, name, series, pending, resets) for name, series in by_role.items()}
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
            good, _ = self._increase(key, "good", good_series, pending, resets)
            total, total_history = self._increase(key, "total", inf_series, pending, resets)

        since = self._commit(plan, pending, at, result)
        if not total_history or since is None:
            return []
        good = min(max(good, 0.0), total)
        shares = [] if any(resets) else spread(good, total, since, at)
        if not shares:
            return [Observation(key, at, good, total)]
        result.gaps_spread[key] = at - since
        return [Observation(key, start, g, t) for start, g, t in shares]

    def _start(self, key: str, at: datetime, result: ExtractResult) -> None:
        """Before counting SLO `key` at `at`: forget its baselines when its last counted scrape is more than
        max_gap ago, so the gap counts nothing and this scrape is a new baseline."""
        since = self._since.get(key)
        if since is None or at - since <= self._max_gap:
            return
        result.gaps_over_limit[key] = at - since
        del self._since[key]
        for k in [k for k in self._state if k[0] == key]:
            del self._state[k]

    def _commit(
        self, plan: _Plan, pending: dict[StateKey, float], at: datetime, result: ExtractResult
    ) -> datetime | None:
        """Make `pending` the SLO's baselines as of `at` and report them; the previous counted time."""
        key = plan.slo.key
        since = self._since.get(key)
        gen = self._generation
        state = self._state
        for k, v in pending.items():
            state[k] = (v, gen)
        self._since[key] = at
        values = {(role, series): v for (_, role, series), v in pending.items()}
        result.baselines.append(CounterBaselines(plan.slo.sli.source, key, self._target, plan.fingerprint, at, values))
        return since

    def _increase(
        self, key: str, role: str, matched: Sequence[Sample], pending: dict[StateKey, float], resets: list[bool]
    ) -> tuple[float, bool]:
        """Summed increase of `matched` since their previous values; whether any series had one. Notes in
        `resets` whether a series went down."""
        total = 0.0
        history = False
        reset = False
        state = self._state
        for s in matched:
            skey = (key, role, s.series_id)
            prev = state.get(skey)
            pending[skey] = s.value
            if prev is None:
                continue
            history = True
            last = prev[0]
            if s.value >= last:
                total += s.value - last
            else:
                total += s.value
                reset = True
        resets.append(reset)
        return total, history

    def _forget_stale(self) -> None:
        horizon = self._generation - self._forget_after
        if not self._state:
            return
        stale = [k for k, (_, gen) in self._state.items() if gen < horizon]
        if not stale:
            return
        for k in stale:
            del self._state[k]
        kept = {k[0] for k in self._state}
        for key in {k[0] for k in stale} - kept:  # nothing left to count from: the SLO starts afresh
            self._since.pop(key, None)

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
