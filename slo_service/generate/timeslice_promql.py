"""PromQL for timeslice SLOs: the same slice verdicts, windows and budget the service computes.

The service judges each epoch-aligned slice ``[kS - S, kS)`` once it has ended: GOOD when good/total
of the slice reaches ``slice_threshold``, BAD otherwise, MISSING without data; every window and the
period of a timeslice SLO are then ``bad slices / judged slices`` (see ``core.timeslices`` and
``core.evaluation``). In PromQL:

* the verdict of the slice ending at ``t`` is an instant expression over ``[S]`` that is 1 (bad),
  0 (good) or absent (no data): ``(good_ratio < bool threshold) and on () (total > 0)``;
* a window ``W`` is a subquery at the slice step, ``avg_over_time((verdict)[W - 1ms:S])``. Subquery
  steps are aligned to multiples of ``S`` since the epoch, i.e. to the slice ends, and ``W - 1ms``
  keeps the range at exactly ``W / S`` steps: Prometheus 2 includes both ends of a range, so ``[W:S]``
  at a slice end would read one slice more than the service (Prometheus 3 excludes the start; the
  1 ms changes nothing there). At any instant ``t`` the steps are the slice ends in ``(t - W, t]``:
  the completed slices of the last ``W`` rounded down to the slice, as the service reads them.
* a window shorter than one slice (a 5m window of 10-minute slices) holds no slice in the service,
  so its rule is an always-empty vector;
* the judged slices of a window (the low-traffic guard) are ``count_over_time`` of the same subquery.

The caller (prometheus_rules) supplies the good-ratio and total expressions of a slice.
"""

from __future__ import annotations

from datetime import timedelta

from slo_service.core.durations import format_duration
from slo_service.core.model import SLO, BudgetingMethod, Config, ScrapeSource, ThresholdSLI

_MS = timedelta(milliseconds=1)


def slice_of(slo: SLO) -> timedelta:
    """The SLO's slice length (1 minute when not configured, as the service uses it)."""
    return slo.budgeting.slice or timedelta(minutes=1)


def counts_slices(slo: SLO) -> bool:
    """Timeslice SLOs (and gauges, which have no events) are judged slice by slice, as in the service."""
    return slo.budgeting.method is BudgetingMethod.TIMESLICES or isinstance(slo.sli, ThresholdSLI)


def sample_step(config: Config, slo: SLO, sli: ThresholdSLI) -> timedelta:
    """How often a gauge is judged inside a slice: the scrape source's interval (the service judges
    every scrape), 1m for other sources; never longer than the slice."""
    source = config.sources.get(sli.source)
    step = source.interval if isinstance(source, ScrapeSource) else timedelta(minutes=1)
    return min(step, slice_of(slo))


def just_under(window: timedelta) -> str:
    """`window` minus 1 ms as a PromQL duration in milliseconds ("299999ms" for 5m)."""
    return f"{(window - _MS) // _MS}ms"


def slice_verdict(good_ratio: str, threshold: str, total: str | None = None) -> str:
    """1 when the slice ending now is bad, 0 when good, absent without data.

    `total` (events in the slice) is needed where an empty slice makes `good_ratio` NaN (0/0), which
    `< bool` would turn into 0, a good slice; gauge samples have no such case (`total` None)."""
    verdict = f"({good_ratio} < bool {threshold})"
    return verdict if total is None else f"{verdict} and on () ({total} > 0)"


NO_SLICE = "absent(vector(1))"
"""An always-empty vector: a window shorter than one slice holds no completed slice (no data)."""


def slice_window(verdict: str, window: timedelta, slice_: timedelta, fn: str = "avg_over_time") -> str:
    """`fn` over the verdicts of the completed slices in `window`: avg = error ratio, count = slices."""
    if window < slice_:
        return NO_SLICE
    return f"{fn}(({verdict})[{just_under(window)}:{format_duration(slice_)}])"
