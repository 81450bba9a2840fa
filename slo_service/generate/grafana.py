"""Small builders for Grafana dashboard JSON (schemaVersion 39): panels, rows, targets, variables.

Everything is a plain ``dict`` so the result serialises with ``json.dumps`` as is. Panels are laid out
by `Layout`, which places them left to right on Grafana's 24-column grid and numbers them, so the
dashboards in `generate.dashboards` never write a gridPos or panel id by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Json = dict[str, Any]

SCHEMA_VERSION = 39
GRID_COLUMNS = 24
DATASOURCE_VARIABLE = "datasource"
DATASOURCE: Json = {"type": "prometheus", "uid": "${" + DATASOURCE_VARIABLE + "}"}
"""What every panel, target, annotation and query variable points at: the `datasource` variable."""


def _ds() -> Json:
    return dict(DATASOURCE)


def target(
    expr: str,
    legend: str = "",
    ref_id: str = "A",
    *,
    instant: bool = False,
    table: bool = False,
) -> Json:
    """A Prometheus query. `table` asks for the table format (one row per series, for table panels)."""
    return {
        "datasource": _ds(),
        "editorMode": "code",
        "expr": expr,
        "format": "table" if table else "time_series",
        "instant": instant,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "refId": ref_id,
    }


def targets(*exprs: tuple[str, str], instant: bool = False, table: bool = False) -> list[Json]:
    """Targets A, B, C... from (expr, legend) pairs."""
    return [target(expr, legend, _ref_id(i), instant=instant, table=table) for i, (expr, legend) in enumerate(exprs)]


def _ref_id(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"Q{i}"


def thresholds(base: str, *steps: tuple[float, str]) -> Json:
    """Absolute thresholds: `base` colour below the first step, then each (value, colour)."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}, *({"color": color, "value": value} for value, color in steps)],
    }


def field_config(
    unit: str = "short",
    *,
    decimals: int | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    steps: Json | None = None,
    custom: Mapping[str, Any] | None = None,
    mappings: Sequence[Json] = (),
    overrides: Sequence[Json] = (),
) -> Json:
    defaults: Json = {"unit": unit, "mappings": list(mappings)}
    if decimals is not None:
        defaults["decimals"] = decimals
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    defaults["thresholds"] = steps if steps is not None else thresholds("green")
    if custom:
        defaults["custom"] = dict(custom)
    return {"defaults": defaults, "overrides": list(overrides)}


def override(name: str, properties: Mapping[str, Any], *, regex: bool = False) -> Json:
    """A field override matched by display name (or by regex)."""
    return {
        "matcher": {"id": "byRegexp" if regex else "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def panel(
    kind: str,
    title: str,
    panel_targets: Sequence[Json],
    *,
    width: int = 12,
    height: int = 8,
    description: str = "",
    fields: Json | None = None,
    options: Mapping[str, Any] | None = None,
    transformations: Sequence[Json] = (),
) -> Json:
    """A panel without id and gridPos (`Layout.add` sets them). `kind` is the Grafana panel type."""
    if not 0 < width <= GRID_COLUMNS:
        raise ValueError(f"panel {title!r}: width must be 1..{GRID_COLUMNS}, got {width}")
    out: Json = {
        "type": kind,
        "title": title,
        "datasource": _ds(),
        "targets": list(panel_targets),
        "fieldConfig": fields if fields is not None else field_config(),
        "options": dict(options or {}),
        "gridPos": {"h": height, "w": width, "x": 0, "y": 0},
    }
    if description:
        out["description"] = description
    if transformations:
        out["transformations"] = list(transformations)
    return out


def timeseries(
    title: str,
    panel_targets: Sequence[Json],
    *,
    unit: str = "short",
    steps: Json | None = None,
    threshold_lines: bool = False,
    stacked: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    overrides: Sequence[Json] = (),
    **kwargs: Any,
) -> Json:
    custom: Json = {
        "drawStyle": "line",
        "fillOpacity": 10,
        "lineWidth": 1,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"group": "A", "mode": "normal" if stacked else "none"},
        "thresholdsStyle": {"mode": "dashed" if threshold_lines else "off"},
    }
    fields = field_config(unit, minimum=minimum, maximum=maximum, steps=steps, custom=custom, overrides=overrides)
    options = {
        "legend": {"calcs": ["lastNotNull"], "displayMode": "table", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel("timeseries", title, panel_targets, fields=fields, options=options, **kwargs)


def stat(
    title: str,
    panel_targets: Sequence[Json],
    *,
    unit: str = "short",
    steps: Json | None = None,
    decimals: int | None = None,
    mappings: Sequence[Json] = (),
    width: int = 6,
    height: int = 4,
    **kwargs: Any,
) -> Json:
    fields = field_config(unit, decimals=decimals, steps=steps, mappings=mappings)
    options = {
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "textMode": "auto",
    }
    return panel("stat", title, panel_targets, fields=fields, options=options, width=width, height=height, **kwargs)


def value_mappings(values: Mapping[str, tuple[str, str]]) -> list[Json]:
    """Value -> (text, colour) mappings, e.g. {"1": ("UP", "green")}."""
    return [
        {
            "type": "value",
            "options": {
                value: {"index": i, "text": text, "color": color}
                for i, (value, (text, color)) in enumerate(values.items())
            },
        }
    ]


def row(title: str, *, repeat: str | None = None, collapsed: bool = False) -> Json:
    """A row header; `repeat` names the variable to repeat the row for (one copy per value)."""
    out: Json = {
        "type": "row",
        "title": title,
        "collapsed": collapsed,
        "panels": [],
        "gridPos": {"h": 1, "w": GRID_COLUMNS, "x": 0, "y": 0},
    }
    if repeat:
        out["repeat"] = repeat
    return out


class Layout:
    """Places panels on the 24-column grid in order, wrapping to a new line, and numbers them from 1."""

    def __init__(self) -> None:
        self.panels: list[Json] = []
        self._x = 0
        self._y = 0
        self._line_height = 0

    def add(self, *items: Json) -> Layout:
        for item in items:
            pos = item["gridPos"]
            w, h = int(pos["w"]), int(pos["h"])
            if item["type"] == "row" or self._x + w > GRID_COLUMNS:
                self._newline()
            item["gridPos"] = {"h": h, "w": w, "x": self._x, "y": self._y}
            item["id"] = len(self.panels) + 1
            self.panels.append(item)
            self._x += w
            self._line_height = max(self._line_height, h)
            if item["type"] == "row":
                self._newline()
        return self

    def _newline(self) -> None:
        if self._x:
            self._y += self._line_height
        self._x = 0
        self._line_height = 0


def datasource_variable() -> Json:
    return {
        "current": {},
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": DATASOURCE_VARIABLE,
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "type": "datasource",
    }


def query_variable(
    name: str,
    query: str,
    *,
    label: str = "",
    multi: bool = True,
    include_all: bool = True,
) -> Json:
    """A Prometheus query variable (`label_values(...)`), refreshed when the time range changes."""
    return {
        "current": {},
        "datasource": _ds(),
        "definition": query,
        "hide": 0,
        "includeAll": include_all,
        "allValue": ".*" if include_all else None,
        "label": label or name.capitalize(),
        "multi": multi,
        "name": name,
        "options": [],
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "type": "query",
    }


def prometheus_annotation(name: str, expr: str, *, color: str, title: str, tags: Iterable[str] = ()) -> Json:
    """An annotation drawn wherever `expr` returns a series (at step resolution)."""
    return {
        "datasource": _ds(),
        "enable": True,
        "expr": expr,
        "hide": False,
        "iconColor": color,
        "name": name,
        "step": "60s",
        "tagKeys": ",".join(tags),
        "textFormat": "",
        "titleFormat": title,
        "useValueForTime": False,
    }


def builtin_annotation() -> Json:
    """Grafana's own annotations (and alert-state markers) on this dashboard."""
    return {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }


def dashboard(
    uid: str,
    title: str,
    layout: Layout,
    *,
    variables: Sequence[Json],
    description: str = "",
    annotations: Sequence[Json] = (),
    time_from: str = "now-24h",
    tags: Sequence[str] = (),
    refresh: str = "1m",
) -> Json:
    return {
        "annotations": {"list": [builtin_annotation(), *annotations]},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": True,
                "icon": "external link",
                "includeVars": True,
                "keepTime": True,
                "tags": ["slo-service"],
                "title": "slo-service",
                "type": "dashboards",
            }
        ],
        "panels": layout.panels,
        "refresh": refresh,
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["slo-service", *tags],
        "templating": {"list": list(variables)},
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "utc",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }
