"""Drift monitors: pushed batches, on-demand runs, run history and the Evidently HTML reports.

    POST /api/v1/monitors/{name}/batches   JSON {"records": [...]} or a Parquet body (push monitors)
    GET  /api/v1/monitors/{name}/batches   the batches kept for a push monitor
    DELETE /api/v1/monitors/{name}/batches/{id}   forget a batch (later runs no longer see it)
    GET  /api/v1/monitors                  every monitor's config and newest run
    POST /api/v1/monitors/{name}/run       run the monitor now; answers with the run
    GET  /api/v1/drift/runs                run summaries, newest first (?monitor&status&since&drifted&limit)
    GET  /api/v1/drift/runs/{id}           one run with its columns
    GET  /api/v1/drift/runs/{id}/report    the run's HTML report

Runs happen in the drift worker process; the routes wait for them in a thread (asyncio.to_thread), so the
API keeps answering while a run is in progress. A pushed body is streamed to a temporary file as it arrives
(never held whole in memory by the route), then parsed, checked and stored in a thread: /healthz keeps
answering while a large batch is parsed.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse

from slo_service.api.errors import unparsable_body
from slo_service.api.inputs import PathId, PathName, instant_param, query_instant, query_name
from slo_service.core.drift.monitor import CurrentKind, DriftMonitor, DriftRun, RunStatus
from slo_service.core.drift.ports import RunQuery
from slo_service.pipeline.drift import BadBatch, DriftService, NotAPushMonitor

if TYPE_CHECKING:  # imported where used: pandas and pyarrow are ~0.4 s of a start-up
    import pandas as pd

router = APIRouter(tags=["drift"])

PARQUET_TYPES = frozenset({"application/vnd.apache.parquet", "application/octet-stream", "application/x-parquet"})
MAX_LIMIT = 1000
_RECORDS = {"type": "array", "minItems": 1, "items": {"type": "object"}}
_BATCH_CONTENT = {
    "application/json": {"schema": {"type": "object", "required": ["records"], "properties": {"records": _RECORDS}}},
    **{ctype: {"schema": {"type": "string", "format": "binary"}} for ctype in sorted(PARQUET_TYPES)},
}


def _service(request: Request) -> DriftService:
    svc: DriftService | None = getattr(request.app.state, "drift", None)
    if svc is None:
        raise HTTPException(404, "drift monitoring is not configured")
    return svc


def _monitor(svc: DriftService, name: str) -> DriftMonitor:
    found = svc.monitors().get(name)
    if found is None:
        raise HTTPException(404, f"no drift monitor {name!r}")
    return found


def _num(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) or math.isinf(v) else v


def run_out(run: DriftRun, columns: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": run.id,
        "monitor": run.monitor,
        "status": run.status.value,
        "reason": run.reason,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_seconds": run.duration_seconds,
        "reference_version": run.reference_version,
        "rows_reference": run.rows_reference,
        "rows_current": run.rows_current,
        "sample_rows_reference": run.sample_rows_reference,
        "sample_rows_current": run.sample_rows_current,
        "drifted_share": _num(run.drifted_share),
        "dataset_drifted": run.dataset_drifted,
        "drifted_columns": [c.column for c in run.columns if c.drifted],
        "quality": {k: _num(v) for k, v in run.quality.items()},
        "schema_problems": list(run.schema_problems),
        "data_quality": list(run.data_quality),
        "has_report": run.report_path is not None,
        "drift_found": run.drift_found,
        "segments": [seg.to_dict() for seg in run.segments],
    }
    if not columns:
        del out["drifted_columns"]
        return out
    out["columns"] = [
        {
            "column": c.column,
            "kind": c.kind,
            "method": c.method,
            "score": _num(c.score),
            "threshold": _num(c.threshold),
            "drifted": c.drifted,
            "missing_share": _num(c.missing_share),
            "new_categories": c.new_categories,
            "new_category_rows": c.new_category_rows,
            "out_of_range_share": _num(c.out_of_range_share),
            "note": c.note,
        }
        for c in run.columns
    ]
    return out


def _seconds(td: Any) -> float | None:
    return None if td is None else float(td.total_seconds())


def monitor_out(m: DriftMonitor, last: DriftRun | None) -> dict[str, Any]:
    cols = m.columns
    return {
        "name": m.name,
        "current": {
            "kind": m.current.kind.value,
            "path": m.current.path,
            "timestamp_column": m.current.timestamp_column,
        },
        "reference": {
            "kind": m.reference.kind.value,
            "path": m.reference.path,
            "version": m.reference.version,
            "window_seconds": _seconds(m.reference.window),
        },
        "columns": {
            "numerical": list(cols.numerical),
            "categorical": list(cols.categorical),
            "text": list(cols.text),
            "datetime": list(cols.datetime),
            "id": cols.id,
            "target": cols.target,
            "prediction": cols.prediction,
        },
        "window_seconds": _seconds(m.window),
        "window_rows": m.window_rows,
        "interval_seconds": _seconds(m.interval),
        "cron": m.cron,
        "stattests": dict(m.stattests),
        "thresholds": dict(m.thresholds),
        "drift_share": m.drift_share,
        "sample_rows": m.sample_rows,
        "timeout_seconds": _seconds(m.timeout),
        "ground_truth": None
        if m.ground_truth is None
        else {
            "label_column": m.ground_truth.label_column,
            "task": m.ground_truth.task.value,
            "kind": m.ground_truth.current.kind.value,
            "score_column": m.ground_truth.score_column,
            "max_delay_seconds": _seconds(m.ground_truth.max_delay),
        },
        "report_retention_seconds": _seconds(m.report_retention),
        "max_missing_increase": m.max_missing_increase,
        "labels": dict(m.labels),
        "last_run": None if last is None else run_out(last, columns=False),
    }


# --- pushed batches --------------------------------------------------------------------------------------


def _records_frame(path: str) -> pd.DataFrame:
    import pandas as pd

    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (ValueError, RecursionError) as exc:  # bad UTF-8 is a ValueError; thousands of nested arrays recurse
        raise HTTPException(422, unparsable_body(exc) or f"body: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or "records" not in doc:
        raise HTTPException(422, 'records: required (send {"records": [{...}, ...]})')
    records = doc["records"]
    del doc
    if not isinstance(records, list):
        raise HTTPException(422, "records: must be a list of objects")
    if not records:
        raise HTTPException(422, "records: the batch has no rows")
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise HTTPException(422, f"records[{i}]: must be an object")
    return pd.DataFrame.from_records(records)


def _parquet_frame(path: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pandas()
    except Exception as exc:
        raise HTTPException(422, f"body: not a readable Parquet file ({type(exc).__name__})") from None


def _timestamps(frame: pd.DataFrame, column: str | None, json_body: bool) -> pd.DataFrame:
    import pandas as pd

    if column is None or column not in frame.columns:
        return frame  # the service names missing columns
    if pd.api.types.is_datetime64_any_dtype(frame[column]):
        return frame
    try:
        parsed = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    except (ValueError, TypeError):
        where = "records[]" if json_body else "rows[]"
        raise HTTPException(422, f"{where}.{column}: not an RFC 3339 timestamp") from None
    return frame.assign(**{column: parsed})


def _ingest(svc: DriftService, monitor: DriftMonitor, path: str, parquet: bool) -> Any:
    """Parse, check and store a pushed body (in a thread: a large body never blocks the event loop)."""
    frame = _parquet_frame(path) if parquet else _records_frame(path)
    where = "rows" if parquet else "records"
    frame = _timestamps(frame, monitor.current.timestamp_column, not parquet)
    gt = monitor.ground_truth
    if gt is not None and gt.current.timestamp_column not in (None, monitor.current.timestamp_column):
        frame = _timestamps(frame, gt.current.timestamp_column, not parquet)
    return svc.ingest_batch(monitor, frame, where)


async def _spool(request: Request) -> str:
    """The request body in a temporary file, written chunk by chunk as it arrives (BodyLimit caps its size)."""
    tmp = tempfile.NamedTemporaryFile(prefix="slo-batch-", suffix=".body", delete=False)  # noqa: SIM115
    try:
        with tmp:
            async for chunk in request.stream():
                if chunk:
                    tmp.write(chunk)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise
    return tmp.name


@router.post(
    "/api/v1/monitors/{name}/batches",
    status_code=201,
    summary="Push a batch of rows (or, for pushed ground truth, of labels) to a push monitor",
    openapi_extra={"requestBody": {"required": True, "content": _BATCH_CONTENT}},
)
async def push_batch(request: Request, name: PathName) -> dict[str, Any]:
    svc = _service(request)
    monitor = _monitor(svc, name)
    if monitor.current.kind is not CurrentKind.PUSH:
        raise HTTPException(409, f"monitor {name!r} reads {monitor.current.kind.value}, it does not accept batches")
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype in PARQUET_TYPES:
        parquet = True
    elif ctype in ("application/json", ""):
        parquet = False
    else:
        raise HTTPException(415, f"content-type {ctype!r}: use application/json or application/vnd.apache.parquet")
    path = await _spool(request)
    try:
        batch = await asyncio.to_thread(_ingest, svc, monitor, path, parquet)
    except BadBatch as exc:
        raise HTTPException(422, str(exc)) from None
    except NotAPushMonitor as exc:
        raise HTTPException(409, str(exc)) from None
    except RuntimeError as exc:
        raise HTTPException(503, str(exc)) from None
    finally:
        Path(path).unlink(missing_ok=True)
    return batch_out(batch)


def batch_out(batch: Any) -> dict[str, Any]:
    return {
        "id": batch.id,
        "monitor": batch.monitor,
        "kind": batch.kind,
        "rows": batch.rows,
        "received_at": batch.received_at,
    }


def _push_monitor(svc: DriftService, name: str) -> DriftMonitor:
    monitor = _monitor(svc, name)
    if monitor.current.kind is not CurrentKind.PUSH:
        raise HTTPException(409, f"monitor {name!r} reads {monitor.current.kind.value}, it has no pushed batches")
    return monitor


@router.get("/api/v1/monitors/{name}/batches", summary="The batches kept for a push monitor, oldest first")
def list_batches(request: Request, name: PathName) -> list[dict[str, Any]]:
    svc = _service(request)
    return [batch_out(b) for b in svc.batches(_push_monitor(svc, name))]


@router.delete(
    "/api/v1/monitors/{name}/batches/{batch_id}",
    summary="Forget a pushed batch and its file; later runs no longer see it",
)
def delete_batch(request: Request, name: PathName, batch_id: PathId) -> dict[str, Any]:
    svc = _service(request)
    found = svc.delete_batch(_push_monitor(svc, name), batch_id)
    if found is None:
        raise HTTPException(404, f"monitor {name!r} has no batch {batch_id}")
    return batch_out(found)


# --- monitors and runs -----------------------------------------------------------------------------------


@router.get("/api/v1/monitors", summary="Drift monitors with their newest run")
def list_monitors(request: Request) -> list[dict[str, Any]]:
    svc = _service(request)
    latest = svc.latest()
    return [monitor_out(m, latest.get(n)) for n, m in sorted(svc.monitors().items())]


@router.post("/api/v1/monitors/{name}/run", summary="Run a drift monitor now and return the run")
async def run_now(request: Request, name: PathName) -> dict[str, Any]:
    svc = _service(request)
    monitor = _monitor(svc, name)
    run = await asyncio.to_thread(svc.run_monitor, monitor)
    return run_out(run)


@router.get(
    "/api/v1/monitors/{name}/live",
    summary="Drift of the pushed data over the monitor's window, from merged per-slice histograms",
)
def live(request: Request, name: PathName) -> dict[str, Any]:
    svc = _service(request)
    monitor = _monitor(svc, name)
    if svc.live is None:
        raise HTTPException(404, "live drift is not configured")
    window = svc.live.window(monitor)
    if window is None:
        raise HTTPException(
            404,
            f"no live drift for {name!r} yet: it needs pushed batches and the reference profile of a first run",
        )
    return {
        "monitor": name,
        "start": window.start,
        "end": window.end,
        "rows": window.rows,
        "drifted_share": window.drifted_share,
        "dataset_drifted": window.dataset_drifted,
        "columns": [
            {"column": d.column, "method": d.method, "score": d.score, "threshold": d.threshold, "drifted": d.drifted}
            for d in window.columns.values()
        ],
    }


@router.get("/api/v1/drift/runs", summary="Drift runs, newest first (summaries without columns)")
def list_runs(
    request: Request,
    monitor: Annotated[str | None, query_name("only this monitor")] = None,
    status: Annotated[RunStatus | None, Query(description="ok or failed")] = None,
    since: Annotated[str | None, query_instant("runs started at or after")] = None,
    drifted: Annotated[bool | None, Query(description="only runs with (true) / without (false) dataset drift")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> list[dict[str, Any]]:
    svc = _service(request)
    started = instant_param(since, "since")
    query = RunQuery(monitor=monitor, status=status, since=started, dataset_drifted=drifted, limit=limit)
    return [run_out(r, columns=False) for r in svc.runs(query)]


def _run(svc: DriftService, run_id: int) -> DriftRun:
    run = svc.run(run_id)
    if run is None:
        raise HTTPException(404, f"no drift run {run_id}")
    return run


@router.get("/api/v1/drift/runs/{run_id}", summary="One drift run with its columns")
def get_run(request: Request, run_id: PathId) -> dict[str, Any]:
    return run_out(_run(_service(request), run_id))


@router.get(
    "/api/v1/drift/runs/{run_id}/report",
    summary="The Evidently HTML report of a run",
    response_model=None,
    responses={200: {"content": {"text/html": {}}, "description": "the HTML report"}},
)
def get_report(request: Request, run_id: PathId) -> FileResponse:
    run = _run(_service(request), run_id)
    if run.report_path is None:
        raise HTTPException(404, f"drift run {run_id} has no report")
    path = Path(run.report_path)
    if not path.is_file():
        raise HTTPException(404, f"the report of drift run {run_id} is no longer available")
    return FileResponse(path, media_type="text/html")
