"""scrape() against a real HTTP server on 127.0.0.1: good body, HTTP errors, timeout, garbage, refused."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from slo_service.adapters.scrape import ACCEPT, ScrapeOutcome, scrape
from slo_service.core.model import DEFAULT_BODY_SIZE_LIMIT, ScrapeSource
from tests.support.bodies import gzip_bomb

NOW = datetime(2026, 1, 1, tzinfo=UTC)

BODY = """\
# HELP model_requests_total Requests.
# TYPE model_requests_total counter
model_requests_total{code="200",route="/predict"} 1027
model_requests_total{code="500",route="/predict"} 3
# HELP model_request_duration_seconds Latency.
# TYPE model_request_duration_seconds histogram
model_request_duration_seconds_bucket{le="0.25",route="/predict"} 1000
model_request_duration_seconds_bucket{le="+Inf",route="/predict"} 1030
model_request_duration_seconds_sum{route="/predict"} 87.5
model_request_duration_seconds_count{route="/predict"} 1030
# TYPE gpu gauge
gpu{gpu="0"} 0.71
"""


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    if srv.is_running():
        srv.stop()


@pytest.fixture(autouse=True)
def _clear(server: HTTPServer) -> Iterator[None]:
    server.clear()
    yield
    server.clear()


def run(source: ScrapeSource) -> ScrapeOutcome:
    async def go() -> ScrapeOutcome:
        async with httpx.AsyncClient() as client:
            return await scrape(client, source, NOW)

    return asyncio.run(go())


def src(url: str, timeout: float = 5, limit: int = DEFAULT_BODY_SIZE_LIMIT) -> ScrapeSource:
    return ScrapeSource(name="model", url=url, timeout=timedelta(seconds=timeout), body_size_limit=limit)


MIB = 1024 * 1024
GZIP = {"Content-Encoding": "gzip"}


def test_good_body_is_flattened_into_samples(server: HTTPServer) -> None:
    server.expect_request("/metrics", method="GET", headers={"Accept": ACCEPT}).respond_with_data(
        BODY, content_type="text/plain; version=0.0.4"
    )
    out = run(src(server.url_for("/metrics")))
    h = out.health
    assert h.up and h.error is None
    assert (h.source, h.target, h.at, h.samples) == ("model", server.url_for("/metrics"), NOW, 7)
    assert h.duration_seconds >= 0
    by = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in out.samples}
    assert by[("model_requests_total", (("code", "200"), ("route", "/predict")))] == 1027
    assert by[("model_request_duration_seconds_bucket", (("le", "+Inf"), ("route", "/predict")))] == 1030
    assert by[("model_request_duration_seconds_count", (("route", "/predict"),))] == 1030
    assert by[("gpu", (("gpu", "0"),))] == 0.71
    assert all(s.timestamp is None for s in out.samples)


@pytest.mark.parametrize("status", [500, 404, 503])
def test_http_error_status(server: HTTPServer, status: int) -> None:
    server.expect_request("/metrics").respond_with_data("oops", status=status)
    out = run(src(server.url_for("/metrics")))
    assert not out.health.up
    assert out.health.error == f"HTTP {status}"
    assert out.samples == [] and out.health.samples == 0


def test_timeout(server: HTTPServer) -> None:
    def slow(_: Request) -> Response:
        time.sleep(1.5)
        return Response(BODY)

    server.expect_request("/slow").respond_with_handler(slow)
    started = time.monotonic()
    out = run(src(server.url_for("/slow"), timeout=0.3))
    assert time.monotonic() - started < 1.2
    assert not out.health.up
    assert out.health.error == "timeout after 0.3s"
    assert out.samples == []


def test_timeout_covers_the_whole_request_not_each_read(server: HTTPServer) -> None:
    def drip(_: Request) -> Response:
        def body() -> Iterator[bytes]:
            for line in BODY.splitlines(keepends=True):
                time.sleep(0.1)
                yield line.encode()

        return Response(body(), content_type="text/plain")

    server.expect_request("/drip").respond_with_handler(drip)
    out = run(src(server.url_for("/drip"), timeout=0.5))
    assert out.health.error == "timeout after 0.5s"


@pytest.mark.parametrize("body", ["<html><body>Not metrics</body></html>", "hello world\n", 'x{a="1" 2\n'])
def test_garbage_body_is_a_parse_error(server: HTTPServer, body: str) -> None:
    server.expect_request("/metrics").respond_with_data(body)
    out = run(src(server.url_for("/metrics")))
    assert not out.health.up
    assert out.health.error is not None and out.health.error.startswith("parse error: ")
    assert out.samples == []


def test_garbage_after_good_lines_gives_no_samples(server: HTTPServer) -> None:
    server.expect_request("/metrics").respond_with_data(BODY + "}}}garbage{{{\n")
    out = run(src(server.url_for("/metrics")))
    assert not out.health.up and out.samples == []


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = run(src(f"http://127.0.0.1:{port}/metrics"))
    assert not out.health.up
    assert out.health.error is not None and out.health.error.startswith("connection failed")
    assert out.samples == []


def test_large_body_parsed_off_the_loop(server: HTTPServer) -> None:
    lines = ["# TYPE c counter"] + [f'c_total{{i="{i}"}} {i}' for i in range(5000)]
    server.expect_request("/big").respond_with_data("\n".join(lines) + "\n")
    out = run(src(server.url_for("/big")))
    assert out.health.up and out.health.samples == 5000
    assert sum(s.value for s in out.samples) == sum(range(5000))


# ---------------------------------------------------------------- compression and body_size_limit


def test_gzip_body_is_asked_for_and_inflated(server: HTTPServer) -> None:
    server.expect_request("/gz", headers={"Accept-Encoding": "gzip"}).respond_with_data(
        gzip.compress(BODY.encode()), headers=GZIP, content_type="text/plain; version=0.0.4"
    )
    out = run(src(server.url_for("/gz")))
    assert out.health.up and out.health.samples == 7


@pytest.mark.parametrize("write", [0, 7], ids=["one-write", "7-byte-writes"])
def test_gzip_members_one_after_another_are_one_body(server: HTTPServer, write: int) -> None:
    half = len(BODY) // 2
    cut = BODY.index("\n", half) + 1
    body = gzip.compress(BODY[:cut].encode()) + gzip.compress(BODY[cut:].encode())
    if write:  # chunked, so member boundaries and gzip headers fall across reads
        pieces = [body[i : i + write] for i in range(0, len(body), write)]
        server.expect_request("/gz").respond_with_response(Response(iter(pieces), headers=GZIP))
    else:
        server.expect_request("/gz").respond_with_data(body, headers=GZIP)
    out = run(src(server.url_for("/gz")))
    assert out.health.up and out.health.samples == 7


def test_gzip_bomb_fails_at_the_limit_without_inflating_the_rest(server: HTTPServer) -> None:
    bomb = gzip_bomb()  # 1 GiB of zeros in about 1 MB
    server.expect_request("/bomb").respond_with_data(bomb, headers=GZIP)
    tracemalloc.start()
    started = time.monotonic()
    try:
        out = run(src(server.url_for("/bomb")))  # the default limit, 10 MiB
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.health.error == ("body size limit exceeded: the decompressed body is larger than body_size_limit 10MiB")
    assert not out.health.up and out.samples == [] and out.health.samples == 0
    assert peak < 3 * DEFAULT_BODY_SIZE_LIMIT, f"peak {peak / MIB:.1f} MiB"  # inflating it all: 1 GiB
    assert time.monotonic() - started < 5


def test_plain_body_over_the_limit_fails_while_streaming(server: HTTPServer) -> None:
    def endless(_: Request) -> Response:
        def lines() -> Iterator[bytes]:
            i = 0
            while True:  # no Content-Length, no end: only the limit stops the read
                yield f'c_total{{i="{i}"}} 1\n'.encode() * 100
                i += 1

        return Response(lines(), content_type="text/plain")

    server.expect_request("/endless").respond_with_handler(endless)
    out = run(src(server.url_for("/endless"), timeout=4, limit=MIB))
    assert out.health.error == "body size limit exceeded: the body is larger than body_size_limit 1MiB"
    assert out.samples == []


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_body_of_exactly_the_limit_is_read_one_byte_more_is_not(server: HTTPServer, encoding: str) -> None:
    size = len(BODY.encode())
    data = gzip.compress(BODY.encode()) if encoding == "gzip" else BODY.encode()
    server.expect_request("/metrics").respond_with_data(data, headers={"Content-Encoding": encoding})
    assert run(src(server.url_for("/metrics"), limit=size)).health.samples == 7
    out = run(src(server.url_for("/metrics"), limit=size - 1))
    assert out.health.error is not None and out.health.error.startswith("body size limit exceeded")
    assert out.samples == []


def test_limit_zero_reads_any_size(server: HTTPServer) -> None:
    lines = [f'c_total{{i="{i}"}} 1' for i in range(40_000)]
    server.expect_request("/big").respond_with_data(gzip.compress(("\n".join(lines) + "\n").encode()), headers=GZIP)
    out = run(src(server.url_for("/big"), limit=0))
    assert out.health.up and out.health.samples == 40_000


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        (BODY.encode(), {"Content-Encoding": "br"}, "unsupported Content-Encoding 'br': the service asks for gzip"),
        (gzip.compress(BODY.encode())[:-10], GZIP, "gzip body is truncated"),
        (gzip.compress(b"x")[:10] + b"\xff" * 20, GZIP, "gzip body is corrupt: invalid block type"),
        (b"", GZIP, "gzip body is truncated"),
    ],
    ids=["unsupported-encoding", "truncated", "corrupt", "empty-gzip"],
)
def test_bodies_that_do_not_decode_fail_the_scrape(
    server: HTTPServer, body: bytes, headers: dict[str, str], error: str
) -> None:
    server.expect_request("/metrics").respond_with_data(body, headers=headers)
    out = run(src(server.url_for("/metrics")))
    assert out.health.error is not None and out.health.error.startswith(error), out.health.error
    assert out.samples == []
