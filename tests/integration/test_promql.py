"""PromQLClient, expression builders, collect_promql and backfill against an emulated Prometheus API,
plus one check against the real Prometheus binary when it is installed."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from slo_service.adapters.promql import (
    MAX_POINTS,
    PromQLClient,
    PromQLError,
    backfill,
    collect_promql,
    collect_promql_detailed,
    increase_expr,
    latency_exprs,
    threshold_expr,
)
from slo_service.core.model import (
    SLO,
    Aggregation,
    Comparison,
    LatencySLI,
    Period,
    PromQLSource,
    RatioSLI,
    ThresholdSLI,
)

AT = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # 1700000000
SOURCE = PromQLSource(name="prom", url="http://placeholder", headers={"X-Scope-OrgID": "team-ml"})
W5 = timedelta(minutes=5)


def slo(sli: Any, name: str = "s") -> SLO:
    return SLO(service="svc", name=name, objective=0.99, period=Period.rolling(timedelta(days=28)), sli=sli)


def vector(*rows: tuple[dict[str, str], float | str]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": m, "value": [1700000000, str(v)]} for m, v in rows],
        },
    }


def matrix(*rows: tuple[dict[str, str], list[tuple[float, float | str]]]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": m, "values": [[t, str(v)] for t, v in vals]} for m, vals in rows],
        },
    }


class FakeProm:
    """Answers /api/v1/query[_range] from a function of the form; records every request."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.answer: Callable[[str, dict[str, str]], tuple[int, Any]] = lambda p, f: (200, vector())
        for path in ("/api/v1/query", "/api/v1/query_range"):
            server.expect_request(path, method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        form = dict(request.form)
        self.requests.append((request.path, form, dict(request.headers)))
        status, body = self.answer(request.path, form)
        if isinstance(body, str):
            return Response(body, status=status, content_type="text/plain")
        return Response(json.dumps(body), status=status, content_type="application/json")

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def forms(self) -> list[dict[str, str]]:
        return [f for _, f, _ in self.requests]


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    if srv.is_running():
        srv.stop()


@pytest.fixture
def prom(server: HTTPServer) -> Iterator[FakeProm]:
    server.clear()
    yield FakeProm(server)
    server.clear()


def run(coro_fn: Callable[[PromQLClient], Any], url: str, **kw: Any) -> Any:
    async def go() -> Any:
        async with PromQLClient(url, kw.pop("timeout", 5.0), {"X-Scope-OrgID": "team-ml"}, **kw) as c:
            return await coro_fn(c)

    return asyncio.run(go())


# ----------------------------------------------------------------- client


def test_query_sends_form_and_parses_vector(prom: FakeProm) -> None:
    prom.answer = lambda p, f: (200, vector(({"code": "200"}, 12), ({"code": "500"}, "NaN")))
    rows = run(lambda c: c.query('sum by (code) (x{job="a"})', AT), prom.url)
    assert rows[0] == ({"code": "200"}, 12.0)
    assert rows[1][0] == {"code": "500"} and rows[1][1] != rows[1][1]  # NaN
    [(path, form, headers)] = prom.requests
    assert path == "/api/v1/query"
    assert form == {"query": 'sum by (code) (x{job="a"})', "time": "1700000000.000"}
    assert headers["X-Scope-Orgid"] == "team-ml"


def test_query_scalar_and_empty(prom: FakeProm) -> None:
    prom.answer = lambda p, f: (
        200,
        {"status": "success", "data": {"resultType": "scalar", "result": [1, "3"]}},
    )
    assert run(lambda c: c.query("scalar(x)", AT), prom.url) == [({}, 3.0)]
    prom.answer = lambda p, f: (200, vector())
    assert run(lambda c: c.query("x", AT), prom.url) == []


def test_query_range_sends_start_end_step(prom: FakeProm) -> None:
    prom.answer = lambda p, f: (200, matrix(({"a": "1"}, [(1700000000, 1), (1700000300, "2.5")])))
    start, end = AT, AT + timedelta(minutes=5)
    rows = run(lambda c: c.query_range("x", start, end, W5), prom.url)
    assert rows == [({"a": "1"}, [(AT, 1.0), (end, 2.5)])]
    [(path, form, _)] = prom.requests
    assert path == "/api/v1/query_range"
    assert form == {"query": "x", "start": "1700000000.000", "end": "1700000300.000", "step": "300"}


def test_query_range_is_chunked_under_prometheus_point_limit(prom: FakeProm) -> None:
    step = timedelta(minutes=1)
    start = AT
    end = AT + step * 25_000  # 25,001 points -> 3 requests

    def answer(path: str, form: dict[str, str]) -> tuple[int, Any]:
        s, e = float(form["start"]), float(form["end"])
        ts = [s + 60 * i for i in range(int((e - s) // 60) + 1)]
        return 200, matrix(({"job": "a"}, [(t, 1) for t in ts]))

    prom.answer = answer
    [(labels, values)] = run(lambda c: c.query_range("x", start, end, step), prom.url)
    assert labels == {"job": "a"}
    forms = prom.forms()
    assert len(forms) == 3
    for f in forms:
        points = (float(f["end"]) - float(f["start"])) / 60 + 1
        assert points <= MAX_POINTS
        assert f["step"] == "60"
    assert float(forms[0]["start"]) == AT.timestamp()
    assert float(forms[-1]["end"]) == end.timestamp()
    for a, b in itertools.pairwise(forms):
        assert float(b["start"]) == float(a["end"]) + 60  # contiguous, on the step grid, no overlap
    assert len(values) == 25_001
    assert [t for t, _ in values] == [start + step * i for i in range(25_001)]


def test_error_shape_maps_to_promql_error(prom: FakeProm) -> None:
    prom.answer = lambda p, f: (
        400,
        {"status": "error", "errorType": "bad_data", "error": '1:5: parse error: unexpected "}"'},
    )
    with pytest.raises(PromQLError) as info:
        run(lambda c: c.query("x}", AT), prom.url)
    assert info.value.error_type == "bad_data"
    assert info.value.status == 400
    assert str(info.value) == 'bad_data: 1:5: parse error: unexpected "}"'


def test_non_json_failure_and_timeout(prom: FakeProm) -> None:
    prom.answer = lambda p, f: (502, "Bad Gateway")
    with pytest.raises(PromQLError, match="HTTP 502: Bad Gateway"):
        run(lambda c: c.query("x", AT), prom.url)

    def slow(p: str, f: dict[str, str]) -> tuple[int, Any]:
        time.sleep(1.0)
        return 200, vector()

    prom.answer = slow
    with pytest.raises(PromQLError, match=r"timeout after 0.2s"):
        run(lambda c: c.query("x", AT), prom.url, timeout=0.2)


def test_connection_refused_is_a_promql_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PromQLError, match="ConnectError"):
        run(lambda c: c.query("x", AT), f"http://127.0.0.1:{port}")


# ------------------------------------------------------------ expressions


def test_expression_builders() -> None:
    assert increase_expr('http_requests_total{code=~"5.."}', W5) == (
        'sum(increase(http_requests_total{code=~"5.."}[5m]))'
    )
    assert increase_expr("sum by (x) (foo)", timedelta(hours=1)) == "sum(increase((sum by (x) (foo))[1h:]))"
    assert increase_expr("sum(increase(foo[$window]))", W5) == "sum(increase(foo[5m]))"
    good, total = latency_exprs(
        LatencySLI(source="prom", histogram="lat_seconds", threshold=0.25, matchers='{route="/predict"}'), W5
    )
    assert good == 'sum(increase(lat_seconds_bucket{route="/predict",le="0.25"}[5m]))'
    assert total == 'sum(increase(lat_seconds_bucket{route="/predict",le="+Inf"}[5m]))'
    good, _ = latency_exprs(LatencySLI(source="prom", histogram="lat_seconds", threshold=1), W5)
    assert good == 'sum(increase(lat_seconds_bucket{le=~"1|1\\\\.0"}[5m]))'
    thr = ThresholdSLI(source="prom", metric="gpu_mem", op=Comparison.LT, value=0.9, aggregate=Aggregation.AVG)
    assert threshold_expr(thr) == "avg(gpu_mem)"


# ------------------------------------------------------------- collection

RATIO = slo(RatioSLI(source="prom", total="req_total", good='req_total{code="200"}'), "ratio")
RATIO_BAD = slo(RatioSLI(source="prom", total="req_total", bad='req_total{code=~"5.."}'), "ratio-bad")
LAT = slo(LatencySLI(source="prom", histogram="lat_seconds", threshold=0.25), "lat")
THR = slo(ThresholdSLI(source="prom", metric="gpu_mem", op=Comparison.LT, value=0.9), "thr")
OTHER = slo(RatioSLI(source="elsewhere", total="a", good="b"), "other")


def test_collect_promql_all_kinds(prom: FakeProm) -> None:
    answers = {
        "sum(increase(req_total[1m]))": vector(({}, 100)),
        'sum(increase(req_total{code="200"}[1m]))': vector(({}, 97)),
        'sum(increase(req_total{code=~"5.."}[1m]))': vector(),  # no errors at all: 0 bad
        'sum(increase(lat_seconds_bucket{le="0.25"}[1m]))': vector(({}, 40)),
        'sum(increase(lat_seconds_bucket{le="+Inf"}[1m]))': vector(({}, 50)),
        "max(gpu_mem)": vector(({}, 0.95)),
    }
    prom.answer = lambda p, f: (200, answers[f["query"]])
    source = PromQLSource(name="prom", url=prom.url)
    obs, health = run(
        lambda c: collect_promql(c, [RATIO, RATIO_BAD, LAT, THR, OTHER], source, AT, timedelta(minutes=1)),
        prom.url,
    )
    got = {o.key: (o.at, o.good, o.total) for o in obs}
    assert got == {
        "svc/ratio": (AT, 97, 100),
        "svc/ratio-bad": (AT, 100, 100),
        "svc/lat": (AT, 40, 50),
        "svc/thr": (AT, 0, 1),
    }
    assert health.up and health.error is None and health.source == "prom" and health.at == AT
    assert {f["time"] for f in prom.forms()} == {"1700000000.000"}


def test_collect_promql_empty_is_no_data_and_a_failing_slo_is_named(prom: FakeProm) -> None:
    def answer(path: str, form: dict[str, str]) -> tuple[int, Any]:
        if form["query"] == "max(gpu_mem)":
            return 422, {"status": "error", "errorType": "execution", "error": "query timed out"}
        if form["query"] == 'sum(increase(lat_seconds_bucket{le="+Inf"}[5m]))':
            return 200, vector(({}, 4))
        if form["query"] == 'sum(increase(lat_seconds_bucket{le="0.25"}[5m]))':
            return 200, vector(({}, 3))
        return 200, vector()

    prom.answer = answer
    source = PromQLSource(name="prom", url=prom.url)
    obs, health = run(lambda c: collect_promql(c, [RATIO, THR, LAT], source, AT, W5), prom.url)
    assert [(o.key, o.good, o.total) for o in obs] == [("svc/lat", 3, 4)]  # RATIO: no data
    assert health.up  # the source answers; one SLO's query is broken
    assert health.error == "svc/thr: execution: query timed out"
    detailed = run(lambda c: collect_promql_detailed(c, [RATIO, THR, LAT], source, AT, W5), prom.url)
    assert detailed.errors == {"svc/thr": "execution: query timed out"}


def test_collect_promql_source_down_when_every_query_fails() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    obs, health = run(lambda c: collect_promql(c, [RATIO, THR], PromQLSource("prom", url), AT, W5), url)
    assert obs == [] and not health.up
    assert health.error is not None and "svc/ratio: ConnectError" in health.error


def test_collect_promql_latency_threshold_not_a_boundary(prom: FakeProm) -> None:
    lat = slo(LatencySLI(source="prom", histogram="lat_seconds", threshold=0.3), "lat")

    def answer(path: str, form: dict[str, str]) -> tuple[int, Any]:
        q = form["query"]
        if q.startswith("count by (le)"):
            return 200, vector(*[({"le": le}, 1) for le in ("0.1", "0.25", "0.5", "+Inf")])
        if 'le="+Inf"' in q:
            return 200, vector(({}, 10))
        return 200, vector()

    prom.answer = answer
    obs, health = run(lambda c: collect_promql(c, [lat], PromQLSource("prom", prom.url), AT, W5), prom.url)
    assert obs == []
    assert health.error == (
        "svc/lat: threshold 0.3 is not a bucket boundary of lat_seconds; boundaries: 0.1, 0.25, 0.5"
    )


def test_backfill_ratio_one_observation_per_step(prom: FakeProm) -> None:
    t0 = 1700000000
    step = 300

    def answer(path: str, form: dict[str, str]) -> tuple[int, Any]:
        assert path == "/api/v1/query_range"
        if form["query"] == "sum(increase(req_total[5m]))":
            # no data at the 3rd step
            return 200, matrix(({}, [(t0 + step, 10), (t0 + 2 * step, 20), (t0 + 4 * step, 5)]))
        return 200, matrix(({}, [(t0 + step, 1), (t0 + 4 * step, "NaN")]))

    prom.answer = answer
    start, end = AT, AT + timedelta(minutes=20)
    obs = run(lambda c: backfill(c, RATIO_BAD, PromQLSource("prom", prom.url), start, end), prom.url)
    assert [(o.at, o.good, o.total) for o in obs] == [
        (AT + W5, 9, 10),
        (AT + 2 * W5, 20, 20),
        (AT + 4 * W5, 5, 5),
    ]
    for form in prom.forms():
        assert form["start"] == "1700000300.000"
        assert form["end"] == "1700001200.000"
        assert form["step"] == "300"


def test_backfill_threshold_and_empty(prom: FakeProm) -> None:
    prom.answer = lambda p, f: (200, matrix(({}, [(1700000300, 0.5), (1700000600, 0.95)])))
    obs = run(lambda c: backfill(c, THR, PromQLSource("prom", prom.url), AT, AT + 2 * W5), prom.url)
    assert [(o.good, o.total) for o in obs] == [(1, 1), (0, 1)]
    prom.answer = lambda p, f: (200, matrix())
    assert run(lambda c: backfill(c, LAT, PromQLSource("prom", prom.url), AT, AT + 2 * W5), prom.url) == []


# ------------------------------------------------------ real Prometheus

PROMETHEUS = shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GrowingTarget:
    """Every scrape adds 10 good + 1 bad request, 8 fast + 2 medium + 1 slow observation."""

    def __init__(self) -> None:
        self.scrapes = 0

    def __call__(self, _: Request) -> Response:
        self.scrapes += 1
        n = self.scrapes
        body = (
            "# TYPE demo_requests_total counter\n"
            f'demo_requests_total{{code="200"}} {10 * n}\n'
            f'demo_requests_total{{code="500"}} {1 * n}\n'
            "# TYPE demo_latency_seconds histogram\n"
            f'demo_latency_seconds_bucket{{le="0.25"}} {8 * n}\n'
            f'demo_latency_seconds_bucket{{le="1.0"}} {10 * n}\n'
            f'demo_latency_seconds_bucket{{le="+Inf"}} {11 * n}\n'
            f"demo_latency_seconds_sum {3.0 * n}\n"
            f"demo_latency_seconds_count {11 * n}\n"
            "# TYPE demo_gpu gauge\n"
            'demo_gpu{gpu="0"} 0.5\n'
            'demo_gpu{gpu="1"} 0.7\n'
        )
        return Response(body, content_type="text/plain; version=0.0.4")


@pytest.mark.prometheus
def test_real_prometheus(tmp_path: Path, server: HTTPServer) -> None:
    """The query client and every generated expression against the real PromQL engine."""
    if PROMETHEUS is None:
        if os.environ.get("SLO_SERVICE_REQUIRE_ALL") == "1":
            pytest.fail("prometheus binary not found and SLO_SERVICE_REQUIRE_ALL=1")
        pytest.skip("prometheus binary not installed")
    server.clear()
    target = GrowingTarget()
    server.expect_request("/metrics").respond_with_handler(target)
    host_port = server.url_for("/metrics").split("//", 1)[1].split("/", 1)[0]
    port = _free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: demo\n"
        f"    static_configs:\n      - targets: ['{host_port}']\n"
    )
    with open(tmp_path / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    source = PromQLSource(name="prom", url=base)
    try:
        # wait until at least 6 scrapes are stored
        deadline = time.monotonic() + 40
        rows: list[tuple[dict[str, str], float]] = []
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            try:
                rows = run(lambda c: c.query('demo_requests_total{code="500"}', datetime.now(UTC)), base)
            except PromQLError:
                rows = []
            if rows and rows[0][1] >= 6:
                break
            time.sleep(0.5)
        assert rows and rows[0][1] >= 6, "Prometheus did not scrape 6 times within 40s"
        [(labels, value)] = rows
        assert labels["job"] == "demo" and labels["code"] == "500"
        assert value <= target.scrapes  # the value served, counted by Prometheus

        now = datetime.now(UTC)
        window = timedelta(seconds=5)
        slos = [
            slo(RatioSLI(source="prom", total="demo_requests_total", bad='demo_requests_total{code=~"5.."}'), "r"),
            slo(LatencySLI(source="prom", histogram="demo_latency_seconds", threshold=0.25), "l25"),
            slo(LatencySLI(source="prom", histogram="demo_latency_seconds", threshold=1), "l1"),
            slo(ThresholdSLI(source="prom", metric="demo_gpu", op=Comparison.LT, value=0.6), "t"),
        ]
        result = run(lambda c: collect_promql_detailed(c, slos, source, now, window), base)
        assert result.errors == {} and result.health.up
        got = {o.key: o for o in result.observations}
        r, l25, l1, t = got["svc/r"], got["svc/l25"], got["svc/l1"], got["svc/t"]
        assert r.total > 0 and r.good / r.total == pytest.approx(10 / 11, rel=1e-6)
        assert l25.total > 0 and l25.good / l25.total == pytest.approx(8 / 11, rel=1e-6)
        # le="1.0" as exposed, matched by the threshold written as 1
        assert l1.total > 0 and l1.good / l1.total == pytest.approx(10 / 11, rel=1e-6)
        assert (t.good, t.total) == (0, 1)  # max(0.5, 0.7) is not < 0.6

        bad = slo(LatencySLI(source="prom", histogram="demo_latency_seconds", threshold=0.3), "l30")
        result = run(lambda c: collect_promql_detailed(c, [bad], source, now, window), base)
        assert result.errors == {
            "svc/l30": "threshold 0.3 is not a bucket boundary of demo_latency_seconds; boundaries: 0.25, 1"
        }

        step = timedelta(seconds=2)
        points = run(lambda c: backfill(c, slos[0], source, now - timedelta(seconds=8), now, step), base)
        assert 1 <= len(points) <= 4
        assert all(p.total > 0 and p.good / p.total == pytest.approx(10 / 11, rel=1e-6) for p in points)

        with pytest.raises(PromQLError) as info:
            run(lambda c: c.query("sum(", datetime.now(UTC)), base)
        assert info.value.error_type == "bad_data"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
