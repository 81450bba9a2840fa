"""The `alerting:` section and per-SLO `alerting:` overrides: conversion into AlertingConfig, and one
table row per validation rule with the message, the field path and the line it points at."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from slo_service.core.alerting.config import DEFAULT_POLICY, AlertingConfig, ReceiverKind
from slo_service.core.alerting.policy import AlertPolicy, BurnRateTier, default_tiers
from slo_service.core.oncall.escalation import EscalationLevel
from slo_service.core.oncall.schedule import Override, Restriction
from slo_service.core.routing.tree import RoutingTree, parse_matcher
from slo_service.core.windows import ALERT_WINDOWS
from slo_service.specs import ConfigError, Problem, load_config, validate_files
from slo_service.specs.alerting import ALERT_WINDOW_NAMES, PAGERDUTY_EVENTS_URL

REPO = Path(__file__).resolve().parents[2]
ENV = {"T_SLACK_TOKEN": "xoxb-test", "T_PD_KEY": "pd-key", "T_HOOK_SECRET": "hook-secret"}
FULL_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/T/B/X",
    "PD_ROUTING_KEY": "pd-key",
    "WEBHOOK_SECRET": "hook-secret",
}

BASE = """\
apiVersion: slo-service/v1
services:
  - name: svc
sources:
  - name: pushed
    type: push
slos:
  - service: svc
    name: ok
    objective: 99
    period: 28d
    alerting: {policy: strict}
    sli:
      ratio: {source: pushed, good: 'x_total{code="200"}', total: x_total}
alerting:
  external_url: http://127.0.0.1:8080
  policies:
    default:
      min_events: 10
    strict:
      no_data_after: 1h
      for: 1m
      labels: {team: ml}
      tiers:
        - {name: fast, severity: page, long_window: 1h, short_window: 5m, budget_share: 0.02, for: 2m}
  receivers:
    - name: chat
      type: slack
      channel: "#alerts"
      token_env: T_SLACK_TOKEN
      base_url: http://127.0.0.1:1/api/
    - name: pager
      type: pagerduty
      routing_key_env: T_PD_KEY
      escalation_policy: primary
    - name: hook
      type: webhook
      url: http://127.0.0.1:9106/alerts
      hmac_secret_env: T_HOOK_SECRET
  route:
    receiver: chat
    group_by: [service, slo]
    routes:
      - matchers: ['severity="page"']
        receiver: pager
        continue: true
      - matchers: ['severity="ticket"']
        receiver: hook
        mute_time_intervals: [weekends]
  inhibit_rules:
    - source_matchers: ['severity="page"']
      target_matchers: ['severity="ticket"']
      equal: [service, slo]
  time_intervals:
    - name: weekends
      time_intervals: [{weekdays: ['saturday:sunday']}]
  users:
    alice: {slack: U1, email: alice@example.com}
    bob: {}
  schedules:
    - name: oncall
      timezone: Europe/Berlin
      layers:
        - name: weekly
          rotation: {members: [alice, bob], length: 7d, start: "2026-11-02T09:00:00+01:00"}
          restrictions: [{weekdays: [monday, friday], start: "09:00", end: "17:00"}]
      overrides:
        - {start: "2026-12-24T00:00:00", end: "2026-12-27T00:00:00", member: bob}
  escalation_policies:
    - name: primary
      repeat: 1
      levels:
        - {targets: ["schedule:oncall"], delay: 15m}
        - {targets: ["user:alice", bob], delay: 10m}
"""


WINDOWS = "5m, 30m, 1h, 2h, 6h, 1d, 3d"
USERS = "known users (alerting.users): alice, bob"


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def edit(*replacements: tuple[str, str], text: str = BASE) -> str:
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def write(tmp_path: Path, text: str, name: str = "slo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, marker: str) -> int:
    """1-based line of the first line of `text` containing `marker`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if marker in line)


def alerting_of(tmp_path: Path, text: str) -> AlertingConfig:
    config = load_config([write(tmp_path, text)])
    assert config.alerting is not None
    return config.alerting


# ---------------------------------------------------------------- conversion


def test_the_base_document_is_valid_and_converted(tmp_path: Path) -> None:
    a = alerting_of(tmp_path, BASE)
    assert a.external_url == "http://127.0.0.1:8080"
    assert set(a.policies) == {"default", "strict"}
    assert a.policies["default"] == AlertPolicy(min_events=10)
    strict = a.policies["strict"]
    assert strict.no_data_after == timedelta(hours=1)
    assert strict.for_ == timedelta(minutes=1)
    assert strict.labels == {"team": "ml"}
    assert strict.min_events == 0  # fields left out take AlertPolicy's defaults, not the default policy's
    assert strict.tiers == (
        BurnRateTier("fast", "page", timedelta(hours=1), timedelta(minutes=5), 0.02, timedelta(minutes=2)),
    )
    assert a.slo_policies == {"svc/ok": "strict"}
    assert a.policy_for("svc/ok") is strict


def test_receivers_resolve_their_secrets_from_the_environment(tmp_path: Path) -> None:
    r = alerting_of(tmp_path, BASE).receivers
    assert list(r) == ["chat", "pager", "hook"]
    assert r["chat"].kind is ReceiverKind.SLACK
    assert r["chat"].settings == {
        "token": "xoxb-test",
        "channel": "#alerts",
        "base_url": "http://127.0.0.1:1/api/",
        "webhook_url": None,
        "token_env": "T_SLACK_TOKEN",
        "timeout": 10.0,
    }
    assert r["chat"].send_resolved is True and r["chat"].escalation_policy is None
    assert r["pager"].kind is ReceiverKind.PAGERDUTY
    assert r["pager"].settings == {
        "routing_key": "pd-key",
        "url": PAGERDUTY_EVENTS_URL,
        "routing_key_env": "T_PD_KEY",
        "timeout": 10.0,
    }
    assert r["pager"].escalation_policy == "primary"
    assert r["hook"].kind is ReceiverKind.WEBHOOK
    assert r["hook"].settings == {
        "url": "http://127.0.0.1:9106/alerts",
        "hmac_secret": "hook-secret",
        "max_alerts": 0,
        "headers": {},
        "hmac_secret_env": "T_HOOK_SECRET",
        "timeout": 10.0,
    }


def test_slack_incoming_webhook_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_SLACK_HOOK", "https://hooks.slack.example/services/T/B/X")
    text = edit(
        ('      channel: "#alerts"\n      token_env: T_SLACK_TOKEN\n', "      webhook_url_env: T_SLACK_HOOK\n"),
        ("      base_url: http://127.0.0.1:1/api/\n", "      send_resolved: false\n"),
    )
    chat = alerting_of(tmp_path, text).receivers["chat"]
    assert chat.settings == {
        "token": None,
        "channel": None,
        "base_url": "https://slack.com/api/",
        "webhook_url": "https://hooks.slack.example/services/T/B/X",
        "webhook_url_env": "T_SLACK_HOOK",
        "timeout": 10.0,
    }
    assert chat.send_resolved is False


def test_route_inhibition_and_time_intervals_come_from_the_core_parsers(tmp_path: Path) -> None:
    a = alerting_of(tmp_path, BASE)
    assert a.route is not None
    assert a.route.receiver == "chat" and a.route.group_by == ("service", "slo")
    page, ticket = a.route.routes
    assert page.matchers == (parse_matcher('severity="page"'),) and page.continue_ and page.receiver == "pager"
    assert ticket.mute_time_intervals == ("weekends",)
    assert [r.receiver for r in RoutingTree(a.route).match({"severity": "page"})] == ["pager"]
    (rule,) = a.inhibit_rules
    assert rule.equal == ("service", "slo")
    assert rule.inhibits(
        {"severity": "ticket", "service": "s", "slo": "x"}, [{"severity": "page", "service": "s", "slo": "x"}]
    )
    (weekends,) = a.time_intervals["weekends"]
    assert weekends.weekdays == ((5, 6),)


def test_users_schedules_and_escalation_policies(tmp_path: Path) -> None:
    a = alerting_of(tmp_path, BASE)
    assert a.users == {"alice": {"slack": "U1", "email": "alice@example.com"}, "bob": {}}
    schedule = a.schedules["oncall"]
    berlin = ZoneInfo("Europe/Berlin")
    (layer,) = schedule.layers
    assert layer.timezone == "Europe/Berlin"
    assert layer.rotation.members == ("alice", "bob")
    assert layer.rotation.length == timedelta(days=7)
    assert layer.rotation.start == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert layer.rotation.restrictions == (Restriction(time(9), time(17), (0, 4)),)
    # a date-time without an offset is read in the schedule's time zone
    assert schedule.overrides == (
        Override(datetime(2026, 12, 24, tzinfo=berlin), datetime(2026, 12, 27, tzinfo=berlin), "bob"),
    )
    policy = a.escalation_policies["primary"]
    assert policy.repeat == 1
    assert policy.levels == (
        EscalationLevel(("schedule:oncall",), timedelta(minutes=15)),
        EscalationLevel(("user:alice", "bob"), timedelta(minutes=10)),
    )


def test_without_an_alerting_section_the_defaults_apply(tmp_path: Path) -> None:
    text = BASE[: BASE.index("alerting:\n")].replace("    alerting: {policy: strict}\n", "")
    a = alerting_of(tmp_path, text)
    assert a == AlertingConfig()
    assert a.policies == {DEFAULT_POLICY: AlertPolicy()}
    assert a.policy_for("svc/ok").tiers == default_tiers()


def test_an_empty_alerting_section_means_the_defaults(tmp_path: Path) -> None:
    text = BASE[: BASE.index("alerting:\n")].replace("    alerting: {policy: strict}\n", "") + "alerting:\n"
    assert alerting_of(tmp_path, text) == AlertingConfig()


def test_slo_inline_overrides_make_a_policy_named_after_the_slo(tmp_path: Path) -> None:
    text = edit(
        (
            "alerting: {policy: strict}",
            'alerting: {policy: strict, min_events: 5, no_data_after: null, labels: {tier: "1"}}',
        ),
    )
    a = alerting_of(tmp_path, text)
    assert a.slo_policies == {"svc/ok": "svc/ok"}
    own = a.policies["svc/ok"]
    strict = a.policies["strict"]
    assert own.min_events == 5 and own.no_data_after is None
    assert own.labels == {"team": "ml", "tier": "1"}  # merged over the policy's labels
    assert own.tiers == strict.tiers and own.for_ == strict.for_  # the rest comes from the named policy


def test_slo_overrides_apply_to_the_default_policy_without_a_name(tmp_path: Path) -> None:
    tiers = "[{name: only, severity: page, long_window: 6h, short_window: 30m, budget_share: 0.05}]"
    text = edit(("alerting: {policy: strict}", f"alerting: {{for: 0s, tiers: {tiers}}}"))
    own = alerting_of(tmp_path, text).policies["svc/ok"]
    assert own.min_events == 10  # from alerting.policies.default
    assert [t.name for t in own.tiers] == ["only"]  # tiers are replaced, not merged


def test_an_slo_in_another_file_may_use_a_policy_of_the_alerting_file(tmp_path: Path) -> None:
    slos_start = BASE.index("slos:\n")
    alerting_start = BASE.index("alerting:\n")
    first = write(tmp_path, BASE[:slos_start] + BASE[alerting_start:], "a.yaml")
    second = write(tmp_path, "apiVersion: slo-service/v1\n" + BASE[slos_start:alerting_start], "b.yaml")
    config = load_config([second, first])
    assert config.alerting is not None and config.alerting.slo_policies == {"svc/ok": "strict"}


def test_alert_window_names_are_the_evaluators_windows() -> None:
    assert ALERT_WINDOW_NAMES == tuple(ALERT_WINDOWS) == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


# ---------------------------------------------------------------- one row per rule

TIER = "{name: fast, severity: page, long_window: 1h"
CASES: list[tuple[str, list[tuple[str, str]], list[tuple[str, str, str]]]] = [
    # (id, replacements, [(marker of the expected line, field, message), ...])
    (
        "unknown-section-field",
        [("  external_url:", "  externl_url:")],
        [
            (
                "externl_url",
                "alerting.externl_url",
                "unknown field 'externl_url' (did you mean 'external_url'?); allowed fields: external_url, policies, "
                "receivers, route, inhibit_rules, time_intervals, users, schedules, escalation_policies",
            )
        ],
    ),
    (
        "unknown-policy-field",
        [("      min_events: 10", "      min_event: 10")],
        [
            (
                "min_event:",
                "alerting.policies.default.min_event",
                "unknown field 'min_event' (did you mean 'min_events'?); allowed fields: min_events, "
                "min_slice_coverage, "
                "min_budget_coverage, no_data_after, "
                "budget_exhausted, for, labels, annotations, tiers, no_data_severity, budget_exhausted_severity, "
                "alert_name",
            )
        ],
    ),
    (
        "unknown-tier-field",
        [("budget_share: 0.02, for: 2m}", "budget_share: 0.02, fro: 2m}")],
        [
            (
                TIER,
                "alerting.policies.strict.tiers[0].fro",
                "unknown field 'fro' (did you mean 'for'?); allowed fields: name, severity, long_window, short_window, "
                "budget_share, for, labels, annotations",
            )
        ],
    ),
    (
        "unknown-receiver-field",
        [('      channel: "#alerts"', '      chanel: "#alerts"')],
        [
            (
                "chanel:",
                "alerting.receivers[0].chanel",
                "unknown field 'chanel' (did you mean 'channel'?); allowed fields: name, type, channel, token_env, "
                "webhook_url_env, base_url, send_resolved, timeout, escalation_policy",
            )
        ],
    ),
    (
        "unknown-slo-alerting-field",
        [("alerting: {policy: strict}", "alerting: {polcy: strict}")],
        [
            (
                "polcy",
                "slos[0].alerting.polcy",
                "unknown field 'polcy' (did you mean 'policy'?); allowed fields: min_events, min_slice_coverage, "
                "min_budget_coverage, no_data_after, "
                "budget_exhausted, for, labels, annotations, tiers, no_data_severity, budget_exhausted_severity, "
                "alert_name, policy",
            )
        ],
    ),
    (
        "unknown-user-field",
        [("alice: {slack: U1,", "alice: {slak: U1,")],
        [
            (
                "slak",
                "alerting.users.alice.slak",
                "unknown field 'slak' (did you mean 'slack'?); allowed fields: slack, email, name",
            )
        ],
    ),
    (
        "duration-type",
        [("      for: 1m", "      for: 60")],
        [
            (
                "for: 60",
                "alerting.policies.strict.for",
                "expected a duration with a unit such as 15s, 5m or 7d; got int 60",
            )
        ],
    ),
    # ---- route, inhibit rules and time intervals: the core parsers' messages, at the node they are about
    (
        "route-bad-matcher",
        [("      - matchers: ['severity=\"ticket\"']", "      - matchers: ['severity=~\"(\"']")],
        [
            (
                "severity=~",
                "alerting.route.routes[1].matchers[0]",
                "invalid regex '(' in selector '{severity=~\"(\"}': missing ), unterminated subpattern at position 0",
            )
        ],
    ),
    (
        "route-unknown-field",
        [("        continue: true", "        continu: true")],
        [("continu:", "alerting.route.routes[0].continu", "unknown field(s) ['continu']")],
    ),
    (
        "route-bad-duration",
        [("    group_by: [service, slo]", "    group_by: [service, slo]\n    group_wait: soon")],
        [("group_wait", "alerting.route.group_wait", "invalid duration 'soon'; use forms like 30s, 5m, 1h, 7d, 4w")],
    ),
    (
        "route-unknown-receiver",
        [("        receiver: hook", "        receiver: hok")],
        [
            (
                "receiver: hok",
                "alerting.route.routes[1].receiver",
                "unknown receiver 'hok'; known receivers: chat, hook, pager",
            )
        ],
    ),
    (
        "route-root-needs-a-receiver",
        [("    receiver: chat\n", "")],
        [("  route:", "alerting.route.receiver", "the root route needs a receiver")],
    ),
    (
        "route-unknown-mute-time-interval",
        [("mute_time_intervals: [weekends]", "mute_time_intervals: [weekend]")],
        [
            (
                "mute_time_intervals",
                "alerting.route.routes[1].mute_time_intervals[0]",
                "unknown time interval 'weekend'; known time intervals: weekends",
            )
        ],
    ),
    (
        "route-unknown-active-time-interval",
        [("mute_time_intervals: [weekends]", "active_time_intervals: [nights]")],
        [
            (
                "active_time_intervals",
                "alerting.route.routes[1].active_time_intervals[0]",
                "unknown time interval 'nights'; known time intervals: weekends",
            )
        ],
    ),
    (
        "inhibit-bad-matcher",
        [("      target_matchers: ['severity=\"ticket\"']", "      target_matchers: ['severity=\"ticket']")],
        [
            (
                "target_matchers",
                "alerting.inhibit_rules[0].target_matchers[0]",
                "unterminated string in selector '{severity=\"ticket}'",
            )
        ],
    ),
    (
        "inhibit-unknown-field",
        [("      equal: [service, slo]", "      equals: [service, slo]")],
        [("equals:", "alerting.inhibit_rules[0].equals", "unknown field(s) ['equals']")],
    ),
    (
        "time-interval-parse-error",
        [("['saturday:sunday']", "['saturday:sundae']")],
        [
            (
                "sundae",
                "alerting.time_intervals[0].time_intervals[0]",
                "time interval 'weekends': unknown weekday 'sundae'; use monday..sunday",
            )
        ],
    ),
    (
        "time-interval-duplicate",
        [("  users:\n", "    - name: weekends  # again\n      time_intervals: []\n  users:\n")],
        [
            (
                "weekends  # again",
                "alerting.time_intervals[1].name",
                "duplicate time interval name 'weekends'; first defined at {file}:55",
            )
        ],
    ),
    # ---- references
    (
        "escalation-unknown-schedule",
        [('"schedule:oncall"', '"schedule:on-call"')],
        [
            (
                "schedule:on-call",
                "alerting.escalation_policies[0].levels[0].targets[0]",
                "unknown schedule 'on-call'; known schedules: oncall",
            )
        ],
    ),
    (
        "escalation-unknown-user",
        [('"user:alice", bob', '"user:alice", bobby')],
        [("bobby", "alerting.escalation_policies[0].levels[1].targets[1]", f"unknown user 'bobby'; {USERS}")],
    ),
    (
        "escalation-malformed-target",
        [('"user:alice", bob', '"user:alice", "team:x"')],
        [
            (
                "team:x",
                "alerting.escalation_policies[0].levels[1].targets[1]",
                "escalation target 'team:x' must be 'schedule:<name>' or 'user:<name>'",
            )
        ],
    ),
    (
        "rotation-unknown-member",
        [("members: [alice, bob]", "members: [alice, carl]")],
        [("carl", "alerting.schedules[0].layers[0].rotation.members[1]", f"unknown user 'carl'; {USERS}")],
    ),
    (
        "override-unknown-member",
        [("member: bob}", "member: eve}")],
        [("member: eve", "alerting.schedules[0].overrides[0].member", f"unknown user 'eve'; {USERS}")],
    ),
    (
        "receiver-unknown-escalation-policy",
        [("      escalation_policy: primary", "      escalation_policy: secondary")],
        [
            (
                "escalation_policy: secondary",
                "alerting.receivers[1].escalation_policy",
                "unknown escalation policy 'secondary'; known escalation policies: primary",
            )
        ],
    ),
    (
        "slo-unknown-policy",
        [("alerting: {policy: strict}", "alerting: {policy: strikt}")],
        [("strikt", "slos[0].alerting.policy", "unknown alerting policy 'strikt'; known policies: default, strict")],
    ),
    # ---- duplicate names
    (
        "duplicate-receiver",
        [("    - name: hook", "    - name: chat  # again")],
        [
            (
                "chat  # again",
                "alerting.receivers[2].name",
                "duplicate receiver name 'chat'; first defined at {file}:27",
            ),
            (
                "receiver: hook",
                "alerting.route.routes[1].receiver",
                "unknown receiver 'hook'; known receivers: chat, pager",
            ),
        ],
    ),
    (
        "duplicate-policy",
        [("    strict:\n", "    default:  # again\n      min_events: 1\n    strict:\n")],
        [
            (
                "default:  # again",
                "alerting.policies.default",
                "duplicate key 'default'; first given at line 18 (YAML would silently keep only the last)",
            )
        ],
    ),
    (
        "duplicate-escalation-policy",
        [("delay: 10m}\n", "delay: 10m}\n    - {name: primary, levels: [{targets: [bob], delay: 5m}]}\n")],
        [
            (
                "{name: primary, levels",
                "alerting.escalation_policies[1].name",
                "duplicate escalation policy name 'primary'; first defined at {file}:70",
            )
        ],
    ),
    (
        "duplicate-schedule",
        [
            (
                "  escalation_policies:\n",
                "    - {name: oncall, layers: [{name: l, rotation: {members: [bob], length: 1d, start: 2026-11-02}}]}\n"
                "  escalation_policies:\n",
            )
        ],
        [
            (
                "{name: oncall, layers",
                "alerting.schedules[1].name",
                "duplicate schedule name 'oncall'; first defined at {file}:61",
            )
        ],
    ),
    (
        "duplicate-user",
        [("    bob: {}\n", "    bob: {}\n    bob: {email: b@example.com}\n")],
        [
            (
                "bob: {email",
                "alerting.users.bob",
                "duplicate key 'bob'; first given at line 59 (YAML would silently keep only the last)",
            )
        ],
    ),
    # ---- receivers and secrets
    (
        "env-var-not-set",
        [("T_PD_KEY", "T_PD_UNSET")],
        [("T_PD_UNSET", "alerting.receivers[1].routing_key_env", "environment variable T_PD_UNSET is not set")],
    ),
    (
        "literal-secret",
        [("      token_env: T_SLACK_TOKEN", "      token: xoxb-123")],
        [
            (
                "token: xoxb",
                "alerting.receivers[0].token",
                "secrets are not written in configuration files: put the value in an environment variable and name "
                "it with token_env, e.g. token_env: SLACK_BOT_TOKEN",
            )
        ],
    ),
    (
        "literal-routing-key",
        [("      routing_key_env: T_PD_KEY", "      routing_key: abc")],
        [
            (
                "routing_key: abc",
                "alerting.receivers[1].routing_key",
                "secrets are not written in configuration files: put the value in an environment variable and name "
                "it with routing_key_env, e.g. routing_key_env: PD_ROUTING_KEY",
            )
        ],
    ),
    (
        "slack-both-modes",
        [("      token_env: T_SLACK_TOKEN", "      token_env: T_SLACK_TOKEN\n      webhook_url_env: T_SLACK_TOKEN")],
        [
            (
                "- name: chat",
                "alerting.receivers[0]",
                "set exactly one of token_env (a bot token, with channel) or webhook_url_env (an incoming webhook); "
                "got both",
            )
        ],
    ),
    (
        "slack-neither-mode",
        [("      token_env: T_SLACK_TOKEN\n", "")],
        [
            (
                "- name: chat",
                "alerting.receivers[0]",
                "set exactly one of token_env (a bot token, with channel) or webhook_url_env (an incoming webhook); "
                "got neither",
            )
        ],
    ),
    (
        "slack-token-needs-channel",
        [('      channel: "#alerts"\n', "")],
        [
            (
                "- name: chat",
                "alerting.receivers[0]",
                "channel is required with token_env: the bot posts there, e.g. channel: '#alerts'",
            )
        ],
    ),
    (
        "webhook-url-scheme",
        [("url: http://127.0.0.1:9106/alerts", "url: ftp://127.0.0.1/alerts")],
        [
            (
                "ftp://",
                "alerting.receivers[2].url",
                "url 'ftp://127.0.0.1/alerts' must be an http:// or https:// URL with a host",
            )
        ],
    ),
    (
        "slack-base-url-scheme",
        [("base_url: http://127.0.0.1:1/api/", "base_url: slack.com/api")],
        [
            (
                "base_url",
                "alerting.receivers[0].base_url",
                "url 'slack.com/api' must be an http:// or https:// URL with a host",
            )
        ],
    ),
    (
        "external-url-scheme",
        [("external_url: http://127.0.0.1:8080", "external_url: localhost:8080")],
        [
            (
                "external_url",
                "alerting.external_url",
                "url 'localhost:8080' must be an http:// or https:// URL with a host",
            )
        ],
    ),
    (
        "webhook-max-alerts",
        [("      hmac_secret_env: T_HOOK_SECRET", "      hmac_secret_env: T_HOOK_SECRET\n      max_alerts: -1")],
        [("max_alerts", "alerting.receivers[2].max_alerts", "max_alerts -1 must be 0 (no limit) or more")],
    ),
    (
        "receiver-timeout",
        [("      hmac_secret_env: T_HOOK_SECRET", "      hmac_secret_env: T_HOOK_SECRET\n      timeout: 2m")],
        [("timeout: 2m", "alerting.receivers[2].timeout", "timeout 2m must be more than 0s and at most 1m")],
    ),
    (
        "receiver-type",
        [("      type: webhook", "      type: email")],
        [
            (
                "type: email",
                "alerting.receivers[2].type",
                "unknown receiver type 'email'; receiver types: slack, pagerduty, webhook",
            )
        ],
    ),
    # ---- policies and tiers
    (
        "tier-window-not-computed",
        [("long_window: 1h, short_window: 5m", "long_window: 45m, short_window: 5m")],
        [
            (
                "{name: fast",
                "alerting.policies.strict.tiers[0].long_window",
                f"long_window 45m is not a window the evaluator computes; use one of {WINDOWS}",
            )
        ],
    ),
    (
        "tier-short-longer-than-long",
        [("long_window: 1h, short_window: 5m", "long_window: 1h, short_window: 6h")],
        [
            (
                "{name: fast",
                "alerting.policies.strict.tiers[0].short_window",
                "tier 'fast': short window must not be longer than the long window",
            )
        ],
    ),
    (
        "tier-budget-share",
        [("budget_share: 0.02", "budget_share: 0")],
        [
            (
                "{name: fast",
                "alerting.policies.strict.tiers[0].budget_share",
                "tier 'fast': budget_share must be positive, got 0.0",
            )
        ],
    ),
    (
        "tier-at-or-below-1x",
        [("budget_share: 0.02, for: 2m}", "budget_share: 0.001, for: 2m}")],
        [
            (
                "{name: fast",
                "alerting.policies.strict.tiers[0].budget_share",
                "0.001 of the budget in 1h is a 0.672x burn rate for a 28-day period; a tier must fire only "
                "above 1x: use a budget_share of at least 0.00149",
            )
        ],
    ),
    (
        "tier-duplicate-name",
        [
            (
                "budget_share: 0.02, for: 2m}",
                "budget_share: 0.02, for: 2m}\n        - {name: fast, severity: ticket, long_window: 1d, "
                "short_window: 2h, budget_share: 0.1}",
            )
        ],
        [
            (
                "severity: ticket, long_window: 1d",
                "alerting.policies.strict.tiers[1].name",
                "duplicate tier name 'fast'; first defined at {file}:25",
            )
        ],
    ),
    (
        "no-data-after-not-computed",
        [("no_data_after: 1h", "no_data_after: 45m")],
        [
            (
                "no_data_after",
                "alerting.policies.strict.no_data_after",
                f"no_data_after 45m is not a window the evaluator computes; use one of {WINDOWS}",
            )
        ],
    ),
    (
        "min-events-negative",
        [("min_events: 10", "min_events: -1")],
        [("min_events", "alerting.policies.default.min_events", "min_events must not be negative")],
    ),
    (
        "policy-reserved-label",
        [("labels: {team: ml}", "labels: {slo: x}")],
        [
            (
                "labels: {slo: x}",
                "alerting.policies.strict.labels.slo",
                "label name 'slo' is reserved: the service sets outcome, service, slo, window itself and names "
                "starting with __ are reserved by Prometheus",
            )
        ],
    ),
    (
        "policy-bad-name",
        [("    strict:\n", "    Strict:\n"), ("{policy: strict}", "{policy: Strict}")],
        [
            (
                "    Strict:",
                "alerting.policies.Strict",
                "invalid name 'Strict': names must match ^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?$ (lowercase letters, "
                "digits, '_', '.', '-'; starting and ending with a letter or digit)",
            )
        ],
    ),
    # ---- schedules
    (
        "restriction-time",
        [('start: "09:00"', 'start: "9am"')],
        [
            (
                "restrictions:",
                "alerting.schedules[0].layers[0].restrictions[0].start",
                "expected a time of day such as \"09:00\", got str '9am'",
            )
        ],
    ),
    (
        "rotation-start",
        [('start: "2026-11-02T09:00:00+01:00"', 'start: "next monday"')],
        [
            (
                "rotation:",
                "alerting.schedules[0].layers[0].rotation.start",
                "expected an ISO 8601 date-time such as \"2026-11-02T09:00:00+01:00\", got str 'next monday'",
            )
        ],
    ),
    (
        "schedule-timezone",
        [("timezone: Europe/Berlin", "timezone: Mars/Base")],
        [
            (
                "Mars/Base",
                "alerting.schedules[0].timezone",
                "unknown timezone 'Mars/Base'; use an IANA time zone name such as UTC or Europe/Berlin",
            )
        ],
    ),
    (
        "override-ends-before-start",
        [('end: "2026-12-27T00:00:00"', 'end: "2026-12-23T00:00:00"')],
        [("- {start:", "alerting.schedules[0].overrides[0].end", "override end must be after its start")],
    ),
]


@pytest.mark.parametrize(("replacements", "expected"), [pytest.param(r, e, id=i) for i, r, e in CASES])
def test_each_rule_reports_its_message_at_its_line(
    tmp_path: Path, replacements: list[tuple[str, str]], expected: list[tuple[str, str, str]]
) -> None:
    text = edit(*replacements)
    path = write(tmp_path, text)
    assert [str(p) for p in validate_files([path])] == [
        f"{path}:{line_of(text, marker)}: {field}: {message.replace('{file}', str(path))}"
        for marker, field, message in expected
    ]


# ---------------------------------------------------------------- across files, shapes, secrets, examples


def test_a_second_alerting_section_is_a_problem_naming_both_places(tmp_path: Path) -> None:
    first = write(tmp_path, BASE, "a.yaml")
    second = write(tmp_path, "apiVersion: slo-service/v1\n\nalerting:\n  external_url: http://127.0.0.1:1\n", "b.yaml")
    line = BASE.splitlines().index("alerting:") + 1
    assert [str(p) for p in validate_files([first, second])] == [
        f"{second}:3: alerting: alerting is defined in more than one file: here and at {first}:{line}; "
        "keep it in one file"
    ]


def test_problems_in_one_part_do_not_hide_the_others(tmp_path: Path) -> None:
    text = edit(("  external_url:", "  externl_url:"), ("        receiver: hook", "        receiver: hok"))
    path = write(tmp_path, text)
    fields = [p.field for p in validate_files([path])]
    assert fields == ["alerting.externl_url", "alerting.route.routes[1].receiver"]


@pytest.mark.parametrize(
    ("section", "field", "message"),
    [
        ("alerting: [a]\n", "alerting", "alerting must be a mapping, got a list"),
        ("alerting:\n  receivers: {a: 1}\n", "alerting.receivers", "Input should be a valid list; got a mapping"),
        ("alerting:\n  receivers: [chat]\n", "alerting.receivers[0]", "expected a mapping, got str 'chat'"),
        (
            "alerting:\n  receivers: [{name: chat}]\n",
            "alerting.receivers[0].type",
            "required field is missing; receiver types: slack, pagerduty, webhook",
        ),
        ("alerting:\n  route: [chat]\n", "alerting.route", "expected a mapping, got a list"),
        ("alerting:\n  inhibit_rules: [x]\n", "alerting.inhibit_rules[0]", "expected a mapping, got str 'x'"),
    ],
)
def test_wrong_shapes(tmp_path: Path, section: str, field: str, message: str) -> None:
    path = write(tmp_path, "apiVersion: slo-service/v1\n" + section)
    problems = validate_files([path])
    assert [(p.field, p.message) for p in problems][:1] == [(field, message)]
    assert all(p.line is not None and p.line >= 2 for p in problems)


def test_an_empty_environment_variable_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_PD_KEY", "")
    path = write(tmp_path, BASE)
    assert [str(p) for p in validate_files([path])] == [
        f"{path}:{line_of(BASE, 'T_PD_KEY')}: alerting.receivers[1].routing_key_env: "
        "environment variable T_PD_KEY is set but empty"
    ]


def test_an_invalid_environment_variable_name_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, edit(("routing_key_env: T_PD_KEY", "routing_key_env: pd-key")))
    assert [p.message for p in validate_files([path])] == [
        "'pd-key' is not an environment variable name (letters, digits and _)"
    ]


def test_a_slack_webhook_url_that_is_not_a_url_is_reported_without_its_secret_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_SLACK_HOOK", "T00/B00/very-secret")
    text = edit((' channel: "#alerts"\n      token_env: T_SLACK_TOKEN\n', " webhook_url_env: T_SLACK_HOOK\n"))
    problems = validate_files([write(tmp_path, text)])
    assert [(p.field, p.message) for p in problems] == [
        (
            "alerting.receivers[0].webhook_url_env",
            "environment variable T_SLACK_HOOK must hold an http:// or https:// URL",
        )
    ]
    assert "very-secret" not in str(problems[0])


def test_a_secret_never_appears_in_the_problems(tmp_path: Path) -> None:
    path = write(tmp_path, edit(("      token_env: T_SLACK_TOKEN", "      token: xoxb-do-not-print")))
    assert all("do-not-print" not in str(p) for p in validate_files([path]))


def test_an_slo_policy_without_any_alerting_section(tmp_path: Path) -> None:
    text = BASE[: BASE.index("alerting:\n")]
    path = write(tmp_path, text)
    assert [str(p) for p in validate_files([path])] == [
        f"{path}:12: slos[0].alerting.policy: unknown alerting policy 'strict'; known policies: default "
        "(define more under alerting.policies)"
    ]
    assert [p.message for p in validate_files([write(tmp_path, edit(("strict}", "default}"), text=text))])] == []


def test_an_slo_policy_is_not_reported_when_another_file_is_unreadable(tmp_path: Path) -> None:
    text = BASE[: BASE.index("alerting:\n")]
    good = write(tmp_path, text, "a.yaml")
    broken = write(tmp_path, "apiVersion: slo-service/v1\nalerting: [\n", "b.yaml")
    problems = validate_files([good, broken])
    assert [p.field for p in problems] == ["(yaml)"]


def test_policy_no_data_after_null_disables_the_no_data_alert(tmp_path: Path) -> None:
    a = alerting_of(tmp_path, edit(("no_data_after: 1h", "no_data_after: null")))
    assert a.policies["strict"].no_data_after is None
    assert a.policies["default"].no_data_after == AlertPolicy().no_data_after


def test_the_full_example_validates_when_its_environment_variables_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    path = REPO / "examples" / "alerting-full.yaml"
    for name in FULL_ENV:
        monkeypatch.delenv(name, raising=False)
    assert sorted(p.message for p in validate_files([path])) == [
        f"environment variable {name} is not set" for name in sorted(FULL_ENV)
    ]
    for name, value in FULL_ENV.items():
        monkeypatch.setenv(name, value)
    assert validate_files([path]) == []
    a = load_config([path]).alerting
    assert a is not None
    assert {r.kind for r in a.receivers.values()} == set(ReceiverKind)
    assert a.route is not None and a.inhibit_rules and a.time_intervals and a.schedules and a.escalation_policies
    assert set(a.slo_policies) == {"ranking/availability", "ranking/freshness"}


def test_the_make_run_example_notifies_only_the_local_machine() -> None:
    config = load_config([REPO / "examples" / "slo-service.yaml"])
    a = config.alerting
    assert a is not None and a.route is not None and a.receivers
    assert a.receivers[a.route.receiver or ""].kind is ReceiverKind.WEBHOOK
    for receiver in a.receivers.values():
        urls = [v for k, v in receiver.settings.items() if k in ("url", "base_url", "webhook_url") and v]
        assert urls and all(urlsplit(u).hostname == "127.0.0.1" for u in urls), receiver


def test_load_config_raises_with_every_alerting_problem(tmp_path: Path) -> None:
    text = edit(("T_PD_KEY", "T_PD_UNSET"), ("T_HOOK_SECRET", "T_HOOK_UNSET"))
    with pytest.raises(ConfigError) as info:
        load_config([write(tmp_path, text)])
    assert [p.field for p in info.value.problems] == [
        "alerting.receivers[1].routing_key_env",
        "alerting.receivers[2].hmac_secret_env",
    ]
    assert all(isinstance(p, Problem) for p in info.value.problems)


def test_an_slo_alerting_given_as_a_bare_name_suggests_the_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, edit(("alerting: {policy: strict}", "alerting: strict")))
    assert [str(p) for p in validate_files([path])] == [
        f"{path}:12: slos[0].alerting: expected a mapping such as {{policy: strict}}, got str 'strict'"
    ]


def test_a_tier_that_can_never_fire_is_a_warning_naming_the_slo_line(tmp_path: Path) -> None:
    # a 90% objective burns at most 10x (every event bad): the 13.44x tier (28 days) can never fire
    path = write(tmp_path, edit(("objective: 99\n", "objective: 90\n")))
    config = load_config([path])
    assert len(config.warnings) == 1
    (warning,) = config.warnings
    line = next(n for n, text in enumerate(BASE.splitlines(), 1) if "name: ok" in text)
    assert warning.startswith(f"{path}:{line}: alerting: burn-rate tier 'fast' can never fire for svc/ok")
    assert "13.4x is not below 10x" in warning
    assert load_config([write(tmp_path, BASE, "fine.yaml")]).warnings == ()


def test_alert_name_and_per_tier_labels_and_annotations(tmp_path: Path) -> None:
    text = edit(
        ("      labels: {team: ml}\n", "      labels: {team: ml}\n      alert_name: SvcBurning\n"),
        (
            "budget_share: 0.02, for: 2m}",
            "budget_share: 0.02, for: 2m, labels: {severity: critical, pager: x}, annotations: {runbook: r}}",
        ),
    )
    policy = alerting_of(tmp_path, text).policies["strict"]
    assert policy.alert_name == "SvcBurning"
    (tier,) = policy.tiers
    assert (tier.labels, tier.annotations) == ({"severity": "critical", "pager": "x"}, {"runbook": "r"})
    bad = edit(("      labels: {team: ml}\n", "      labels: {team: ml}\n      alert_name: svc-burning\n"))
    problems = [str(p) for p in validate_files([write(tmp_path, bad)])]
    at = line_of(bad, "alert_name:")
    assert any(f"slo.yaml:{at}: alerting.policies.strict.alert_name: alert_name 'svc-burning'" in p for p in problems)
