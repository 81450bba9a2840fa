"""Scrape one Prometheus text-format endpoint into Samples plus a ScrapeHealth record. Never raises.

The body is read as a stream and decompressed here, piece by piece, so a scrape never holds more than the
source's `body_size_limit` of decompressed text (plus one piece): a small gzip response that inflates to
gigabytes fails as soon as it passes the limit, like Prometheus' `body_size_limit`.
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from slo_service.core.model import ScrapeSource
from slo_service.core.ports import ScrapeHealth
from slo_service.core.samples import Sample
from slo_service.core.sizes import format_size

ACCEPT = "text/plain;version=0.0.4"
ACCEPT_ENCODING = "gzip"  # what Prometheus asks for; anything else but identity is refused
BODY_SIZE_LIMIT_EXCEEDED = "body size limit exceeded"
_THREAD_PARSE_BYTES = 64 * 1024
"""Bodies larger than this are parsed in a worker thread so other scrapes' timers keep running."""
_PIECE = 64 * 1024
"""Most bytes read from the socket, or inflated from it, in one step."""


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


def printable(text: str, limit: int = 200) -> str:
    """`text` cut to `limit` characters with control and other unprintable characters escaped (`\\x00`), so
    a binary answer quoted in an error cannot garble a log line, a terminal or a JSON consumer."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _short(exc: BaseException, limit: int = 200) -> str:
    return printable(str(exc).strip() or type(exc).__name__, limit)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~80 ms of CPU: paid once, not per scrape (11 sources every second were
    # most of a core).
    return httpx.create_ssl_context()


def http_client() -> httpx.AsyncClient:
    """A new client for one collection (its connections belong to that event loop), sharing one TLS context."""
    return httpx.AsyncClient(verify=_ssl_context())


class _Gunzip:
    """Inflates a gzip stream in pieces of at most _PIECE bytes, whatever its compression ratio."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        z = self._z
        while True:
            piece = z.decompress(data, _PIECE)
            data = z.unconsumed_tail
            if piece:
                yield piece
            if z.eof:
                if not z.unused_data:
                    return
                # several gzip members one after the other are one body (RFC 1952; Go's reader agrees)
                data, z = z.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._z = z
            elif not data and len(piece) < _PIECE:
                return  # input used up and no output left pending in zlib

    def finish(self) -> None:
        if not self._z.eof:
            raise _ScrapeError("gzip body is truncated")


async def _read_body(response: httpx.Response, limit: int) -> str:
    """The decompressed body, failing once it passes `limit` bytes (0: no limit) without reading on."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    gunzip: _Gunzip | None = None
    if encoding in ("gzip", "x-gzip"):
        gunzip = _Gunzip()
    elif encoding not in ("", "identity"):
        raise _ScrapeError(f"unsupported Content-Encoding {encoding!r}: the service asks for gzip or none")
    too_large = _ScrapeError(
        f"{BODY_SIZE_LIMIT_EXCEEDED}: the {'decompressed ' if gunzip else ''}body is larger than "
        f"body_size_limit {format_size(limit)}"
    )
    length = response.headers.get("Content-Length", "")
    if limit and gunzip is None and length.isdigit() and int(length) > limit:
        raise too_large  # known before reading a byte
    body = bytearray()
    try:
        async for raw in response.aiter_raw(_PIECE):
            for piece in gunzip.feed(raw) if gunzip is not None else (raw,):
                body += piece
                if limit and len(body) > limit:
                    raise too_large
        if gunzip is not None:
            gunzip.finish()
    except zlib.error as exc:
        reason = str(exc).rpartition(": ")[2]  # "Error -3 while decompressing data: invalid block type"
        raise _ScrapeError(f"gzip body is corrupt: {reason}") from exc
    return body.decode(response.charset_encoding or "utf-8", errors="replace")


async def scrape(client: httpx.AsyncClient, source: ScrapeSource, now: datetime) -> ScrapeOutcome:
    """GET `source.url` within `source.timeout` (whole request) and parse it.

    Any failure gives `health.up == False`, a short readable `health.error` and no samples; a body over
    `source.body_size_limit` (decompressed) is such a failure.
    """
    timeout = source.timeout.total_seconds()
    started = time.monotonic()
    samples: list[Sample] = []
    error: str | None = None
    headers = {"Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
    try:
        try:
            async with asyncio.timeout(timeout):
                async with client.stream(
                    "GET", source.url, headers=headers, timeout=httpx.Timeout(timeout)
                ) as response:
                    if not 200 <= response.status_code < 300:
                        raise _ScrapeError(f"HTTP {response.status_code}")
                    body = await _read_body(response, source.body_size_limit)
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
