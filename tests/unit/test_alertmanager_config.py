"""The Alertmanager configuration generated from the service's `alerting:` section, field by field."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from slo_service.core.alerting.config import AlertingConfig, ReceiverKind, ReceiverSpec
from slo_service.core.model import Config
from slo_service.core.routing.time_intervals import TimeInterval
from slo_service.core.routing.tree import Route, parse_matcher
from slo_service.generate.alertmanager import (
    NULL_RECEIVER,
    PAGERDUTY_SEVERITY_TEMPLATE,
    SLACK_TEXT,
    SLACK_TITLE,
    AlertmanagerConfig,
    alertmanager_config,
    dump_alertmanager,
)
from slo_service.specs import load_config

ROOT = Path(__file__).resolve().parents[2]
FULL = ROOT / "examples" / "alerting-full.yaml"
GOLDEN = ROOT / "tests" / "golden" / "alertmanager"
ENV = {
    "SLACK_BOT_TOKEN": "xoxb-secret-token",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secret",
    "PD_ROUTING_KEY": "pd-secret-key",
    "WEBHOOK_SECRET": "hmac-secret",
}


@pytest.fixture
def full(monkeypatch: pytest.MonkeyPatch) -> Config:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return load_config([FULL])


def _config(**alerting: Any) -> Config:
    return Config(services={}, sources={}, slos=(), alerting=AlertingConfig(**alerting))


def _receiver(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in doc["receivers"] if r["name"] == name)


def test_route_tree(full: Config) -> None:
    route = alertmanager_config(full)["route"]
    assert route["receiver"] == "search-slack"
    assert route["group_by"] == ["service", "slo"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("30s", "5m", "4h")
    assert "matchers" not in route and "continue" not in route
    page, ticket, audit = route["routes"]
    assert page == {"receiver": "search-pagerduty", "matchers": ['severity="page"'], "continue": True}
    assert ticket == {
        "receiver": "search-slack-hook",
        "matchers": ['severity="ticket"'],
        "mute_time_intervals": ["weekends"],
    }
    assert audit == {
        "receiver": "audit-webhook",
        "matchers": ['service=~".+"'],
        "active_time_intervals": ["office-hours"],
    }


def test_receivers_name_secret_files_never_values(full: Config) -> None:
    doc = alertmanager_config(full, secrets_dir="/run/secrets/")
    assert [r["name"] for r in doc["receivers"]] == [
        "search-slack",
        "search-slack-hook",
        "search-pagerduty",
        "audit-webhook",
    ]
    (bot,) = _receiver(doc, "search-slack")["slack_configs"]
    assert bot["api_url"] == "https://slack.com/api/chat.postMessage"
    assert bot["http_config"] == {"authorization": {"credentials_file": "/run/secrets/SLACK_BOT_TOKEN"}}
    assert bot["channel"] == "#search-alerts"
    assert bot["send_resolved"] is True
    assert (bot["title"], bot["text"]) == (SLACK_TITLE, SLACK_TEXT)
    (hook,) = _receiver(doc, "search-slack-hook")["slack_configs"]
    assert hook["api_url_file"] == "/run/secrets/SLACK_WEBHOOK_URL"
    assert "api_url" not in hook and "channel" not in hook
    (pd,) = _receiver(doc, "search-pagerduty")["pagerduty_configs"]
    assert pd == {
        "send_resolved": True,
        "routing_key_file": "/run/secrets/PD_ROUTING_KEY",
        "url": "https://events.pagerduty.com/v2/enqueue",
        "severity": PAGERDUTY_SEVERITY_TEMPLATE,  # page -> critical, as the service sends it
    }
    (web,) = _receiver(doc, "audit-webhook")["webhook_configs"]
    assert web == {"url": "http://127.0.0.1:9106/alerts", "send_resolved": True, "max_alerts": 0}
    text = dump_alertmanager(doc)
    for secret in ENV.values():
        assert secret not in text


def test_secret_files_use_env_names_when_the_settings_keep_them() -> None:
    spec = ReceiverSpec(
        "pd",
        ReceiverKind.PAGERDUTY,
        settings={"routing_key": "k", "routing_key_env": "PD_KEY", "url": "https://x.example/"},
    )
    doc = alertmanager_config(_config(receivers={"pd": spec}, route=Route(receiver="pd")))
    assert _receiver(doc, "pd")["pagerduty_configs"][0]["routing_key_file"] == "/etc/alertmanager/secrets/PD_KEY"


def test_slack_bot_with_custom_base_url() -> None:
    spec = ReceiverSpec(
        "s", ReceiverKind.SLACK, False, {"token": "t", "channel": "#c", "base_url": "https://slack.example/api/"}
    )
    doc = alertmanager_config(_config(receivers={"s": spec}, route=Route(receiver="s")))
    (cfg,) = _receiver(doc, "s")["slack_configs"]
    assert cfg["api_url"] == "https://slack.example/api/chat.postMessage"
    assert cfg["send_resolved"] is False


def test_inhibit_rules(full: Config) -> None:
    assert alertmanager_config(full)["inhibit_rules"] == [
        {"source_matchers": ['severity="page"'], "target_matchers": ['severity="ticket"'], "equal": ["service", "slo"]}
    ]


def test_matchers_are_escaped_as_alertmanager_reads_them() -> None:
    route = Route(receiver="r", routes=(Route(matchers=(parse_matcher('msg="say \\"hi\\""'),)),))
    doc = alertmanager_config(
        _config(receivers={"r": ReceiverSpec("r", ReceiverKind.WEBHOOK, settings={"url": "http://h/"})}, route=route)
    )
    assert doc["route"]["routes"][0]["matchers"] == ['msg="say \\"hi\\""']


def test_time_intervals(full: Config) -> None:
    intervals = {i["name"]: i["time_intervals"] for i in alertmanager_config(full)["time_intervals"]}
    # Alertmanager counts weekdays from Sunday: saturday:sunday would be an empty range there.
    assert intervals["weekends"] == [{"weekdays": ["saturday", "sunday"], "location": "Europe/Berlin"}]
    assert intervals["office-hours"] == [
        {
            "times": [{"start_time": "09:00", "end_time": "17:00"}],
            "weekdays": ["monday:friday"],
            "location": "Europe/Berlin",
        }
    ]


def test_every_time_interval_field() -> None:
    interval = TimeInterval(
        times=((0, 360), (1320, 1440)),
        weekdays=((0, 0), (2, 6)),
        days_of_month=((1, 5), (-3, -1)),
        months=((1, 3), (12, 12)),
        years=((2026, 2027),),
    )
    doc = alertmanager_config(_config(time_intervals={"t": (interval, TimeInterval())}))
    first, second = doc["time_intervals"][0]["time_intervals"]
    assert first == {
        "times": [{"start_time": "00:00", "end_time": "06:00"}, {"start_time": "22:00", "end_time": "24:00"}],
        "weekdays": ["monday", "wednesday:saturday", "sunday"],
        "days_of_month": ["1:5", "-3:-1"],
        "months": ["january:march", "december"],
        "years": ["2026:2027"],
    }
    assert second == {"location": "UTC"}  # an entry matching all the time stays a (non-empty) entry
    assert "'00:00'" in dump_alertmanager(doc)  # quoted: YAML 1.1 may read 00:00 as a number


def test_no_route_goes_to_a_receiver_that_notifies_nobody() -> None:
    doc = alertmanager_config(_config())
    assert doc["route"] == {"receiver": NULL_RECEIVER}
    assert doc["receivers"] == [{"name": NULL_RECEIVER}]
    assert any("no route" in n for n in doc.notes)


def test_unrepresentable_parts_are_noted_not_dropped(full: Config) -> None:
    doc = alertmanager_config(full)
    assert isinstance(doc, AlertmanagerConfig)
    joined = "\n".join(doc.notes)
    for expected in (
        "schedule 'search-primary'",
        "escalation policy 'search-primary'",
        "receiver 'search-pagerduty': escalation_policy 'search-primary'",
        "receiver 'audit-webhook': HMAC signing",
        "custom HTTP headers (X-Team)",
        "users (alice, bob, carol)",
    ):
        assert expected in joined
    text = dump_alertmanager(doc)
    header = text.split("\nroute:")[0]
    assert "# not representable in Alertmanager" in header
    assert all(f"#   - {n}" in header for n in doc.notes)
    # Notes are comments only: the YAML is exactly the dict.
    assert yaml.safe_load(text) == dict(doc)


def test_golden(full: Config) -> None:
    text = dump_alertmanager(alertmanager_config(full))
    golden = GOLDEN / "alerting-full.yml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert text == golden.read_text(), "regenerate with UPDATE_GOLDEN=1 and review the diff"


def test_durations_inherit_when_unset() -> None:
    route = Route(
        receiver="r", group_wait=timedelta(0), routes=(Route(repeat_interval=timedelta(hours=1, minutes=30)),)
    )
    doc = alertmanager_config(
        _config(receivers={"r": ReceiverSpec("r", ReceiverKind.WEBHOOK, settings={"url": "http://h/"})}, route=route)
    )
    assert doc["route"]["group_wait"] == "0s"
    assert doc["route"]["routes"] == [{"repeat_interval": "1h30m"}]
