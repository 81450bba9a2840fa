"""Evaluate many SLOs at once from a CountsMatrix: windows, burn rates, coverage and budget.

Every SLO gets the standard alert windows (``ALERT_WINDOWS``: 5m ... 3d) plus the windows its alert
rules need (``windows_of``: e.g. the shrunk windows of a 7-day SLO's tiers, "14m"), and its period
``[period_start, now)``. A window weighs each matrix slot by the share of the slot it covers (see
counts_matrix), so a window of length ``w`` always reads exactly ``w`` of data. All distinct windows of
all SLOs are summed in ONE `window_sums_many` call (one BLAS product per tier), then each group of SLOs
(same period, budgeting and windows) reads its columns:

* occurrences SLOs read row ``slo.key`` (events) over the last ``w`` of COMPLETE minutes,
  ``[M - w, M)`` with ``M`` the start of the current minute: a scrape's increase is filed under the
  minute it was scraped in, so the open minute holds more than its elapsed share (at :37 it holds
  the scrapes of :00, :15 and :30, 45 s of requests) and a window ending at ``now`` would weigh
  4 to 5 minutes of data as "5m"; ``[M - w, M)`` holds exactly the increases scraped in it. The
  price: the newest scrapes reach the alert windows when their minute closes (at most 1 minute
  later). Coverage = minutes with data / minutes in the window (pro rata at a coarse start, so a
  fully fed SLO has coverage 1.0). The period ``[period_start, now)`` also counts the open minute's
  data (the budget includes everything known), but its coverage counts complete minutes only.
* timeslices SLOs read row ``slo.key + SLICES_SUFFIX`` (verdicts written at the slice start: good = 1
  or 0, total = 1) over the last ``w`` of COMPLETED slices, ``[E - w, E)`` with ``E`` the end of the
  newest completed slice (``now`` rounded down to the slice): a verdict exists only once its slice
  has ended, so a window ending at ``now`` would miss the newest slices (a "5m" window of 5-minute
  slices would never hold one). Coverage = verdicts / slices in the window; the budget allows
  ``(1 - objective)`` of the judged slices so far (as occurrences allow it of the events so far), and
  ``period_consumed_ratio`` compares the bad slices with ``(1 - objective)`` of every slice in the
  WHOLE period (rolling: length / slice; calendar: slices from the period start to the period end).

SLOs whose row is absent from the matrix evaluate as having no data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from slo_service.core.counts_matrix import CountsMatrix
from slo_service.core.model import SLO, Budgeting, BudgetingMethod, Period, PeriodKind
from slo_service.core.periods import expected_slices, period_bounds, period_end
from slo_service.core.ports import BASE_RESOLUTION_SECONDS
from slo_service.core.slo_math import (
    BudgetStatus,
    SLOStatus,
    WindowStatus,
    budget_occurrences,
    budget_timeslices,
)
from slo_service.core.timeslices import slice_seconds
from slo_service.core.windows import ALERT_WINDOWS, PERIOD_WINDOW, align

WindowsOf = Callable[[SLO], Mapping[str, timedelta]]
"""The extra windows (by name) an SLO's rules read, beyond ALERT_WINDOWS."""

_COVERAGE_DIGITS = 6

SLICES_SUFFIX = "#slices"
"""Row suffix of a timeslices SLO's verdict series in the CountsMatrix."""


def matrix_row_key(slo: SLO) -> str:
    """The CountsMatrix row evaluate() reads for this SLO."""
    if slo.budgeting.method is BudgetingMethod.TIMESLICES:
        return slo.key + SLICES_SUFFIX
    return slo.key


def period_slice_count(period: Period, period_start: datetime, now: datetime, slice_s: int) -> int:
    """Slices in the WHOLE period: rolling length / slice, or complete slices of the calendar period."""
    if period.kind is PeriodKind.ROLLING:
        assert period.length is not None
        return int(period.length // timedelta(seconds=slice_s))
    return expected_slices(period_start, period_end(period, now), slice_s)


def _window(
    name: str,
    start: datetime,
    end: datetime,
    good: float,
    total: float,
    objective: float,
    coverage: float,
) -> WindowStatus:
    if total > 0:
        s = good / total
        err = 1.0 - s
        return WindowStatus(name, start, end, good, total, s, err, err / (1.0 - objective), coverage)
    return WindowStatus(name, start, end, good, total, None, None, None, coverage)


def evaluate(
    matrix: CountsMatrix, slos: Sequence[SLO], now: datetime, windows_of: WindowsOf | None = None
) -> dict[str, SLOStatus]:
    """SLOStatus per slo.key, computed with one vectorised pass over the matrix.

    `windows_of(slo)` names the windows the SLO's alert rules need beyond ALERT_WINDOWS.
    """
    for slo in slos:
        if not 0.0 < slo.objective < 1.0:
            raise ValueError(f"{slo.key}: objective must be in (0, 1)")
    columns: dict[tuple[datetime, datetime], int] = {}

    def column(start: datetime, end: datetime) -> int:
        return columns.setdefault((start, end), len(columns))

    minute = align(now, BASE_RESOLUTION_SECONDS)
    # the still-open current minute: in the period's sums, not in its coverage
    open_minute_col = column(minute, now) if minute < now else -1

    # One group per (period, budgeting, windows): one set of columns and denominators each.
    group_of: dict[tuple[Period, Budgeting, tuple[tuple[str, timedelta], ...]], int] = {}
    groups: list[_Group] = []
    slo_group: list[int] = []
    for slo in slos:
        extra = windows_of(slo) if windows_of is not None else {}
        named = {**ALERT_WINDOWS, **extra}
        gk = (slo.period, slo.budgeting, tuple(sorted(named.items(), key=lambda kv: (kv[1], kv[0]))))
        gid = group_of.get(gk)
        if gid is None:
            gid = group_of[gk] = len(groups)
            groups.append(_group(matrix, slo, gk[2], now, column))
        groups[gid].members.append(len(slo_group))
        slo_group.append(gid)

    windows = sorted(columns, key=columns.__getitem__)
    rows = [matrix.row(matrix_row_key(s)) for s in slos]
    known = np.array([r is not None for r in rows], dtype=bool)
    g_all, t_all, p_all = matrix.window_sums_many(windows)
    n_win = len(windows)
    g = np.zeros((len(slos), n_win))
    t = np.zeros((len(slos), n_win))
    p = np.zeros((len(slos), n_win))
    if known.any():
        idx = np.array([r for r in rows if r is not None], dtype=np.int64)
        g[known], t[known], p[known] = g_all[idx], t_all[idx], p_all[idx]

    result: dict[str, SLOStatus] = {}
    for grp in groups:
        members = np.array(grp.members, dtype=np.int64)
        cols = np.array(grp.cols, dtype=np.int64)
        g_sel, t_sel = g[np.ix_(members, cols)], t[np.ix_(members, cols)]
        if grp.timeslices:
            seen = t_sel
        else:
            seen = p[np.ix_(members, cols)]
            if open_minute_col >= 0:  # only the period reaches into the open minute: complete minutes only
                seen[:, -1] -= p[members, open_minute_col]
        expected = np.broadcast_to(grp.expected, seen.shape)
        coverage = np.clip(np.divide(seen, expected, out=np.zeros_like(seen), where=expected > 0), 0.0, 1.0)
        # pro-rata presents are float32 products: 1 - 1e-7 is "fully fed", not a gap
        coverage = np.round(coverage, _COVERAGE_DIGITS)
        for m, gs, ts, cs in zip(grp.members, g_sel.tolist(), t_sel.tolist(), coverage.tolist(), strict=True):
            slo = slos[m]
            obj = slo.objective
            win = {
                name: _window(name, start, end, gs[k], ts[k], obj, cs[k])
                for k, (name, start, end) in enumerate(grp.spans)
            }
            budget: BudgetStatus = (
                budget_timeslices(gs[-1], ts[-1], obj, grp.n_slices)
                if grp.timeslices
                else budget_occurrences(gs[-1], ts[-1], obj)
            )
            result[slo.key] = SLOStatus(
                key=slo.key,
                evaluated_at=now,
                objective=obj,
                windows=win,
                budget=budget,
                period_start=grp.period_start,
                period_end=grp.period_end,
            )
    return {s.key: result[s.key] for s in slos}


@dataclass
class _Group:
    """SLOs evaluated over the same windows: their columns, spans and coverage denominators."""

    timeslices: bool
    period_start: datetime
    period_end: datetime
    n_slices: int
    spans: list[tuple[str, datetime, datetime]]  # (name, start, end); the period last
    cols: list[int]
    expected: np.ndarray
    members: list[int] = field(default_factory=list)


def _group(
    matrix: CountsMatrix,
    first: SLO,
    named: Sequence[tuple[str, timedelta]],
    now: datetime,
    column: Callable[[datetime, datetime], int],
) -> _Group:
    start, _ = period_bounds(first.period, now)
    end = period_end(first.period, now)
    timeslices = first.budgeting.method is BudgetingMethod.TIMESLICES
    unit = slice_seconds(first) if timeslices else BASE_RESOLUTION_SECONDS
    # windows end with the newest complete minute / completed slice (see the module docstring)
    w_end = align(now, unit)
    spans = [(name, w_end - w, w_end) for name, w in named]
    spans.append((PERIOD_WINDOW, start, now))
    # units (minutes or slices) a fully fed row has in each window, counted as the matrix weighs them:
    # pro rata from the (clamped) start to the newest complete unit
    expected = np.array(
        [max(0.0, (align(e, unit) - matrix.effective_start(s)) / timedelta(seconds=unit)) for _, s, e in spans],
        dtype=np.float64,
    )
    return _Group(
        timeslices=timeslices,
        period_start=start,
        period_end=end,
        n_slices=period_slice_count(first.period, start, now, unit) if timeslices else 0,
        spans=spans,
        cols=[column(s, e) for _, s, e in spans],
        expected=expected,
    )
