"""Scrape one Prometheus text-format endpoint into Samples plus a ScrapeHealth record. Never raises."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from slo_service.core.model import ScrapeSource
from slo_service.core.ports import ScrapeHealth
from slo_service.core.samples import Sample

ACCEPT = "text/plain;version=0.0.4"
_THREAD_PARSE_BYTES = 64 * 1024
"""Bodies larger than this are parsed in a worker thread so other scrapes' timers keep running."""


@dataclass(frozen=True)
class ScrapeOutcome:
    samples: list[Sample]
    health: ScrapeHealth


class _ScrapeError(Exception):
    pass


def parse_text(body: str) -> list[Sample]:
    """Flatten a text-format exposition into Samples under their sample names (`x_bucket`, `x_total`).

    Raise ValueError on a body that does not parse. Exposition timestamps are ignored: a scrape's
    samples are all taken at the scrape time. Plain bodies (no label escapes, quoted names, odd
    spacing) go through a fast path that yields exactly what prometheus_client's parser yields;
    anything else is parsed by `prometheus_client.parser.text_string_to_metric_families`.
    """
    fast = _parse_fast(body)
    return fast if fast is not None else parse_text_reference(body)


def parse_text_reference(body: str) -> list[Sample]:
    """The same, always through prometheus_client's parser."""
    out: list[Sample] = []
    for family in text_string_to_metric_families(body):
        rename: str | None = None
        if family.type == "counter" and not _exposed(body, family.name + "_total"):
            # the parser appends `_total` to counters exposed without it; Prometheus keeps the name
            rename = family.name
        for s in family.samples:
            name = rename if rename is not None and s.name == rename + "_total" else s.name
            out.append(Sample(name, s.labels, float(s.value)))
    return out


_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
_FAST_LINE = re.compile(rf"({_NAME})(?:\{{({_LABEL_PAIR}(?:,{_LABEL_PAIR})*)\}})? ([^ \t]+)(?: ([^ \t]+))?")
_FAST_PAIRS = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')
_FAST_NAME = re.compile(_NAME)
_TYPES = frozenset(("counter", "gauge", "histogram", "summary", "untyped", "info", "stateset", "gaugehistogram"))


def _parse_fast(body: str) -> list[Sample] | None:
    """Samples of a plain body, or None when the reference parser must decide."""
    out: list[Sample] = []
    counters: set[str] = set()
    append = out.append
    match = _FAST_LINE.fullmatch
    pairs = _FAST_PAIRS.findall
    for raw in body.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if line[0] == "#":
            parts = line.split(None, 3)
            if any('"' in p or "\\" in p for p in parts[:3]):
                return None  # quoted or escaped names: the reference parser decides
            if len(parts) >= 2 and parts[1] in ("TYPE", "HELP"):
                if len(parts) < 3 or not _FAST_NAME.fullmatch(parts[2]):
                    return None
                if parts[1] == "TYPE" and (len(parts) != 4 or parts[3] not in _TYPES):
                    return None
                if parts[1] == "TYPE" and parts[3] == "counter":
                    counters.add(parts[2])
            continue
        m = match(line)
        if m is None:
            return None
        name, label_text, value_text, ts_text = m.groups()
        if "_" in value_text or (ts_text is not None and "_" in ts_text):
            return None
        try:
            value = float(value_text)
            if ts_text is not None:
                float(ts_text)
        except ValueError:
            return None
        if label_text:
            found = pairs(label_text)
            labels = dict(found)
            if len(labels) != len(found) or "__name__" in labels:
                return None
        else:
            labels = {}
        append(Sample(name, labels, value))
    if counters:
        names = {sample.name for sample in out}
        if any(c in names and c + "_total" in names for c in counters):
            return None  # a counter exposed both with and without _total: the reference parser decides
    return out


def _exposed(body: str, name: str) -> bool:
    """Whether some sample line of `body` starts with metric name `name`."""
    return re.search(rf"(?m)^[ \t]*{re.escape(name)}[ \t{{]", body) is not None


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def scrape(client: httpx.AsyncClient, source: ScrapeSource, now: datetime) -> ScrapeOutcome:
    """GET `source.url` within `source.timeout` (whole request) and parse it.

    Any failure gives `health.up == False`, a short readable `health.error` and no samples.
    """
    timeout = source.timeout.total_seconds()
    started = time.monotonic()
    samples: list[Sample] = []
    error: str | None = None
    try:
        try:
            async with asyncio.timeout(timeout):
                response = await client.get(source.url, headers={"Accept": ACCEPT}, timeout=httpx.Timeout(timeout))
                if not 200 <= response.status_code < 300:
                    raise _ScrapeError(f"HTTP {response.status_code}")
                body = response.text
                try:
                    if len(body) > _THREAD_PARSE_BYTES:
                        samples = await asyncio.to_thread(parse_text, body)
                    else:
                        samples = parse_text(body)
                except Exception as exc:  # the parser raises ValueError, IndexError, ...
                    raise _ScrapeError(f"parse error: {_short(exc)}") from exc
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise _ScrapeError(f"timeout after {_seconds(timeout)}") from exc
        except httpx.ConnectError as exc:
            raise _ScrapeError(f"connection failed: {_short(exc)}") from exc
        except httpx.HTTPError as exc:
            raise _ScrapeError(f"{type(exc).__name__}: {_short(exc)}") from exc
    except _ScrapeError as exc:
        error = str(exc)
        samples = []
    except Exception as exc:  # never raise into the scheduler
        error = f"{type(exc).__name__}: {_short(exc)}"
        samples = []
    health = ScrapeHealth(
        source=source.name,
        target=source.url,
        at=now,
        up=error is None,
        duration_seconds=time.monotonic() - started,
        samples=len(samples),
        error=error,
    )
    return ScrapeOutcome(samples, health)
