"""The service's routing as an Alertmanager configuration (alertmanager.yml).

`alertmanager_config(config)` maps the `alerting:` section onto Alertmanager's shapes: the route tree,
receivers, inhibit rules and time intervals. Secrets are never written: each one becomes a file path
`<secrets_dir>/<NAME>`, NAME being the environment variable the setting was read from (a settings key
`<setting>_env`), or `<receiver>_<setting>` when the spec does not keep that name (the core
`ReceiverSpec` holds resolved values only). Deploy the secrets as files under those names.

What Alertmanager cannot express (on-call schedules, escalation policies, users, webhook HMAC
signing and custom headers) is never silently dropped: the returned `AlertmanagerConfig` lists it in
`notes`, and `dump_alertmanager` writes those notes as `# not representable:` header comments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import yaml

from slo_service.core.alerting.config import (
    NO_RECEIVER,
    PAGERDUTY_DEFAULT_SEVERITY,
    PAGERDUTY_SEVERITY,
    AlertingConfig,
    ReceiverKind,
    ReceiverSpec,
)
from slo_service.core.durations import format_duration
from slo_service.core.model import Config
from slo_service.core.routing.inhibit import InhibitRule
from slo_service.core.routing.time_intervals import MONTHS, WEEKDAYS, Range, TimeInterval
from slo_service.core.routing.tree import Route

__all__ = [
    "DEFAULT_SECRETS_DIR",
    "NULL_RECEIVER",
    "PAGERDUTY_SEVERITY_TEMPLATE",
    "SLACK_TEXT",
    "SLACK_TITLE",
    "AlertmanagerConfig",
    "alertmanager_config",
    "dump_alertmanager",
]

DEFAULT_SECRETS_DIR = "/etc/alertmanager/secrets"
NULL_RECEIVER = "null"  # receives everything when no route is configured: notifies nobody, as the service does
SLACK_DEFAULT_BASE = "https://slack.com/api/"

SLACK_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.service }}/{{ .CommonLabels.slo }} {{ .CommonLabels.alertname }}"
)
SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Labels.alertname }}* ({{ .Labels.severity }}): "
    "{{ .Annotations.summary }}{{ if .Annotations.runbook_url }} <{{ .Annotations.runbook_url }}|runbook>{{ end }}\n"
    "{{ end }}"
)


def _pagerduty_severity_template() -> str:
    """The severity label mapped as the service's PagerDuty receiver maps it (page -> critical, ...).
    Alertmanager's default sends the label itself, and PagerDuty refuses "page" or "ticket"."""
    branches = "".join(
        f'{{{{ {"if" if i == 0 else "else if"} eq .CommonLabels.severity "{label}" }}}}{sev}'
        for i, (label, sev) in enumerate(PAGERDUTY_SEVERITY.items())
    )
    return f"{branches}{{{{ else }}}}{PAGERDUTY_DEFAULT_SEVERITY}{{{{ end }}}}"


PAGERDUTY_SEVERITY_TEMPLATE = _pagerduty_severity_template()


class AlertmanagerConfig(dict[str, Any]):
    """An Alertmanager configuration (the dict is exactly what goes to alertmanager.yml) plus `notes`:
    the parts of the service's configuration Alertmanager cannot represent, one sentence each."""

    def __init__(self, data: Mapping[str, Any], notes: Sequence[str] = ()) -> None:
        super().__init__(data)
        self.notes: list[str] = list(notes)


def alertmanager_config(config: Config, secrets_dir: str = DEFAULT_SECRETS_DIR) -> AlertmanagerConfig:
    """The Alertmanager configuration equivalent to `config.alerting` (see the module doc for secrets)."""
    alerting = config.alerting or AlertingConfig()
    notes: list[str] = []
    receivers = [_receiver(spec, secrets_dir.rstrip("/"), notes) for spec in alerting.receivers.values()]
    if alerting.route is None:
        notes.append(f"no route is configured: every alert goes to receiver {NULL_RECEIVER!r}, which notifies nobody")
        route: dict[str, Any] = {"receiver": NULL_RECEIVER}
        if NULL_RECEIVER not in alerting.receivers:
            receivers.append({"name": NULL_RECEIVER})
    else:
        route = _route(alerting.route, root=True)
        if alerting.route.receiver == NO_RECEIVER:  # routes only some alerts (e.g. OpenSLO notification targets)
            route["receiver"] = NULL_RECEIVER
            if NULL_RECEIVER not in alerting.receivers:
                receivers.append({"name": NULL_RECEIVER})
    doc: dict[str, Any] = {"route": route, "receivers": receivers}
    if alerting.inhibit_rules:
        doc["inhibit_rules"] = [_inhibit_rule(r) for r in alerting.inhibit_rules]
    if alerting.time_intervals:
        doc["time_intervals"] = [
            {"name": name, "time_intervals": [_time_interval(i) for i in entries]}
            for name, entries in alerting.time_intervals.items()
        ]
    for name, schedule in alerting.schedules.items():
        notes.append(f"schedule {name!r} ({len(schedule.layers)} layer(s)): Alertmanager has no on-call schedules")
    for name, policy in alerting.escalation_policies.items():
        notes.append(
            f"escalation policy {name!r} ({len(policy.levels)} level(s), repeat {policy.repeat}): "
            "Alertmanager has no escalation; use PagerDuty's own escalation policies"
        )
    if alerting.users:
        notes.append(f"users ({', '.join(sorted(alerting.users))}): only used by schedules and escalation")
    return AlertmanagerConfig(doc, notes)


def dump_alertmanager(doc: Mapping[str, Any]) -> str:
    """alertmanager.yml text: a header (with the `notes` of an AlertmanagerConfig as comments), then YAML."""
    lines = ["# Generated by slo-service (slo_service.generate.alertmanager); do not edit by hand."]
    notes = getattr(doc, "notes", [])
    if notes:
        lines.append("# not representable in Alertmanager (handled by slo-service only):")
        lines.extend(f"#   - {note}" for note in notes)
    body = yaml.dump(
        dict(doc), Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
    )
    return "\n".join(lines) + "\n" + body


class _Dumper(yaml.SafeDumper):
    """Quotes "09:00" (YAML 1.1 readers may take it for a base-60 number); multi-line text as a block."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if re.fullmatch(r"[0-9:]+", value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_str)


# ---------------------------------------------------------------- route, inhibit rules, time intervals


def _duration(value: timedelta) -> str:
    return format_duration(value)


def _route(route: Route, *, root: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if route.receiver is not None:
        out["receiver"] = route.receiver
    if route.group_by is not None:
        out["group_by"] = list(route.group_by)
    if route.matchers and not root:
        out["matchers"] = [str(m) for m in route.matchers]
    if route.continue_ and not root:
        out["continue"] = True
    for key, value in (
        ("group_wait", route.group_wait),
        ("group_interval", route.group_interval),
        ("repeat_interval", route.repeat_interval),
    ):
        if value is not None:
            out[key] = _duration(value)
    if route.mute_time_intervals:
        out["mute_time_intervals"] = list(route.mute_time_intervals)
    if route.active_time_intervals:
        out["active_time_intervals"] = list(route.active_time_intervals)
    if route.routes:
        out["routes"] = [_route(child) for child in route.routes]
    return out


def _inhibit_rule(rule: InhibitRule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source_matchers": [str(m) for m in rule.source_matchers],
        "target_matchers": [str(m) for m in rule.target_matchers],
    }
    if rule.equal:
        out["equal"] = list(rule.equal)
    return out


def _ranges(ranges: Sequence[Range], name: Any) -> list[str]:
    return [name(a) if a == b else f"{name(a)}:{name(b)}" for a, b in ranges]


def _weekdays(ranges: Sequence[Range]) -> list[str]:
    """Alertmanager numbers weekdays from Sunday, so a range ending on Sunday (Monday = 0 .. Sunday = 6 in the
    core) is split: saturday:sunday becomes saturday and sunday."""
    out: list[Range] = []
    for a, b in ranges:
        if b == 6 and a < 6:
            out.append((a, 5))
            out.append((6, 6))
        else:
            out.append((a, b))
    return _ranges(out, lambda d: WEEKDAYS[d])


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _time_interval(interval: TimeInterval) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if interval.times:
        out["times"] = [{"start_time": _hhmm(a), "end_time": _hhmm(b)} for a, b in interval.times]
    if interval.weekdays:
        out["weekdays"] = _weekdays(interval.weekdays)
    if interval.days_of_month:
        out["days_of_month"] = _ranges(interval.days_of_month, str)
    if interval.months:
        out["months"] = _ranges(interval.months, lambda m: MONTHS[m - 1])
    if interval.years:
        out["years"] = _ranges(interval.years, str)
    if interval.location != "UTC" or not out:
        out["location"] = interval.location
    return out


# ---------------------------------------------------------------- receivers


def _secret_file(spec: ReceiverSpec, setting: str, secrets_dir: str) -> str:
    env = spec.settings.get(f"{setting}_env")
    name = env if isinstance(env, str) and env else f"{spec.name}_{setting}"
    return f"{secrets_dir}/{name}"


def _receiver(spec: ReceiverSpec, secrets_dir: str, notes: list[str]) -> dict[str, Any]:
    s = spec.settings
    if spec.escalation_policy is not None:
        notes.append(
            f"receiver {spec.name!r}: escalation_policy {spec.escalation_policy!r} (paging its on-call people) "
            "is not sent by Alertmanager"
        )
    if spec.kind is ReceiverKind.SLACK:
        slack: dict[str, Any] = {"send_resolved": spec.send_resolved}
        if s.get("token"):
            base = str(s.get("base_url") or SLACK_DEFAULT_BASE)
            slack["api_url"] = base.rstrip("/") + "/chat.postMessage"
            slack["http_config"] = {"authorization": {"credentials_file": _secret_file(spec, "token", secrets_dir)}}
            notes.append(
                f"receiver {spec.name!r}: Alertmanager posts a new Slack message per notification; "
                "slo-service's in-place updates of a bot's messages are not available"
            )
        else:
            slack["api_url_file"] = _secret_file(spec, "webhook_url", secrets_dir)
        if s.get("channel"):
            slack["channel"] = str(s["channel"])
        slack["title"] = SLACK_TITLE
        slack["text"] = SLACK_TEXT
        return {"name": spec.name, "slack_configs": [slack]}
    if spec.kind is ReceiverKind.PAGERDUTY:
        pd: dict[str, Any] = {
            "send_resolved": spec.send_resolved,
            "routing_key_file": _secret_file(spec, "routing_key", secrets_dir),
        }
        if s.get("url"):
            pd["url"] = str(s["url"])
        pd["severity"] = PAGERDUTY_SEVERITY_TEMPLATE
        return {"name": spec.name, "pagerduty_configs": [pd]}
    hook: dict[str, Any] = {"url": str(s["url"]), "send_resolved": spec.send_resolved}
    hook["max_alerts"] = int(s.get("max_alerts") or 0)
    if s.get("hmac_secret"):
        notes.append(
            f"receiver {spec.name!r}: HMAC signing of webhook bodies (hmac_secret) is not available in Alertmanager"
        )
    if s.get("headers"):
        notes.append(
            f"receiver {spec.name!r}: custom HTTP headers ({', '.join(sorted(s['headers']))}) are not sent by "
            "Alertmanager's webhook receiver"
        )
    return {"name": spec.name, "webhook_configs": [hook]}
