"""Whatever a client sends, the API answers with JSON and never a 500 (hypothesis-generated input)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_alerts_api import client_for, make_world

JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "source",
        "samples",
        "metric",
        "labels",
        "value",
        "timestamp",
        "idempotency_key",
        "matchers",
        "starts_at",
        "ends_at",
        "duration",
        "created_by",
        "comment",
        "alerts",
        "version",
        "status",
        "by",
        "group_key",
    ]
)
BODY = st.dictionaries(FIELDS, JSON, max_size=6) | JSON
QUERY_TEXT = st.text(max_size=30)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def client() -> TestClient:
    return client_for(make_world())


def answered(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert isinstance(response.json().get("message"), str)


@FUZZ
@given(start=QUERY_TEXT, end=QUERY_TEXT, step=QUERY_TEXT, series=QUERY_TEXT)
def test_history_parameters(client: TestClient, start: str, end: str, step: str, series: str) -> None:
    params = {"start": start, "end": end, "step": step, "series": series}
    answered(client.get("/api/v1/slos/fraud/availability/history", params=params))


@FUZZ
@given(service=QUERY_TEXT, labels=st.lists(QUERY_TEXT, max_size=3), name=QUERY_TEXT)
def test_slo_lookups(client: TestClient, service: str, labels: list[str], name: str) -> None:
    answered(client.get("/api/v1/slos", params={"service": service, "label": labels}))
    path = f"/api/v1/slos/{quote(service or 'x', safe='')}/{quote(name or 'y', safe='')}"
    answered(client.get(path))


@FUZZ
@given(state=QUERY_TEXT, since=QUERY_TEXT, limit=QUERY_TEXT, severity=QUERY_TEXT)
def test_alert_queries(client: TestClient, state: str, since: str, limit: str, severity: str) -> None:
    answered(
        client.get("/api/v1/alerts", params={"state": state, "since": since, "limit": limit, "severity": severity})
    )
    answered(client.get("/api/v1/notifications", params={"status": state, "limit": limit}))
    answered(client.get("/api/v1/silences", params={"state": state}))


@FUZZ
@given(body=BODY)
def test_bodies(client: TestClient, body: Any) -> None:
    for path in (
        "/api/v1/ingest",
        "/api/v1/silences",
        "/api/v1/alertmanager/webhook",
        "/api/v1/notifications/groups/ack",
    ):
        answered(client.post(path, json=body))


def test_the_openapi_document_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/slos/{service}/{slo}/history", "/api/v1/ingest", "/api/v1/alerts", "/api/v1/silences"):
        assert path in paths
    assert client.get("/docs").status_code == 200
