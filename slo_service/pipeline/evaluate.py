"""The evaluation step: advance the window, settle finished timeslices, compute every SLO's status."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from slo_service.core.alerting.conditions import alert_windows
from slo_service.core.alerting.config import AlertingConfig
from slo_service.core.evaluation import WindowsOf, evaluate
from slo_service.core.model import SLO, BudgetingMethod, Config
from slo_service.core.ports import SLICES, CountIncrement, EvaluationSnapshot
from slo_service.core.slo_math import SLOStatus
from slo_service.core.timeslices import slice_verdicts_many
from slo_service.core.windows import align
from slo_service.pipeline.failures import log_failure
from slo_service.pipeline.history import LiveHistory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationResult:
    statuses: Mapping[str, SLOStatus]
    evaluated_at: datetime
    duration_seconds: float
    verdicts_written: int


def rule_windows(config: Config) -> WindowsOf:
    """The windows each SLO's alert policy reads (shrunk tier windows, whole-slice no-data windows)."""
    alerting = config.alerting or AlertingConfig()

    def windows_of(slo: SLO) -> Mapping[str, timedelta]:
        return alert_windows(slo, alerting.policy_for(slo.key))

    return windows_of


class Evaluator:
    """Runs one evaluation cycle over the live history; remembers which timeslices are settled."""

    def __init__(self, history: LiveHistory, snapshot_interval: timedelta = timedelta(minutes=5)) -> None:
        self.history = history
        self.snapshot_interval = snapshot_interval
        self._settled: dict[str, datetime] = {}
        self._last_snapshot: datetime | None = None

    def forget(self, keep: Sequence[SLO]) -> None:
        keys = {s.key for s in keep}
        self._settled = {k: v for k, v in self._settled.items() if k in keys}

    def forget_all(self) -> None:
        """Forget which timeslices were settled (a replica taking over reads that from the store)."""
        self._settled = {}

    def run(
        self, slos: Sequence[SLO], now: datetime, windows_of: WindowsOf | None = None, lead: bool = True
    ) -> EvaluationResult:
        """Every SLO's status. `lead=False` (a replica that does not lead): statuses for reads only, no
        timeslice verdicts and no snapshots are stored (the leader's reach this replica by the change log)."""
        started = time.perf_counter()
        with self.history.lock:
            self.history.matrix.advance(now)
        verdicts = self._settle_timeslices(slos, now) if lead else 0
        with self.history.lock:
            statuses = evaluate(self.history.matrix, slos, now, windows_of)
        duration = time.perf_counter() - started
        if not lead:
            return EvaluationResult(statuses, now, duration, verdicts)
        if self._last_snapshot is None or now - self._last_snapshot >= self.snapshot_interval:
            self._save_snapshots(statuses, now)
        return EvaluationResult(statuses, now, duration, verdicts)

    def _settle_timeslices(self, slos: Sequence[SLO], now: datetime) -> int:
        """Judge every timeslice completed since the last cycle, once; verdicts become the SLICES series."""
        fine = self.history.tiers[0]
        groups: dict[datetime, list[tuple[str, SLO]]] = {}
        for slo in slos:
            if slo.budgeting.method is not BudgetingMethod.TIMESLICES or slo.budgeting.slice is None:
                continue
            since = self._settled.get(slo.key)
            if since is None:
                latest = self.history.store.latest_slice_start(slo.key, SLICES)
                # Only the 1-minute tier can judge a slice exactly; older raw data was rolled up.
                since = latest + slo.budgeting.slice if latest else now - timedelta(seconds=fine.span_seconds)
            groups.setdefault(since, []).append((slo.key, slo))
        increments: list[CountIncrement] = []
        for since, items in groups.items():
            with self.history.lock:
                found = slice_verdicts_many(self.history.matrix, items, since, now)
            for key, slo in items:
                assert slo.budgeting.slice is not None
                for start, good in found.get(key, []):
                    increments.append(CountIncrement(key, start, 1.0 if good else 0.0, 1.0, series=SLICES))
                slice_s = int(slo.budgeting.slice.total_seconds())
                # Settled up to the end of the last completed slice, with or without data: a slice
                # without data stays missing, it is not judged again on every cycle.
                self._settled[key] = max(since, align(now, slice_s))
        self.history.record(increments)
        return len(increments)

    def _save_snapshots(self, statuses: Mapping[str, SLOStatus], now: datetime) -> None:
        snapshots = [
            EvaluationSnapshot(
                key=key,
                at=now,
                sli=st.period.sli,
                budget_remaining=st.budget.remaining_ratio,
                burn_rates={name: w.burn_rate for name, w in st.windows.items()},
                good=st.period.good,
                total=st.period.total,
            )
            for key, st in statuses.items()
        ]
        try:
            self.history.store.save_evaluations(snapshots)
            self._last_snapshot = now
        except Exception:  # snapshots are for charts; the next cycle tries again
            log_failure(log, "could not save evaluation snapshots", traceback=False)
