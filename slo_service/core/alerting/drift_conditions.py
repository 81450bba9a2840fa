"""Alert conditions of drift monitors: drift detected, and drift run failed (one each per monitor)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from slo_service.core.alerting.conditions import AlertCondition, alertname_scope, render_annotations
from slo_service.core.drift.monitor import DriftRun, RunStatus

DRIFT_DETECTED = "DriftDetected"
DRIFT_RUN_FAILED = "DriftRunFailed"
DRIFT_DATA_QUALITY = "DriftDataQuality"

_DETECTED_SUMMARY = "{monitor}: data drift in {drifted_share} of the columns ({drifted_columns})"
_DETECTED_DESCRIPTION = (
    "The drift run of {finished_at} found {drifted_count} drifted column(s) of {checked_count}; the dataset "
    "counts as drifted at a share of {drift_share_needed} or more. Run {run_id}: /api/v1/drift/runs/{run_id}."
)
_FAILED_SUMMARY = "{monitor}: drift run failed: {reason}"
_FAILED_DESCRIPTION = "The drift run of {finished_at} failed, so drift and data quality are unknown: {reason}."
_QUALITY_SUMMARY = "{monitor}: data quality: {data_quality}"
_QUALITY_DESCRIPTION = (
    "The drift run of {finished_at} found broken data: {data_quality}. Run {run_id}: /api/v1/drift/runs/{run_id}."
)


def drift_conditions(
    runs: Sequence[DriftRun],
    drift_share_of: Mapping[str, float] | None = None,
    *,
    labels_of: Mapping[str, Mapping[str, str]] | None = None,
    severity: str = "ticket",
    for_: timedelta = timedelta(0),
) -> list[AlertCondition]:
    """Three conditions per monitor from its newest run: DriftDetected, DriftRunFailed and DriftDataQuality
    (an OK run whose data-quality findings say a column is empty or far more often missing)."""
    newest: dict[str, DriftRun] = {}
    for r in runs:
        if r.monitor not in newest or r.finished_at >= newest[r.monitor].finished_at:
            newest[r.monitor] = r
    out: list[AlertCondition] = []
    for monitor, run in sorted(newest.items()):
        base = {**((labels_of or {}).get(monitor) or {}), "monitor": monitor, "severity": severity}
        drifted = [c.column for c in run.columns if c.drifted]
        drifted += [
            f"{c.column} in segment {s.segment}"
            for s in run.segments
            if s.dataset_drifted
            for c in s.columns
            if c.drifted
        ]
        checked = [c for c in run.columns if c.drifted is not None]
        context = {
            **base,
            "finished_at": run.finished_at.isoformat(),
            "drifted_share": f"{(run.drifted_share or 0.0):.0%}",
            "drifted_columns": ", ".join(drifted[:10]) + (" ..." if len(drifted) > 10 else "") or "none",
            "drifted_count": str(len(drifted)),
            "checked_count": str(len(checked)),
            "drift_share_needed": f"{(drift_share_of or {}).get(monitor, 0.5):.0%}",
            "run_id": str(run.id) if run.id is not None else "?",
            "reason": run.reason or "unknown",
            "data_quality": "; ".join(run.data_quality) or "none",
        }
        ok = run.status is RunStatus.OK
        values: dict[str, float | None] = {
            "drifted_share": run.drifted_share,
            "drifted_columns": float(len(drifted)),
            "duration_seconds": run.duration_seconds,
        }
        detected = {**base, "alertname": DRIFT_DETECTED}
        out.append(
            AlertCondition(
                detected,
                render_annotations(
                    {"summary": _DETECTED_SUMMARY, "description": _DETECTED_DESCRIPTION}, {}, dict(context)
                ),
                ok and bool(run.drift_found),  # the whole window or any segment
                values,
                for_,
            )
        )
        failed = {**base, "alertname": DRIFT_RUN_FAILED}
        out.append(
            AlertCondition(
                failed,
                render_annotations({"summary": _FAILED_SUMMARY, "description": _FAILED_DESCRIPTION}, {}, dict(context)),
                not ok,
                values,
                for_,
            )
        )
        quality = {**base, "alertname": DRIFT_DATA_QUALITY}
        out.append(
            AlertCondition(
                quality,
                render_annotations(
                    {"summary": _QUALITY_SUMMARY, "description": _QUALITY_DESCRIPTION}, {}, dict(context)
                ),
                ok and bool(run.data_quality),
                values,
                for_,
            )
        )
    return out


def drift_scope() -> Callable[[Mapping[str, str]], bool]:
    """Scope of the drift monitors: every DriftDetected, DriftRunFailed and DriftDataQuality alert."""
    return alertname_scope(frozenset({DRIFT_DETECTED, DRIFT_RUN_FAILED, DRIFT_DATA_QUALITY}))
