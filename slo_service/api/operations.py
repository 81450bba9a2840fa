"""Sources health, push ingest and config reload endpoints."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response

from slo_service.api.errors import RETRY_AFTER_SECONDS
from slo_service.api.inputs import NO_NUL
from slo_service.api.limits import input_limits
from slo_service.api.schemas import IngestRequest, IngestResponse
from slo_service.core.durations import format_duration
from slo_service.core.model import PromQLSource, PushSource, ScrapeSource
from slo_service.core.ports import StoreUnavailable
from slo_service.core.samples import Sample, value_text
from slo_service.pipeline.collect import BadPush
from slo_service.pipeline.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["operations"])
_SHOWN_PROBLEMS = 5


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


@router.get("/sources", summary="Every source with the health of its last collection")
def sources(request: Request) -> list[dict[str, Any]]:
    rt = _runtime(request)
    try:
        stored = {(st.latest.source, st.latest.target): st for st in rt.store.scrape_statuses()}
    except StoreUnavailable:  # the in-memory view still answers while the database is down; a bug is a 500
        stored = {}
    out = []
    for name, source in rt.config.sources.items():
        state = rt.sources.get(name)
        health = state.health if state else None
        item: dict[str, Any] = {
            "name": name,
            "type": str(source.kind),
            "slos": [s.key for s in rt.config.slos if s.sli.source == name],
            "slo_errors": dict(state.slo_errors) if state else {},
        }
        if isinstance(source, ScrapeSource | PromQLSource):
            item["url"] = source.url
            item["interval_seconds"] = source.interval.total_seconds()
        if isinstance(source, ScrapeSource):
            item["body_size_limit_bytes"] = source.body_size_limit
            # what the last scrape held that Prometheus would also report: repeats, counters that are none
            item["duplicate_series"] = state.duplicate_series if state else 0
            item["invalid_counters"] = {k: value_text(v) for k, v in state.invalid_counters.items()} if state else {}
        if health is not None:
            item["health"] = {
                "target": health.target,
                "up": health.up,
                "last_attempt": health.at,
                "duration_seconds": health.duration_seconds,
                "samples": health.samples,
                "error": health.error,
            }
            persisted = stored.get((name, health.target))
            if persisted is not None:
                item["health"]["last_success_at"] = persisted.last_success_at
                item["health"]["consecutive_failures"] = persisted.consecutive_failures
                item["health"]["down_since"] = persisted.failing_since
        else:
            item["health"] = None
        out.append(item)
    return out


@router.post(
    "/ingest",
    response_model=IngestResponse,
    status_code=202,
    summary="Push event counts or gauge values for a push source; idempotent by key",
    responses={200: {"description": "duplicate idempotency key: nothing stored again"}},
)
async def ingest(
    request: Request,
    response: Response,
    body: IngestRequest,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200, pattern=NO_NUL)] = None,
) -> IngestResponse:
    rt = _runtime(request)
    source = rt.config.sources.get(body.source)
    if source is None:
        known = sorted(n for n, s in rt.config.sources.items() if isinstance(s, PushSource))
        raise HTTPException(404, f"source: unknown source {body.source!r}; push sources: {known}")
    if not isinstance(source, PushSource):
        raise HTTPException(422, f"source: {body.source!r} is a {source.kind} source, not push")
    now = rt.clock.now()
    limits = input_limits(request.app)
    oldest, newest = now - limits.ingest_max_age, now + limits.ingest_max_future
    samples = []
    for i, s in enumerate(body.samples):
        ts = now if s.timestamp is None else s.timestamp
        if ts > newest:
            ahead = format_duration(limits.ingest_max_future)
            raise HTTPException(422, f"samples[{i}].timestamp: {ts.isoformat()} is in the future, over {ahead} ahead")
        if ts < oldest:
            raise HTTPException(
                422,
                f"samples[{i}].timestamp: {ts.isoformat()} is in the past: older than the raw retention "
                f"({format_duration(limits.ingest_max_age)}); older counts cannot be stored",
            )
        samples.append(Sample(s.metric, s.labels, s.value, ts))
    key = body.idempotency_key or idempotency_key
    try:
        stored, n, errors = await asyncio.to_thread(rt.ingest, body.source, samples, key)
    except KeyError:
        raise HTTPException(404, f"source: unknown source {body.source!r}") from None
    except BadPush as exc:
        shown = exc.problems[:_SHOWN_PROBLEMS]
        more = f" (and {len(exc.problems) - len(shown)} more)" if len(exc.problems) > len(shown) else ""
        raise HTTPException(
            422, {"message": "push refused, nothing stored: " + "; ".join(shown) + more, "problems": exc.problems}
        ) from None
    except StoreUnavailable as exc:  # any other error is a bug: a 500 with its log line
        raise HTTPException(
            503,
            f"storage unavailable, nothing was stored; retry with the same idempotency key ({exc})",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
    if not stored:
        response.status_code = 200
    return IngestResponse(stored=stored, duplicate=not stored, observations=n, errors=errors)


@router.get("/config", summary="The active configuration and the outcome of the last reload")
def config(request: Request) -> dict[str, Any]:
    rt = _runtime(request)
    last = rt.last_reload
    return {
        "files": list(rt.config.files),
        "hash": rt.config_hash,
        "services": sorted(rt.config.services),
        "sources": sorted(rt.config.sources),
        "slos": [s.key for s in rt.config.slos],
        "last_reload": None if last is None else {"ok": last.ok, "at": last.at, "problems": list(last.problems)},
    }


@router.post(
    "/config/reload",
    summary="Reload the YAML config; a bad file is refused and the active config stays",
    responses={422: {"description": "the new config has problems; the old one is still active"}},
)
async def reload(request: Request) -> dict[str, Any]:
    rt = _runtime(request)
    outcome = await asyncio.to_thread(rt.reload)
    if not outcome.ok:
        raise HTTPException(
            422,
            {
                "message": "config refused, the previous config stays active",
                "problems": list(outcome.problems),
            },
        )
    return {
        "message": "config reloaded",
        "slos": len(rt.config.slos),
        "added": list(outcome.added),
        "removed": list(outcome.removed),
    }
