"""Drift runs become good or bad SLI events, and a broken run is never 'no drift'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from slo_service.core.drift.monitor import ColumnRun, DriftRun, RunStatus
from slo_service.core.drift.sli import observations_for, run_passes
from slo_service.core.model import SLO, Comparison, DriftCheck, DriftSLI, Period

T0 = datetime(2026, 11, 28, 10, tzinfo=UTC)


def run(status: RunStatus = RunStatus.OK, drifted: bool = False, **kw: object) -> DriftRun:
    base: dict[str, object] = {
        "monitor": "features",
        "started_at": T0,
        "finished_at": T0 + timedelta(seconds=5),
        "status": status,
        "dataset_drifted": drifted if status is RunStatus.OK else None,
        "columns": (ColumnRun("age", "numerical", "wasserstein", 0.3, 0.1, True),),
        "quality": {"accuracy": 0.93},
    }
    base.update(kw)
    return DriftRun(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sli", "the_run", "expected"),
    [
        (DriftSLI("features"), run(drifted=False), True),
        (DriftSLI("features"), run(drifted=True), False),
        (DriftSLI("features"), run(RunStatus.FAILED), None),
        (DriftSLI("features", DriftCheck.RUN), run(RunStatus.FAILED), False),
        (DriftSLI("features", DriftCheck.RUN), run(drifted=True), True),
        (DriftSLI("features", DriftCheck.COLUMN, column="age"), run(), False),
        (DriftSLI("features", DriftCheck.COLUMN, column="income"), run(), None),
        (DriftSLI("features", DriftCheck.QUALITY, metric="accuracy", op=Comparison.GE, value=0.9), run(), True),
        (DriftSLI("features", DriftCheck.QUALITY, metric="accuracy", op=Comparison.GE, value=0.95), run(), False),
        (DriftSLI("features", DriftCheck.QUALITY, metric="f1", value=0.9), run(), None),
    ],
    ids=[
        "no-drift-good",
        "drift-bad",
        "failed-run-is-missing-for-dataset",
        "failed-run-is-bad-for-run-check",
        "run-check-ignores-drift",
        "drifted-column-bad",
        "unknown-column-missing",
        "quality-above-good",
        "quality-below-bad",
        "labels-not-arrived-missing",
    ],
)
def test_run_verdicts(sli: DriftSLI, the_run: DriftRun, expected: bool | None) -> None:
    assert run_passes(sli, the_run) is expected


def test_observations_only_for_slos_of_that_monitor() -> None:
    period = Period.rolling(timedelta(days=30))
    slos = [
        SLO("m", "drift", 0.99, period, DriftSLI("features")),
        SLO("m", "other", 0.99, period, DriftSLI("other-monitor")),
        SLO("m", "quality", 0.95, period, DriftSLI("features", DriftCheck.QUALITY, metric="accuracy", value=0.95)),
    ]
    obs = observations_for(run(drifted=True), slos)
    assert [(o.key, o.good, o.total, o.at) for o in obs] == [
        ("m/drift", 0.0, 1.0, T0 + timedelta(seconds=5)),
        ("m/quality", 0.0, 1.0, T0 + timedelta(seconds=5)),
    ]
