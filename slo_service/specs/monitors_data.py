"""The data a monitor reads: current data (files, SQL, push), its reference and late ground-truth labels."""

from __future__ import annotations

import contextlib
import os
import re
from datetime import timedelta
from pathlib import Path

from slo_service.core.drift.monitor import CurrentData, CurrentKind, GroundTruth, ReferenceData, ReferenceKind, TaskKind
from slo_service.specs.alerting_receivers import secret_from_env
from slo_service.specs.checks import duration_at
from slo_service.specs.monitors_patterns import GLOB_CHARS, glob_problem, suffix_problem
from slo_service.specs.monitors_schema import ColumnsSpec, CurrentSpec, GroundTruthSpec, ReferenceSpec, SQLSpec
from slo_service.specs.problems import SpecFile
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["current_data", "ground_truth_data", "reference_data"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SELECT = re.compile(r"^\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*(select|with)\b", re.IGNORECASE | re.DOTALL)
_DIGITS = re.compile(r"^[0-9]+$")


def _resolve(base: Path, text: str) -> str:
    """`text` as an absolute, normalised path; relative paths start at the config file's directory."""
    path = Path(text)
    with contextlib.suppress(RuntimeError):  # ~user of an unknown user: kept as written, and then not found
        path = path.expanduser()
    return os.path.normpath(path if path.is_absolute() else base / path)


def current_data(file: SpecFile, path: YPath, spec: CurrentSpec, base: Path) -> CurrentData | None:
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
        try:
            value = secret_from_env(name)
        except ValueError as exc:
            file.add(env_path, str(exc))
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


def reference_data(file: SpecFile, path: YPath, spec: ReferenceSpec, base: Path) -> ReferenceData | None:
    """The `reference`: a fixed snapshot file (that must exist) or a rolling earlier window."""
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
    problem = "must not be empty" if not spec.file.strip() else suffix_problem(Path(spec.file).name)
    resolved = _resolve(base, spec.file) if problem is None else ""
    if problem is None and not Path(resolved).is_file():
        if GLOB_CHARS & set(spec.file):
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


def ground_truth_data(
    file: SpecFile, path: YPath, spec: GroundTruthSpec, columns: ColumnsSpec, base: Path
) -> GroundTruth | None:
    """The `ground_truth` labels: where they come from and how they join the predictions."""
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
    if spec.score_column is not None:
        if task is TaskKind.REGRESSION:
            file.add((*path, "score_column"), "score_column only applies to task classification")
            ok = False
        elif not spec.score_column.strip():
            file.add((*path, "score_column"), "must not be empty")
            ok = False
        elif spec.score_column in (columns.id, columns.prediction, spec.label_column):
            file.add((*path, "score_column"), f"column {spec.score_column!r} already has a role; name the score column")
            ok = False
    max_delay: timedelta | None = timedelta(0)
    if spec.max_delay is not None:
        max_delay = duration_at(file, (*path, "max_delay"), spec.max_delay)
    current = current_data(file, path, spec, base)
    if not ok or current is None or max_delay is None:
        return None
    return GroundTruth(
        current=current,
        label_column=spec.label_column,
        task=task,
        positive_label=spec.positive_label,
        score_column=spec.score_column,
        max_delay=max_delay,
    )
