"""Evaluate many SLOs at once from a CountsMatrix: windows, burn rates, coverage and budget.

Windows are ``[now - w, now)`` for every alert window and ``[period_start, now)`` for the period;
a matrix slot is included when its start lies in the window (see counts_matrix). All distinct windows
of all SLOs are summed in ONE `window_sums_many` call (one BLAS product per tier), then each SLO reads
its row:

* occurrences SLOs read row ``slo.key`` (events); coverage = minutes with data / complete minutes in
  the window (counted from `CountsMatrix.effective_start`, i.e. from the first slot the window
  includes, so a fully fed SLO has coverage 1.0 even where the window starts inside a coarse slot).
  The current, still-open minute counts in the sums (freshest data) but not in coverage.
* timeslices SLOs read row ``slo.key + SLICES_SUFFIX`` (verdicts written at the slice start: good = 1
  or 0, total = 1); coverage = verdicts / complete slices in the window; the budget allows
  ``(1 - objective)`` of every slice in the WHOLE period (rolling: length / slice; calendar: slices
  from the period start to the period end).

SLOs whose row is absent from the matrix evaluate as having no data.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def evaluate(matrix: CountsMatrix, slos: Sequence[SLO], now: datetime) -> dict[str, SLOStatus]:
    """SLOStatus per slo.key, computed with one vectorised pass over the matrix."""
    for slo in slos:
        if not 0.0 < slo.objective < 1.0:
            raise ValueError(f"{slo.key}: objective must be in (0, 1)")
    windows: list[tuple[datetime, datetime]] = [(now - w, now) for w in ALERT_WINDOWS.values()]
    minute = align(now, BASE_RESOLUTION_SECONDS)
    open_minute_col = -1
    if minute < now:  # the still-open current minute: in the sums, not in coverage
        open_minute_col = len(windows)
        windows.append((minute, now))

    # One group per (period, budgeting): one period window column and one set of denominators each.
    group_of: dict[tuple[Period, Budgeting], int] = {}
    members: list[SLO] = []
    slo_group = np.empty(len(slos), dtype=np.int64)
    for n, slo in enumerate(slos):
        gk = (slo.period, slo.budgeting)
        gid = group_of.get(gk)
        if gid is None:
            gid = group_of[gk] = len(members)
            members.append(slo)
        slo_group[n] = gid
    alert = [(name, now - w) for name, w in ALERT_WINDOWS.items()]
    # Coverage denominators start where the matrix really starts counting (whole coarse slots).
    eff_alert = [matrix.effective_start(start) for _, start in alert]
    n_cols = len(alert) + 1
    g_period_col = np.empty(len(members), dtype=np.int64)
    g_expected = np.zeros((len(members), n_cols), dtype=np.float64)
    g_is_slices = np.zeros(len(members), dtype=bool)
    g_info: list[tuple[datetime, datetime, int, list[tuple[str, datetime]]]] = []
    for gid, first in enumerate(members):
        start, _ = period_bounds(first.period, now)
        end = period_end(first.period, now)
        g_period_col[gid] = len(windows)
        windows.append((start, now))
        timeslices = first.budgeting.method is BudgetingMethod.TIMESLICES
        unit = slice_seconds(first) if timeslices else BASE_RESOLUTION_SECONDS
        n_slices = period_slice_count(first.period, start, now, unit) if timeslices else 0
        effs = [*eff_alert, matrix.effective_start(start)]
        g_expected[gid] = [expected_slices(eff, now, unit) for eff in effs]
        g_is_slices[gid] = timeslices
        g_info.append((start, end, n_slices, [*alert, (PERIOD_WINDOW, start)]))

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
    p_open = p[:, open_minute_col] if open_minute_col >= 0 else np.zeros(len(slos))
    # Per SLO: the alert columns, then its group's period column.
    cols = np.empty((len(slos), n_cols), dtype=np.int64)
    cols[:, :-1] = np.arange(len(alert))
    cols[:, -1] = g_period_col[slo_group]
    g_sel = np.take_along_axis(g, cols, axis=1)
    t_sel = np.take_along_axis(t, cols, axis=1)
    p_sel = np.take_along_axis(p, cols, axis=1) - p_open[:, None]  # complete minutes only
    seen = np.where(g_is_slices[slo_group][:, None], t_sel, p_sel)
    expected = g_expected[slo_group]
    coverage = np.clip(np.divide(seen, expected, out=np.zeros_like(seen), where=expected > 0), 0.0, 1.0)
    g_l, t_l, c_l, grp_l = g_sel.tolist(), t_sel.tolist(), coverage.tolist(), slo_group.tolist()

    result: dict[str, SLOStatus] = {}
    for n, slo in enumerate(slos):
        gid = grp_l[n]
        p_start, p_end, n_slices, names = g_info[gid]
        obj = slo.objective
        gs, ts, cs = g_l[n], t_l[n], c_l[n]
        win = {name: _window(name, start, now, gs[k], ts[k], obj, cs[k]) for k, (name, start) in enumerate(names)}
        budget: BudgetStatus = (
            budget_timeslices(gs[-1], ts[-1], obj, n_slices)
            if g_is_slices[gid]
            else budget_occurrences(gs[-1], ts[-1], obj)
        )
        result[slo.key] = SLOStatus(
            key=slo.key,
            evaluated_at=now,
            objective=obj,
            windows=win,
            budget=budget,
            period_start=p_start,
            period_end=p_end,
        )
    return result
