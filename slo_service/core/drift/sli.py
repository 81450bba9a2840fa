"""Drift runs as SLI events: each run of a monitor is one good or bad event for the SLOs that use it."""

from __future__ import annotations

import math
from collections.abc import Sequence

from slo_service.core.drift.monitor import DriftRun, RunStatus
from slo_service.core.extract import Observation
from slo_service.core.model import SLO, DriftCheck, DriftSLI


def run_passes(sli: DriftSLI, run: DriftRun) -> bool | None:
    """Whether `run` is a good event for `sli`; None when the run cannot say (missing data, not bad).

    A failed run is bad for the `run` check and missing data for the others: a broken pipeline must
    not look like "no drift", nor like "drift". A run with data-quality findings (an all-empty column, a
    jump in missing values, also in one segment) is bad for the `run` and `quality` checks. With segments
    (``segment_by``), dataset or column drift in any segment is drift of the monitor. A quality metric that is absent or
    undefined (NaN: no label has arrived yet) is missing data, never a bad event.
    """
    if sli.check is DriftCheck.RUN:
        return run.status is RunStatus.OK and not run.data_quality
    if run.status is not RunStatus.OK:
        return None
    if sli.check is DriftCheck.QUALITY and run.data_quality:
        return False
    if sli.check is DriftCheck.DATASET:  # drift in any segment is the monitor's drift
        found = run.drift_found
        return None if found is None else not found
    if sli.check is DriftCheck.COLUMN:
        drifted = run.column_drifted(sli.column or "")
        return None if drifted is None else not drifted
    value = run.quality.get(sli.metric or "")
    if value is None or math.isnan(value) or sli.value is None:
        return None  # labels have not arrived for this window yet
    return sli.op.holds(value, sli.value)


def observations_for(run: DriftRun, slos: Sequence[SLO]) -> list[Observation]:
    """One event per SLO whose drift SLI reads `run.monitor`, at the time the run finished."""
    out: list[Observation] = []
    for slo in slos:
        sli = slo.sli
        if not isinstance(sli, DriftSLI) or sli.source != run.monitor:
            continue
        verdict = run_passes(sli, run)
        if verdict is not None:
            out.append(Observation(slo.key, run.finished_at, 1.0 if verdict else 0.0, 1.0))
    return out
