"""The `alerting.receivers` entries (Slack, PagerDuty, webhook), with secrets read from environment variables."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from slo_service.core.alerting.config import ReceiverKind, ReceiverSpec
from slo_service.core.secrets import register_secret
from slo_service.specs.alerting_common import entries, repeated_names
from slo_service.specs.alerting_schema import (
    PAGERDUTY_EVENTS_URL,
    RECEIVER_SPECS,
    RECEIVER_TIMEOUT_MAX,
    RECEIVER_TYPES,
    SLACK_API_URL,
    PagerDutyReceiverSpec,
    SlackReceiverSpec,
    WebhookReceiverSpec,
)
from slo_service.specs.checks import check_name, check_url, duration_at
from slo_service.specs.problems import SpecFile, validate_spec
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["build_receivers", "secret_at", "secret_from_env"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

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


def build_receivers(file: SpecFile, items: list[Any], escalations: set[str]) -> dict[str, ReceiverSpec]:
    """The receivers by name; literal secrets are refused, *_env variables are read."""
    repeated = repeated_names(file, "receivers", "receiver", items)
    out: dict[str, ReceiverSpec] = {}
    known_types = ", ".join(RECEIVER_TYPES)
    for path, item in entries(file, "receivers", items):
        kind = item.get("type")
        if kind is None:
            file.add((*path, "type"), f"required field is missing; receiver types: {known_types}")
            continue
        if not isinstance(kind, str) or kind not in RECEIVER_SPECS:
            file.add((*path, "type"), f"unknown receiver type {kind!r}; receiver types: {known_types}")
            continue
        secrets = _SECRETS[kind]
        checked = {k: v for k, v in item.items() if k not in secrets}
        for key in item:
            if key in secrets:
                env = secrets[key]
                file.add(
                    (*path, key),
                    f"secrets are not written in configuration files: put the value in an environment "
                    f"variable and name it with {env}, e.g. {env}: {_SECRET_EXAMPLES[env]}",
                )
                checked.setdefault(env, "")  # no second problem saying the *_env field is missing
        spec = validate_spec(file, RECEIVER_SPECS[kind], checked, path)
        if spec is None or any(k in secrets for k in item):
            continue
        receiver = _receiver(file, path, spec, escalations)
        if receiver is not None and path[-1] not in repeated:
            out[receiver.name] = receiver
    return out


def _receiver(file: SpecFile, path: YPath, spec: Any, escalations: set[str]) -> ReceiverSpec | None:
    ok = check_name(file, (*path, "name"), spec.name)
    if spec.escalation_policy is not None and spec.escalation_policy not in escalations:
        known = ", ".join(sorted(escalations)) if escalations else "none are defined"
        file.add(
            (*path, "escalation_policy"),
            f"unknown escalation policy {spec.escalation_policy!r}; known escalation policies: {known}",
        )
        ok = False
    settings: dict[str, Any] | None
    if isinstance(spec, SlackReceiverSpec):
        kind, settings = ReceiverKind.SLACK, _slack(file, path, spec)
    elif isinstance(spec, PagerDutyReceiverSpec):
        kind = ReceiverKind.PAGERDUTY
        key = secret_at(file, (*path, "routing_key_env"), spec.routing_key_env)
        url = spec.url if spec.url is not None else PAGERDUTY_EVENTS_URL
        url_ok = check_url(file, (*path, "url"), url)
        settings = {"routing_key": key, "url": url} if key is not None and url_ok else None
    else:
        assert isinstance(spec, WebhookReceiverSpec)
        kind, settings = ReceiverKind.WEBHOOK, _webhook(file, path, spec)
    timeout = duration_at(file, (*path, "timeout"), spec.timeout)
    if timeout is not None and not timedelta(0) < timeout <= RECEIVER_TIMEOUT_MAX:
        file.add((*path, "timeout"), f"timeout {spec.timeout} must be more than 0s and at most 1m")
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


def _slack(file: SpecFile, path: YPath, spec: SlackReceiverSpec) -> dict[str, Any] | None:
    if (spec.token_env is None) == (spec.webhook_url_env is None):
        which = "both" if spec.token_env is not None else "neither"
        file.add(
            path,
            "set exactly one of token_env (a bot token, with channel) or webhook_url_env "
            f"(an incoming webhook); got {which}",
        )
        return None
    ok = True
    base_url = spec.base_url if spec.base_url is not None else SLACK_API_URL
    ok = check_url(file, (*path, "base_url"), base_url) and ok
    token = webhook_url = None
    if spec.token_env is not None:
        if not spec.channel:
            file.add(path, "channel is required with token_env: the bot posts there, e.g. channel: '#alerts'")
            ok = False
        token = secret_at(file, (*path, "token_env"), spec.token_env)
        ok = ok and token is not None
    else:
        assert spec.webhook_url_env is not None
        webhook_url = secret_at(file, (*path, "webhook_url_env"), spec.webhook_url_env)
        if webhook_url is None:
            ok = False
        elif not _is_http_url(webhook_url):  # never echo the value: it is a secret
            file.add(
                (*path, "webhook_url_env"),
                f"environment variable {spec.webhook_url_env} must hold an http:// or https:// URL",
            )
            ok = False
    if not ok:
        return None
    return {"token": token, "channel": spec.channel, "base_url": base_url, "webhook_url": webhook_url}


def _webhook(file: SpecFile, path: YPath, spec: WebhookReceiverSpec) -> dict[str, Any] | None:
    ok = check_url(file, (*path, "url"), spec.url)
    secret = None
    if spec.hmac_secret_env is not None:
        secret = secret_at(file, (*path, "hmac_secret_env"), spec.hmac_secret_env)
        ok = ok and secret is not None
    if spec.max_alerts < 0:
        file.add((*path, "max_alerts"), f"max_alerts {spec.max_alerts} must be 0 (no limit) or more")
        ok = False
    if not ok:
        return None
    return {"url": spec.url, "hmac_secret": secret, "max_alerts": spec.max_alerts, "headers": dict(spec.headers)}


def secret_at(file: SpecFile, path: YPath, name: str) -> str | None:
    if not _ENV_NAME.match(name):
        file.add(path, f"{name!r} is not an environment variable name (letters, digits and _)")
        return None
    try:
        value = secret_from_env(name)
    except ValueError as exc:
        file.add(path, str(exc))
        return None
    return value


def secret_from_env(name: str) -> str:
    """The secret in environment variable `name`, or in the file named by `name`_FILE (Docker and Kubernetes
    secrets; the file's surrounding whitespace is dropped), registered for masking. ValueError saying what is
    missing, never the value."""
    value, file_name = os.environ.get(name), os.environ.get(f"{name}_FILE")
    if value is not None and file_name is not None:
        raise ValueError(f"environment variables {name} and {name}_FILE are both set: give one")
    if file_name is not None:
        try:
            with open(file_name, encoding="utf-8") as f:
                value = f.read(64 * 1024 + 1).strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ValueError(f"{name}_FILE: cannot read {file_name}: {reason}") from None
        if not value:
            raise ValueError(f"{name}_FILE: {file_name} is empty")
        if len(value) > 64 * 1024:
            raise ValueError(f"{name}_FILE: {file_name} is larger than 64 KiB: not a secret")
    elif value is None:
        raise ValueError(f"environment variable {name} is not set")
    elif not value:
        raise ValueError(f"environment variable {name} is set but empty")
    register_secret(value)
    return value


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False
