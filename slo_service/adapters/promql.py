"""Read SLIs from a Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir): live increases and backfill.

The client is async (httpx.AsyncClient). Queries are POSTed as forms to /api/v1/query and
/api/v1/query_range; a failure raises PromQLError carrying Prometheus' errorType and error.
Empty results mean "no data": they never become good events.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from slo_service.adapters.scrape import http_client, printable
from slo_service.core.durations import format_duration
from slo_service.core.extract import Observation
from slo_service.core.model import SLO, DriftSLI, ErrorRatioSLI, LatencySLI, PromQLSource, RatioSLI, ThresholdSLI
from slo_service.core.ports import ScrapeHealth
from slo_service.core.selector import Selector, parse_selector

MAX_POINTS = 11_000
"""Prometheus refuses range queries of more than 11,000 points per series."""

Vector = list[tuple[dict[str, str], float]]
Matrix = list[tuple[dict[str, str], list[tuple[datetime, float]]]]


class PromQLError(Exception):
    """A failed query: `error_type` is Prometheus' errorType (bad_data, execution, timeout, ...)."""

    def __init__(self, message: str, error_type: str | None = None, status: int | None = None) -> None:
        super().__init__(f"{error_type}: {message}" if error_type else message)
        self.message = message
        self.error_type = error_type
        self.status = status


def _ts(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("PromQL times must be timezone-aware")
    return f"{when.timestamp():.3f}"


def _step(step: timedelta) -> str:
    s = step.total_seconds()
    return str(int(s)) if s == int(s) else f"{s:.3f}"


def _value(raw: Any) -> float:
    return float(raw)  # Prometheus sends "NaN", "+Inf", "-Inf", "1.5e+06" as strings


def _from_unix(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class PromQLClient:
    """Async client of the Prometheus query API. Use as `async with PromQLClient(...) as c:`."""

    def __init__(
        self,
        base_url: str,
        timeout: float | timedelta = 10.0,
        headers: Mapping[str, str] | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        max_points: int = MAX_POINTS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
        self.headers = dict(headers or {})
        self.max_points = max_points
        self._own = client is None
        self._client = client or http_client()

    @classmethod
    def for_source(cls, source: PromQLSource, client: httpx.AsyncClient | None = None) -> PromQLClient:
        return cls(source.url, source.timeout, source.headers, client=client)

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()

    async def __aenter__(self) -> PromQLClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._client.post(
                    url, data=form, headers=self.headers, timeout=httpx.Timeout(self.timeout)
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise PromQLError(f"timeout after {self.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise PromQLError(f"{type(exc).__name__}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            snippet = printable(response.text[:200].strip())
            # a 2xx that is not the API's JSON is a proxy or a wrong URL: say so; an error status speaks for itself
            what = f"not a JSON answer: {snippet}" if snippet and response.is_success else snippet or "no JSON body"
            raise PromQLError(f"HTTP {response.status_code}: {what}", status=response.status_code)
        if body.get("status") != "success":
            raise PromQLError(
                str(body.get("error") or f"HTTP {response.status_code}"),
                error_type=body.get("errorType"),
                status=response.status_code,
            )
        data = body.get("data")
        if not isinstance(data, dict):
            raise PromQLError("response without data", status=response.status_code)
        return data

    async def query(self, expr: str, at: datetime) -> Vector:
        """Instant query at `at`: one (labels, value) per series; a scalar answer gives ({}, value)."""
        data = await self._post("/api/v1/query", {"query": expr, "time": _ts(at)})
        kind = data.get("resultType")
        result = data.get("result")
        if kind == "vector":
            return [(dict(r.get("metric", {})), _value(r["value"][1])) for r in result or []]
        if kind == "scalar" and result:
            return [({}, _value(result[1]))]
        raise PromQLError(f"expected an instant vector, got {kind}")

    async def query_range(self, expr: str, start: datetime, end: datetime, step: timedelta) -> Matrix:
        """Range query over [start, end], split so no request asks for more than `max_points` points."""
        if step.total_seconds() <= 0:
            raise ValueError("step must be positive")
        if end < start:
            return []
        merged: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[tuple[datetime, float]]]] = {}
        span = step * (self.max_points - 1)
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(chunk_start + span, end)
            form = {"query": expr, "start": _ts(chunk_start), "end": _ts(chunk_end), "step": _step(step)}
            data = await self._post("/api/v1/query_range", form)
            if data.get("resultType") != "matrix":
                raise PromQLError(f"expected a range vector, got {data.get('resultType')}")
            for r in data.get("result") or []:
                metric = dict(r.get("metric", {}))
                entry = merged.setdefault(tuple(sorted(metric.items())), (metric, []))
                entry[1].extend((_from_unix(float(t)), _value(v)) for t, v in r.get("values", []))
            # next chunk starts on the step grid after this chunk's last point
            n = math.floor((chunk_end - chunk_start) / step)
            chunk_start = chunk_start + step * (n + 1)
        return list(merged.values())


# ------------------------------------------------------------------ expressions


def _is_selector(expr: str) -> bool:
    try:
        parse_selector(expr)
    except ValueError:
        return False
    return True


def increase_expr(expr: str, window: timedelta) -> str:
    """`sum(increase(SEL[5m]))` for a selector; `$window` in EXPR is replaced and EXPR used as-is;
    any other expression becomes a subquery, `sum(increase((EXPR)[5m:]))`."""
    w = format_duration(window)
    text = expr.strip()
    if "$window" in text:
        return text.replace("$window", w)
    if _is_selector(text):
        return f"sum(increase({text}[{w}]))"
    return f"sum(increase(({text})[{w}:]))"


def window_expr(query: str, window: timedelta) -> str:
    """A `$window` query (an error ratio) over `window`."""
    return query.strip().replace("$window", format_duration(window))


def _raw_observation(slo: SLO, at: datetime, ratio: float, interval: timedelta) -> Observation:
    """One interval of a raw error ratio: its minutes as events, their bad share the ratio (clamped to
    0..1), so every minute weighs the same whatever the collection or backfill step."""
    minutes = interval / timedelta(minutes=1)
    return Observation(slo.key, at, (1.0 - min(max(ratio, 0.0), 1.0)) * minutes, minutes)


def _split_observation(slo: SLO, at: datetime, error: float, total: float) -> Observation:
    """One interval of an error/total ratio: the two values as bad and total (bad clamped to 0..total)."""
    return Observation(slo.key, at, total - min(max(error, 0.0), total), total)


def _one_series(count: int, what: str) -> None:
    if count > 1:
        raise PromQLError(f"{what} returned {count} series; it must return one (aggregate it)")


async def _error_ratio(
    client: PromQLClient, slo: SLO, sli: ErrorRatioSLI, at: datetime, window: timedelta
) -> Observation | None:
    if sli.total is None:
        vector = await client.query(window_expr(sli.error, window), at)
        _one_series(len(vector), "error ratio query")
        # NaN is 0/0: no traffic in the interval, i.e. no data (as in Sloth's rules, where no bound is crossed)
        ratio = _single([(labels, v) for labels, v in vector if not math.isnan(v)], "error ratio query")
        return None if ratio is None else _raw_observation(slo, at, ratio, window)
    total_v, error_v = await asyncio.gather(
        client.query(window_expr(sli.total, window), at), client.query(window_expr(sli.error, window), at)
    )
    _one_series(len(total_v), "total query")
    _one_series(len(error_v), "error query")
    total = _single(total_v, "total query")
    if total is None:
        return None
    return _split_observation(slo, at, _single(error_v, "error query") or 0.0, total)


def _le_matcher(threshold: float) -> str:
    """Match the `le` label however the exporter spelled the boundary ("1", "1.0", "0.25")."""
    spellings = sorted(
        {repr(float(threshold)), f"{threshold:g}"} | ({str(int(threshold))} if threshold == int(threshold) else set())
    )
    if len(spellings) == 1:
        return f'le="{spellings[0]}"'
    alternatives = "|".join(re.escape(s).replace("\\", "\\\\") for s in spellings)
    return f'le=~"{alternatives}"'


def _bucket_selector(sli: LatencySLI, le: str) -> str:
    base = parse_selector(sli.matchers) if sli.matchers.strip() else Selector(None)
    inner = [str(m) for m in base.matchers if m.label != "le"] + [le]
    return f"{sli.histogram}_bucket{{{','.join(inner)}}}"


def latency_exprs(sli: LatencySLI, window: timedelta) -> tuple[str, str]:
    """(good, total): increases of the `le`=threshold bucket and of the `le="+Inf"` bucket."""
    w = format_duration(window)
    good = _bucket_selector(sli, _le_matcher(sli.threshold))
    total = _bucket_selector(sli, 'le="+Inf"')
    return f"sum(increase({good}[{w}]))", f"sum(increase({total}[{w}]))"


def boundaries_expr(sli: LatencySLI) -> str:
    base = parse_selector(sli.matchers) if sli.matchers.strip() else Selector(None)
    return f"count by (le) ({base.with_metric(sli.histogram + '_bucket')})"


def threshold_expr(sli: ThresholdSLI) -> str:
    return f"{sli.aggregate.value}({sli.metric.strip()})"


# ------------------------------------------------------------------ collection


def _single(vector: Vector, what: str) -> float | None:
    """The value of a `sum(...)` answer; None for an empty answer (no data)."""
    if not vector:
        return None
    value = math.fsum(v for _, v in vector)
    if not math.isfinite(value):
        raise PromQLError(f"{what} returned a non-finite value")
    return value


async def _not_a_boundary(client: PromQLClient, sli: LatencySLI, at: datetime) -> str | None:
    try:
        rows = await client.query(boundaries_expr(sli), at)
    except PromQLError:
        return None
    bounds = []
    for labels, _ in rows:
        try:
            bounds.append(float(labels.get("le", "")))
        except ValueError:
            continue
    if not bounds or any(math.isclose(b, sli.threshold, rel_tol=1e-9) for b in bounds):
        return None
    finite = ", ".join(f"{b:g}" for b in sorted(b for b in bounds if math.isfinite(b)))
    return f"threshold {sli.threshold:g} is not a bucket boundary of {sli.histogram}; boundaries: {finite}"


async def _collect_one(client: PromQLClient, slo: SLO, at: datetime, window: timedelta) -> Observation | None:
    sli = slo.sli
    if isinstance(sli, ThresholdSLI):
        value = _single(await client.query(threshold_expr(sli), at), "threshold query")
        if value is None:
            return None
        return Observation(slo.key, at, 1.0 if sli.op.holds(value, sli.value) else 0.0, 1.0)
    if isinstance(sli, RatioSLI):
        total_q = client.query(increase_expr(sli.total, window), at)
        other = sli.good if sli.good is not None else sli.bad
        if other is None:
            raise PromQLError("ratio SLI needs `good` or `bad`")
        total_v, other_v = await asyncio.gather(total_q, client.query(increase_expr(other, window), at))
        total = _single(total_v, "total query")
        if total is None:
            return None
        part = _single(other_v, "good query" if sli.good is not None else "bad query") or 0.0
        good = part if sli.good is not None else total - part
        return Observation(slo.key, at, min(max(good, 0.0), total), total)
    if isinstance(sli, DriftSLI):
        raise PromQLError("drift SLIs are fed by their drift monitor, not by PromQL")
    if isinstance(sli, ErrorRatioSLI):
        return await _error_ratio(client, slo, sli, at, window)
    good_expr, total_expr = latency_exprs(sli, window)
    good_v, total_v = await asyncio.gather(client.query(good_expr, at), client.query(total_expr, at))
    total = _single(total_v, "latency total query")
    if total is None:
        return None
    good_or_none = _single(good_v, "latency good query")
    if good_or_none is None:
        problem = await _not_a_boundary(client, sli, at)
        if problem:
            raise PromQLError(problem)
    good_value = good_or_none or 0.0
    return Observation(slo.key, at, min(max(good_value, 0.0), total), total)


@dataclass(frozen=True)
class PromQLCollection:
    observations: list[Observation]
    health: ScrapeHealth
    errors: dict[str, str]
    """SLO key -> why its query failed (empty answers are not errors: they are "no data")."""


async def collect_promql_detailed(
    client: PromQLClient, slos: Sequence[SLO], source: PromQLSource, at: datetime, interval: timedelta
) -> PromQLCollection:
    """Increase over (at - interval, at] for each SLO of `source`, with per-SLO errors.

    `health.up` is False only when every SLO's query failed (source unreachable, or all broken); a
    partial failure keeps the source up and names the failing SLOs in `health.error`.
    Empty answers are "no data" (no observation), never good events.
    """
    mine = [s for s in slos if s.sli.source == source.name]
    started = time.monotonic()
    results = await asyncio.gather(*(_collect_one(client, s, at, interval) for s in mine), return_exceptions=True)
    observations: list[Observation] = []
    errors: dict[str, str] = {}
    for slo, res in zip(mine, results, strict=True):
        if isinstance(res, Observation):
            observations.append(res)
        elif isinstance(res, Exception):
            errors[slo.key] = str(res)
        elif isinstance(res, BaseException):  # cancellation
            raise res
    error = "; ".join(f"{k}: {v}" for k, v in errors.items()) if errors else None
    if error and len(error) > 500:
        error = error[:497] + "..."
    health = ScrapeHealth(
        source=source.name,
        target=source.url,
        at=at,
        up=not mine or len(errors) < len(mine),
        duration_seconds=time.monotonic() - started,
        samples=len(observations),
        error=error,
    )
    return PromQLCollection(observations, health, errors)


async def collect_promql(
    client: PromQLClient, slos: Sequence[SLO], source: PromQLSource, at: datetime, interval: timedelta
) -> tuple[list[Observation], ScrapeHealth]:
    """`collect_promql_detailed` as (observations, health)."""
    result = await collect_promql_detailed(client, slos, source, at, interval)
    return result.observations, result.health


def _series_points(matrix: Matrix) -> dict[datetime, float]:
    points: dict[datetime, float] = {}
    for _, values in matrix:
        for t, v in values:
            if math.isfinite(v):
                points[t] = points.get(t, 0.0) + v
    return points


async def backfill(
    client: PromQLClient,
    slo: SLO,
    source: PromQLSource,
    start: datetime,
    end: datetime,
    step: timedelta = timedelta(minutes=5),
) -> list[Observation]:
    """One observation per step over (start, end]: each covers (t - step, t] and is stamped `t`.

    Steps without data (empty or NaN answers) give no observation.
    """
    sli = slo.sli
    if sli.source != source.name:
        raise ValueError(f"SLO {slo.key} reads source {sli.source!r}, not {source.name!r}")
    first = start + step
    if first > end:
        return []
    out: list[Observation] = []
    if isinstance(sli, ThresholdSLI):
        points = _series_points(await client.query_range(threshold_expr(sli), first, end, step))
        for t in sorted(points):
            good = 1.0 if sli.op.holds(points[t], sli.value) else 0.0
            out.append(Observation(slo.key, t, good, 1.0))
        return out
    if isinstance(sli, RatioSLI):
        other = sli.good if sli.good is not None else sli.bad
        if other is None:
            raise PromQLError("ratio SLI needs `good` or `bad`")
        total_m, other_m = await asyncio.gather(
            client.query_range(increase_expr(sli.total, step), first, end, step),
            client.query_range(increase_expr(other, step), first, end, step),
        )
        totals, others = _series_points(total_m), _series_points(other_m)
        for t in sorted(totals):
            total = totals[t]
            part = others.get(t, 0.0)
            good = part if sli.good is not None else total - part
            out.append(Observation(slo.key, t, min(max(good, 0.0), total), total))
        return out
    if isinstance(sli, DriftSLI):
        raise PromQLError("drift SLIs are fed by their drift monitor, not by PromQL")
    if isinstance(sli, ErrorRatioSLI):
        if sli.total is None:
            matrix = await client.query_range(window_expr(sli.error, step), first, end, step)
            _one_series(len(matrix), "error ratio query")
            points = _series_points(matrix)
            return [_raw_observation(slo, t, points[t], step) for t in sorted(points)]
        total_m, error_m = await asyncio.gather(
            client.query_range(window_expr(sli.total, step), first, end, step),
            client.query_range(window_expr(sli.error, step), first, end, step),
        )
        _one_series(len(total_m), "total query")
        _one_series(len(error_m), "error query")
        totals, errors = _series_points(total_m), _series_points(error_m)
        return [_split_observation(slo, t, errors.get(t, 0.0), totals[t]) for t in sorted(totals)]
    good_expr, total_expr = latency_exprs(sli, step)
    good_m, total_m = await asyncio.gather(
        client.query_range(good_expr, first, end, step), client.query_range(total_expr, first, end, step)
    )
    goods, totals = _series_points(good_m), _series_points(total_m)
    if totals and not goods:
        problem = await _not_a_boundary(client, sli, end)
        if problem:
            raise PromQLError(problem)
    for t in sorted(totals):
        total = totals[t]
        out.append(Observation(slo.key, t, min(max(goods.get(t, 0.0), 0.0), total), total))
    return out
