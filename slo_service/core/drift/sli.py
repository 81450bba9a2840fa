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
    jump in missing values) is bad for the `run` and `quality` checks. A quality metric that is absent or
    undefined (NaN: no label has arrived yet) is missing data, never a bad event.
    """
    if sli.check is DriftCheck.RUN:
        return run.status is RunStatus.OK and not run.data_quality
    if run.status is not RunStatus.OK:
        return None
    if sli.check is DriftCheck.QUALITY and run.data_quality:
        return False
    if sli.check is DriftCheck.DATASET:
        return None if run.dataset_drifted is None else not run.dataset_drifted
    if sli.check is DriftCheck.COLUMN:
        col = next((c for c in run.columns if c.column == sli.column), None)
        return None if col is None or col.drifted is None else not col.drifted
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
