"""parse_alertmanager_webhook: Alertmanager webhook payload version 4."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_service.adapters.receivers.alertmanager_inbound import InboundAlert, parse_alertmanager_webhook
from slo_service.core.alerting.fingerprint import fingerprint

# Shaped like the example in Alertmanager's webhook_config docs, with our own values.
SAMPLE: dict[str, Any] = json.loads(
    """
{
  "version": "4",
  "groupKey": "{}/{team=\\"ml\\"}:{alertname=\\"ModelLatencyHigh\\"}",
  "truncatedAlerts": 0,
  "status": "firing",
  "receiver": "slo-service",
  "groupLabels": {"alertname": "ModelLatencyHigh"},
  "commonLabels": {"alertname": "ModelLatencyHigh", "team": "ml", "severity": "page"},
  "commonAnnotations": {"summary": "p99 latency above 500ms"},
  "externalURL": "http://127.0.0.1:9093",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "ModelLatencyHigh", "team": "ml", "severity": "page", "model": "ranker"},
      "annotations": {"summary": "p99 latency above 500ms", "runbook_url": "http://127.0.0.1/rb"},
      "startsAt": "2026-11-28T09:00:00.123456789Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=latency",
      "fingerprint": "c6f7a1b2d3e4f5a6"
    },
    {
      "status": "resolved",
      "labels": {"alertname": "ModelLatencyHigh", "team": "ml", "severity": "page", "model": "embedder"},
      "annotations": {},
      "startsAt": "2026-11-28T10:00:00+01:00",
      "endsAt": "2026-11-28T09:20:00Z",
      "generatorURL": ""
    }
  ]
}
"""
)


def test_parses_the_sample() -> None:
    firing, resolved = parse_alertmanager_webhook(SAMPLE)
    assert firing == InboundAlert(
        labels={"alertname": "ModelLatencyHigh", "team": "ml", "severity": "page", "model": "ranker"},
        annotations={"summary": "p99 latency above 500ms", "runbook_url": "http://127.0.0.1/rb"},
        status="firing",
        starts_at=datetime(2026, 11, 28, 9, 0, 0, 123456, tzinfo=UTC),
        ends_at=None,  # Go's zero time
        fingerprint="c6f7a1b2d3e4f5a6",
        generator_url="http://127.0.0.1:9090/graph?g0.expr=latency",
    )
    assert resolved.status == "resolved"
    assert resolved.starts_at == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # converted to UTC
    assert resolved.starts_at.tzinfo is UTC
    assert resolved.ends_at == datetime(2026, 11, 28, 9, 20, tzinfo=UTC)
    assert resolved.fingerprint == fingerprint(resolved.labels)  # computed when absent
    assert resolved.generator_url is None
    assert resolved.annotations == {}


def test_minimal_payload() -> None:
    [alert] = parse_alertmanager_webhook(
        {"alerts": [{"status": "firing", "labels": {"alertname": "X"}, "startsAt": "2026-11-28T09:00:00Z"}]}
    )
    assert alert.ends_at is None and alert.annotations == {} and alert.fingerprint == fingerprint({"alertname": "X"})
    assert parse_alertmanager_webhook({"version": "4", "alerts": []}) == []


def test_empty_ends_at_means_not_ended() -> None:
    data = copy.deepcopy(SAMPLE)
    data["alerts"][1]["endsAt"] = ""
    assert parse_alertmanager_webhook(data)[1].ends_at is None


def _broken(path: list[str | int], value: Any, delete: bool = False) -> dict[str, Any]:
    data = copy.deepcopy(SAMPLE)
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_broken(["version"], "3"), "version: unsupported webhook payload version '3'"),
        (_broken(["status"], "pending"), "status: must be 'firing' or 'resolved'"),
        (_broken(["groupLabels"], ["alertname"]), "groupLabels: must be an object of strings"),
        (_broken(["commonLabels"], {"team": 1}), "commonLabels: must be an object of strings"),
        (_broken(["commonAnnotations"], None), "commonAnnotations: must be an object of strings"),
        (_broken(["receiver"], 5), "receiver: must be a string"),
        (_broken(["groupKey"], None), "groupKey: must be a string"),
        (_broken(["externalURL"], {}), "externalURL: must be a string"),
        (_broken(["truncatedAlerts"], -1), "truncatedAlerts: must be a non-negative integer"),
        (_broken(["truncatedAlerts"], True), "truncatedAlerts: must be a non-negative integer"),
        (_broken(["alerts"], None, delete=True), "alerts: missing"),
        (_broken(["alerts"], {"0": {}}), "alerts: must be a list"),
        (_broken(["alerts", 1], "alert"), "alerts[1]: must be an object"),
        (_broken(["alerts", 1, "status"], "pending"), "alerts[1].status: must be 'firing' or 'resolved'"),
        (_broken(["alerts", 0, "status"], None, delete=True), "alerts[0].status: must be 'firing' or 'resolved'"),
        (_broken(["alerts", 1, "labels"], None, delete=True), "alerts[1].labels: must be an object of strings"),
        (_broken(["alerts", 1, "labels"], {"model": 2}), "alerts[1].labels: must be an object of strings"),
        (_broken(["alerts", 1, "labels"], {"model": None}), "alerts[1].labels: must be an object of strings"),
        (_broken(["alerts", 1, "labels"], {}), "alerts[1].labels: must not be empty"),
        (_broken(["alerts", 1, "labels"], {"": "x"}), "alerts[1].labels: label names must not be empty"),
        (_broken(["alerts", 0, "annotations"], "text"), "alerts[0].annotations: must be an object of strings"),
        (_broken(["alerts", 0, "startsAt"], None, delete=True), "alerts[0].startsAt: missing"),
        (_broken(["alerts", 0, "startsAt"], 1700000000), "alerts[0].startsAt: must be an RFC 3339 time string"),
        (_broken(["alerts", 0, "startsAt"], "yesterday"), "alerts[0].startsAt: not an RFC 3339 time"),
        (_broken(["alerts", 0, "startsAt"], "2026-11-28T09:00:00"), "alerts[0].startsAt: time has no time zone"),
        (_broken(["alerts", 0, "startsAt"], "0001-01-01T00:00:00Z"), "alerts[0].startsAt: must be a real time"),
        (_broken(["alerts", 1, "endsAt"], "soon"), "alerts[1].endsAt: not an RFC 3339 time"),
        (_broken(["alerts", 1, "endsAt"], "2026-11-28T08:00:00Z"), "alerts[1].endsAt: is before startsAt"),
        (_broken(["alerts", 0, "fingerprint"], 12), "alerts[0].fingerprint: must be a string"),
        (_broken(["alerts", 0, "generatorURL"], ["x"]), "alerts[0].generatorURL: must be a string"),
    ],
)
def test_malformed_fields_are_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_alertmanager_webhook(data)
    assert str(exc.value).startswith(message), str(exc.value)


@pytest.mark.parametrize("data", [None, [], "x", 4])
def test_body_must_be_an_object(data: Any) -> None:
    with pytest.raises(ValueError, match="body: must be a JSON object"):
        parse_alertmanager_webhook(data)


def test_the_first_bad_alert_is_named() -> None:
    data = copy.deepcopy(SAMPLE)
    data["alerts"].append({"status": "firing", "labels": {"a": 1}, "startsAt": "2026-11-28T09:00:00Z"})
    with pytest.raises(ValueError, match=r"^alerts\[2\]\.labels: must be an object of strings$"):
        parse_alertmanager_webhook(data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)
_alert_like = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["firing", "resolved", "pending"]) | _json,
        "labels": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3) | _json,
        "annotations": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3) | _json,
        "startsAt": st.sampled_from(["2026-11-28T09:00:00Z", "0001-01-01T00:00:00Z", "x", ""]) | _json,
        "endsAt": st.sampled_from(["2026-11-28T10:00:00Z", "0001-01-01T00:00:00Z", "2020-01-01T00:00:00Z"]) | _json,
        "fingerprint": _json,
        "generatorURL": _json,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_json, st.fixed_dictionaries({"version": st.just("4"), "alerts": st.lists(_alert_like, max_size=4)})))
def test_any_json_either_parses_or_raises_a_named_value_error(data: Any) -> None:
    try:
        alerts = parse_alertmanager_webhook(data)
    except ValueError as exc:
        assert str(exc).split(":")[0].strip()  # names a field
        return
    for alert in alerts:
        assert alert.status in ("firing", "resolved") and alert.labels and alert.fingerprint
        assert alert.starts_at.tzinfo is UTC and (alert.ends_at is None or alert.ends_at >= alert.starts_at)
