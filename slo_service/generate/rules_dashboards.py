"""Grafana dashboards that read only the generated recording rules (the "rules-only" variant).

For a team that loads ``slo-service generate prometheus-rules`` into its own Prometheus and does not
run the service: there, none of the service's ``slo_*`` series exist and the other dashboards stay
empty. These two read nothing but

* the recording rules, with Sloth's names (``slo:sli_error:ratio_rate<W>``, ``slo:objective:ratio``,
  ``slo:error_budget:ratio``, ``slo:time_period:days``, ``slo:current_burn_rate:ratio``,
  ``slo:period_burn_rate:ratio``, ``slo:period_error_budget_remaining:ratio``, ``sloth_slo_info``),
* Prometheus' own ``ALERTS`` series of the generated alert rules,

and select and join only on Sloth's labels (``sloth_id``, ``sloth_service``, ``sloth_slo``,
``sloth_severity``), so the same dashboards also work on rules Sloth generated. They read only the SLI
windows both generators record for every SLO (5m ... 3d); the period SLI comes from
``slo:period_burn_rate:ratio`` times the error budget, because the period's own window name differs
per SLO (``ratio_rate28d``, ``ratio_rate7d``; Sloth: ``ratio_rate30d``). Every ``ALERTS`` count falls
back to 0 so no panel is empty while nothing fires.

* ``slo-rules-overview.json``: every SLO in one table (objective, period SLI, budget left, burn rates,
  firing alerts), stats, budget and burn rate over time.
* ``slo-rules-detail.json``: one row per selected SLO: SLI per window, budget over the period, burn
  rate per window against the default alert tiers, firing alerts; alert annotations.
"""

from __future__ import annotations

from typing import Any

from slo_service.core.windows import ALERT_WINDOWS
from slo_service.generate import grafana as g
from slo_service.generate.dashboards import (
    PROMETHEUS_ALERTS_METRIC,
    UIDS,
    budget_steps,
    burn_rate_thresholds,
    burn_steps,
    burn_windows,
)
from slo_service.generate.prometheus_rules import (
    CURRENT_BURN_RATE,
    ERROR_BUDGET,
    OBJECTIVE,
    PERIOD_BUDGET_REMAINING,
    PERIOD_BURN_RATE,
    SLI_ERROR,
    SLO_INFO,
    SLOTH_SEVERITY_LABEL,
    TIME_PERIOD_DAYS,
)

__all__ = ["SLOTH_LABELS", "rules_dashboards"]

Json = dict[str, Any]

SERVICE = "sloth_service"
SLO = "sloth_slo"
SLOTH_LABELS = ("sloth_id", SERVICE, SLO, "sloth_window", SLOTH_SEVERITY_LABEL)
"""The labels Sloth puts on its rules and alerts: the only ones these dashboards select on."""

MATCH = f'{SERVICE}=~"$service",{SLO}=~"$slo"'
BY = f"by ({SERVICE}, {SLO})"
ON = f"on ({SERVICE}, {SLO})"
SEVERITIES = ("page", "ticket")  # Sloth's two alert severities (see prometheus_rules.sloth_severity)


def rules_dashboards() -> dict[str, Json]:
    """The rules-only dashboards, by file name."""
    return {"slo-rules-overview.json": _overview(), "slo-rules-detail.json": _detail()}


# --- query pieces ---------------------------------------------------------------------------------


def _per_slo(name: str) -> str:
    """One series per SLO: `max` drops whatever else a ruler or a federation adds (replica, job)."""
    return f"max {BY} ({name}{{{MATCH}}})"


def sli_error(window: str) -> str:
    return _per_slo(SLI_ERROR.format(window=window))


def burn_rate(window: str) -> str:
    """The error ratio over `window` in multiples of the error budget (1 spends it in one period)."""
    return f"{sli_error(window)} / {ON} {_per_slo(ERROR_BUDGET)}"


def period_sli() -> str:
    """SLI over the SLO period: 1 - period burn rate x error budget (the same for every period length)."""
    return f"1 - {_per_slo(PERIOD_BURN_RATE)} * {ON} {_per_slo(ERROR_BUDGET)}"


def firing(extra: str = "", by: str = "") -> str:
    """Firing alerts of the selected SLOs (0 when none fire, so the panel is never empty)."""
    matchers = f'alertstate="firing",{MATCH}{"," + extra if extra else ""}'
    count = (
        f"count {by} ({PROMETHEUS_ALERTS_METRIC}{{{matchers}}})"
        if by
        else f"count({PROMETHEUS_ALERTS_METRIC}{{{matchers}}})"
    )
    fallback = f"0 * {_per_slo(SLO_INFO)}" if by else "vector(0)"
    return f"{count} or {fallback}"


def _variables() -> list[Json]:
    """Sloth's dashboards' variables: services and SLOs from sloth_slo_info."""
    return [
        g.datasource_variable(),
        g.query_variable("service", f"label_values({SLO_INFO}, {SERVICE})"),
        g.query_variable("slo", f'label_values({SLO_INFO}{{{SERVICE}=~"$service"}}, {SLO})', label="SLO"),
    ]


# --- overview -------------------------------------------------------------------------------------


def _overview() -> Json:
    columns: list[tuple[str, str]] = [
        (_per_slo(OBJECTIVE), "Objective"),
        (period_sli(), "SLI (period)"),
        (_per_slo(TIME_PERIOD_DAYS), "Period (days)"),
        (_per_slo(PERIOD_BUDGET_REMAINING), "Budget remaining"),
        (_per_slo(CURRENT_BURN_RATE), "Burn rate 5m"),
        *((burn_rate(w), f"Burn rate {w}") for w in burn_windows()),
        (firing(by=BY), "Firing alerts"),
    ]
    table_targets = g.targets(*columns, instant=True, table=True)
    rename = {f"Value #{t['refId']}": title for t, (_, title) in zip(table_targets, columns, strict=True)}
    percent = {"unit": "percentunit", "decimals": 3}
    overrides = [
        g.override("Objective", percent),
        g.override("SLI (period)", percent),
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
                title, {"decimals": 2, "thresholds": burn_steps(), "custom.cellOptions": {"type": "color-background"}}
            )
            for _, title in columns
            if title.startswith("Burn rate")
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
            SLO,
            {
                "links": [
                    {
                        "title": "SLO detail (rules)",
                        "url": f"/d/{UIDS['slo-rules-detail.json']}/?var-service=${{__data.fields.{SERVICE}}}"
                        f"&var-slo=${{__data.fields.{SLO}}}&${{__url_time_range}}&${{datasource:queryparam}}",
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
            "One row per SLO, from the recording rules only. Burn rates are coloured at the default alert "
            f"tiers for a 30-day period ({', '.join(f'{n} {v:g}x' for n, v in burn_rate_thresholds())}). "
            "Firing alerts counts Prometheus' ALERTS series of the generated (or Sloth's) alert rules."
        ),
        fields=g.field_config(custom={"align": "auto", "cellOptions": {"type": "auto"}}, overrides=overrides),
        options={"cellHeight": "sm", "showHeader": True, "sortBy": [{"displayName": "Budget remaining"}]},
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": {SERVICE: 0, SLO: 1, **{v: i + 2 for i, v in enumerate(rename)}},
                    "renameByName": rename,
                },
            },
        ],
    )
    blue = g.thresholds("blue")
    alert_steps = g.thresholds("green", (1, "red"))
    legend = f"{{{{{SERVICE}}}}} / {{{{{SLO}}}}}"
    layout = g.Layout().add(
        g.stat("SLOs", g.targets((f"count({_per_slo(SLO_INFO)}) or vector(0)", "SLOs")), width=4, steps=blue),
        g.stat(
            "SLOs meeting objective",
            g.targets((f"count(({period_sli()}) >= {ON} {_per_slo(OBJECTIVE)}) or vector(0)", "meeting")),
            width=4,
            steps=blue,
            description="SLI over the period at or above the objective.",
        ),
        g.stat(
            "SLOs with budget < 0",
            g.targets((f"count({_per_slo(PERIOD_BUDGET_REMAINING)} < 0) or vector(0)", "overspent")),
            width=4,
            steps=alert_steps,
        ),
        g.stat(
            "SLOs burning > 1x (5m)",
            g.targets((f"count({_per_slo(CURRENT_BURN_RATE)} > 1) or vector(0)", "burning")),
            width=4,
            steps=g.thresholds("green", (1, "orange")),
            description="Error ratio over the last 5 minutes above the error budget: the period's budget "
            "would run out before the period ends at this pace.",
        ),
        *(
            g.stat(
                f"Firing {severity} alerts",
                g.targets((firing(f'{SLOTH_SEVERITY_LABEL}="{severity}"'), severity)),
                width=4,
                steps=alert_steps,
            )
            for severity in SEVERITIES
        ),
        table,
        g.timeseries(
            "Error budget remaining",
            g.targets((_per_slo(PERIOD_BUDGET_REMAINING), legend)),
            unit="percentunit",
            steps=budget_steps(),
            threshold_lines=True,
            description="Share of each SLO's period error budget left; below 0 the budget is overspent.",
        ),
        g.timeseries(
            "Current burn rate (5m)",
            g.targets((_per_slo(CURRENT_BURN_RATE), legend)),
            steps=burn_steps(),
            threshold_lines=True,
        ),
    )
    return g.dashboard(
        UIDS["slo-rules-overview.json"],
        "SLO overview (rules only)",
        layout,
        variables=_variables(),
        description="Every SLO from the generated recording rules alone (also works on Sloth's rules).",
        tags=["slo", "rules-only"],
    )


# --- detail ---------------------------------------------------------------------------------------


def _detail() -> Json:
    thresholds = burn_rate_thresholds()
    alert_steps = g.thresholds("green", (1, "red"))
    sli_windows = ("5m", "1h", "1d")
    layout = g.Layout().add(
        g.row("$slo", repeat="slo"),
        g.stat("Objective", g.targets((_per_slo(OBJECTIVE), "objective")), unit="percentunit", decimals=3, width=4),
        g.stat("SLI (period)", g.targets((period_sli(), "SLI")), unit="percentunit", decimals=3, width=4),
        g.stat(
            "Error budget remaining",
            g.targets((_per_slo(PERIOD_BUDGET_REMAINING), "remaining")),
            unit="percentunit",
            decimals=1,
            steps=budget_steps(),
            width=4,
        ),
        g.stat(
            "Current burn rate (5m)",
            g.targets((_per_slo(CURRENT_BURN_RATE), "burn rate")),
            decimals=2,
            steps=burn_steps(),
            width=4,
        ),
        *(
            g.stat(
                f"Firing {severity} alerts",
                g.targets((firing(f'{SLOTH_SEVERITY_LABEL}="{severity}"'), severity)),
                decimals=0,
                steps=alert_steps,
                width=4,
            )
            for severity in SEVERITIES
        ),
        g.timeseries(
            "SLI",
            g.targets(
                *((f"1 - {sli_error(w)}", f"SLI {w}") for w in sli_windows),
                (period_sli(), "SLI period"),
                (_per_slo(OBJECTIVE), "objective"),
            ),
            unit="percentunit",
            overrides=[g.override("objective", {"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}})],
        ),
        g.timeseries(
            "Error budget remaining (period)",
            g.targets((_per_slo(PERIOD_BUDGET_REMAINING), "budget remaining")),
            unit="percentunit",
            steps=budget_steps(),
            threshold_lines=True,
            description="Share of the period's error budget left; below 0 the budget is overspent.",
        ),
        g.timeseries(
            "Burn rate by window",
            g.targets(*((burn_rate(w), w) for w in ALERT_WINDOWS)),
            steps=burn_steps(),
            threshold_lines=True,
            width=24,
            description=(
                "Error ratio per window divided by the error budget. Dashed lines: the default alert "
                "tiers' thresholds for a 30-day period ("
                + ", ".join(f"{name} {value:g}x" for name, value in thresholds)
                + "). For another period P a tier fires at budget_share * P / long_window."
            ),
        ),
    )
    annotations = [
        g.prometheus_annotation(
            f"{severity.capitalize()} alerts",
            f'{PROMETHEUS_ALERTS_METRIC}{{alertstate="firing",{MATCH},{SLOTH_SEVERITY_LABEL}="{severity}"}}',
            color=color,
            title=f"{{{{alertname}}}} ({{{{{SLO}}}}})",
            tags=(SLOTH_SEVERITY_LABEL, SLO),
        )
        for severity, color in zip(SEVERITIES, ("red", "orange"), strict=True)
    ]
    return g.dashboard(
        UIDS["slo-rules-detail.json"],
        "SLO detail (rules only)",
        layout,
        variables=_variables(),
        annotations=annotations,
        description="One row per selected SLO, from the generated recording rules alone (also works on "
        "Sloth's rules). Annotations: firing page and ticket alerts (Prometheus ALERTS).",
        time_from="now-7d",
        tags=["slo", "rules-only"],
    )
