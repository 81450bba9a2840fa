"""Every route that takes a body refuses hostile ones with a JSON 4xx, never a 5xx: a body over the route's
limit, JSON nested far deeper than any real document, bytes that are not UTF-8, a sample with a huge label
set. The routes come from the authorisation table, so a new POST route is checked without editing this."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from slo_service.api.auth import ROUTES
from slo_service.api.limits import InputLimits, input_limits, set_input_limits
from tests.integration.test_alerts_api import client_for, make_world
from tests.integration.test_auth import concrete

WITH_BODY = sorted((m, p) for m, p in ROUTES if m in ("POST", "PUT", "PATCH"))
LIMIT = 64 * 1024  # small limits keep the oversized bodies cheap; the defaults are 1 MiB and 64 MiB
BATCH_LIMIT = 128 * 1024


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with client_for(make_world()) as client:
        set_input_limits(client.app, InputLimits(max_body_bytes=LIMIT, max_batch_body_bytes=BATCH_LIMIT))  # type: ignore[arg-type]
        yield client


def refused(response: object, *allowed: int) -> int:
    status: int = response.status_code  # type: ignore[attr-defined]
    text: str = response.text  # type: ignore[attr-defined]
    assert 400 <= status < 500, (status, text[:300])
    assert isinstance(response.json().get("message"), str), text[:300]  # type: ignore[attr-defined]
    if allowed:
        assert status in allowed, (status, text[:300])
    return status


def takes_no_body(client: TestClient, method: str, path: str) -> bool:
    """Routes whose operation declares no request body (reload, retry, a drift run, Slack's form post, which
    is checked against its signature first) may ignore a body; they still must never answer 5xx."""
    operation = client.app.openapi()["paths"].get(path, {}).get(method.lower(), {})  # type: ignore[attr-defined]
    return "requestBody" not in operation


def answered(client: TestClient, method: str, path: str, body: bytes, says: str) -> None:
    """A body route refuses `body` with a message that `says` why; a route without a body may ignore it."""
    response = client.request(method, concrete(path), content=body, headers={"Content-Type": "application/json"})
    if takes_no_body(client, method, path):
        assert response.status_code < 500, response.text[:300]
        return
    refused(response)
    # 404 / 401 are answered before the body is read (an alert or a Slack signature that does not exist)
    if response.status_code in (400, 422):
        assert says in response.json()["message"], response.text[:300]


def test_the_table_has_routes_with_bodies() -> None:
    assert len(WITH_BODY) >= 10, WITH_BODY  # a walk that silently finds nothing would check nothing


@pytest.mark.parametrize(("method", "path"), WITH_BODY)
def test_a_body_over_the_limit_is_413(client: TestClient, method: str, path: str) -> None:
    url = concrete(path)
    limit = input_limits(client.app).body_limit(url)
    body = b'{"pad": "' + b"x" * limit + b'"}'
    refused(client.request(method, url, content=body, headers={"Content-Type": "application/json"}), 413)


@pytest.mark.parametrize(("method", "path"), WITH_BODY)
def test_json_nested_20000_deep_is_refused(client: TestClient, method: str, path: str) -> None:
    depth = 20_000  # 40 kB, under the limit: the parser itself must cope, far past Python's recursion limit
    answered(client, method, path, b"[" * depth + b"]" * depth, "nested too deeply")
    answered(client, method, path, b'{"a":' * depth + b"1" + b"}" * depth, "nested too deeply")


@pytest.mark.parametrize(("method", "path"), WITH_BODY)
def test_bytes_that_are_not_utf8_are_refused(client: TestClient, method: str, path: str) -> None:
    for body in (b'{"source": "\xff\xfe\xfd"}', b"\xc3\x28\xa0\xa1"):
        answered(client, method, path, body, "UTF-8")
    # a UTF-8-encoded lone surrogate: Python's JSON reader lets it through, the schema then refuses the body
    answered(client, method, path, b'{"comment": "\xed\xa0\x80"}', "")


def test_a_sample_with_a_huge_label_set_is_refused_naming_the_field(client: TestClient) -> None:
    labels = {f"l{i}": "v" for i in range(200)}
    sample = {"metric": "requests_total", "labels": labels, "value": 1}
    response = client.post("/api/v1/ingest", json={"source": "push", "samples": [sample]})
    refused(response, 422)
    assert "labels" in response.text
    huge_value = {"metric": "requests_total", "labels": {"code": "x" * 5000}, "value": 1}
    response = client.post("/api/v1/ingest", json={"source": "push", "samples": [huge_value]})
    refused(response, 422)
    assert "labels" in response.text
