"""The `alerting:` section of the YAML format and the per-SLO `alerting:` overrides, read into `AlertingConfig`.

The section follows Alertmanager's shapes for `route`, `inhibit_rules` and `time_intervals` (parsed by the
core parsers, whose ValueError messages are turned into problems located at the YAML node they are about)
and PagerDuty's for on-call `schedules` and `escalation_policies`. Secrets are never written in a file:
receivers name environment variables (`token_env`, `routing_key_env`, ...) that are read while loading,
so a missing variable is a configuration problem reported like any other.

Only one file may hold the `alerting:` section; SLOs in any file may pick a policy with
``alerting: {policy: NAME}`` and override its fields inline.

This module builds on the loader's per-file helpers (``loader`` imports it lazily, when building).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, StrictBool, StrictInt

from slo_service.core.alerting.config import DEFAULT_POLICY, AlertingConfig, ReceiverKind, ReceiverSpec
from slo_service.core.alerting.policy import WINDOWS_PERIOD, AlertPolicy, BurnRateTier
from slo_service.core.model import slo_key
from slo_service.core.oncall.escalation import EscalationLevel, EscalationPolicy
from slo_service.core.oncall.schedule import Layer, Override, Restriction, Rotation, Schedule
from slo_service.core.routing.inhibit import InhibitRule, parse_inhibit_rule
from slo_service.core.routing.time_intervals import (
    WEEKDAYS,
    TimeInterval,
    parse_named_time_intervals,
    parse_time_interval,
)
from slo_service.core.routing.tree import Route, RoutingTree, parse_route
from slo_service.core.windows import ALERT_WINDOWS
from slo_service.specs.checks import check_labels, check_name, check_url, duration_at, valid_timezone
from slo_service.specs.problems import SpecFile, describe, validate_spec
from slo_service.specs.schema import Number, Spec
from slo_service.specs.yaml_lines import Path as YPath

__all__ = [
    "ALERT_WINDOW_NAMES",
    "PAGERDUTY_EVENTS_URL",
    "RECEIVER_TYPES",
    "SLACK_API_URL",
    "AlertingSection",
    "SLOAlerting",
    "build_alerting",
]

ALERT_WINDOW_NAMES: tuple[str, ...] = tuple(ALERT_WINDOWS)
"""The windows the evaluator computes for every SLO: the only ones a tier or no_data_after may use."""

RECEIVER_TYPES = tuple(k.value for k in ReceiverKind)
SLACK_API_URL = "https://slack.com/api/"
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_EXTERNAL_URL = "http://127.0.0.1:8080"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECTION = ("alerting",)

# Literal secrets refused in the file, per receiver type: field -> the *_env field to use instead.
_SECRETS: dict[str, dict[str, str]] = {
    "slack": {"token": "token_env", "webhook_url": "webhook_url_env"},
    "pagerduty": {"routing_key": "routing_key_env"},
    "webhook": {"hmac_secret": "hmac_secret_env"},
}
_SECRET_EXAMPLES = {
    "token_env": "SLACK_BOT_TOKEN",
    "webhook_url_env": "SLACK_WEBHOOK_URL",
    "routing_key_env": "PD_ROUTING_KEY",
    "hmac_secret_env": "WEBHOOK_SECRET",
}


# --------------------------------------------------------------------------------------------------------
# Specs (structure and types; rules needing context are checked while building)


class TierSpec(Spec):
    name: str
    severity: str
    long_window: str
    short_window: str
    budget_share: Number
    for_: str | None = Field(None, alias="for")
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class PolicySpec(Spec):
    """A named rule policy. Fields left out take AlertPolicy's defaults."""

    min_events: Number | None = None
    min_slice_coverage: Number | None = None
    min_budget_coverage: Number | None = None
    no_data_after: str | None = None  # null disables the no-data alert (told apart from "left out")
    budget_exhausted: StrictBool | None = None
    for_: str | None = Field(None, alias="for")
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    tiers: list[TierSpec] | None = None
    no_data_severity: str | None = None
    budget_exhausted_severity: str | None = None
    alert_name: str | None = None


class SLOAlertingSpec(PolicySpec):
    """`slos[i].alerting`: a policy name and inline overrides of that policy's fields."""

    policy: str | None = None


RECEIVER_TIMEOUT_MAX = timedelta(minutes=1)


class SlackReceiverSpec(Spec):
    name: str
    type: Literal["slack"]
    channel: str | None = None
    token_env: str | None = None
    webhook_url_env: str | None = None
    base_url: str | None = None
    send_resolved: StrictBool = True
    timeout: str = "10s"  # per request; a Slack retry may take two (lookup, then post)
    escalation_policy: str | None = None


class PagerDutyReceiverSpec(Spec):
    name: str
    type: Literal["pagerduty"]
    routing_key_env: str
    url: str | None = None
    send_resolved: StrictBool = True
    timeout: str = "10s"  # per request; a Slack retry may take two (lookup, then post)
    escalation_policy: str | None = None


class WebhookReceiverSpec(Spec):
    name: str
    type: Literal["webhook"]
    url: str
    hmac_secret_env: str | None = None
    max_alerts: StrictInt = 0
    headers: dict[str, str] = {}
    send_resolved: StrictBool = True
    timeout: str = "10s"  # per request; a Slack retry may take two (lookup, then post)
    escalation_policy: str | None = None


RECEIVER_SPECS: dict[str, type[Spec]] = {
    "slack": SlackReceiverSpec,
    "pagerduty": PagerDutyReceiverSpec,
    "webhook": WebhookReceiverSpec,
}


class UserSpec(Spec):
    slack: str | None = None  # Slack member id, e.g. U0123ABC (for mentions)
    email: str | None = None
    name: str | None = None  # display name


class RotationSpec(Spec):
    members: list[str]
    length: str
    start: Any  # ISO 8601 date-time, quoted or not (YAML reads unquoted ones as timestamps)


class RestrictionSpec(Spec):
    weekdays: list[str] | None = None
    start: Any  # "09:00"
    end: Any  # "17:00"


class LayerSpec(Spec):
    name: str
    rotation: RotationSpec
    restrictions: list[RestrictionSpec] = []
    end: Any = None


class OverrideSpec(Spec):
    start: Any
    end: Any
    member: str


class ScheduleSpec(Spec):
    name: str
    timezone: str = "UTC"
    layers: list[LayerSpec]
    overrides: list[OverrideSpec] = []


class EscalationLevelSpec(Spec):
    targets: list[str]
    delay: str


class EscalationPolicySpec(Spec):
    name: str
    levels: list[EscalationLevelSpec]
    repeat: StrictInt = 0


class AlertingSpec(Spec):
    """The section's own fields; list and mapping entries are validated one by one."""

    external_url: str = DEFAULT_EXTERNAL_URL
    policies: dict[str, Any] | None = None
    receivers: list[Any] | None = None
    route: Any = None
    inhibit_rules: list[Any] | None = None
    time_intervals: list[Any] | None = None
    users: dict[str, Any] | None = None
    schedules: list[Any] | None = None
    escalation_policies: list[Any] | None = None


# --------------------------------------------------------------------------------------------------------
# What the loader hands over


@dataclass
class AlertingSection:
    """The `alerting:` mapping of one file."""

    file: SpecFile
    raw: Any


@dataclass
class SLOAlerting:
    """The `alerting:` of one SLO whose own spec was valid."""

    file: SpecFile
    path: YPath  # of the SLO item
    service: str
    name: str
    raw: Any


def build_alerting(
    section: AlertingSection | None, slos: Iterable[SLOAlerting], *, config_incomplete: bool = False
) -> AlertingConfig:
    """The AlertingConfig of the section (defaults when None), after reporting every problem to the files.

    `config_incomplete`: some file could not be read, so an SLO naming an unknown policy is not reported
    when no section was found (the section may be in the unreadable file).
    """
    builder = _Builder(section)
    config = builder.build()
    slo_policies: dict[str, str] = {}
    policies = dict(config.policies)
    known = None if section is None and config_incomplete else builder.policy_names
    for slo in slos:
        name = builder.slo_policy(slo, policies, known)
        if name is not None:
            slo_policies[slo_key(slo.service, slo.name)] = name
    return replace(config, policies=policies, slo_policies=slo_policies)


# --------------------------------------------------------------------------------------------------------
# Building


class _Builder:
    file: SpecFile

    def __init__(self, section: AlertingSection | None) -> None:
        self.section = section
        # Names given in the file count as known even when their policy is invalid (reported once, there);
        # None when the policies cannot be read at all, so that SLOs naming one are not reported too.
        self.policy_names: set[str] | None = {DEFAULT_POLICY}
        raw = section.raw if section is not None else None
        policies = raw.get("policies") if isinstance(raw, dict) else None
        if isinstance(policies, dict):
            self.policy_names.update(str(k) for k in policies)
        elif raw is not None and (not isinstance(raw, dict) or policies is not None):
            self.policy_names = None

    def build(self) -> AlertingConfig:
        if self.section is None:
            return AlertingConfig()
        file, raw = self.section.file, self.section.raw
        if raw is None:
            return AlertingConfig()
        if not isinstance(raw, dict):
            file.add(_SECTION, f"alerting must be a mapping, got {describe(raw)}")
            return AlertingConfig()
        self.file = file
        spec = validate_spec(file, AlertingSpec, raw, _SECTION)
        if spec is None:
            # Reported; still check the parts that have the right shape, so one typo does not hide the rest.
            parts = {k: v for k, v in raw.items() if k in AlertingSpec.model_fields and _valid_part(k, v)}
            spec = validate_spec(file, AlertingSpec, parts, _SECTION)
            if spec is None:
                return AlertingConfig()
        external_url = spec.external_url
        if not check_url(file, (*_SECTION, "external_url"), external_url):
            external_url = DEFAULT_EXTERNAL_URL
        users = self._users(spec.users or {})
        user_names = set((spec.users or {}).keys())
        intervals = self._time_intervals(spec.time_intervals or [])
        interval_names = set(intervals) | _raw_names(spec.time_intervals or [])
        schedules = self._schedules(spec.schedules or [], user_names)
        schedule_names = set(schedules) | _raw_names(spec.schedules or [])
        escalations = self._escalation_policies(spec.escalation_policies or [], schedule_names, user_names)
        escalation_names = set(escalations) | _raw_names(spec.escalation_policies or [])
        policies = self._policies(spec.policies or {})
        receivers = self._receivers(spec.receivers or [], escalation_names)
        receiver_names = set(receivers) | _raw_names(spec.receivers or [])
        route = self._route(raw.get("route"), receiver_names, interval_names) if spec.route is not None else None
        inhibit_rules = self._inhibit_rules(spec.inhibit_rules or [])
        return AlertingConfig(
            policies=policies,
            receivers=receivers,
            route=route,
            inhibit_rules=tuple(inhibit_rules),
            time_intervals=intervals,
            schedules=schedules,
            escalation_policies=escalations,
            users=users,
            external_url=external_url,
        )

    # ---- helpers

    def _items(self, key: str, items: list[Any]) -> Iterable[tuple[YPath, dict[str, Any]]]:
        """(path, mapping) of each entry of a list field, reporting entries that are not mappings."""
        for i, item in enumerate(items):
            path: YPath = (*_SECTION, key, i)
            if isinstance(item, dict):
                yield path, item
            else:
                self.file.add(path, f"expected a mapping, got {describe(item)}")

    def _unique(self, key: str, what: str, items: list[Any]) -> set[int]:
        """Indexes of entries whose name repeats an earlier one, after reporting them."""
        first: dict[str, int] = {}
        repeated: set[int] = set()
        for i, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            if name in first:
                where = self.file.where((*_SECTION, key, first[name], "name"))
                self.file.add((*_SECTION, key, i, "name"), f"duplicate {what} name {name!r}; first defined at {where}")
                repeated.add(i)
            else:
                first[name] = i
        return repeated

    def _env(self, path: YPath, name: str) -> str | None:
        if not _ENV_NAME.match(name):
            self.file.add(path, f"{name!r} is not an environment variable name (letters, digits and _)")
            return None
        value = os.environ.get(name)
        if value is None:
            self.file.add(path, f"environment variable {name} is not set")
            return None
        if not value:
            self.file.add(path, f"environment variable {name} is set but empty")
            return None
        return value

    # ---- users, time intervals, schedules, escalation policies

    def _users(self, raw: dict[str, Any]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for name, value in raw.items():
            path: YPath = (*_SECTION, "users", name)
            ok = check_name(self.file, path, name)
            spec = validate_spec(self.file, UserSpec, {} if value is None else value, path)
            if ok and spec is not None:
                out[name] = {k: v for k, v in spec.model_dump().items() if v is not None}
        return out

    def _time_intervals(self, items: list[Any]) -> dict[str, tuple[TimeInterval, ...]]:
        repeated = self._unique("time_intervals", "time interval", items)
        out: dict[str, tuple[TimeInterval, ...]] = {}
        for path, item in self._items("time_intervals", items):
            try:
                parsed = parse_named_time_intervals([item])
            except ValueError as exc:
                self.file.add(self._interval_error_path(path, item), str(exc))
                continue
            if path[-1] not in repeated:
                out.update(parsed)
        return out

    @staticmethod
    def _interval_error_path(path: YPath, item: dict[str, Any]) -> YPath:
        """The entry of a named time interval the core parser refused, found by parsing entries one by one."""
        if not isinstance(item.get("name"), str) or not item.get("name"):
            return (*path, "name")
        entries = item.get("time_intervals")
        if not isinstance(entries, list):
            return (*path, "time_intervals")
        for j, entry in enumerate(entries):
            try:
                parse_time_interval(entry)
            except (ValueError, TypeError, AttributeError):
                return (*path, "time_intervals", j)
        return path

    def _schedules(self, items: list[Any], users: set[str]) -> dict[str, Schedule]:
        repeated = self._unique("schedules", "schedule", items)
        out: dict[str, Schedule] = {}
        for path, item in self._items("schedules", items):
            spec = validate_spec(self.file, ScheduleSpec, item, path)
            if spec is None:
                continue
            schedule = self._schedule(path, spec, users)
            if schedule is not None and path[-1] not in repeated:
                out[schedule.name] = schedule
        return out

    def _member(self, path: YPath, member: str, users: set[str]) -> bool:
        if member in users:
            return True
        known = ", ".join(sorted(users)) if users else "none are defined"
        self.file.add(path, f"unknown user {member!r}; known users (alerting.users): {known}")
        return False

    def _schedule(self, path: YPath, spec: ScheduleSpec, users: set[str]) -> Schedule | None:
        ok = check_name(self.file, (*path, "name"), spec.name)
        if not valid_timezone(spec.timezone):
            self.file.add(
                (*path, "timezone"),
                f"unknown timezone {spec.timezone!r}; use an IANA time zone name such as UTC or Europe/Berlin",
            )
            return None
        zone = ZoneInfo(spec.timezone)
        if not spec.layers:
            self.file.add((*path, "layers"), "a schedule needs at least one layer")
            ok = False
        layers: list[Layer] = []
        for i, layer_spec in enumerate(spec.layers):
            layer = self._layer((*path, "layers", i), layer_spec, spec.timezone, zone, users)
            ok = ok and layer is not None
            if layer is not None:
                layers.append(layer)
        overrides: list[Override] = []
        for i, ov in enumerate(spec.overrides):
            ov_path: YPath = (*path, "overrides", i)
            start = _datetime(self.file, (*ov_path, "start"), ov.start, zone)
            end = _datetime(self.file, (*ov_path, "end"), ov.end, zone)
            member_ok = self._member((*ov_path, "member"), ov.member, users)
            if start is None or end is None or not member_ok:
                ok = False
                continue
            try:
                overrides.append(Override(start, end, ov.member))
            except ValueError as exc:
                self.file.add((*ov_path, "end"), str(exc))
                ok = False
        if not ok:
            return None
        return Schedule(spec.name, spec.timezone, tuple(layers), tuple(overrides))

    def _layer(self, path: YPath, spec: LayerSpec, timezone: str, zone: ZoneInfo, users: set[str]) -> Layer | None:
        rot = spec.rotation
        rot_path: YPath = (*path, "rotation")
        ok = bool(spec.name.strip())
        if not ok:
            self.file.add((*path, "name"), "a layer needs a non-empty name")
        if not rot.members:
            self.file.add((*rot_path, "members"), "a rotation needs at least one member")
            ok = False
        for i, member in enumerate(rot.members):
            ok = self._member((*rot_path, "members", i), member, users) and ok
        length = duration_at(self.file, (*rot_path, "length"), rot.length)
        start = _datetime(self.file, (*rot_path, "start"), rot.start, zone)
        end = None if spec.end is None else _datetime(self.file, (*path, "end"), spec.end, zone)
        restrictions: list[Restriction] = []
        for i, r in enumerate(spec.restrictions):
            restriction = self._restriction((*path, "restrictions", i), r)
            ok = ok and restriction is not None
            if restriction is not None:
                restrictions.append(restriction)
        if not ok or length is None or start is None or (spec.end is not None and end is None):
            return None
        try:
            rotation = Rotation(tuple(rot.members), length, start, tuple(restrictions))
            return Layer(spec.name, rotation, timezone, end)
        except ValueError as exc:
            self.file.add(rot_path, str(exc))
            return None

    def _restriction(self, path: YPath, spec: RestrictionSpec) -> Restriction | None:
        ok = True
        days: list[int] = []
        for i, day in enumerate(spec.weekdays if spec.weekdays is not None else WEEKDAYS):
            if day.strip().lower() in WEEKDAYS:
                days.append(WEEKDAYS.index(day.strip().lower()))
            else:
                self.file.add((*path, "weekdays", i), f"unknown weekday {day!r}; use monday..sunday")
                ok = False
        start = _clock(self.file, (*path, "start"), spec.start)
        end = _clock(self.file, (*path, "end"), spec.end)
        if not ok or start is None or end is None:
            return None
        try:
            return Restriction(start, end, tuple(sorted(set(days))))
        except ValueError as exc:
            self.file.add((*path, "weekdays"), str(exc))
            return None

    def _escalation_policies(
        self, items: list[Any], schedules: set[str], users: set[str]
    ) -> dict[str, EscalationPolicy]:
        repeated = self._unique("escalation_policies", "escalation policy", items)
        out: dict[str, EscalationPolicy] = {}
        for path, item in self._items("escalation_policies", items):
            spec = validate_spec(self.file, EscalationPolicySpec, item, path)
            if spec is None:
                continue
            ok = check_name(self.file, (*path, "name"), spec.name)
            levels: list[EscalationLevel] = []
            for i, level in enumerate(spec.levels):
                lvl = self._level((*path, "levels", i), level, schedules, users)
                ok = ok and lvl is not None
                if lvl is not None:
                    levels.append(lvl)
            if not ok:
                continue
            try:
                policy = EscalationPolicy(spec.name, tuple(levels), spec.repeat)
            except ValueError as exc:
                field = "repeat" if "repeat" in str(exc) else "levels"
                self.file.add((*path, field), str(exc))
                continue
            if path[-1] not in repeated:
                out[spec.name] = policy
        return out

    def _level(
        self, path: YPath, spec: EscalationLevelSpec, schedules: set[str], users: set[str]
    ) -> EscalationLevel | None:
        ok = True
        for i, target in enumerate(spec.targets):
            kind, sep, name = target.partition(":")
            if not sep:
                kind, name = "user", target
            t_path: YPath = (*path, "targets", i)
            if kind == "schedule":
                if name not in schedules:
                    known = ", ".join(sorted(schedules)) if schedules else "none are defined"
                    self.file.add(t_path, f"unknown schedule {name!r}; known schedules: {known}")
                    ok = False
            elif kind == "user":
                ok = self._member(t_path, name, users) and ok
            # other kinds are refused by EscalationLevel below, with its message
        delay = duration_at(self.file, (*path, "delay"), spec.delay)
        if not ok or delay is None:
            return None
        try:
            return EscalationLevel(tuple(spec.targets), delay)
        except ValueError as exc:
            self.file.add(_refine(path, {"targets": spec.targets}, str(exc)), str(exc))
            return None

    # ---- rule policies

    def _policies(self, raw: dict[str, Any]) -> dict[str, AlertPolicy]:
        out: dict[str, AlertPolicy] = {DEFAULT_POLICY: AlertPolicy()}
        for name, value in raw.items():
            path: YPath = (*_SECTION, "policies", name)
            ok = check_name(self.file, path, name)
            spec = validate_spec(self.file, PolicySpec, {} if value is None else value, path)
            if spec is None:
                continue
            policy = _policy(self.file, path, spec, AlertPolicy(), merge=False)
            if ok and policy is not None:
                out[name] = policy
        return out

    def slo_policy(self, slo: SLOAlerting, policies: dict[str, AlertPolicy], known: set[str] | None) -> str | None:
        """Name of the policy of one SLO (adding a policy named after the SLO key for inline overrides)."""
        if slo.raw is None:
            return None
        key = slo_key(slo.service, slo.name)  # cannot clash with a policy name: names have no '/'
        if isinstance(slo.raw, AlertPolicy):  # built whole by an importer (Sloth: its own alerts, nothing else)
            policies[key] = slo.raw
            return key
        path: YPath = (*slo.path, "alerting")
        if isinstance(slo.raw, str):
            slo.file.add(path, f"expected a mapping such as {{policy: {slo.raw}}}, got {describe(slo.raw)}")
            return None
        spec = validate_spec(slo.file, SLOAlertingSpec, slo.raw, path)
        if spec is None:
            return None
        name = spec.policy if spec.policy is not None else DEFAULT_POLICY
        if known is not None and name not in known:
            slo.file.add(
                (*path, "policy"),
                f"unknown alerting policy {name!r}; known policies: {', '.join(sorted(known))}"
                + ("" if self.section is not None else " (define more under alerting.policies)"),
            )
            return None
        overrides = spec.model_fields_set - {"policy"}
        base = policies.get(name)
        if base is None:  # the policy itself is invalid (already reported) or its file is unreadable
            return None
        if not overrides:
            return name if spec.policy is not None else None
        policy = _policy(slo.file, path, spec, base, merge=True)
        if policy is None:
            return None
        policies[key] = policy
        return key

    # ---- receivers

    def _receivers(self, items: list[Any], escalations: set[str]) -> dict[str, ReceiverSpec]:
        repeated = self._unique("receivers", "receiver", items)
        out: dict[str, ReceiverSpec] = {}
        known_types = ", ".join(RECEIVER_TYPES)
        for path, item in self._items("receivers", items):
            kind = item.get("type")
            if kind is None:
                self.file.add((*path, "type"), f"required field is missing; receiver types: {known_types}")
                continue
            if not isinstance(kind, str) or kind not in RECEIVER_SPECS:
                self.file.add((*path, "type"), f"unknown receiver type {kind!r}; receiver types: {known_types}")
                continue
            secrets = _SECRETS[kind]
            checked = {k: v for k, v in item.items() if k not in secrets}
            for key in item:
                if key in secrets:
                    env = secrets[key]
                    self.file.add(
                        (*path, key),
                        f"secrets are not written in configuration files: put the value in an environment "
                        f"variable and name it with {env}, e.g. {env}: {_SECRET_EXAMPLES[env]}",
                    )
                    checked.setdefault(env, "")  # no second problem saying the *_env field is missing
            spec = validate_spec(self.file, RECEIVER_SPECS[kind], checked, path)
            if spec is None or any(k in secrets for k in item):
                continue
            receiver = self._receiver(path, spec, escalations)
            if receiver is not None and path[-1] not in repeated:
                out[receiver.name] = receiver
        return out

    def _receiver(self, path: YPath, spec: Any, escalations: set[str]) -> ReceiverSpec | None:
        ok = check_name(self.file, (*path, "name"), spec.name)
        if spec.escalation_policy is not None and spec.escalation_policy not in escalations:
            known = ", ".join(sorted(escalations)) if escalations else "none are defined"
            self.file.add(
                (*path, "escalation_policy"),
                f"unknown escalation policy {spec.escalation_policy!r}; known escalation policies: {known}",
            )
            ok = False
        settings: dict[str, Any] | None
        if isinstance(spec, SlackReceiverSpec):
            kind, settings = ReceiverKind.SLACK, self._slack(path, spec)
        elif isinstance(spec, PagerDutyReceiverSpec):
            kind = ReceiverKind.PAGERDUTY
            key = self._env((*path, "routing_key_env"), spec.routing_key_env)
            url = spec.url if spec.url is not None else PAGERDUTY_EVENTS_URL
            url_ok = check_url(self.file, (*path, "url"), url)
            settings = {"routing_key": key, "url": url} if key is not None and url_ok else None
        else:
            assert isinstance(spec, WebhookReceiverSpec)
            kind, settings = ReceiverKind.WEBHOOK, self._webhook(path, spec)
        timeout = duration_at(self.file, (*path, "timeout"), spec.timeout)
        if timeout is not None and not timedelta(0) < timeout <= RECEIVER_TIMEOUT_MAX:
            self.file.add((*path, "timeout"), f"timeout {spec.timeout} must be more than 0s and at most 1m")
            timeout = None
        if not ok or settings is None or timeout is None:
            return None
        settings["timeout"] = timeout.total_seconds()
        # Keep the names of the environment variables too (never their values twice): generators such
        # as the Alertmanager config name secret files after them.
        for field_name in ("token_env", "webhook_url_env", "routing_key_env", "hmac_secret_env"):
            env_name = getattr(spec, field_name, None)
            if env_name:
                settings[field_name] = env_name
        return ReceiverSpec(spec.name, kind, spec.send_resolved, settings, spec.escalation_policy)

    def _slack(self, path: YPath, spec: SlackReceiverSpec) -> dict[str, Any] | None:
        if (spec.token_env is None) == (spec.webhook_url_env is None):
            which = "both" if spec.token_env is not None else "neither"
            self.file.add(
                path,
                "set exactly one of token_env (a bot token, with channel) or webhook_url_env "
                f"(an incoming webhook); got {which}",
            )
            return None
        ok = True
        base_url = spec.base_url if spec.base_url is not None else SLACK_API_URL
        ok = check_url(self.file, (*path, "base_url"), base_url) and ok
        token = webhook_url = None
        if spec.token_env is not None:
            if not spec.channel:
                self.file.add(path, "channel is required with token_env: the bot posts there, e.g. channel: '#alerts'")
                ok = False
            token = self._env((*path, "token_env"), spec.token_env)
            ok = ok and token is not None
        else:
            assert spec.webhook_url_env is not None
            webhook_url = self._env((*path, "webhook_url_env"), spec.webhook_url_env)
            if webhook_url is None:
                ok = False
            elif not _is_http_url(webhook_url):  # never echo the value: it is a secret
                self.file.add(
                    (*path, "webhook_url_env"),
                    f"environment variable {spec.webhook_url_env} must hold an http:// or https:// URL",
                )
                ok = False
        if not ok:
            return None
        return {"token": token, "channel": spec.channel, "base_url": base_url, "webhook_url": webhook_url}

    def _webhook(self, path: YPath, spec: WebhookReceiverSpec) -> dict[str, Any] | None:
        ok = check_url(self.file, (*path, "url"), spec.url)
        secret = None
        if spec.hmac_secret_env is not None:
            secret = self._env((*path, "hmac_secret_env"), spec.hmac_secret_env)
            ok = ok and secret is not None
        if spec.max_alerts < 0:
            self.file.add((*path, "max_alerts"), f"max_alerts {spec.max_alerts} must be 0 (no limit) or more")
            ok = False
        if not ok:
            return None
        return {"url": spec.url, "hmac_secret": secret, "max_alerts": spec.max_alerts, "headers": dict(spec.headers)}

    # ---- route and inhibit rules (Alertmanager's shapes, parsed by the core)

    def _route(self, raw: Any, receivers: set[str], intervals: set[str]) -> Route | None:
        path: YPath = (*_SECTION, "route")
        if not isinstance(raw, dict):
            self.file.add(path, f"expected a mapping, got {describe(raw)}")
            return None
        try:
            route = parse_route(raw)
        except ValueError as exc:
            self._route_error(raw, str(exc))
            return None
        ok = self._route_refs(route, raw, path, receivers, intervals)
        try:
            RoutingTree(route)
        except ValueError as exc:
            message = str(exc)
            self.file.add((*path, "receiver") if "receiver" in message else path, message)
            return None
        return route if ok else None

    def _route_error(self, raw: dict[str, Any], message: str) -> None:
        """Locate the core parser's `route.routes[1]: ...` message at the sub-route (or field) it names."""
        path: YPath = (*_SECTION, "route")
        node: Any = raw
        m = re.match(r"^route((?:\.routes\[\d+\])*): (.*)$", message, re.DOTALL)
        if m is None:
            self.file.add(path, message)
            return
        for index in re.findall(r"\[(\d+)\]", m.group(1)):
            path = (*path, "routes", int(index))
            node = node["routes"][int(index)]
        rest = m.group(2)
        self.file.add(_refine(path, node, rest), rest)

    def _route_refs(
        self, route: Route, raw: dict[str, Any], path: YPath, receivers: set[str], intervals: set[str]
    ) -> bool:
        ok = True
        if route.receiver is not None and route.receiver not in receivers:
            known = ", ".join(sorted(receivers)) if receivers else "none are defined"
            self.file.add((*path, "receiver"), f"unknown receiver {route.receiver!r}; known receivers: {known}")
            ok = False
        for key, names in (
            ("mute_time_intervals", route.mute_time_intervals),
            ("active_time_intervals", route.active_time_intervals),
        ):
            for i, name in enumerate(names):
                if name not in intervals:
                    known = ", ".join(sorted(intervals)) if intervals else "none are defined"
                    self.file.add((*path, key, i), f"unknown time interval {name!r}; known time intervals: {known}")
                    ok = False
        for i, child in enumerate(route.routes):
            ok = self._route_refs(child, raw["routes"][i], (*path, "routes", i), receivers, intervals) and ok
        return ok

    def _inhibit_rules(self, items: list[Any]) -> list[InhibitRule]:
        out: list[InhibitRule] = []
        for path, item in self._items("inhibit_rules", items):
            try:
                out.append(parse_inhibit_rule(item))
            except ValueError as exc:
                message = str(exc).removeprefix("inhibit rule: ")
                self.file.add(_refine(path, item, message), message)
        return out


# --------------------------------------------------------------------------------------------------------
# Policies


def _policy(file: SpecFile, path: YPath, spec: PolicySpec, base: AlertPolicy, *, merge: bool) -> AlertPolicy | None:
    """`base` with the fields `spec` sets; labels and annotations are merged over base's when `merge`."""
    given = spec.model_fields_set
    changes: dict[str, Any] = {}
    ok = True
    for key in ("min_events", "min_slice_coverage", "min_budget_coverage"):
        if getattr(spec, key) is not None:
            changes[key] = getattr(spec, key)
    if "no_data_after" in given:
        if spec.no_data_after is None:
            changes["no_data_after"] = None
        else:
            window = _window(file, (*path, "no_data_after"), spec.no_data_after, "no_data_after")
            ok = ok and window is not None
            changes["no_data_after"] = window
    if spec.budget_exhausted is not None:
        changes["budget_exhausted"] = spec.budget_exhausted
    if spec.for_ is not None:
        for_ = _for(file, (*path, "for"), spec.for_)
        ok = ok and for_ is not None
        changes["for_"] = for_
    for key in ("labels", "annotations"):
        value = getattr(spec, key)
        if value is not None:
            if key == "labels":
                ok = check_labels(file, (*path, key), value) and ok
            changes[key] = {**getattr(base, key), **value} if merge else dict(value)
    if spec.alert_name is not None:
        changes["alert_name"] = spec.alert_name  # checked by AlertPolicy
    for key in ("no_data_severity", "budget_exhausted_severity"):
        value = getattr(spec, key)
        if value is not None:
            if not value.strip():
                file.add((*path, key), "must not be empty")
                ok = False
            changes[key] = value
    if spec.tiers is not None:
        tiers = _tiers(file, (*path, "tiers"), spec.tiers)
        ok = ok and tiers is not None
        changes["tiers"] = tiers
    if not ok:
        return None
    try:
        return replace(base, **changes)
    except ValueError as exc:
        message = str(exc)
        fields = (
            "min_events",
            "min_slice_coverage",
            "min_budget_coverage",
            "no_data_after",
            "tiers",
            "for",
            "alert_name",
        )
        field = next((f for f in fields if f in message), None)
        file.add((*path, field) if field else path, message)
        return None


def _tiers(file: SpecFile, path: YPath, specs: list[TierSpec]) -> tuple[BurnRateTier, ...] | None:
    if not specs:
        file.add(path, "tiers must not be empty; leave the field out for the default tiers")
        return None
    out: list[BurnRateTier] = []
    seen: dict[str, int] = {}
    ok = True
    for i, spec in enumerate(specs):
        t_path: YPath = (*path, i)
        if spec.name in seen:
            where = file.where((*path, seen[spec.name], "name"))
            file.add((*t_path, "name"), f"duplicate tier name {spec.name!r}; first defined at {where}")
            ok = False
        seen.setdefault(spec.name, i)
        if not spec.severity.strip():
            file.add((*t_path, "severity"), "must not be empty")
            ok = False
        long_window = _window(file, (*t_path, "long_window"), spec.long_window, "long_window")
        short_window = _window(file, (*t_path, "short_window"), spec.short_window, "short_window")
        for_ = _for(file, (*t_path, "for"), spec.for_) if spec.for_ is not None else timedelta(0)
        labels_ok = spec.labels is None or check_labels(file, (*t_path, "labels"), spec.labels)
        if long_window is None or short_window is None or for_ is None or not labels_ok:
            ok = False
            continue
        try:
            tier = BurnRateTier(
                spec.name,
                spec.severity,
                long_window,
                short_window,
                spec.budget_share,
                for_,
                dict(spec.labels or {}),
                dict(spec.annotations or {}),
            )
        except ValueError as exc:
            message = str(exc)
            field = next((f for f in ("budget_share", "short window", "for") if f in message), None)
            target = {"short window": "short_window"}.get(field or "", field)
            file.add((*t_path, target) if target else t_path, message)
            ok = False
            continue
        if tier.min_factor < 1.0:
            # below 1x a tier fires on SLOs that meet their objective (core/alerting/policy.py)
            need = tier.long_window / WINDOWS_PERIOD
            file.add(
                (*t_path, "budget_share"),
                f"{spec.budget_share:g} of the budget in {spec.long_window} is a {tier.min_factor:.3g}x "
                f"burn rate for a 28-day period; a tier must fire only above 1x: "
                f"use a budget_share of at least {need:.3g}",
            )
            ok = False
            continue
        out.append(tier)
    return tuple(out) if ok else None


def _window(file: SpecFile, path: YPath, text: str, what: str) -> timedelta | None:
    """A duration that is one of the evaluator's windows (ALERT_WINDOW_NAMES)."""
    length = duration_at(file, path, text)
    if length is None:
        return None
    if length not in ALERT_WINDOWS.values():
        file.add(
            path,
            f"{what} {text} is not a window the evaluator computes; use one of {', '.join(ALERT_WINDOW_NAMES)}",
        )
        return None
    return length


def _for(file: SpecFile, path: YPath, text: str) -> timedelta | None:
    """A `for` duration, where 0 (0s, 0m...) is allowed: fire at once."""
    if re.fullmatch(r"\s*0+(ms|s|m|h|d|w|y)?\s*", text):
        return timedelta(0)
    return duration_at(file, path, text)


# --------------------------------------------------------------------------------------------------------
# Small parsers


def _valid_part(key: str, value: Any) -> bool:
    """Whether one field of the section has the right container type (used after a structure error)."""
    expected = {
        "external_url": str,
        "policies": dict,
        "users": dict,
        "route": object,
    }.get(key, list)
    return value is None or isinstance(value, expected)


def _raw_names(items: list[Any]) -> set[str]:
    return {n for i in items if isinstance(i, dict) and isinstance(n := i.get("name"), str)}


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _datetime(file: SpecFile, path: YPath, value: Any, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 date-time (or date: midnight); one without an offset is read in the schedule's time zone."""
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):  # an unquoted 2026-11-02: midnight
        parsed = datetime.combine(value, time(0))
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        file.add(
            path,
            f'expected an ISO 8601 date-time such as "2026-11-02T09:00:00+01:00", got {describe(value)}',
        )
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def _clock(file: SpecFile, path: YPath, value: Any) -> time | None:
    """A local time of day "HH:MM"; "24:00" is the end of the day."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip()) if isinstance(value, str) else None
    if m is None:
        hint = " (quote it: YAML reads an unquoted 9:00 as a number)" if isinstance(value, int) else ""
        file.add(path, f'expected a time of day such as "09:00", got {describe(value)}{hint}')
        return None
    hours, minutes = int(m.group(1)), int(m.group(2))
    if (hours, minutes) == (24, 0):
        return time(0)
    if hours > 23 or minutes > 59:
        file.add(path, f"time {value!r} is outside 00:00..24:00")
        return None
    return time(hours, minutes)


def _refine(path: YPath, node: Any, message: str) -> YPath:
    """The field of `node` a core parser's message is about: a matcher (or other list item) it quotes, a
    value it quotes, a field it starts with or quotes; else the node itself."""
    if not isinstance(node, Mapping):
        return path
    for key, value in node.items():
        if isinstance(value, list):
            for i, item in enumerate(value):
                quoted = isinstance(item, str) and repr(item) in message
                inside = str(key).endswith("matchers") and isinstance(item, str) and item.strip() in message
                if quoted or (inside and item.strip()):
                    return (*path, str(key), i)
    for key, value in node.items():
        if isinstance(value, str) and repr(value) in message:
            return (*path, str(key))
    for key in node:
        if message.startswith(f"{key} ") or f"'{key}'" in message:
            return (*path, str(key))
    return path
