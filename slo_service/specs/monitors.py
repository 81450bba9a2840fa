"""The `monitors:` section (drift monitors) and the `drift` SLI of the YAML format, read into the core model.

A monitor compares a window of current data (CSV / Parquet files, a SQL query, or pushed batches) with a
reference (a fixed snapshot such as the training data, or an earlier window of the same data) on a
schedule, with Evidently. Monitors may be defined in any file; their names are unique across files.
An SLO counts each run of a monitor as one event with ``sli: {drift: {monitor: NAME, check: ...}}``.

Relative file paths are resolved against the directory of the file that names them. A SQL URL holding a
password is never written in a file: ``url_env`` names the environment variable holding it (read while
loading, so a missing variable is a problem like any other); a URL without a password may be literal.

This module builds on the loader's per-file helpers (``loader`` imports it lazily, when building).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import StrictBool, StrictInt

from slo_service.core.drift.monitor import (
    ColumnSpec,
    CurrentData,
    CurrentKind,
    DriftMonitor,
    GroundTruth,
    ReferenceData,
    ReferenceKind,
    TaskKind,
)
from slo_service.core.durations import format_duration
from slo_service.core.model import Comparison, DriftCheck, DriftSLI
from slo_service.specs.checks import check_labels, check_name, duration_at, number_text
from slo_service.specs.problems import SpecFile, describe, validate_spec
from slo_service.specs.schema import DriftSLISpec, Number, Spec
from slo_service.specs.yaml_lines import Path as YPath

__all__ = [
    "CLASSIFICATION_METRICS",
    "DATA_SUFFIXES",
    "REGRESSION_METRICS",
    "STAT_TESTS",
    "MonitorItem",
    "MonitorSet",
    "cron_problem",
    "glob_problem",
]

# Evidently's drift methods (``stattest`` names) and the column kinds each applies to.
STAT_TESTS: dict[str, frozenset[str]] = {
    "wasserstein": frozenset({"numerical"}),
    "psi": frozenset({"numerical", "categorical"}),
    "jensenshannon": frozenset({"numerical", "categorical"}),
    "ks": frozenset({"numerical"}),
    "chisquare": frozenset({"categorical"}),
    "z": frozenset({"categorical"}),
    "kl_div": frozenset({"numerical", "categorical"}),
    "hellinger": frozenset({"numerical", "categorical"}),
    "anderson": frozenset({"numerical"}),
    "cramer_von_mises": frozenset({"numerical"}),
    "empirical_mmd": frozenset({"numerical"}),
    "t_test": frozenset({"numerical"}),
    "mannw": frozenset({"numerical"}),
    "ed": frozenset({"numerical"}),
    "es": frozenset({"numerical"}),
    "fisher_exact": frozenset({"categorical"}),
    "g_test": frozenset({"categorical"}),
    "TVD": frozenset({"categorical"}),
    "perc_text_content_drift": frozenset({"text"}),
    "abs_text_content_drift": frozenset({"text"}),
}

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")  # higher is better, in [0, 1]
REGRESSION_METRICS = ("mae", "rmse", "mape")  # errors: lower is better, >= 0
_TASK_METRICS = {TaskKind.CLASSIFICATION: CLASSIFICATION_METRICS, TaskKind.REGRESSION: REGRESSION_METRICS}

DATA_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".gz")  # what the Evidently runner reads
MIN_SAMPLE_ROWS = 100

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GLOB_CHARS = frozenset("*?[")
_SELECT = re.compile(r"^\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*(select|with)\b", re.IGNORECASE | re.DOTALL)
_DIGITS = re.compile(r"^[0-9]+$")
_FEATURE_ROLES = ("numerical", "categorical", "text", "datetime")


# --------------------------------------------------------------------------------------------------------
# Specs: structure and types (semantics below)


class SQLSpec(Spec):
    url_env: str | None = None
    url: str | None = None  # only without a password
    query: str


class CurrentSpec(Spec):
    files: str | None = None
    sql: SQLSpec | None = None
    push: StrictBool | None = None
    timestamp_column: str | None = None


class ReferenceSpec(Spec):
    file: str | None = None
    version: str | None = None
    rolling: str | None = None


class ScheduleSpec(Spec):
    interval: str | None = None
    cron: str | None = None


class ColumnsSpec(Spec):
    numerical: list[str] = []
    categorical: list[str] = []
    text: list[str] = []
    datetime: list[str] = []
    id: str | None = None
    prediction: str | None = None
    target: str | None = None


class DriftSpec(Spec):
    share: Number = 0.5
    stattests: dict[str, str] = {}
    thresholds: dict[str, Number] = {}


class GroundTruthSpec(CurrentSpec):
    label_column: str
    task: Literal["classification", "regression"] = "classification"
    positive_label: str | None = None


class MonitorSpec(Spec):
    name: str
    current: CurrentSpec
    reference: ReferenceSpec
    columns: ColumnsSpec
    window: str | None = None
    window_rows: StrictInt | None = None
    schedule: ScheduleSpec | None = None
    drift: DriftSpec = DriftSpec()
    sample_rows: StrictInt = 50_000
    timeout: str = "10m"
    ground_truth: GroundTruthSpec | None = None
    max_exported_features: StrictInt = 50
    labels: dict[str, str] = {}


# Fields of the drift SLI that only apply to one check; those with an example are required by it.
_SLI_FIELDS = {
    "column": DriftCheck.COLUMN,
    "metric": DriftCheck.QUALITY,
    "op": DriftCheck.QUALITY,
    "value": DriftCheck.QUALITY,
}
_SLI_EXAMPLES = {"column": "column: income", "metric": "metric: accuracy", "value": "value: 0.9"}

DEFAULT_WINDOW = timedelta(hours=24)
DEFAULT_INTERVAL = timedelta(hours=1)


# --------------------------------------------------------------------------------------------------------
# The section, across files


@dataclass
class MonitorItem:
    """One entry of a file's `monitors:` list, as read."""

    file: SpecFile
    path: YPath
    raw: Any


@dataclass
class MonitorSet:
    """All monitors of all files: `build()` checks them; `sli()` then checks drift SLIs against them.

    `complete` is False when some file could not be read (or its `monitors` was not a list): its
    monitors are unknown, so a drift SLI naming one of them is not reported as unknown.
    """

    items: list[MonitorItem]
    complete: bool = True
    names: set[str] = field(default_factory=set)  # every name given, valid or not
    specs: dict[str, MonitorSpec] = field(default_factory=dict)  # first structurally valid spec per name

    def build(self) -> dict[str, DriftMonitor]:
        out: dict[str, DriftMonitor] = {}
        first: dict[str, MonitorItem] = {}
        for item in self.items:
            if not isinstance(item.raw, dict):
                item.file.add(item.path, f"expected a mapping, got {describe(item.raw)}")
                continue
            name = item.raw.get("name")
            repeated = False
            if isinstance(name, str):
                self.names.add(name)
                if name in first:
                    where = first[name].file.where((*first[name].path, "name"))
                    item.file.add((*item.path, "name"), f"duplicate monitor name {name!r}; first defined at {where}")
                    repeated = True
                else:
                    first[name] = item
            spec = validate_spec(item.file, MonitorSpec, item.raw, item.path)
            if spec is None:
                continue
            if not repeated:
                self.specs.setdefault(spec.name, spec)
            monitor = _monitor(item.file, item.path, spec)
            if monitor is not None and not repeated:
                out[monitor.name] = monitor
        return out

    def sli(self, file: SpecFile, path: YPath, spec: DriftSLISpec) -> DriftSLI | None:
        """The drift SLI `spec` (at `path`, the `drift` mapping), checked against the monitor it names."""
        ok = True
        if self.complete and spec.monitor not in self.names:
            known = ", ".join(sorted(self.names)) if self.names else "none are defined"
            file.add((*path, "monitor"), f"unknown monitor {spec.monitor!r}; known monitors: {known}")
            ok = False
        check = DriftCheck(spec.check)
        monitor = self.specs.get(spec.monitor)
        for name, applies_to in _SLI_FIELDS.items():
            given = getattr(spec, name) is not None
            if given and check is not applies_to:
                file.add((*path, name), f"{name} only applies to check: {applies_to.value}")
                ok = False
            elif not given and check is applies_to and name in _SLI_EXAMPLES:
                file.add(path, f"check {check.value} needs {name}, e.g. {_SLI_EXAMPLES[name]}")
                ok = False
        if check is DriftCheck.COLUMN and spec.column is not None and monitor is not None:
            ok = _drift_column(file, (*path, "column"), spec.column, monitor.columns) and ok
        op: Comparison = Comparison.GE
        if check is DriftCheck.QUALITY and spec.metric is not None:
            metric_ok, op = _quality(file, path, spec, monitor)
            ok = metric_ok and ok
        if spec.value is not None and not math.isfinite(spec.value):
            file.add((*path, "value"), f"value {spec.value} must be a finite number")
            ok = False
        if not ok:
            return None
        return DriftSLI(
            source=spec.monitor,
            check=check,
            column=spec.column,
            metric=spec.metric,
            op=op,
            value=spec.value,
        )


def _quality(file: SpecFile, path: YPath, spec: DriftSLISpec, monitor: MonitorSpec | None) -> tuple[bool, Comparison]:
    assert spec.metric is not None
    metric = spec.metric
    task: TaskKind | None = None
    if monitor is not None:
        if monitor.ground_truth is None:
            file.add(
                (*path, "check"),
                f"check quality needs labels: monitor {spec.monitor!r} has no ground_truth "
                "(late labels joined on columns.id)",
            )
            return False, Comparison.GE
        task = TaskKind(monitor.ground_truth.task)
    known = _TASK_METRICS[task] if task is not None else CLASSIFICATION_METRICS + REGRESSION_METRICS
    if metric not in known:
        what = f"{task.value} metrics" if task is not None else "quality metrics"
        hint = ""
        if task is not None and metric in CLASSIFICATION_METRICS + REGRESSION_METRICS:
            hint = f" (monitor {spec.monitor!r} has task {task.value})"
        file.add((*path, "metric"), f"unknown metric {metric!r}{hint}; {what}: {', '.join(known)}")
        return False, Comparison.GE
    error_metric = metric in REGRESSION_METRICS
    op = Comparison(spec.op) if spec.op is not None else (Comparison.LE if error_metric else Comparison.GE)
    value = spec.value
    if value is not None and math.isfinite(value):
        if not error_metric and not (0 <= value <= 1):
            file.add((*path, "value"), f"value {number_text(value)} must be between 0 and 1: {metric} is a share")
            return False, op
        if error_metric and value < 0:
            file.add((*path, "value"), f"value {number_text(value)} must not be negative: {metric} is an error")
            return False, op
    return True, op


def _drift_columns(columns: ColumnsSpec) -> list[str]:
    """The columns Evidently checks for drift: features (not datetime), target and prediction."""
    cols = [*columns.numerical, *columns.categorical, *columns.text]
    cols += [c for c in (columns.target, columns.prediction) if c is not None]
    return list(dict.fromkeys(cols))


def _drift_column(file: SpecFile, path: YPath, column: str, columns: ColumnsSpec) -> bool:
    checked = _drift_columns(columns)
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


# --------------------------------------------------------------------------------------------------------
# One monitor


def _monitor(file: SpecFile, path: YPath, spec: MonitorSpec) -> DriftMonitor | None:
    base = Path(file.name).absolute().parent
    ok = check_name(file, (*path, "name"), spec.name)
    current = _current(file, (*path, "current"), spec.current, base)
    reference = _reference(file, (*path, "reference"), spec.reference, base)
    ok = check_labels(file, (*path, "labels"), spec.labels) and ok

    window: timedelta | None = None
    if spec.window is not None and spec.window_rows is not None:
        file.add((*path, "window_rows"), "set one of window (a duration such as 24h) or window_rows; got both")
        ok = False
    elif spec.window_rows is not None:
        if spec.window_rows < 1:
            file.add((*path, "window_rows"), f"window_rows {spec.window_rows} must be at least 1")
            ok = False
    elif spec.window is not None:
        window = duration_at(file, (*path, "window"), spec.window)
        ok = window is not None and ok
    else:
        window = DEFAULT_WINDOW

    schedule = _schedule(file, (*path, "schedule"), spec.schedule)
    timeout = duration_at(file, (*path, "timeout"), spec.timeout)
    if schedule is not None and timeout is not None and schedule[0] is not None and timeout >= schedule[0]:
        given = "timeout" in spec.model_fields_set
        file.add(
            (*path, "timeout") if given else (*path, "schedule"),
            f"timeout {format_duration(timeout)}{'' if given else ' (the default)'} must be shorter than "
            f"the schedule interval {format_duration(schedule[0])}",
        )
        ok = False

    columns = _columns(file, (*path, "columns"), spec.columns)
    ok = _drift_settings(file, (*path, "drift"), spec.drift, spec.columns) and ok
    if spec.sample_rows < MIN_SAMPLE_ROWS:
        file.add(
            (*path, "sample_rows"),
            f"sample_rows {spec.sample_rows} must be at least {MIN_SAMPLE_ROWS}: drift tests on fewer rows are noise",
        )
        ok = False
    if spec.max_exported_features < 0:
        file.add(
            (*path, "max_exported_features"),
            f"max_exported_features {spec.max_exported_features} must be 0 (export no per-feature series) or more",
        )
        ok = False

    ground_truth: GroundTruth | None = None
    if spec.ground_truth is not None:
        ground_truth = _ground_truth(file, (*path, "ground_truth"), spec.ground_truth, spec.columns, base)
        ok = ground_truth is not None and ok

    if not ok or current is None or reference is None or schedule is None or timeout is None or columns is None:
        return None
    return DriftMonitor(
        name=spec.name,
        current=current,
        reference=reference,
        columns=columns,
        window=window,
        window_rows=spec.window_rows,
        interval=schedule[0],
        cron=schedule[1],
        stattests=dict(spec.drift.stattests),
        thresholds=dict(spec.drift.thresholds),
        drift_share=spec.drift.share,
        sample_rows=spec.sample_rows,
        timeout=timeout,
        ground_truth=ground_truth,
        labels=dict(spec.labels),
        max_exported_features=spec.max_exported_features,
    )


def _resolve(base: Path, text: str) -> str:
    """`text` as an absolute, normalised path; relative paths start at the config file's directory."""
    path = Path(text)
    with contextlib.suppress(RuntimeError):  # ~user of an unknown user: kept as written, and then not found
        path = path.expanduser()
    return os.path.normpath(path if path.is_absolute() else base / path)


def _current(file: SpecFile, path: YPath, spec: CurrentSpec, base: Path) -> CurrentData | None:
    """The files / sql / push part of `current` or `ground_truth`."""
    given = [k for k in ("files", "sql", "push") if getattr(spec, k) not in (None, False)]
    if len(given) != 1:
        got = "none" if not given else " and ".join(given)
        file.add(
            path,
            "set exactly one of files (a path or glob of CSV / Parquet files), sql ({url_env, query}) "
            f"or push: true; got {got}",
        )
        return None
    if spec.timestamp_column is not None and not spec.timestamp_column.strip():
        file.add((*path, "timestamp_column"), "must not be empty; leave the field out instead")
        return None
    if spec.files is not None:
        problem = glob_problem(spec.files)
        if problem is not None:
            file.add((*path, "files"), problem)
            return None
        return CurrentData(CurrentKind.FILES, path=_resolve(base, spec.files), timestamp_column=spec.timestamp_column)
    if spec.sql is not None:
        url = _sql_url(file, (*path, "sql"), spec.sql, base)
        query_ok = _check_query(file, (*path, "sql", "query"), spec.sql.query)
        if url is None or not query_ok:
            return None
        return CurrentData(CurrentKind.SQL, url=url, query=spec.sql.query, timestamp_column=spec.timestamp_column)
    return CurrentData(CurrentKind.PUSH, timestamp_column=spec.timestamp_column)


def glob_problem(pattern: str) -> str | None:
    """Why `pattern` is not a usable path or glob of data files; None when it is (matching nothing is fine)."""
    if not pattern.strip():
        return "must not be empty"
    depth = 0
    for char in pattern:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth = 0
    if depth:
        return f"unclosed '[' in pattern {pattern!r}; a character class is written [abc]"
    parts = pattern.replace(os.sep, "/").split("/")
    if any("**" in part and part != "**" for part in parts):
        return f"'**' must be a whole path component, as in data/**/*.parquet; got {pattern!r}"
    if parts[-1] in ("", "**"):
        return f"{pattern!r} names a directory; name the files, e.g. {pattern.rstrip('/')}/*.parquet"
    return _suffix_problem(parts[-1])


def _suffix_problem(name: str) -> str | None:
    if "." not in name.lstrip("."):
        return None
    suffix = name[name.rindex(".") :].lower()
    if _GLOB_CHARS & set(suffix) or suffix in DATA_SUFFIXES:
        return None
    return f"unsupported data format {suffix!r}: use Parquet (.parquet, .pq) or CSV (.csv, .tsv, .csv.gz) files"


# SQLAlchemy's URL syntax (sqlalchemy.engine.url._parse_url), matched as a whole: specs do not import SQLAlchemy.
_SQL_URL = re.compile(
    r"""
    (?P<name>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.VERBOSE | re.DOTALL,
)


def _parse_sql_url(url: str) -> dict[str, str | None] | None:
    match = _SQL_URL.fullmatch(url)
    if match is None:
        return None
    parts = match.groupdict()
    if parts["port"] is not None and not _DIGITS.match(parts["port"]):
        return None
    return parts


def _sql_url(file: SpecFile, path: YPath, spec: SQLSpec, base: Path) -> str | None:
    if (spec.url is None) == (spec.url_env is None):
        which = "both" if spec.url is not None else "neither"
        file.add(
            path,
            "set exactly one of url_env (the environment variable holding the SQLAlchemy URL, "
            f"e.g. url_env: PREDICTIONS_DB_URL) or url (a URL without a password); got {which}",
        )
        return None
    if spec.url_env is not None:
        env_path = (*path, "url_env")
        name = spec.url_env
        if not _ENV_NAME.match(name):
            file.add(env_path, f"{name!r} is not an environment variable name (letters, digits and _)")
            return None
        value = os.environ.get(name)
        if value is None:
            file.add(env_path, f"environment variable {name} is not set")
            return None
        if not value.strip():
            file.add(env_path, f"environment variable {name} is set but empty")
            return None
        if _parse_sql_url(value.strip()) is None:  # never echo the value: it holds a secret
            file.add(
                env_path, f"environment variable {name} must hold a SQLAlchemy URL such as postgresql+psycopg://..."
            )
            return None
        return value.strip()
    assert spec.url is not None
    url_path = (*path, "url")
    url = spec.url.strip()
    parts = _parse_sql_url(url)
    if parts is None:  # not echoed: it may hold a secret
        file.add(url_path, "not a SQLAlchemy URL; use a form such as sqlite:///data/predictions.db")
        return None
    query = parts["query"] or ""
    if parts["password"] is not None or re.search(r"(?:^|&)password=", query, re.IGNORECASE):
        file.add(
            url_path,
            "secrets are not written in configuration files: put the URL in an environment variable "
            "and name it with url_env, e.g. url_env: PREDICTIONS_DB_URL",
        )
        return None
    name, database = parts["name"] or "", parts["database"]
    if name.split("+")[0] == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        return f"{name}:///{_resolve(base, database)}" + (f"?{query}" if parts["query"] is not None else "")
    return url


def _check_query(file: SpecFile, path: YPath, query: str) -> bool:
    if not query.strip():
        file.add(path, "must not be empty")
        return False
    if not _SELECT.match(query):
        file.add(path, "query must be a SELECT statement (it may start with WITH); it may use :start and :end")
        return False
    return True


def _reference(file: SpecFile, path: YPath, spec: ReferenceSpec, base: Path) -> ReferenceData | None:
    if (spec.file is None) == (spec.rolling is None):
        which = "both" if spec.file is not None else "neither"
        file.add(
            path,
            "set exactly one of file (a fixed snapshot such as the training data) or rolling "
            f"(an earlier window of the current data, e.g. rolling: 7d); got {which}",
        )
        return None
    if spec.rolling is not None:
        if spec.version is not None:
            file.add((*path, "version"), "version only applies to a fixed reference file")
            return None
        length = duration_at(file, (*path, "rolling"), spec.rolling)
        return None if length is None else ReferenceData(ReferenceKind.ROLLING, window=length)
    assert spec.file is not None
    file_path = (*path, "file")
    problem = "must not be empty" if not spec.file.strip() else _suffix_problem(Path(spec.file).name)
    resolved = _resolve(base, spec.file) if problem is None else ""
    if problem is None and not Path(resolved).is_file():
        if _GLOB_CHARS & set(spec.file):
            problem = "a reference is one file, not a glob pattern"
        elif Path(resolved).exists():
            problem = f"{resolved} is not a file"
        else:
            problem = f"reference file not found: {resolved}"
    if problem is not None:
        file.add(file_path, problem)
        return None
    version = Path(spec.file).name if spec.version is None else spec.version
    if not version.strip():
        file.add((*path, "version"), "must not be empty; leave the field out to use the file name")
        return None
    return ReferenceData(ReferenceKind.FIXED, path=resolved, version=version)


def _schedule(file: SpecFile, path: YPath, spec: ScheduleSpec | None) -> tuple[timedelta | None, str | None] | None:
    """(interval, cron), exactly one of them set; None after reporting a problem."""
    if spec is None:
        return DEFAULT_INTERVAL, None
    if (spec.interval is None) == (spec.cron is None):
        which = "both" if spec.interval is not None else "neither"
        file.add(path, f'set exactly one of interval (e.g. interval: 1h) or cron (e.g. cron: "0 * * * *"); got {which}')
        return None
    if spec.interval is not None:
        interval = duration_at(file, (*path, "interval"), spec.interval)
        return None if interval is None else (interval, None)
    assert spec.cron is not None
    problem = cron_problem(spec.cron)
    if problem is not None:
        file.add((*path, "cron"), problem)
        return None
    return None, " ".join(spec.cron.split())


_MONTHS = {
    name: i + 1
    for i, name in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
}
_WEEKDAYS = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)


def cron_problem(expr: str) -> str | None:
    """Why `expr` is not a 5-field cron expression (minute hour day-of-month month day-of-week); None if it is."""
    fields = expr.split()
    if len(fields) != 5:
        return (
            f"cron {expr!r} must have 5 fields (minute hour day-of-month month day-of-week), "
            f'e.g. "0 * * * *" for every hour; got {len(fields)}'
        )
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            problem = _cron_part(part, low, high, names)
            if problem is not None:
                return f"cron {expr!r}: {name} {text!r}: {problem}"
    return None


def _cron_part(part: str, low: int, high: int, names: dict[str, int]) -> str | None:
    if not part:
        return "empty item in a list"
    base, slash, step = part.partition("/")
    if slash and not (_DIGITS.match(step) and int(step) >= 1):
        return f"step {step!r} must be a whole number of at least 1"
    if base == "*":
        return None
    first_text, dash, last_text = base.partition("-")
    allowed = f"{low}-{high}" + (f" or {_names_hint(names)}" if names else "")
    first = _cron_value(first_text, low, high, names)
    if first is None:
        return f"{first_text!r} is not a value in {allowed}"
    if dash:
        last = _cron_value(last_text, low, high, names)
        if last is None:
            return f"{last_text!r} is not a value in {allowed}"
        if first > last:
            return f"range {base!r} runs backwards"
    return None


def _names_hint(names: dict[str, int]) -> str:
    keys = list(names)
    return f"{keys[0]}..{keys[-1]}"


def _cron_value(text: str, low: int, high: int, names: dict[str, int]) -> int | None:
    if text.lower() in names:
        return names[text.lower()]
    if _DIGITS.match(text) and low <= int(text) <= high:
        return int(text)
    return None


def _columns(file: SpecFile, path: YPath, spec: ColumnsSpec) -> ColumnSpec | None:
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
    if not _drift_columns(spec):
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


def _drift_settings(file: SpecFile, path: YPath, spec: DriftSpec, columns: ColumnsSpec) -> bool:
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
        if not _drift_column(file, where, column, columns):
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
        if not _drift_column(file, where, column, columns):
            ok = False
        elif not (math.isfinite(threshold) and threshold > 0):
            file.add(where, f"threshold {number_text(threshold)} must be a positive number")
            ok = False
    return ok


def _ground_truth(
    file: SpecFile, path: YPath, spec: GroundTruthSpec, columns: ColumnsSpec, base: Path
) -> GroundTruth | None:
    ok = True
    if columns.id is None:
        file.add(path, "ground_truth needs columns.id: labels are joined to predictions on it")
        ok = False
    if columns.prediction is None:
        file.add(path, "ground_truth needs columns.prediction: the model output the labels are compared with")
        ok = False
    if not spec.label_column.strip():
        file.add((*path, "label_column"), "must not be empty")
        ok = False
    task = TaskKind(spec.task)
    if spec.positive_label is not None and task is TaskKind.REGRESSION:
        file.add((*path, "positive_label"), "positive_label only applies to task classification")
        ok = False
    current = _current(file, path, spec, base)
    if not ok or current is None:
        return None
    return GroundTruth(current=current, label_column=spec.label_column, task=task, positive_label=spec.positive_label)
