"""Drift monitors alert when their newest run finds drift or fails."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from slo_service.core.alerting.drift_conditions import (
    DRIFT_DATA_QUALITY,
    DRIFT_DETECTED,
    DRIFT_RUN_FAILED,
    drift_conditions,
)
from slo_service.core.drift.monitor import ColumnRun, DriftRun, RunStatus

T0 = datetime(2026, 11, 28, 10, tzinfo=UTC)


def run(minute: int, status: RunStatus = RunStatus.OK, drifted: bool = False, reason: str | None = None) -> DriftRun:
    cols = (
        ColumnRun("age", "numerical", "wasserstein", 0.3 if drifted else 0.01, 0.1, drifted),
        ColumnRun("country", "categorical", "jensenshannon", 0.02, 0.1, False),
    )
    return DriftRun(
        "features",
        T0 + timedelta(minutes=minute),
        T0 + timedelta(minutes=minute, seconds=4),
        status,
        reason=reason,
        drifted_share=0.5 if drifted else 0.0,
        dataset_drifted=drifted if status is RunStatus.OK else None,
        columns=cols if status is RunStatus.OK else (),
        id=minute,
    )


def active(runs: list[DriftRun]) -> set[str]:
    return {c.labels["alertname"] for c in drift_conditions(runs) if c.active}


def test_the_newest_run_decides() -> None:
    assert active([run(0, drifted=True), run(60, drifted=False)]) == set()
    assert active([run(0, drifted=False), run(60, drifted=True)]) == {DRIFT_DETECTED}
    assert active([run(0, drifted=True), run(60, RunStatus.FAILED, reason="missing columns: age")]) == {
        DRIFT_RUN_FAILED
    }


def test_annotations_name_the_columns_and_the_reason() -> None:
    detected = next(c for c in drift_conditions([run(0, drifted=True)]) if c.labels["alertname"] == DRIFT_DETECTED)
    assert detected.labels["monitor"] == "features" and detected.labels["severity"] == "ticket"
    assert "age" in detected.annotations["summary"] and "50%" in detected.annotations["summary"]
    assert "/api/v1/drift/runs/0" in detected.annotations["description"]
    failed = next(
        c
        for c in drift_conditions([run(5, RunStatus.FAILED, reason="empty current window")])
        if c.labels["alertname"] == DRIFT_RUN_FAILED
    )
    assert failed.active and failed.annotations["summary"] == "features: drift run failed: empty current window"


def test_data_quality_findings_alert_until_a_clean_run() -> None:
    broken = replace(run(0), data_quality=("column 'age' is entirely empty (40 rows)",))
    assert active([broken]) == {DRIFT_DATA_QUALITY}
    quality = next(c for c in drift_conditions([broken]) if c.labels["alertname"] == DRIFT_DATA_QUALITY)
    assert quality.annotations["summary"] == "features: data quality: column 'age' is entirely empty (40 rows)"
    assert active([broken, run(60)]) == set()
