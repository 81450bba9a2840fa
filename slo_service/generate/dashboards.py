"""Grafana dashboards generated from the same metric-name conventions as the exporter.

`dashboards()` returns ``{file name: dashboard JSON}`` for six dashboards:

* ``slo-overview.json``: every SLO in one table (objective, SLI over the period, budget left, burn
  rates, firing alerts) and a few stats.
* ``slo-detail.json``: one row per selected SLO (the row repeats over ``$slo``): SLI, budget burn-down,
  burn rate per window against the alert thresholds, good/bad event rates, data coverage; alert and
  deployment annotations.
* ``drift-quality.json``: drift share, per-feature drift scores, missing values, model quality, drift
  runs (metrics of the drift monitors).
* ``service-health.json``: the service's self-metrics (scrapes, evaluation, notifications, store).
* ``slo-rules-overview.json`` and ``slo-rules-detail.json`` (`generate.rules_dashboards`): the SLO
  dashboards for a Prometheus that holds only the generated rules (no service metrics), Sloth-compatible.

Every metric name comes from `slo_service.core.conventions` (read when `dashboards()` is called, so a
rename there shows up here), plus Prometheus' own ``ALERTS`` series and the generated recording rules.
tests/unit/test_dashboards.py parses every query (promql-parser, a development dependency the generate
layer may not import) and checks each metric name against what the exporter and the generated rules
produce, with no allow-list for names nothing produces yet.
`dump_dashboard` is the canonical file text (the committed ``dashboards/*.json`` are its output).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from slo_service.core import conventions as c
from slo_service.core.alerting.conditions import BURN_TIER_LABEL
from slo_service.core.alerting.policy import default_tiers
from slo_service.core.durations import format_duration
from slo_service.core.windows import ALERT_WINDOWS, PERIOD_WINDOW
from slo_service.generate import grafana as g

__all__ = [
    "PROMETHEUS_ALERTS_METRIC",
    "UIDS",
    "burn_rate_thresholds",
    "dashboards",
    "drift_metrics",
    "dump_dashboard",
    "write_dashboards",
]

Json = dict[str, Any]


def drift_metrics() -> dict[str, str]:
    """The drift monitor's metrics (core/conventions.py), read when called so a rename shows up here."""
    return {
        "drift_share": c.DRIFT_SHARE,
        "feature_drift_score": c.FEATURE_DRIFT_SCORE,
        "data_missing_ratio": c.DATA_MISSING_RATIO,
        "model_quality": c.MODEL_QUALITY,
        "run_duration_seconds": c.DRIFT_RUN_DURATION_SECONDS,
        "last_run_timestamp_seconds": c.DRIFT_LAST_RUN_TIMESTAMP_SECONDS,
        "runs_failed_total": c.DRIFT_RUN_FAILED + "_total",
    }


# Prometheus' own series of the alerts it evaluates (alertname, alertstate, + the rule's labels). The
# generated Prometheus rules give each SLO alert its service and slo labels, so it is per SLO, unlike
# the service's slo_service_alerts gauge (state and severity only).
PROMETHEUS_ALERTS_METRIC = "ALERTS"

UIDS = {
    "slo-overview.json": "slo-service-overview",
    "slo-detail.json": "slo-service-detail",
    "drift-quality.json": "slo-service-drift-quality",
    "service-health.json": "slo-service-health",
    "slo-rules-overview.json": "slo-service-rules-overview",
    "slo-rules-detail.json": "slo-service-rules-detail",
}

THRESHOLD_PERIOD = timedelta(days=30)
"""The period the burn-rate threshold lines are drawn for (the default tiers give 14.4, 6, 3, 1)."""

SLO_MATCH = f'{c.SERVICE_LABEL}=~"$service",{c.SLO_LABEL}=~"$slo"'
RATE = "$__rate_interval"
TIER_COLORS = ("dark-red", "red", "orange", "yellow")


def dashboards() -> dict[str, Json]:
    """Every dashboard, by file name. No panel or annotation reads a metric nothing produces."""
    # imported here: the rules-only dashboards reuse this module's thresholds and UIDs
    from slo_service.generate.rules_dashboards import rules_dashboards

    return {
        "slo-overview.json": _overview(),
        "slo-detail.json": _detail(),
        "drift-quality.json": _drift(),
        "service-health.json": _health(),
        **rules_dashboards(),
    }


def dump_dashboard(dashboard: Mapping[str, Any]) -> str:
    """The canonical file text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True) + "\n"


def write_dashboards(directory: Path, **options: str) -> list[Path]:
    """Write every dashboard as `directory/<file name>` (the text of `dump_dashboard`); returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, dashboard in dashboards(**options).items():
        path = directory / name
        path.write_text(dump_dashboard(dashboard), encoding="utf-8")
        paths.append(path)
    return paths


def burn_rate_thresholds(period: timedelta = THRESHOLD_PERIOD) -> list[tuple[str, float]]:
    """(tier name, burn-rate threshold) of the default tiers for `period`, highest first."""
    out = [(t.name, round(t.factor(period), 6)) for t in default_tiers()]
    return sorted(out, key=lambda item: -item[1])


def burn_steps() -> Json:
    """Green below the lowest tier, then one colour per tier threshold (yellow ... dark red)."""
    tiers = sorted(burn_rate_thresholds(), key=lambda item: item[1])
    colors = list(reversed(TIER_COLORS[: len(tiers)]))
    return g.thresholds("green", *((value, colors[i]) for i, (_, value) in enumerate(tiers)))


def budget_steps() -> Json:
    return g.thresholds("red", (0, "yellow"), (0.25, "green"))


def _sel(name: str, extra: str = "") -> str:
    return f"{name}{{{SLO_MATCH}{',' + extra if extra else ''}}}"


def _variables(*extra: Json) -> list[Json]:
    return [
        g.datasource_variable(),
        g.query_variable("service", f"label_values({c.SLO_OBJECTIVE_RATIO}, {c.SERVICE_LABEL})"),
        g.query_variable(
            "slo", f'label_values({c.SLO_OBJECTIVE_RATIO}{{{c.SERVICE_LABEL}=~"$service"}}, {c.SLO_LABEL})', label="SLO"
        ),
        *extra,
    ]


def burn_windows() -> list[str]:
    """The long windows of the default tiers at 30 days (1h, 6h, 1d, 3d), shortest first."""
    names = [format_duration(t.long_window) for t in default_tiers()]
    return sorted(dict.fromkeys(names), key=lambda w: ALERT_WINDOWS[w])


# --- 1. SLO overview ------------------------------------------------------------------------------


def _overview() -> Json:
    by = f"max by ({c.SERVICE_LABEL}, {c.SLO_LABEL})"
    columns: list[tuple[str, str]] = [
        (f"{by} ({_sel(c.SLO_OBJECTIVE_RATIO)})", "Objective"),
        (f"{by} ({_sel(c.SLO_SLI_RATIO, f'window={_q(PERIOD_WINDOW)}')})", "SLI (period)"),
        (f"{by} ({_sel(c.SLO_ERROR_BUDGET_REMAINING_RATIO)})", "Budget remaining"),
        *((f"{by} ({_sel(c.SLO_BURN_RATE, f'window={_q(w)}')})", f"Burn rate {w}") for w in burn_windows()),
        (
            f"count by ({c.SERVICE_LABEL}, {c.SLO_LABEL}) "
            f'({PROMETHEUS_ALERTS_METRIC}{{alertstate="firing",{SLO_MATCH}}})'
            f" or 0 * {by} ({_sel(c.SLO_OBJECTIVE_RATIO)})",
            "Firing alerts",
        ),
    ]
    table_targets = g.targets(*columns, instant=True, table=True)
    rename = {f"Value #{t['refId']}": title for t, (_, title) in zip(table_targets, columns, strict=True)}
    burn_titles = [title for _, title in columns if title.startswith("Burn rate")]
    overrides = [
        g.override("Objective", {"unit": "percentunit", "decimals": 3}),
        g.override("SLI (period)", {"unit": "percentunit", "decimals": 3}),
        g.override(
            "Budget remaining",
            {
                "unit": "percentunit",
                "decimals": 1,
                "min": -1,
                "max": 1,
                "thresholds": budget_steps(),
                "custom.cellOptions": {"type": "gauge", "mode": "gradient", "valueDisplayMode": "text"},
            },
        ),
        *(
            g.override(
                title,
                {"decimals": 2, "thresholds": burn_steps(), "custom.cellOptions": {"type": "color-background"}},
            )
            for title in burn_titles
        ),
        g.override(
            "Firing alerts",
            {
                "decimals": 0,
                "thresholds": g.thresholds("green", (1, "red")),
                "custom.cellOptions": {"type": "color-background"},
            },
        ),
        g.override(
            "slo",
            {
                "links": [
                    {
                        "title": "SLO detail",
                        "url": "/d/slo-service-detail/?var-service=${__data.fields.service}"
                        "&var-slo=${__data.fields.slo}&${__url_time_range}&${datasource:queryparam}",
                    }
                ]
            },
        ),
    ]
    table = g.panel(
        "table",
        "SLO status",
        table_targets,
        width=24,
        height=12,
        description=(
            "One row per SLO. Burn rates are coloured at the default alert tiers for a 30-day period "
            f"({', '.join(f'{n} {v:g}x' for n, v in burn_rate_thresholds())}). Firing alerts counts "
            "Prometheus' own ALERTS series for the generated alert rules (they carry service and slo)."
        ),
        fields=g.field_config(custom={"align": "auto", "cellOptions": {"type": "auto"}}, overrides=overrides),
        options={"cellHeight": "sm", "showHeader": True, "sortBy": [{"displayName": "Budget remaining"}]},
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": {"service": 0, "slo": 1, **{v: i + 2 for i, v in enumerate(rename)}},
                    "renameByName": rename,
                },
            },
        ],
    )
    meeting = (
        f"count({by} ({_sel(c.SLO_SLI_RATIO, f'window={_q(PERIOD_WINDOW)}')})"
        f" >= on ({c.SERVICE_LABEL}, {c.SLO_LABEL}) {by} ({_sel(c.SLO_OBJECTIVE_RATIO)})) or vector(0)"
    )
    layout = g.Layout().add(
        g.stat("SLOs total", g.targets((f"count({_sel(c.SLO_OBJECTIVE_RATIO)}) or vector(0)", "SLOs")), steps=_blue()),
        g.stat(
            "SLOs meeting objective",
            g.targets((meeting, "meeting")),
            description="SLI over the period at or above the objective.",
            steps=_blue(),
        ),
        g.stat(
            "SLOs with budget < 0",
            g.targets((f"count({_sel(c.SLO_ERROR_BUDGET_REMAINING_RATIO)} < 0) or vector(0)", "overspent")),
            steps=g.thresholds("green", (1, "red")),
        ),
        g.stat(
            "Firing alerts (service)",
            g.targets((f'sum({c.ALERTS}{{state="firing"}}) or vector(0)', "firing")),
            description="Alerts the service itself holds firing (slo_service_alerts), all SLOs.",
            steps=g.thresholds("green", (1, "red")),
        ),
        table,
    )
    return g.dashboard(
        UIDS["slo-overview.json"],
        "SLO overview",
        layout,
        variables=_variables(),
        description="Every SLO: objective, SLI, error budget, burn rates and alerts.",
        tags=["slo"],
    )


def _blue() -> Json:
    return g.thresholds("blue")


def _q(value: str) -> str:
    return json.dumps(value)


# --- 2. SLO detail --------------------------------------------------------------------------------


def _detail() -> Json:
    all_windows = "|".join(ALERT_WINDOWS)
    thresholds = burn_rate_thresholds()
    layout = g.Layout().add(
        g.row("$slo", repeat="slo"),
        g.stat(
            "Objective",
            g.targets((_sel(c.SLO_OBJECTIVE_RATIO), "{{slo}}")),
            unit="percentunit",
            decimals=3,
            steps=_blue(),
        ),
        g.stat(
            "SLI (period)",
            g.targets((_sel(c.SLO_SLI_RATIO, f"window={_q(PERIOD_WINDOW)}"), "{{slo}}")),
            unit="percentunit",
            decimals=3,
            steps=_blue(),
        ),
        g.stat(
            "Error budget remaining",
            g.targets((_sel(c.SLO_ERROR_BUDGET_REMAINING_RATIO), "{{slo}}")),
            unit="percentunit",
            decimals=1,
            steps=budget_steps(),
        ),
        g.stat(
            "Burn rate 1h",
            g.targets((_sel(c.SLO_BURN_RATE, 'window="1h"'), "{{slo}}")),
            decimals=2,
            steps=burn_steps(),
        ),
        g.timeseries(
            "SLI",
            g.targets(
                (_sel(c.SLO_SLI_RATIO, 'window="1h"'), "SLI 1h"),
                (_sel(c.SLO_SLI_RATIO, f"window={_q(PERIOD_WINDOW)}"), "SLI period"),
                (_sel(c.SLO_OBJECTIVE_RATIO), "objective"),
            ),
            unit="percentunit",
            overrides=[g.override("objective", {"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}})],
        ),
        g.timeseries(
            "Error budget burn-down",
            g.targets((_sel(c.SLO_ERROR_BUDGET_REMAINING_RATIO), "budget remaining")),
            unit="percentunit",
            steps=budget_steps(),
            threshold_lines=True,
            description="Share of the period's error budget left; below 0 the budget is overspent.",
        ),
        g.timeseries(
            "Burn rate by window",
            g.targets((_sel(c.SLO_BURN_RATE, f'window=~"{all_windows}"'), "{{window}}")),
            steps=burn_steps(),
            threshold_lines=True,
            description=(
                "Dashed lines: the default alert tiers' thresholds for a 30-day period ("
                + ", ".join(f"{name} {value:g}x" for name, value in thresholds)
                + "). For another period P a tier fires at budget_share * P / long_window."
            ),
        ),
        g.timeseries(
            "Events",
            g.targets((f"sum by ({c.OUTCOME_LABEL}) (rate({_sel(c.SLO_EVENTS + '_total')}[{RATE}]))", "{{outcome}}")),
            unit="reqps",
            stacked=True,
            overrides=[
                g.override("good", {"color": {"mode": "fixed", "fixedColor": "green"}}),
                g.override("bad", {"color": {"mode": "fixed", "fixedColor": "red"}}),
            ],
        ),
        g.timeseries(
            "Data coverage",
            g.targets((_sel(c.SLO_DATA_COVERAGE_RATIO, f'window=~"1h|{PERIOD_WINDOW}"'), "{{window}}")),
            unit="percentunit",
            minimum=0,
            maximum=1,
            width=24,
            description="Share of the window's slices that had data; low coverage makes the SLI less certain.",
        ),
    )
    annotations = [
        g.prometheus_annotation(
            "Burn-rate alerts",
            # every burn alert has a burn_tier label, whatever its name (SLOBurnRateHigh, or Sloth's alerting.name)
            f'{PROMETHEUS_ALERTS_METRIC}{{{BURN_TIER_LABEL}!="",alertstate="firing",{SLO_MATCH}}}',
            color="red",
            title="{{alertname}} {{severity}} ({{slo}})",
            tags=("severity", "slo", "burn_tier"),
        ),
        g.prometheus_annotation(
            "Deployments",
            # a new deployment moves the last-deploy timestamp (slo_deployment_info names the version)
            f'changes({c.LAST_DEPLOYMENT_TIMESTAMP_SECONDS}{{{c.SERVICE_LABEL}=~"$service"}}[2m]) > 0',
            color="blue",
            title="Deployed {{service}} to {{environment}}",
            tags=("service", "environment"),
        ),
    ]
    return g.dashboard(
        UIDS["slo-detail.json"],
        "SLO detail",
        layout,
        variables=_variables(),
        annotations=annotations,
        description="One row per selected SLO. Annotations: firing burn-rate alerts (Prometheus ALERTS) and "
        "deployments recorded from CI (slo_last_deployment_timestamp_seconds).",
        time_from="now-30d",
        tags=["slo"],
    )


# --- 3. Drift & data quality ----------------------------------------------------------------------


def _drift() -> Json:
    m = drift_metrics()
    mon = 'monitor=~"$monitor"'
    layout = g.Layout().add(
        g.timeseries(
            "Drift share",
            g.targets((f"{m['drift_share']}{{{mon}}}", "{{monitor}}")),
            unit="percentunit",
            minimum=0,
            maximum=1,
            steps=g.thresholds("green", (0.5, "red")),
            threshold_lines=True,
            description="Share of a monitor's features that drifted in its latest run.",
        ),
        g.panel(
            "state-timeline",
            "Feature drift score",
            g.targets((f"{m['feature_drift_score']}{{{mon}}}", "{{monitor}} {{feature}} ({{method}})")),
            fields=g.field_config(decimals=3, steps=g.thresholds("green", (0.1, "yellow"), (0.2, "red"))),
            options={"mergeValues": False, "showValue": "never", "rowHeight": 0.9, "legend": {"showLegend": True}},
            description="Drift score per feature and method (colour: higher is more drift).",
        ),
        g.timeseries(
            "Missing values",
            g.targets((f"{m['data_missing_ratio']}{{{mon}}}", "{{monitor}} {{feature}}")),
            unit="percentunit",
            minimum=0,
        ),
        g.timeseries(
            "Model quality",
            g.targets((f"{m['model_quality']}{{{mon}}}", "{{monitor}} {{metric}}")),
        ),
        g.timeseries(
            "Drift run duration",
            g.targets((f"{m['run_duration_seconds']}{{{mon}}}", "{{monitor}}")),
            unit="s",
        ),
        g.stat(
            "Failed drift runs (1h)",
            g.targets((f"sum(increase({m['runs_failed_total']}{{{mon}}}[1h])) or vector(0)", "failed")),
            decimals=0,
            steps=g.thresholds("green", (1, "red")),
            width=12,
            height=8,
        ),
        g.panel(
            "bargauge",
            "Time since last drift run",
            g.targets((f"time() - {m['last_run_timestamp_seconds']}{{{mon}}}", "{{monitor}}")),
            fields=g.field_config("s", steps=g.thresholds("green", (86400, "yellow"), (3 * 86400, "red"))),
            options={
                "displayMode": "gradient",
                "orientation": "horizontal",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            },
            width=24,
        ),
    )
    monitor = g.query_variable("monitor", f"label_values({m['drift_share']}, monitor)")
    return g.dashboard(
        UIDS["drift-quality.json"],
        "Drift & data quality",
        layout,
        variables=_variables(monitor),
        description="Data drift, missing values and model quality from the drift monitor.",
        time_from="now-7d",
        tags=["drift"],
    )


# --- 4. Service health ----------------------------------------------------------------------------


def _health() -> Json:
    delivery = f"{c.NOTIFICATION_DELIVERY_SECONDS}_bucket"
    latency = f"sum by (le, receiver) (rate({delivery}[{RATE}]))"
    layout = g.Layout().add(
        g.panel(
            "state-timeline",
            "Scrape up",
            g.targets((c.SCRAPE_UP, "{{source}} {{target}}")),
            fields=g.field_config(
                steps=g.thresholds("red", (1, "green")),
                mappings=g.value_mappings({"0": ("down", "red"), "1": ("up", "green")}),
            ),
            options={"mergeValues": True, "showValue": "auto", "legend": {"showLegend": False}},
        ),
        g.timeseries("Scrape duration", g.targets((c.SCRAPE_DURATION_SECONDS, "{{source}} {{target}}")), unit="s"),
        g.timeseries(
            "Collection errors",
            g.targets((f"sum by (source) (rate({c.COLLECTION_ERRORS}_total[{RATE}]))", "{{source}}")),
            unit="ops",
        ),
        g.timeseries("Evaluation duration", g.targets((c.EVALUATION_DURATION_SECONDS, "evaluation")), unit="s"),
        g.stat(
            "Time since last evaluation",
            g.targets((f"time() - {c.LAST_EVALUATION_TIMESTAMP_SECONDS}", "age")),
            unit="s",
            steps=g.thresholds("green", (300, "yellow"), (900, "red")),
        ),
        g.stat(
            "Scrape targets down",
            g.targets((f"count({c.SCRAPE_UP} == 0) or vector(0)", "down")),
            steps=g.thresholds("green", (1, "red")),
        ),
        g.stat(
            "Last config reload",
            g.targets((c.CONFIG_LAST_RELOAD_SUCCESS, "reload")),
            mappings=g.value_mappings({"0": ("failed", "red"), "1": ("ok", "green")}),
            steps=g.thresholds("red", (1, "green")),
        ),
        g.stat(
            "Open notification groups",
            g.targets((c.NOTIFICATION_GROUPS, "groups")),
            steps=_blue(),
        ),
        g.timeseries(
            "Notifications by receiver and outcome",
            g.targets(
                (
                    f"sum by (receiver, outcome) (rate({c.NOTIFICATIONS}_total[{RATE}]))",
                    "{{receiver}} {{outcome}}",
                )
            ),
            unit="ops",
        ),
        g.timeseries(
            "Notification delivery latency",
            g.targets(
                (f"histogram_quantile(0.5, {latency})", "p50 {{receiver}}"),
                (f"histogram_quantile(0.99, {latency})", "p99 {{receiver}}"),
            ),
            unit="s",
        ),
        g.timeseries("Pending DB writes", g.targets((c.STORE_PENDING_WRITES, "pending writes"))),
        g.timeseries(
            "Open alerts by state",
            g.targets((f"sum by (state) ({c.ALERTS})", "{{state}}")),
            stacked=True,
        ),
    )
    return g.dashboard(
        UIDS["service-health.json"],
        "slo-service health",
        layout,
        variables=_variables(),
        description="Self-metrics of slo-service: collection, evaluation, alert notifications, storage.",
        tags=["self-monitoring"],
    )


if __name__ == "__main__":  # python -m slo_service.generate.dashboards [directory]
    for written in write_dashboards(Path(sys.argv[1] if len(sys.argv) > 1 else "dashboards")):
        print(written)
