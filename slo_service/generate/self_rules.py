"""Prometheus alert rules on slo-service itself, from the self-metric names in ``core.conventions``."""

from __future__ import annotations

from typing import Any

from slo_service.core import conventions as c

DRIFT_RUN_FAILED = c.DRIFT_RUN_FAILED  # exported by the drift monitors (slo_drift_run_failed_total)

GROUP_NAME = "slo-service-self"

_RULES: tuple[tuple[str, str, str, str, str, str], ...] = (
    # alertname, expr, for, severity, summary, description
    (
        "SLOServiceScrapeTargetDown",
        f"{c.SCRAPE_UP} == 0",
        "5m",
        "ticket",
        "slo-service cannot scrape {{ $labels.source }} {{ $labels.target }}",
        "Scrapes of this target have failed for 5 minutes; the SLOs it feeds get no new data.",
    ),
    (
        "SLOServiceEvaluationStalled",
        f"time() - {c.LAST_EVALUATION_TIMESTAMP_SECONDS} > 300",
        "",
        "page",
        "slo-service has not evaluated SLOs for {{ $value | humanizeDuration }}",
        "No SLO evaluation finished in the last 5 minutes: burn-rate alerts are not being computed.",
    ),
    (
        "SLOServiceNotificationsFailing",
        f'increase({c.NOTIFICATIONS}_total{{{c.OUTCOME_LABEL}="retry"}}[15m]) > 5',
        "",
        "ticket",
        "Notifications to {{ $labels.receiver }} are being retried",
        "{{ $value | humanize }} deliveries to {{ $labels.receiver }} were retried in the last 15 minutes.",
    ),
    (
        "SLOServiceNotificationsDeadLettered",
        f'increase({c.NOTIFICATIONS}_total{{{c.OUTCOME_LABEL}="dead"}}[1h]) > 0',
        "",
        "page",
        "Notifications to {{ $labels.receiver }} were given up",
        "{{ $value | humanize }} notifications to {{ $labels.receiver }} went to the dead-letter list in the "
        "last hour: somebody was not told about an alert.",
    ),
    (
        "SLOServiceDatabaseWritesPending",
        f"{c.STORE_PENDING_WRITES} > 0",
        "5m",
        "ticket",
        "slo-service has {{ $value }} database writes pending",
        "Writes to the store have been pending for 5 minutes; history is at risk if the process stops.",
    ),
    (
        "SLOServiceConfigReloadFailed",
        f"{c.CONFIG_LAST_RELOAD_SUCCESS} == 0",
        "",
        "ticket",
        "slo-service failed to reload its configuration",
        "The last configuration reload failed; the service keeps running with the previous configuration.",
    ),
    (
        "SLOServiceDriftRunsFailing",
        f"increase({DRIFT_RUN_FAILED}_total[1h]) > 0",
        "",
        "ticket",
        "Drift monitor runs are failing",
        "{{ $value | humanize }} drift monitor runs failed in the last hour.",
    ),
)


def self_alert_rules() -> dict[str, Any]:
    """A rule-file document with one group of alerts on the service's own health."""
    rules: list[dict[str, Any]] = []
    for name, expr, for_, severity, summary, description in _RULES:
        rule: dict[str, Any] = {"alert": name, "expr": expr}
        if for_:
            rule["for"] = for_
        rule["labels"] = {"severity": severity}
        rule["annotations"] = {"summary": summary, "description": description}
        rules.append(rule)
    return {"groups": [{"name": GROUP_NAME, "rules": rules}]}
