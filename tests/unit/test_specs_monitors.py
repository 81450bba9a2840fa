"""The `monitors:` section and the `drift` SLI: conversion into DriftMonitor / DriftSLI, and one table row
per validation rule with the message, the field path and the line it points at."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from slo_service.core.model import Budgeting, BudgetingMethod, Comparison, DriftCheck, DriftSLI, SLIKind
from slo_service.specs import ConfigError, Problem, load_config, validate_files
from slo_service.specs.monitors import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    STAT_TESTS,
    cron_problem,
    glob_problem,
)

REPO = Path(__file__).resolve().parents[2]

BASE = """\
apiVersion: slo-service/v1
services:
  - name: svc
monitors:
  - name: mon
    current:
      files: data/current/*.parquet
      timestamp_column: ts
    reference:
      file: data/reference.csv
    window: 24h
    schedule: {interval: 1h}
    columns:
      numerical: [age, income]
      categorical: [country, device]
      datetime: [ts]
      id: request_id
      prediction: prediction
    drift:
      share: 0.5
      stattests: {income: psi}
      thresholds: {income: 0.2}
    sample_rows: 50000
    timeout: 10m
    ground_truth:
      files: data/labels/*.csv
      label_column: is_fraud
      task: classification
      positive_label: "1"
    max_exported_features: 50
    labels: {team: ml}
slos:
  - service: svc
    name: drift
    objective: 95
    period: 28d
    sli:
      drift: {monitor: mon, check: dataset}
"""

GROUND_TRUTH = """\
    ground_truth:
      files: data/labels/*.csv
      label_column: is_fraud
      task: classification
      positive_label: "1"
"""
DRIFT_SLI = "      drift: {monitor: mon, check: dataset}\n"


def edit(*replacements: tuple[str, str]) -> str:
    text = BASE
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "reference.csv").write_text("request_id,ts,age,income,country,device,prediction\n", encoding="utf-8")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def check(tmp_path: Path, text: str) -> tuple[str, list[Problem]]:
    path = write(tmp_path, text)
    return str(path), validate_files([path])


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


# ---------------------------------------------------------------- conversion


def test_the_base_document_becomes_a_drift_monitor_and_a_drift_sli(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    config = load_config([path])
    assert config.monitors == {
        "mon": DriftMonitor(
            name="mon",
            current=CurrentData(
                CurrentKind.FILES, path=str(tmp_path / "data/current/*.parquet"), timestamp_column="ts"
            ),
            reference=ReferenceData(
                ReferenceKind.FIXED, path=str(tmp_path / "data/reference.csv"), version="reference.csv"
            ),
            columns=ColumnSpec(
                numerical=("age", "income"),
                categorical=("country", "device"),
                datetime=("ts",),
                id="request_id",
                prediction="prediction",
            ),
            window=timedelta(hours=24),
            window_rows=None,
            interval=timedelta(hours=1),
            cron=None,
            stattests={"income": "psi"},
            thresholds={"income": 0.2},
            drift_share=0.5,
            sample_rows=50_000,
            timeout=timedelta(minutes=10),
            ground_truth=GroundTruth(
                current=CurrentData(CurrentKind.FILES, path=str(tmp_path / "data/labels/*.csv")),
                label_column="is_fraud",
                task=TaskKind.CLASSIFICATION,
                positive_label="1",
            ),
            labels={"team": "ml"},
            max_exported_features=50,
        )
    }
    (slo,) = config.slos
    assert slo.sli == DriftSLI(source="mon", check=DriftCheck.DATASET)
    assert slo.sli.kind is SLIKind.DRIFT
    assert slo.budgeting == Budgeting()


def test_defaults_of_a_minimal_monitor(tmp_path: Path) -> None:
    text = """\
apiVersion: slo-service/v1
monitors:
  - name: m
    current: {push: true}
    reference: {rolling: 7d}
    columns: {numerical: [x]}
"""
    (monitor,) = load_config([write(tmp_path, text)]).monitors.values()
    assert monitor == DriftMonitor(
        name="m",
        current=CurrentData(CurrentKind.PUSH),
        reference=ReferenceData(ReferenceKind.ROLLING, window=timedelta(days=7)),
        columns=ColumnSpec(numerical=("x",)),
    )


def test_window_rows_cron_and_version(tmp_path: Path) -> None:
    text = edit(
        ("    window: 24h\n", "    window_rows: 1000\n"),
        ("{interval: 1h}", '{cron: "*/15  9-17 * * mon-fri"}'),
        ("      file: data/reference.csv\n", "      file: data/reference.csv\n      version: train-2026-11\n"),
    )
    monitor = load_config([write(tmp_path, text)]).monitors["mon"]
    assert (monitor.window, monitor.window_rows) == (None, 1000)
    assert (monitor.interval, monitor.cron) == (None, "*/15 9-17 * * mon-fri")
    assert monitor.reference.version == "train-2026-11"


def test_absolute_and_home_paths_are_kept_absolute(tmp_path: Path) -> None:
    ref = tmp_path / "elsewhere" / "ref.parquet"
    ref.parent.mkdir()
    ref.write_bytes(b"")
    text = edit(
        ("files: data/current/*.parquet", "files: /srv/data/*.csv"), ("file: data/reference.csv", f"file: {ref}")
    )
    monitor = load_config([write(tmp_path, text)]).monitors["mon"]
    assert monitor.current.path == "/srv/data/*.csv"
    assert monitor.reference.path == str(ref)
    text = edit(("files: data/current/*.parquet", "files: ~/data/*.csv"))
    monitor = load_config([write(tmp_path, text)]).monitors["mon"]
    assert monitor.current.path == str(Path("~/data/*.csv").expanduser())


def test_paths_are_resolved_against_the_directory_of_the_file_that_names_them(tmp_path: Path) -> None:
    sub = tmp_path / "team"
    sub.mkdir()
    write(sub, BASE)
    config = load_config([tmp_path / "team"])
    assert config.monitors["mon"].reference.path == str(sub / "data" / "reference.csv")


@pytest.mark.parametrize(
    ("metric", "op", "expected_op"),
    [("accuracy", None, Comparison.GE), ("f1", "'>'", Comparison.GT), ("roc_auc", "'<='", Comparison.LE)],
)
def test_quality_sli_for_classification(tmp_path: Path, metric: str, op: str | None, expected_op: Comparison) -> None:
    op_text = f", op: {op}" if op else ""
    sli = f"      drift: {{monitor: mon, check: quality, metric: {metric}{op_text}, value: 0.9}}\n"
    (slo,) = load_config([write(tmp_path, edit((DRIFT_SLI, sli)))]).slos
    assert slo.sli == DriftSLI(source="mon", check=DriftCheck.QUALITY, metric=metric, op=expected_op, value=0.9)


def test_quality_sli_for_regression_defaults_to_at_most(tmp_path: Path) -> None:
    text = edit(
        ("task: classification", "task: regression"),
        ('      positive_label: "1"\n', ""),
        (DRIFT_SLI, "      drift: {monitor: mon, check: quality, metric: mae, value: 12.5}\n"),
    )
    config = load_config([write(tmp_path, text)])
    ground_truth = config.monitors["mon"].ground_truth
    assert ground_truth is not None and ground_truth.task is TaskKind.REGRESSION
    assert config.slos[0].sli == DriftSLI(
        source="mon", check=DriftCheck.QUALITY, metric="mae", op=Comparison.LE, value=12.5
    )


def test_column_and_run_slis_with_timeslices(tmp_path: Path) -> None:
    text = edit(
        (
            DRIFT_SLI,
            "      drift: {monitor: mon, check: column, column: income}\n",
        ),
        ("    period: 28d\n", "    period: 28d\n    budgeting: {method: timeslices, slice: 1h}\n"),
    )
    (slo,) = load_config([write(tmp_path, text)]).slos
    assert slo.sli == DriftSLI(source="mon", check=DriftCheck.COLUMN, column="income")
    assert slo.budgeting.method is BudgetingMethod.TIMESLICES
    text = edit((DRIFT_SLI, "      drift: {monitor: mon, check: run}\n"))
    (slo,) = load_config([write(tmp_path, text)]).slos
    assert slo.sli == DriftSLI(source="mon", check=DriftCheck.RUN)


def test_the_prediction_column_may_be_checked_for_drift(tmp_path: Path) -> None:
    text = edit((DRIFT_SLI, "      drift: {monitor: mon, check: column, column: prediction}\n"))
    assert load_config([write(tmp_path, text)]).slos[0].sli == DriftSLI(
        source="mon", check=DriftCheck.COLUMN, column="prediction"
    )


# ---------------------------------------------------------------- sql: secrets from the environment


SQL = '      sql: {url_env: T_PREDICTIONS_DB, query: "SELECT * FROM predictions WHERE ts >= :start AND ts < :end"}\n'


def test_sql_url_is_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_PREDICTIONS_DB", "postgresql+psycopg://app:s3cret@db:5432/ml")
    text = edit(("      files: data/current/*.parquet\n", SQL))
    current = load_config([write(tmp_path, text)]).monitors["mon"].current
    assert current == CurrentData(
        CurrentKind.SQL,
        url="postgresql+psycopg://app:s3cret@db:5432/ml",
        query="SELECT * FROM predictions WHERE ts >= :start AND ts < :end",
        timestamp_column="ts",
    )


def test_a_literal_url_without_password_is_accepted_and_sqlite_paths_are_resolved(tmp_path: Path) -> None:
    text = edit(
        ("      files: data/current/*.parquet\n", "      sql: {url: 'sqlite:///data/preds.db', query: SELECT 1}\n")
    )
    current = load_config([write(tmp_path, text)]).monitors["mon"].current
    assert current.url == f"sqlite:///{tmp_path / 'data' / 'preds.db'}"
    text = edit(
        (
            "      files: data/current/*.parquet\n",
            '      sql: {url: "postgresql+psycopg://db.internal/ml", '
            'query: "-- window\\nWITH x AS (SELECT 1) SELECT 1"}\n',
        )
    )
    current = load_config([write(tmp_path, text)]).monitors["mon"].current
    assert current.url == "postgresql+psycopg://db.internal/ml"


def test_a_secret_from_the_environment_is_never_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_PREDICTIONS_DB", "not a url s3cret")
    file, problems = check(tmp_path, edit(("      files: data/current/*.parquet\n", SQL)))
    assert [str(p) for p in problems] == [
        f"{file}:7: monitors[0].current.sql.url_env: environment variable T_PREDICTIONS_DB must hold a "
        "SQLAlchemy URL such as postgresql+psycopg://..."
    ]


# ---------------------------------------------------------------- one row per rule

VALID_VARIANTS = [
    [],
    [("files: data/current/*.parquet", "files: data/none-yet/**/*.csv")],  # matching nothing yet is fine
    [("files: data/current/*.parquet", "files: data/current.tsv")],
    [("files: data/current/*.parquet", "files: data/current/*")],
    [("files: data/current/*.parquet", "files: 'data/day=2026-11-[0-3][0-9]/*.pq'")],
    [("      files: data/current/*.parquet\n", "      push: true\n"), ("file: data/reference.csv", "rolling: 7d")],
    [("      files: data/labels/*.csv\n", "      push: true\n")],
    [("{interval: 1h}", '{cron: "0 * * * *"}')],
    [("{interval: 1h}", '{cron: "0 0 1 jan,jul *"}')],
    [("{interval: 1h}", '{cron: "5,35 */2 1-15/2 * 0-7"}')],
    [("share: 0.5", "share: 1")],
    [("sample_rows: 50000", "sample_rows: 100")],
    [("max_exported_features: 50", "max_exported_features: 0")],
    [("stattests: {income: psi}", "stattests: {income: wasserstein, country: TVD, prediction: psi}")],
    [("    window: 24h\n", "")],
    [("    schedule: {interval: 1h}\n", "")],
    [("{interval: 1h}", "{interval: 5m}"), ("timeout: 10m", "timeout: 4m")],
    [(GROUND_TRUTH, "")],
    [(GROUND_TRUTH, ""), ("      id: request_id\n", "")],
    [('      positive_label: "1"\n', "")],
    [(DRIFT_SLI, "      drift: {monitor: mon}\n")],
]


@pytest.mark.parametrize("replacements", VALID_VARIANTS)
def test_valid_variants_have_no_problems(tmp_path: Path, replacements: list[tuple[str, str]]) -> None:
    _, problems = check(tmp_path, edit(*replacements))
    assert problems == [], "\n".join(str(p) for p in problems)


def _sli(body: str) -> tuple[str, str]:
    return (DRIFT_SLI, f"      drift: {{{body}}}\n")


# (id, replacements, text on the line the problem points at, field, phrase in the message)
CASES: list[tuple[str, list[tuple[str, str]], str, str, str]] = [
    # ---- structure
    (
        "unknown-monitor-field",
        [("    window: 24h", "    windw: 24h")],
        "windw:",
        "monitors[0].windw",
        "unknown field 'windw' (did you mean 'window'?); allowed fields: name, current, reference, columns, window,",
    ),
    (
        "unknown-current-field",
        [("      timestamp_column: ts\n", "      timestamp_column: ts\n      format: csv\n")],
        "format: csv",
        "monitors[0].current.format",
        "unknown field 'format'; allowed fields: files, sql, push, timestamp_column",
    ),
    (
        "unknown-ground-truth-field",
        [("      label_column: is_fraud\n", "      label_column: is_fraud\n      labels_colum: x\n")],
        "labels_colum:",
        "monitors[0].ground_truth.labels_colum",
        "unknown field 'labels_colum' (did you mean 'label_column'?); allowed fields: files, sql, push, "
        "timestamp_column, label_column, task, positive_label",
    ),
    (
        "unknown-drift-field",
        [("      share: 0.5", "      shares: 0.5")],
        "shares:",
        "monitors[0].drift.shares",
        "unknown field 'shares' (did you mean 'share'?); allowed fields: share, stattests, thresholds",
    ),
    (
        "monitor-not-a-mapping",
        [("  - name: mon\n", "  - mon\n  - name: mon\n")],
        "  - mon",
        "monitors[0]",
        "expected a mapping, got str 'mon'",
    ),
    (
        "monitors-not-a-list",
        [(BASE[BASE.index("monitors:") :], "monitors: {}\n")],
        "monitors:",
        "monitors",
        "Input should be a valid list",
    ),
    (
        "invalid-name",
        [("  - name: mon", "  - name: Mon"), ("monitor: mon", "monitor: Mon")],
        "name: Mon",
        "monitors[0].name",
        "invalid name 'Mon'",
    ),
    (
        "reserved-label",
        [("labels: {team: ml}", "labels: {slo: x}")],
        "labels:",
        "monitors[0].labels.slo",
        "label name 'slo' is reserved",
    ),
    # ---- current
    (
        "current-files-and-sql",
        [("      timestamp_column: ts\n", "      sql: {url_env: X, query: SELECT 1}\n")],
        "current:",
        "monitors[0].current",
        "set exactly one of files (a path or glob of CSV / Parquet files), sql ({url_env, query}) or push: true; "
        "got files and sql",
    ),
    (
        "current-files-and-push",
        [("      timestamp_column: ts\n", "      push: true\n")],
        "current:",
        "monitors[0].current",
        "got files and push",
    ),
    ("current-neither", [("      files: data/current/*.parquet\n", "")], "current:", "monitors[0].current", "got none"),
    (
        "current-push-false",
        [("      files: data/current/*.parquet\n", "      push: false\n")],
        "current:",
        "monitors[0].current",
        "got none",
    ),
    (
        "push-not-bool",
        [("      files: data/current/*.parquet\n", "      push: yes please\n")],
        "push:",
        "monitors[0].current.push",
        "expected true or false, got str 'yes please'",
    ),
    (
        "glob-empty",
        [("files: data/current/*.parquet", "files: ''")],
        "files:",
        "monitors[0].current.files",
        "must not be empty",
    ),
    (
        "glob-unclosed-bracket",
        [("files: data/current/*.parquet", "files: data/[ab.parquet")],
        "files:",
        "monitors[0].current.files",
        "unclosed '[' in pattern 'data/[ab.parquet'",
    ),
    (
        "glob-partial-double-star",
        [("files: data/current/*.parquet", "files: data/**.parquet")],
        "files:",
        "monitors[0].current.files",
        "'**' must be a whole path component, as in data/**/*.parquet",
    ),
    (
        "glob-directory",
        [("files: data/current/*.parquet", "files: data/current/")],
        "files:",
        "monitors[0].current.files",
        "'data/current/' names a directory; name the files, e.g. data/current/*.parquet",
    ),
    (
        "glob-bad-format",
        [("files: data/current/*.parquet", "files: data/current/*.json")],
        "files:",
        "monitors[0].current.files",
        "unsupported data format '.json': use Parquet (.parquet, .pq) or CSV (.csv, .tsv, .csv.gz) files",
    ),
    (
        "timestamp-column-empty",
        [("timestamp_column: ts", "timestamp_column: ''")],
        "timestamp_column:",
        "monitors[0].current.timestamp_column",
        "must not be empty",
    ),
    # ---- sql
    (
        "sql-literal-url-with-password",
        [
            (
                "      files: data/current/*.parquet\n",
                "      sql:\n        url: postgresql://app:hunter2@db/ml\n        query: SELECT 1\n",
            )
        ],
        "url: postgresql",
        "monitors[0].current.sql.url",
        "secrets are not written in configuration files: put the URL in an environment variable and name it with "
        "url_env, e.g. url_env: PREDICTIONS_DB_URL",
    ),
    (
        "sql-url-and-url-env",
        [("      files: data/current/*.parquet\n", "      sql: {url: 'sqlite://', url_env: X, query: SELECT 1}\n")],
        "sql:",
        "monitors[0].current.sql",
        "set exactly one of url_env (the environment variable holding the SQLAlchemy URL, e.g. url_env: "
        "PREDICTIONS_DB_URL) or url (a URL without a password); got both",
    ),
    (
        "sql-neither-url",
        [("      files: data/current/*.parquet\n", "      sql: {query: SELECT 1}\n")],
        "sql:",
        "monitors[0].current.sql",
        "got neither",
    ),
    (
        "sql-env-unset",
        [("      files: data/current/*.parquet\n", "      sql: {url_env: T_UNSET_DB_URL_42, query: SELECT 1}\n")],
        "sql:",
        "monitors[0].current.sql.url_env",
        "environment variable T_UNSET_DB_URL_42 is not set",
    ),
    (
        "sql-env-bad-name",
        [("      files: data/current/*.parquet\n", "      sql: {url_env: my-db, query: SELECT 1}\n")],
        "sql:",
        "monitors[0].current.sql.url_env",
        "'my-db' is not an environment variable name (letters, digits and _)",
    ),
    (
        "sql-not-a-url",
        [("      files: data/current/*.parquet\n", "      sql: {url: 'not a url', query: SELECT 1}\n")],
        "sql:",
        "monitors[0].current.sql.url",
        "not a SQLAlchemy URL; use a form such as sqlite:///data/predictions.db",
    ),
    (
        "sql-query-missing",
        [("      files: data/current/*.parquet\n", "      sql: {url: 'sqlite://'}\n")],
        "sql:",
        "monitors[0].current.sql.query",
        "required field is missing",
    ),
    (
        "sql-query-empty",
        [("      files: data/current/*.parquet\n", "      sql: {url: 'sqlite://', query: ' '}\n")],
        "sql:",
        "monitors[0].current.sql.query",
        "must not be empty",
    ),
    (
        "sql-query-not-select",
        [("      files: data/current/*.parquet\n", "      sql: {url: 'sqlite://', query: DELETE FROM t}\n")],
        "sql:",
        "monitors[0].current.sql.query",
        "query must be a SELECT statement (it may start with WITH); it may use :start and :end",
    ),
    # ---- reference
    (
        "reference-both",
        [("      file: data/reference.csv\n", "      file: data/reference.csv\n      rolling: 7d\n")],
        "reference:",
        "monitors[0].reference",
        "set exactly one of file (a fixed snapshot such as the training data) or rolling (an earlier window of the "
        "current data, e.g. rolling: 7d); got both",
    ),
    (
        "reference-neither",
        [("      file: data/reference.csv\n", "      version: v1\n")],
        "reference:",
        "monitors[0].reference",
        "got neither",
    ),
    (
        "reference-file-missing",
        [("file: data/reference.csv", "file: data/missing.csv")],
        "file: data/missing.csv",
        "monitors[0].reference.file",
        "reference file not found: {dir}/data/missing.csv",
    ),
    (
        "reference-file-is-a-directory",
        [("file: data/reference.csv", "file: data")],
        "file: data",
        "monitors[0].reference.file",
        "{dir}/data is not a file",
    ),
    (
        "reference-file-glob",
        [("file: data/reference.csv", "file: data/*.csv")],
        "file: data",
        "monitors[0].reference.file",
        "a reference is one file, not a glob pattern",
    ),
    (
        "reference-file-format",
        [("file: data/reference.csv", "file: data/reference.xlsx")],
        "file: data",
        "monitors[0].reference.file",
        "unsupported data format '.xlsx'",
    ),
    (
        "reference-version-with-rolling",
        [("      file: data/reference.csv\n", "      rolling: 7d\n      version: v2\n")],
        "version: v2",
        "monitors[0].reference.version",
        "version only applies to a fixed reference file",
    ),
    (
        "reference-rolling-bad",
        [("      file: data/reference.csv\n", "      rolling: 7days\n")],
        "rolling:",
        "monitors[0].reference.rolling",
        "invalid duration '7days'",
    ),
    (
        "reference-version-empty",
        [("      file: data/reference.csv\n", "      file: data/reference.csv\n      version: ''\n")],
        "version:",
        "monitors[0].reference.version",
        "must not be empty; leave the field out to use the file name",
    ),
    # ---- window, schedule, timeout
    (
        "window-and-window-rows",
        [("    window: 24h\n", "    window: 24h\n    window_rows: 1000\n")],
        "window_rows:",
        "monitors[0].window_rows",
        "set one of window (a duration such as 24h) or window_rows; got both",
    ),
    (
        "window-rows-zero",
        [("    window: 24h\n", "    window_rows: 0\n")],
        "window_rows:",
        "monitors[0].window_rows",
        "window_rows 0 must be at least 1",
    ),
    (
        "window-rows-float",
        [("    window: 24h\n", "    window_rows: 1.5\n")],
        "window_rows:",
        "monitors[0].window_rows",
        "Input should be a valid integer",
    ),
    (
        "window-not-a-string",
        [("    window: 24h\n", "    window: 24\n")],
        "window:",
        "monitors[0].window",
        "expected a duration with a unit such as 15s, 5m or 7d; got int 24",
    ),
    (
        "window-bad",
        [("    window: 24h\n", "    window: 1 day\n")],
        "window:",
        "monitors[0].window",
        "invalid duration '1 day'",
    ),
    (
        "schedule-both",
        [("{interval: 1h}", '{interval: 1h, cron: "0 * * * *"}')],
        "schedule:",
        "monitors[0].schedule",
        'set exactly one of interval (e.g. interval: 1h) or cron (e.g. cron: "0 * * * *"); got both',
    ),
    ("schedule-neither", [("{interval: 1h}", "{}")], "schedule:", "monitors[0].schedule", "got neither"),
    (
        "cron-four-fields",
        [("{interval: 1h}", '{cron: "0 * * *"}')],
        "schedule:",
        "monitors[0].schedule.cron",
        "cron '0 * * *' must have 5 fields (minute hour day-of-month month day-of-week), e.g. \"0 * * * *\" for "
        "every hour; got 4",
    ),
    (
        "cron-macro",
        [("{interval: 1h}", '{cron: "@hourly"}')],
        "schedule:",
        "monitors[0].schedule.cron",
        "must have 5 fields",
    ),
    (
        "cron-minute-out-of-range",
        [("{interval: 1h}", '{cron: "60 * * * *"}')],
        "schedule:",
        "monitors[0].schedule.cron",
        "cron '60 * * * *': minute '60': '60' is not a value in 0-59",
    ),
    (
        "cron-zero-step",
        [("{interval: 1h}", '{cron: "*/0 * * * *"}')],
        "schedule:",
        "monitors[0].schedule.cron",
        "minute '*/0': step '0' must be a whole number of at least 1",
    ),
    (
        "cron-backwards-range",
        [("{interval: 1h}", '{cron: "0 5-2 * * *"}')],
        "schedule:",
        "monitors[0].schedule.cron",
        "hour '5-2': range '5-2' runs backwards",
    ),
    (
        "cron-bad-weekday",
        [("{interval: 1h}", '{cron: "0 0 * * funday"}')],
        "schedule:",
        "monitors[0].schedule.cron",
        "day of week 'funday': 'funday' is not a value in 0-7 or sun..sat",
    ),
    (
        "cron-day-zero",
        [("{interval: 1h}", '{cron: "0 0 0 * *"}')],
        "schedule:",
        "monitors[0].schedule.cron",
        "day of month '0': '0' is not a value in 1-31",
    ),
    (
        "cron-empty-list-item",
        [("{interval: 1h}", '{cron: "0 0 1,,2 * *"}')],
        "schedule:",
        "monitors[0].schedule.cron",
        "empty item in a list",
    ),
    (
        "timeout-zero",
        [("timeout: 10m", "timeout: 0s")],
        "timeout:",
        "monitors[0].timeout",
        "duration '0s' must be positive",
    ),
    (
        "timeout-not-shorter-than-interval",
        [("timeout: 10m", "timeout: 1h")],
        "timeout:",
        "monitors[0].timeout",
        "timeout 1h must be shorter than the schedule interval 1h",
    ),
    (
        "default-timeout-longer-than-interval",
        [("    timeout: 10m\n", ""), ("{interval: 1h}", "{interval: 5m}")],
        "schedule:",
        "monitors[0].schedule",
        "timeout 10m (the default) must be shorter than the schedule interval 5m",
    ),
    # ---- columns and drift settings
    (
        "column-in-two-roles",
        [("categorical: [country, device]", "categorical: [country, device, age]")],
        "categorical:",
        "monitors[0].columns.categorical[2]",
        "column 'age' is listed as numerical and as categorical; give each column one role",
    ),
    (
        "column-twice-in-one-role",
        [("numerical: [age, income]", "numerical: [age, income, age]")],
        "numerical:",
        "monitors[0].columns.numerical[2]",
        "column 'age' is listed twice in numerical",
    ),
    (
        "id-also-a-feature",
        [("id: request_id", "id: income")],
        "id:",
        "monitors[0].columns.id",
        "column 'income' is listed as numerical and as id",
    ),
    (
        "column-name-empty",
        [("categorical: [country, device]", "categorical: [country, '']")],
        "categorical:",
        "monitors[0].columns.categorical[1]",
        "column name must not be empty",
    ),
    (
        "columns-not-a-list",
        [("numerical: [age, income]", "numerical: age")],
        "numerical:",
        "monitors[0].columns.numerical",
        "Input should be a valid list",
    ),
    (
        "stattest-unknown-column",
        [("stattests: {income: psi}", "stattests: {incme: psi}")],
        "stattests:",
        "monitors[0].drift.stattests.incme",
        "column 'incme' is not in the monitor's column mapping; columns checked for drift: age, income, country, "
        "device, prediction",
    ),
    (
        "stattest-on-datetime-column",
        [("stattests: {income: psi}", "stattests: {ts: psi}")],
        "stattests:",
        "monitors[0].drift.stattests.ts",
        "column 'ts' is the monitor's datetime column, which is not checked for drift",
    ),
    (
        "stattest-unknown-name",
        [("stattests: {income: psi}", "stattests: {income: psii}")],
        "stattests:",
        "monitors[0].drift.stattests.income",
        "unknown stat test 'psii'; Evidently's stat tests: wasserstein, psi, jensenshannon, ks, chisquare, z, "
        "kl_div, hellinger, anderson, cramer_von_mises, empirical_mmd, t_test, mannw, ed, es, fisher_exact, g_test, "
        "TVD, perc_text_content_drift, abs_text_content_drift",
    ),
    (
        "stattest-wrong-kind",
        [("stattests: {income: psi}", "stattests: {income: chisquare}")],
        "stattests:",
        "monitors[0].drift.stattests.income",
        "stat test 'chisquare' applies to categorical columns; 'income' is numerical",
    ),
    (
        "threshold-unknown-column",
        [("thresholds: {income: 0.2}", "thresholds: {request_id: 0.2}")],
        "thresholds:",
        "monitors[0].drift.thresholds.request_id",
        "column 'request_id' is the monitor's id column, which is not checked for drift",
    ),
    (
        "threshold-not-positive",
        [("thresholds: {income: 0.2}", "thresholds: {income: 0}")],
        "thresholds:",
        "monitors[0].drift.thresholds.income",
        "threshold 0 must be a positive number",
    ),
    (
        "threshold-not-a-number",
        [("thresholds: {income: 0.2}", "thresholds: {income: '0.2'}")],
        "thresholds:",
        "monitors[0].drift.thresholds.income",
        "expected a number, got str '0.2'",
    ),
    (
        "share-zero",
        [("share: 0.5", "share: 0")],
        "share:",
        "monitors[0].drift.share",
        "share 0 must be greater than 0 and at most 1 (the dataset drifted when at least this share of its columns "
        "drifted)",
    ),
    (
        "share-above-one",
        [("share: 0.5", "share: 1.5")],
        "share:",
        "monitors[0].drift.share",
        "share 1.5 must be greater than 0 and at most 1",
    ),
    (
        "sample-rows-too-few",
        [("sample_rows: 50000", "sample_rows: 99")],
        "sample_rows:",
        "monitors[0].sample_rows",
        "sample_rows 99 must be at least 100: drift tests on fewer rows are noise",
    ),
    (
        "max-exported-features-negative",
        [("max_exported_features: 50", "max_exported_features: -1")],
        "max_exported_features:",
        "monitors[0].max_exported_features",
        "max_exported_features -1 must be 0 (export no per-feature series) or more",
    ),
    # ---- ground truth
    (
        "ground-truth-without-id",
        [("      id: request_id\n", "")],
        "ground_truth:",
        "monitors[0].ground_truth",
        "ground_truth needs columns.id: labels are joined to predictions on it",
    ),
    (
        "ground-truth-without-prediction",
        [("      prediction: prediction\n", "")],
        "ground_truth:",
        "monitors[0].ground_truth",
        "ground_truth needs columns.prediction: the model output the labels are compared with",
    ),
    (
        "ground-truth-without-source",
        [("      files: data/labels/*.csv\n", "")],
        "ground_truth:",
        "monitors[0].ground_truth",
        "set exactly one of files",
    ),
    (
        "ground-truth-bad-glob",
        [("files: data/labels/*.csv", "files: data/labels/*.txt")],
        "files: data/labels",
        "monitors[0].ground_truth.files",
        "unsupported data format '.txt'",
    ),
    (
        "ground-truth-label-column-missing",
        [("      label_column: is_fraud\n", "")],
        "ground_truth:",
        "monitors[0].ground_truth.label_column",
        "required field is missing",
    ),
    (
        "ground-truth-bad-task",
        [("task: classification", "task: ranking")],
        "task:",
        "monitors[0].ground_truth.task",
        "Input should be 'classification' or 'regression'; got str 'ranking'",
    ),
    (
        "ground-truth-positive-label-regression",
        [("task: classification", "task: regression")],
        "positive_label:",
        "monitors[0].ground_truth.positive_label",
        "positive_label only applies to task classification",
    ),
    (
        "ground-truth-positive-label-unquoted",
        [('positive_label: "1"', "positive_label: 1")],
        "positive_label:",
        "monitors[0].ground_truth.positive_label",
        'expected a string, got int 1; quote it, e.g. "1"',
    ),
    # ---- the drift SLI
    (
        "sli-unknown-monitor",
        [_sli("monitor: mn, check: dataset")],
        "drift: {",
        "slos[0].sli.drift.monitor",
        "unknown monitor 'mn'; known monitors: mon",
    ),
    (
        "sli-unknown-check",
        [_sli("monitor: mon, check: columns")],
        "drift: {",
        "slos[0].sli.drift.check",
        "Input should be 'dataset', 'column', 'quality' or 'run'; got str 'columns'",
    ),
    (
        "sli-column-missing",
        [_sli("monitor: mon, check: column")],
        "drift: {",
        "slos[0].sli.drift",
        "check column needs column, e.g. column: income",
    ),
    (
        "sli-column-not-mapped",
        [_sli("monitor: mon, check: column, column: zip")],
        "drift: {",
        "slos[0].sli.drift.column",
        "column 'zip' is not in the monitor's column mapping; columns checked for drift: age, income, country, "
        "device, prediction",
    ),
    (
        "sli-column-is-id",
        [_sli("monitor: mon, check: column, column: request_id")],
        "drift: {",
        "slos[0].sli.drift.column",
        "column 'request_id' is the monitor's id column",
    ),
    (
        "sli-column-with-dataset-check",
        [_sli("monitor: mon, check: dataset, column: age")],
        "drift: {",
        "slos[0].sli.drift.column",
        "column only applies to check: column",
    ),
    (
        "sli-metric-with-run-check",
        [_sli("monitor: mon, check: run, metric: f1")],
        "drift: {",
        "slos[0].sli.drift.metric",
        "metric only applies to check: quality",
    ),
    (
        "sli-op-with-column-check",
        [_sli("monitor: mon, check: column, column: age, op: '<'")],
        "drift: {",
        "slos[0].sli.drift.op",
        "op only applies to check: quality",
    ),
    (
        "sli-quality-without-metric",
        [_sli("monitor: mon, check: quality, value: 0.9")],
        "drift: {",
        "slos[0].sli.drift",
        "check quality needs metric, e.g. metric: accuracy",
    ),
    (
        "sli-quality-without-value",
        [_sli("monitor: mon, check: quality, metric: f1")],
        "drift: {",
        "slos[0].sli.drift",
        "check quality needs value, e.g. value: 0.9",
    ),
    (
        "sli-quality-metric-of-other-task",
        [_sli("monitor: mon, check: quality, metric: mae, value: 3")],
        "drift: {",
        "slos[0].sli.drift.metric",
        "unknown metric 'mae' (monitor 'mon' has task classification); classification metrics: accuracy, precision, "
        "recall, f1, roc_auc",
    ),
    (
        "sli-quality-unknown-metric",
        [_sli("monitor: mon, check: quality, metric: auc, value: 0.8")],
        "drift: {",
        "slos[0].sli.drift.metric",
        "unknown metric 'auc'; classification metrics: accuracy, precision, recall, f1, roc_auc",
    ),
    (
        "sli-quality-regression-metric-unknown",
        [
            ("task: classification", "task: regression"),
            ('      positive_label: "1"\n', ""),
            _sli("monitor: mon, check: quality, metric: f1, value: 0.8"),
        ],
        "drift: {",
        "slos[0].sli.drift.metric",
        "unknown metric 'f1' (monitor 'mon' has task regression); regression metrics: mae, rmse, mape",
    ),
    (
        "sli-quality-without-ground-truth",
        [(GROUND_TRUTH, ""), _sli("monitor: mon, check: quality, metric: f1, value: 0.8")],
        "drift: {",
        "slos[0].sli.drift.check",
        "check quality needs labels: monitor 'mon' has no ground_truth (late labels joined on columns.id)",
    ),
    (
        "sli-quality-value-not-a-share",
        [_sli("monitor: mon, check: quality, metric: accuracy, value: 90")],
        "drift: {",
        "slos[0].sli.drift.value",
        "value 90 must be between 0 and 1: accuracy is a share",
    ),
    (
        "sli-quality-negative-error",
        [
            ("task: classification", "task: regression"),
            ('      positive_label: "1"\n', ""),
            _sli("monitor: mon, check: quality, metric: rmse, value: -1"),
        ],
        "drift: {",
        "slos[0].sli.drift.value",
        "value -1 must not be negative: rmse is an error",
    ),
    (
        "sli-quality-value-infinite",
        [_sli("monitor: mon, check: quality, metric: accuracy, value: .inf")],
        "drift: {",
        "slos[0].sli.drift.value",
        "value inf must be a finite number",
    ),
    (
        "sli-drift-and-ratio",
        [(DRIFT_SLI, DRIFT_SLI + "      ratio: {source: x, total: y, good: z}\n")],
        "sli:",
        "slos[0].sli",
        "set exactly one SLI kind: ratio, latency, threshold or drift; got ratio and drift",
    ),
    (
        "sli-none",
        [(DRIFT_SLI, "      {}\n")],
        "sli:",
        "slos[0].sli",
        "set exactly one SLI kind: ratio, latency or threshold; got none (or drift, for a monitor)",
    ),
]


@pytest.mark.parametrize(("replacements", "at", "field", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_reports_one_problem_at_its_field_and_line(
    tmp_path: Path, replacements: list[tuple[str, str]], at: str, field: str, phrase: str
) -> None:
    text = edit(*replacements)
    file, problems = check(tmp_path, text)
    assert len(problems) == 1, "\n".join(str(p) for p in problems)
    problem = problems[0]
    line = line_of(text, at)
    assert (problem.file, problem.line, problem.field) == (file, line, field)
    assert phrase.replace("{dir}", str(tmp_path)) in problem.message
    assert str(problem) == f"{file}:{line}: {field}: {problem.message}"


def test_case_ids_are_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_columns_with_nothing_to_check_for_drift(tmp_path: Path) -> None:
    text = edit(
        (GROUND_TRUTH, ""),
        ("      numerical: [age, income]\n      categorical: [country, device]\n", ""),
        ("      prediction: prediction\n", ""),
        ("    drift:\n      share: 0.5\n      stattests: {income: psi}\n      thresholds: {income: 0.2}\n", ""),
    )
    file, problems = check(tmp_path, text)
    assert [str(p) for p in problems] == [
        f"{file}:{line_of(text, 'columns:')}: monitors[0].columns: no column to check for drift: list numerical, "
        "categorical or text columns, or a target or prediction"
    ]


def test_several_problems_in_one_monitor_are_all_reported(tmp_path: Path) -> None:
    text = edit(("share: 0.5", "share: 2"), ("sample_rows: 50000", "sample_rows: 5"), ("{interval: 1h}", '{cron: "x"}'))
    _, problems = check(tmp_path, text)
    assert [p.field for p in problems] == [
        "monitors[0].schedule.cron",
        "monitors[0].drift.share",
        "monitors[0].sample_rows",
    ]


def test_an_invalid_monitor_is_still_known_to_slos(tmp_path: Path) -> None:
    _, problems = check(tmp_path, edit(("sample_rows: 50000", "sample_rows: 5")))
    assert [p.field for p in problems] == ["monitors[0].sample_rows"]  # no "unknown monitor" for the SLO


def test_source_instead_of_monitor_in_a_drift_sli(tmp_path: Path) -> None:
    text = edit(_sli("source: mon, check: run"))
    file, problems = check(tmp_path, text)
    line = line_of(text, "drift: {")
    assert [str(p) for p in problems] == [
        f"{file}:{line}: slos[0].sli.drift.monitor: required field is missing",
        f"{file}:{line}: slos[0].sli.drift.source: unknown field 'source'; allowed fields: monitor, check, column, "
        "metric, op, value",
    ]


@pytest.mark.parametrize(
    "url", ["postgresql://app:hunter2@db/ml", "postgresql://app@db/ml?sslmode=require&password=hunter2"]
)
def test_a_password_in_a_literal_url_is_refused(tmp_path: Path, url: str) -> None:
    sql = f"      sql: {{url: '{url}', query: SELECT 1}}\n"
    _, problems = check(tmp_path, edit(("      files: data/current/*.parquet\n", sql)))
    assert [p.field for p in problems] == ["monitors[0].current.sql.url"]
    assert problems[0].message.startswith("secrets are not written in configuration files")


def test_a_literal_secret_is_never_echoed(tmp_path: Path) -> None:
    sql = "      sql: {url: 'postgresql://app:hunter2@db/ml', query: SELECT 1}\n"
    _, problems = check(tmp_path, edit(("      files: data/current/*.parquet\n", sql)))
    assert len(problems) == 1 and "hunter2" not in str(problems[0])


# ---------------------------------------------------------------- across files

OTHER = """\
apiVersion: slo-service/v1
monitors:
  - name: mon
    current: {push: true}
    reference: {rolling: 7d}
    columns: {numerical: [x]}
"""


def test_duplicate_monitor_names_across_files(tmp_path: Path) -> None:
    first = write(tmp_path, BASE, "a.yaml")
    second = write(tmp_path, OTHER, "b.yaml")
    problems = validate_files([first, second])
    assert [str(p) for p in problems] == [
        f"{second}:3: monitors[0].name: duplicate monitor name 'mon'; first defined at {first}:5"
    ]


def test_duplicate_monitor_names_in_one_file(tmp_path: Path) -> None:
    text = BASE.replace("slos:\n", OTHER[OTHER.index("  - name: mon") :] + "slos:\n")
    file, problems = check(tmp_path, text)
    assert [str(p) for p in problems] == [
        f"{file}:{line_of(text, 'current: {push: true}') - 1}: monitors[1].name: duplicate monitor name 'mon'; "
        f"first defined at {file}:5"
    ]


def test_an_slo_may_use_a_monitor_of_another_file(tmp_path: Path) -> None:
    monitors = write(tmp_path, OTHER.replace("name: mon", "name: elsewhere"), "monitors.yaml")
    slos = write(tmp_path, edit(_sli("monitor: elsewhere, check: column, column: x")), "slos.yaml")
    config = load_config([slos, monitors])
    assert set(config.monitors) == {"mon", "elsewhere"}
    assert config.slos[0].sli == DriftSLI(source="elsewhere", check=DriftCheck.COLUMN, column="x")
    problems = validate_files([write(tmp_path, edit(_sli("monitor: elsewhere, check: column, column: y")), "s.yaml")])
    assert any("known monitors: mon" in p.message for p in problems)


def test_unknown_monitor_is_not_reported_when_another_file_is_unreadable(tmp_path: Path) -> None:
    slos = write(tmp_path, edit(_sli("monitor: elsewhere, check: run")), "slos.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: slo-service/v1\nmonitors: [\n", encoding="utf-8")
    problems = validate_files([slos, broken])
    assert [p.field for p in problems] == ["(yaml)"]


def test_a_config_without_monitors_has_none(tmp_path: Path) -> None:
    config = load_config([REPO / "examples" / "slo-service.yaml"])
    assert config.monitors == {}


def test_load_config_raises_with_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, edit(("share: 0.5", "share: 2"), _sli("monitor: nope")))
    with pytest.raises(ConfigError) as info:
        load_config([path])
    assert [p.field for p in info.value.problems] == ["monitors[0].drift.share", "slos[0].sli.drift.monitor"]


# ---------------------------------------------------------------- helpers and the example


@pytest.mark.parametrize(
    "expr",
    [
        "* * * * *",
        "0 * * * *",
        "*/5 * * * *",
        "0 9-17/2 * * 1-5",
        "0 0 1 JAN,Jul *",
        "30 2 * * sun",
        "0 0 31 12 7",
        "1/10 * * * *",
    ],
)
def test_valid_cron_expressions(expr: str) -> None:
    assert cron_problem(expr) is None


@pytest.mark.parametrize(
    ("expr", "phrase"),
    [
        ("", "got 0"),
        ("* * * * * *", "got 6"),
        ("0 24 * * *", "hour '24': '24' is not a value in 0-23"),
        ("0 0 * 13 *", "month '13': '13' is not a value in 1-12 or jan..dec"),
        ("0 0 * * 8", "'8' is not a value in 0-7 or sun..sat"),
        ("0 0 * * mon-sun", "range 'mon-sun' runs backwards"),
        ("-1 * * * *", "'' is not a value in 0-59"),
        ("*/x * * * *", "step 'x' must be a whole number of at least 1"),
        ("? * * * *", "'?' is not a value in 0-59"),
        ("\u0661 * * * *", "is not a value in 0-59"),  # a non-ASCII digit
    ],
)
def test_invalid_cron_expressions(expr: str, phrase: str) -> None:
    problem = cron_problem(expr)
    assert problem is not None and phrase in problem


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        ("data/*.parquet", True),
        ("data/**/*.csv", True),
        ("data/x.CSV", True),
        ("data/x.csv.gz", True),
        ("data/part-*", True),
        ("data/[0-9]*.pq", True),
        (".hidden", True),
        ("data/x.json", False),
        ("data/[x.csv", False),
        ("a**/x.csv", False),
        ("   ", False),
        ("data/", False),
    ],
)
def test_glob_problem(pattern: str, ok: bool) -> None:
    assert (glob_problem(pattern) is None) is ok


def test_stat_tests_match_evidentlys_registry() -> None:
    registry = pytest.importorskip("evidently.legacy.calculations.stattests.registry")
    kinds = {"num": "numerical", "cat": "categorical", "text": "text"}
    actual = {
        name: frozenset(kinds[str(t.value)] for t in by_type)
        for name, by_type in registry._registered_stat_tests.items()
    }
    assert actual == STAT_TESTS


def test_the_example_is_valid_and_its_data_is_tiny() -> None:
    example = REPO / "examples" / "drift" / "monitors.yaml"
    config = load_config([example])
    monitor = config.monitors["fraud-features"]
    data = example.parent / "data"
    assert monitor.reference.path == str(data / "reference.csv")
    assert monitor.current.path == str(data / "current*.csv")
    assert {s.sli.check for s in config.slos if isinstance(s.sli, DriftSLI)} == set(DriftCheck)
    mapped = {*monitor.columns.numerical, *monitor.columns.categorical, *monitor.columns.datetime}
    mapped |= {c for c in (monitor.columns.id, monitor.columns.prediction) if c is not None}
    for name in ("reference.csv", "current.csv"):
        with (data / name).open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert 40 <= len(rows) <= 60
        assert mapped <= set(rows[0])
    with (data / "labels.csv").open(encoding="utf-8") as f:
        assert {"request_id", "is_fraud"} <= set(next(csv.DictReader(f)))
    assert validate_files([REPO / "examples" / "drift", REPO / "examples" / "slo-service.yaml"]) == []


def test_quality_metrics_match_the_model_quality_module() -> None:
    quality = pytest.importorskip("slo_service.core.drift.model_quality")
    assert (quality.CLASSIFICATION_METRICS, quality.REGRESSION_METRICS) == (CLASSIFICATION_METRICS, REGRESSION_METRICS)


_KEYS = [
    "name",
    "current",
    "reference",
    "columns",
    "window",
    "window_rows",
    "schedule",
    "drift",
    "sample_rows",
    "timeout",
    "ground_truth",
    "files",
    "sql",
    "push",
    "url",
    "url_env",
    "query",
    "file",
    "rolling",
    "version",
    "interval",
    "cron",
    "numerical",
    "categorical",
    "id",
    "prediction",
    "share",
    "stattests",
    "thresholds",
    "label_column",
    "task",
    "income",
    "monitor",
    "check",
    "column",
    "metric",
    "value",
]
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["1h", "0s", "data/*.csv", "~x/y.csv", "* * * * *", "sqlite://", "psi", "mon", "quality"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5)),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(monitor=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=8), sli=_VALUES)
def test_any_monitor_or_drift_sli_yields_problems_not_exceptions(tmp_path: Path, monitor: object, sli: object) -> None:
    import json

    doc = {
        "apiVersion": "slo-service/v1",
        "services": [{"name": "svc"}],
        "monitors": [monitor],
        "slos": [{"service": "svc", "name": "s", "objective": 99, "period": "28d", "sli": {"drift": sli}}],
    }
    path = tmp_path / "fuzz.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    problems = validate_files([path])
    assert all(isinstance(p, Problem) and "internal error" not in p.message for p in problems)
