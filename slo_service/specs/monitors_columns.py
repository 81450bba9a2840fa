"""A monitor's column mapping and drift settings, and which columns a drift SLI may name."""

from __future__ import annotations

import math

from slo_service.core.drift.monitor import ColumnSpec
from slo_service.specs.checks import number_text
from slo_service.specs.monitors_schema import STAT_TESTS, ColumnsSpec, DriftSpec
from slo_service.specs.problems import SpecFile
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["build_columns", "check_drift_settings", "drift_column", "drift_columns"]

_FEATURE_ROLES = ("numerical", "categorical", "text", "datetime")


def drift_columns(columns: ColumnsSpec) -> list[str]:
    """The columns Evidently checks for drift: features (not datetime), target and prediction."""
    cols = [*columns.numerical, *columns.categorical, *columns.text]
    cols += [c for c in (columns.target, columns.prediction) if c is not None]
    return list(dict.fromkeys(cols))


def drift_column(file: SpecFile, path: YPath, column: str, columns: ColumnsSpec) -> bool:
    """Whether `column` is one the monitor checks for drift, after reporting why not."""
    checked = drift_columns(columns)
    if column in checked:
        return True
    known = ", ".join(checked) if checked else "none"
    if column in columns.datetime or column == columns.id:
        role = "datetime" if column in columns.datetime else "id"
        file.add(
            path,
            f"column {column!r} is the monitor's {role} column, which is not checked for drift; "
            f"columns checked: {known}",
        )
    else:
        file.add(path, f"column {column!r} is not in the monitor's column mapping; columns checked for drift: {known}")
    return False


def build_columns(file: SpecFile, path: YPath, spec: ColumnsSpec) -> ColumnSpec | None:
    """The column mapping: each column has one role, and some column is checked for drift."""
    ok = True
    seen: dict[str, str] = {}
    for role in (*_FEATURE_ROLES, "id", "prediction", "target"):
        value = getattr(spec, role)
        names: list[tuple[YPath, str]] = (
            [((*path, role, i), name) for i, name in enumerate(value)] if isinstance(value, list) else []
        )
        if isinstance(value, str):
            names = [((*path, role), value)]
        for where, name in names:
            if not name.strip():
                file.add(where, "column name must not be empty")
                ok = False
            elif name in seen:
                first = seen[name]
                if first == role:
                    file.add(where, f"column {name!r} is listed twice in {role}")
                else:
                    file.add(where, f"column {name!r} is listed as {first} and as {role}; give each column one role")
                ok = False
            else:
                seen[name] = role
    if not drift_columns(spec):
        file.add(
            path,
            "no column to check for drift: list numerical, categorical or text columns, or a target or prediction",
        )
        ok = False
    if not ok:
        return None
    return ColumnSpec(
        numerical=tuple(spec.numerical),
        categorical=tuple(spec.categorical),
        text=tuple(spec.text),
        datetime=tuple(spec.datetime),
        id=spec.id,
        target=spec.target,
        prediction=spec.prediction,
    )


def check_drift_settings(file: SpecFile, path: YPath, spec: DriftSpec, columns: ColumnsSpec) -> bool:
    """Whether the `drift` settings (share, stat tests, thresholds) fit the columns."""
    ok = True
    if not (math.isfinite(spec.share) and 0 < spec.share <= 1):
        file.add(
            (*path, "share"),
            f"share {number_text(spec.share)} must be greater than 0 and at most 1 "
            "(the dataset drifted when at least this share of its columns drifted)",
        )
        ok = False
    known_tests = ", ".join(STAT_TESTS)
    for column, test in spec.stattests.items():
        where = (*path, "stattests", column)
        if not drift_column(file, where, column, columns):
            ok = False
        elif test not in STAT_TESTS:
            file.add(where, f"unknown stat test {test!r}; Evidently's stat tests: {known_tests}")
            ok = False
        else:
            kind = next((r for r in ("numerical", "categorical", "text") if column in getattr(columns, r)), None)
            if kind is not None and kind not in STAT_TESTS[test]:
                kinds = " and ".join(sorted(STAT_TESTS[test]))
                file.add(where, f"stat test {test!r} applies to {kinds} columns; {column!r} is {kind}")
                ok = False
    for column, threshold in spec.thresholds.items():
        where = (*path, "thresholds", column)
        if not drift_column(file, where, column, columns):
            ok = False
        elif not (math.isfinite(threshold) and threshold > 0):
            file.add(where, f"threshold {number_text(threshold)} must be a positive number")
            ok = False
    return ok
