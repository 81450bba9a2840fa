"""Every input that once answered 500 (and dropped the keep-alive connection) now answers 4xx naming the
field, against the service as a real process on PostgreSQL; the same connection then serves a next request.
Also: ingest refuses what cannot be counts, bodies are bounded, and an unexpected error is one log line."""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.integration.conftest import postgres_base_url
from tests.integration.test_api_fuzz import FUZZ_CONFIG
from tests.support.process import ServiceProcess, run_service

pytestmark = pytest.mark.postgres

NOW = time.time()
MIB = 1 << 20


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL on a new PostgreSQL schema, dropped afterwards (NUL and BIGINT overflows are PostgreSQL errors)."""
    admin = create_engine(postgres_base_url(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    schema = f"apiinputs_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("SLO_SERVICE_REQUIRE_ALL") == "1":
            pytest.fail(f"PostgreSQL unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    try:
        url = make_url(postgres_base_url()).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _start(url: str, tmp: Path) -> Any:
    config = tmp / "inputs.yaml"
    config.write_text(FUZZ_CONFIG)
    env = {"SLO_SERVICE_DATA_DIR": str(tmp / "data"), "SLO_SERVICE_SLACK_SIGNING_SECRET": "inputs-secret"}
    return run_service([config], url, tmp, env=env)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with fresh_schema() as url, _start(url, tmp_path_factory.mktemp("inputs")) as svc:
        yield svc


def exchange(
    svc: ServiceProcess, method: str, path: str, body: Any = None, raw: bytes | None = None
) -> tuple[int, dict[str, Any], int]:
    """One request and then GET /healthz on the same keep-alive connection: (status, JSON body, healthz status)."""
    conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=20)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {svc.token}"}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        status, payload = response.status, json.loads(response.read())
        conn.request("GET", "/healthz")  # raises if the server closed the connection
        again = conn.getresponse()
        again.read()
        return status, payload, again.status
    finally:
        conn.close()


def sample(**fields: Any) -> dict[str, Any]:
    return {"metric": "scored_total", "value": 1, **fields}


def ingest(*samples: dict[str, Any]) -> dict[str, Any]:
    return {"source": "batch", "samples": list(samples)}


def silence(**fields: Any) -> dict[str, Any]:
    return {"matchers": ['slo="availability"'], "created_by": "alice", **fields}


def webhook(starts_at: str) -> dict[str, Any]:
    alert = {"status": "firing", "labels": {"alertname": "X"}, "startsAt": starts_at}
    return {"version": "4", "status": "firing", "alerts": [alert]}


HISTORY = "/api/v1/slos/fraud/availability/history"
# (method, path, JSON body, the field the 4xx must name); each answered 500 before
FIVE_HUNDREDS = [
    ("POST", "/api/v1/ingest", ingest(sample(timestamp=NOW * 1000)), "samples[0].timestamp"),
    ("POST", "/api/v1/ingest", ingest(sample(timestamp=1e20)), "samples[0].timestamp"),
    ("POST", "/api/v1/ingest", ingest(sample(timestamp=-1e20)), "samples[0].timestamp"),
    ("POST", "/api/v1/ingest", {**ingest(sample()), "idempotency_key": "k\x00"}, "idempotency_key"),
    ("GET", f"{HISTORY}?start=1e20", None, "start"),
    ("GET", f"{HISTORY}?start=-1e20", None, "start"),
    ("GET", f"{HISTORY}?end=1e20", None, "end"),
    ("GET", f"{HISTORY}?step=inf", None, "step"),
    ("GET", f"{HISTORY}?step=1e20", None, "step"),
    ("GET", f"{HISTORY}?step=99999999999999d", None, "step"),
    ("GET", "/api/v1/drift/runs/99999999999999999999", None, "run_id"),
    ("GET", "/api/v1/drift/runs/9223372036854775808/report", None, "run_id"),
    ("GET", "/api/v1/drift/runs?since=1e20", None, "since"),
    ("GET", "/api/v1/drift/runs?since=inf", None, "since"),
    ("GET", "/api/v1/drift/runs?monitor=%00", None, "monitor"),
    ("POST", "/api/v1/notifications/99999999999999999999/retry", None, "message_id"),
    ("POST", "/api/v1/notifications/-9223372036854775809/retry", None, "message_id"),
    ("GET", "/api/v1/notifications?receiver=%00", None, "receiver"),
    ("POST", "/api/v1/silences", silence(duration="1000000y"), "duration"),
    ("POST", "/api/v1/silences", silence(starts_at="9999-12-31T23:59:59Z", duration="1h"), "starts_at"),
    ("POST", "/api/v1/silences", silence(ends_at="9999-12-31T23:59:59-05:00"), "ends_at"),
    ("POST", "/api/v1/silences", silence(duration="1h", created_by="a\x00"), "created_by"),
    ("GET", "/api/v1/alerts?since=0001-01-01T00:00:00%2B05:00", None, "since"),
    ("GET", "/api/v1/alerts?since=9999-12-31T23:59:59-05:00", None, "since"),
    ("GET", "/api/v1/alerts?service=%00", None, "service"),
    ("GET", "/api/v1/alerts/%00", None, "fingerprint"),
    ("POST", "/api/v1/alerts/%00/ack", {"by": "alice"}, "fingerprint"),
    ("GET", "/api/v1/oncall/primary?start=0001-01-01T00:00:00%2B05:00", None, "start"),
    ("GET", "/api/v1/oncall/primary?start=9999-12-31T00:00:00Z", None, "start"),
    ("POST", "/api/v1/alertmanager/webhook", webhook("9999-12-31T23:59:59-05:00"), "alerts[0].startsAt"),
    ("GET", "/api/v1/slos?label=AAA", None, "label[0]"),  # schemathesis: a pattern on a list-valued query
]


@pytest.mark.parametrize(("method", "path", "body", "field"), FIVE_HUNDREDS)
def test_former_500s_answer_422_naming_the_field_and_keep_the_connection(
    service: ServiceProcess, method: str, path: str, body: Any, field: str
) -> None:
    status, payload, healthz = exchange(service, method, path, body)
    assert status == 422, payload
    assert payload["message"].removeprefix("invalid request: ").startswith(f"{field}:"), payload
    assert healthz == 200


def test_nested_json_and_bad_utf8_are_4xx(service: ServiceProcess) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    for path in ("/api/v1/monitors/feats/batches", "/api/v1/ingest", "/api/v1/alertmanager/webhook"):
        for raw in (nested, b'{"records": [{"ts": "\xff\xfe"}]}'):
            status, payload, healthz = exchange(service, "POST", path, raw=raw)
            assert 400 <= status < 500, (path, payload)
            assert healthz == 200


NONSENSE = [
    (sample(value=-5), "samples[0].value: -5 is negative"),
    (sample(value=1e308), "samples[0].value: Input should be less than or equal to 1000000000000"),
    (sample(timestamp="0001-01-01T00:00:00Z"), "samples[0].timestamp: 0001-01-01T00:00:00+00:00 is not between"),
    (sample(timestamp=NOW - 9 * 86400), "older than the raw retention (8d)"),
    (sample(timestamp=NOW + 3600), "is in the future"),
    (sample(metric="scored total"), "samples[0].metric: must be a Prometheus metric name"),
    (sample(labels={"a-b": "1"}), "must be a Prometheus label name"),
]


@pytest.mark.parametrize(("bad", "needle"), NONSENSE)
def test_ingest_refuses_nonsense_samples(service: ServiceProcess, bad: dict[str, Any], needle: str) -> None:
    status, payload, healthz = exchange(service, "POST", "/api/v1/ingest", ingest(sample(), bad))
    assert status == 422, payload
    assert needle in payload["message"].replace("samples[1]", "samples[0]"), payload
    assert healthz == 200


def test_ingest_refuses_good_or_bad_above_total_and_stores_nothing(service: ServiceProcess) -> None:
    at = NOW - 120
    pushes = {
        "good": [sample(timestamp=at, value=10), sample(metric="scored_ok_total", timestamp=at, value=12)],
        "bad": [sample(timestamp=at, value=10), sample(metric="scored_errors_total", timestamp=at, value=11)],
        "le=0.25 bucket": [
            sample(metric="score_seconds_bucket", labels={"le": "0.25"}, timestamp=at, value=7),
            sample(metric="score_seconds_bucket", labels={"le": "+Inf"}, timestamp=at, value=5),
        ],
    }
    for role, samples in pushes.items():
        status, payload, _ = exchange(service, "POST", "/api/v1/ingest", {**ingest(*samples), "idempotency_key": role})
        assert status == 422, payload
        assert f"samples[{0 if role.startswith('le') else 1}].value: {role} events" in payload["message"], payload
        assert "exceed the total" in payload["problems"][0]
    # Nothing was stored, so the same idempotency key is free: a good push with it is stored (202).
    fine = [sample(timestamp=at, value=10), sample(metric="scored_ok_total", timestamp=at, value=9)]
    status, payload, _ = exchange(service, "POST", "/api/v1/ingest", {**ingest(*fine), "idempotency_key": "good"})
    # two observations: scored_total is the total of fraud/scored and of fraud/errors
    assert (status, payload["stored"], payload["observations"]) == (202, True, 2), payload


def _raw_request(svc: ServiceProcess, head: bytes, chunks: list[bytes]) -> bytes:
    """Send `head`, then each chunk a little apart, so the server has read everything sent when it answers:
    bytes left unread when it closes would make the close a reset that can discard its answer."""
    auth = f"\r\nAuthorization: Bearer {svc.token}\r\n".encode()
    head = head.replace(b"\r\n", auth, 1)  # after the request line
    with socket.create_connection(("127.0.0.1", svc.port), timeout=20) as sock:
        sock.sendall(head)
        for chunk in chunks:
            time.sleep(0.02)
            sock.sendall(chunk)
        answer = []
        while data := sock.recv(65536):
            answer.append(data)
        return b"".join(answer)


def test_bodies_over_the_limit_are_413_by_content_length_and_while_streaming(service: ServiceProcess) -> None:
    # Declared 56 MB: refused before a byte of the body is read.
    head = (
        b"POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 58720256\r\n\r\n"
    )
    answer = _raw_request(service, head, [])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"larger than 1048576 bytes" in answer

    # Chunked, no Content-Length: counted as it streams in; 17 chunks of 64 KiB pass 1 MiB with the last one.
    head = b"POST /api/v1/silences HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"Transfer-Encoding: chunked\r\n\r\n"
    chunk = b"10000\r\n" + b" " * 65536 + b"\r\n"
    answer = _raw_request(service, head, [chunk] * 17)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"larger than 1048576 bytes" in answer

    # A drift batch has its own, larger limit (64 MiB): 2 MiB of records is read and judged on its content.
    records = json.dumps({"records": [{"ts": "2026-01-01T00:00:00Z", "note": "x" * 1000}] * 2048}).encode()
    assert 2 * MIB < len(records) < 3 * MIB
    status, payload, healthz = exchange(service, "POST", "/api/v1/monitors/feats/batches", raw=records)
    # judged on its content: the monitor's first column is missing from the first record
    assert status == 422 and "records[0].age: missing" in payload["message"], payload
    assert healthz == 200
    assert "unhandled error" not in service.log()


def test_an_unexpected_error_is_one_log_line_and_a_json_500_on_a_kept_connection(tmp_path: Path) -> None:
    """The database loses its tables under the running service: a real failure no input check prevents."""
    with fresh_schema() as url, _start(url, tmp_path) as svc:
        admin = create_engine(postgres_base_url(), isolation_level="AUTOCOMMIT")
        schema = str(make_url(url).query["options"]).split("=", 1)[1]
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        status, payload, healthz = exchange(svc, "GET", "/api/v1/alerts")
        assert status == 500
        assert payload == {"message": "internal error: ProgrammingError"}
        assert healthz == 200
        log = svc.log().splitlines()
        found = [i for i, line in enumerate(log) if "unhandled error on GET /api/v1/alerts: ProgrammingError" in line]
        assert len(found) == 1, "\n".join(log[-40:])
        assert not log[found[0] + 1 :] or not log[found[0] + 1].startswith("Traceback"), "\n".join(log[-40:])
