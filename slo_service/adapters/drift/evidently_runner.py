"""Evidently 0.7 drift run. Executes INSIDE the drift worker process (see ``worker.py``).

Importing this module is cheap (pandas/numpy only); Evidently itself is imported lazily by
:func:`import_evidently` / :func:`run_job`, so only the worker process pays for it.

Steps: load both sides (only the mapped columns; files read in chunks) into a seeded sample of
at most ``job.sample_rows`` rows, validate (empty window, missing columns, changed types), skip
columns that are all empty on either side (Evidently crashes on them), build an explicit
``DataDefinition``, run one ``ValueDrift`` per column (optional per-column method / threshold)
and derive the dataset verdict from the share of drifted columns (Evidently's
``share >= drift_share`` rule, as in ``DriftedColumnsCount``). Never raises: every problem
becomes a failed :class:`DriftOutcome`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slo_service.adapters.drift.worker import ColumnMapping, ColumnResult, DriftJob, DriftOutcome


class DriftInputError(Exception):
    """A problem with the input data; the message becomes the failed outcome's reason."""


def import_evidently() -> Any:
    import evidently

    return evidently


# -- loading and sampling ----------------------------------------------------------------------


def _bottom_k(
    frames: pd.DataFrame | None, keys: np.ndarray | None, chunk: pd.DataFrame, chunk_keys: np.ndarray, k: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Keep the k rows with the smallest random keys (uniform sample without replacement)."""
    if frames is not None and keys is not None:
        chunk = pd.concat([frames, chunk], ignore_index=True)
        chunk_keys = np.concatenate([keys, chunk_keys])
    if len(chunk) > k:
        idx = np.sort(np.argpartition(chunk_keys, k - 1)[:k])
        chunk = chunk.iloc[idx].reset_index(drop=True)
        chunk_keys = chunk_keys[idx]
    return chunk, chunk_keys


def _iter_chunks(source: Any, columns: list[str], chunk_rows: int, side: str) -> Iterator[pd.DataFrame]:
    """Yield DataFrame chunks of ``source`` restricted to ``columns`` (after checking they exist)."""
    if isinstance(source, pd.DataFrame):
        _check_missing(list(source.columns), columns, side)
        yield source[columns]
        return
    path = Path(str(source))
    if not path.exists():
        raise DriftInputError(f"{side} data not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        _check_missing(list(pf.schema_arrow.names), columns, side)
        empty = True
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=columns):
            empty = False
            yield batch.to_pandas()
        if empty:
            yield pf.schema_arrow.empty_table().select(columns).to_pandas()
    elif suffix in (".csv", ".gz", ".tsv"):
        header = pd.read_csv(path, nrows=0, sep="\t" if suffix == ".tsv" else ",")
        _check_missing(list(header.columns), columns, side)
        sep = "\t" if suffix == ".tsv" else ","
        with pd.read_csv(path, usecols=columns, chunksize=chunk_rows, sep=sep) as reader:
            yield from reader
    else:
        raise DriftInputError(f"unsupported {side} data format: {path.name} (use .parquet or .csv)")


def _check_missing(available: list[str], wanted: list[str], side: str) -> None:
    have = set(available)
    missing = [c for c in wanted if c not in have]
    if missing:
        raise DriftInputError(f"missing columns in {side} data: {', '.join(missing)}")


def load_sample(
    source: Any, columns: list[str], sample_rows: int, seed: int, chunk_rows: int, side: str
) -> tuple[pd.DataFrame, int]:
    """Seeded uniform sample of at most ``sample_rows`` rows, read chunk by chunk.

    Returns (sample, total_rows). The sample does not depend on the chunk size (one random
    key per row, drawn in row order from one generator; the rows with the smallest keys win)
    and keeps the original row order.
    """
    rng = np.random.default_rng(seed)
    kept: pd.DataFrame | None = None
    keys: np.ndarray | None = None
    total = 0
    for chunk in _iter_chunks(source, columns, chunk_rows, side):
        total += len(chunk)
        ck = rng.random(len(chunk))
        if kept is None and len(chunk) <= sample_rows and isinstance(source, pd.DataFrame):
            kept, keys = chunk.reset_index(drop=True), ck
            continue
        kept, keys = _bottom_k(kept, keys, chunk.reset_index(drop=True), ck, sample_rows)
    if kept is None:
        kept = pd.DataFrame({c: [] for c in columns})
    return kept[columns], total


# -- validation ----------------------------------------------------------------------------------


def _kind_of(mapping: ColumnMapping, col: str, ref: pd.DataFrame) -> str:
    if col in mapping.numerical:
        return "numerical"
    if col in mapping.categorical:
        return "categorical"
    if col in mapping.text:
        return "text"
    s = ref[col]
    return "numerical" if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) else "categorical"


def drift_columns(mapping: ColumnMapping, ref: pd.DataFrame) -> dict[str, str]:
    """Columns to check for drift -> kind (numerical / categorical / text)."""
    cols = [*mapping.numerical, *mapping.categorical, *mapping.text]
    cols += [c for c in (mapping.target, mapping.prediction) if c is not None]
    return {c: _kind_of(mapping, c, ref) for c in dict.fromkeys(cols)}


def _example(s: pd.Series) -> str:
    bad = s.dropna()
    bad = bad[pd.to_numeric(bad, errors="coerce").isna()] if len(bad) else bad
    return f" (e.g. {bad.iloc[0]!r})" if len(bad) else ""


def _check_types(kinds: dict[str, str], ref: pd.DataFrame, cur: pd.DataFrame) -> None:
    problems = []
    for col, kind in kinds.items():
        if kind != "numerical":
            continue
        for side, df in (("reference", ref), ("current", cur)):
            s = df[col]
            if s.isna().all():
                continue  # all-empty columns are reported per column, not as a type change
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                problems.append(f"{col} ({side}: expected numerical, got {s.dtype}{_example(s)})")
                break
    if problems:
        raise DriftInputError(f"changed column types: {'; '.join(problems)}")


# -- the Evidently run ---------------------------------------------------------------------------


def build_data_definition(mapping: ColumnMapping, kinds: dict[str, str]) -> Any:
    from evidently import DataDefinition

    by_kind: dict[str, list[str]] = {"numerical": [], "categorical": [], "text": []}
    for col, kind in kinds.items():
        by_kind[kind].append(col)
    return DataDefinition(
        id_column=mapping.id,
        numerical_columns=by_kind["numerical"],
        categorical_columns=by_kind["categorical"],
        text_columns=by_kind["text"],
        datetime_columns=[c for c in mapping.datetime if c != mapping.id],
    )


def _prepare(df: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Categorical columns as strings (mixed int/str categories otherwise confuse Evidently)."""
    out = df.copy()
    for col, kind in kinds.items():
        if kind in ("categorical", "text") and out[col].dtype == object:
            out[col] = out[col].where(out[col].isna(), out[col].astype(str))
    return out


def evidently_verdicts(snapshot: Any) -> dict[str, tuple[str, float, float, bool]]:
    """column -> (method, score, threshold, drifted) from a Report snapshot with ValueDrift
    metrics (run with ``include_tests=True``; the drift test FAILs when drift is detected)."""
    d = snapshot.dict()
    out: dict[str, tuple[str, float, float, bool]] = {}
    drifted: dict[str, bool] = {}
    for t in d.get("tests", []):
        params = (t.get("metric_config") or {}).get("params") or {}
        if params.get("type", "").endswith(":ValueDrift") and t.get("id") == "drift":
            drifted[params["column"]] = str(t.get("status")).upper().endswith("FAIL")
    for m in d["metrics"]:
        cfg = m.get("config") or {}
        if not str(cfg.get("type", "")).endswith(":ValueDrift"):
            continue
        col = cfg["column"]
        out[col] = (str(cfg["method"]), float(m["value"]), float(cfg["threshold"]), drifted.get(col, False))
    return out


def method_name(display: str) -> str:
    """Evidently's stat test id (``wasserstein``, ``ks``, ...) of a display name ("Wasserstein distance (normed)"):
    the name drift settings use and live drift reports, so run and live metrics carry the same method label."""
    from evidently.legacy.calculations import stattests
    from evidently.legacy.calculations.stattests.registry import StatTest

    names = {str(t.display_name): str(t.name) for t in vars(stattests).values() if isinstance(t, StatTest)}
    return names.get(display, display)


_FINDINGS_STYLE = (
    "font-family:sans-serif;margin:16px;padding:12px 16px;border:2px solid #c0392b;border-radius:6px;background:#fdecea"
)


def add_findings(path: str, findings: list[str], skipped: dict[str, str]) -> None:
    """Put the run's data-quality findings (and the columns not compared) at the top of the report's page."""
    import html

    items = [*findings, *(f"column {c!r} not compared: {r}" for c, r in skipped.items())]
    if not items:
        return
    lis = "".join(f"<li>{html.escape(i)}</li>" for i in items)
    block = f'<div id="slo-data-quality" style="{_FINDINGS_STYLE}"><h3>Data quality</h3><ul>{lis}</ul></div>'
    text = Path(path).read_text(encoding="utf-8")
    at = text.find("<body")
    at = text.find(">", at) + 1 if at >= 0 else 0
    Path(path).write_text(text[:at] + block + text[at:], encoding="utf-8")


def run_job(job: DriftJob) -> DriftOutcome:
    """Run one drift job. Never raises."""
    t0 = time.perf_counter()
    try:
        return _run(job, t0)
    except DriftInputError as exc:
        return DriftOutcome.failed(str(exc), time.perf_counter() - t0)
    except Exception as exc:
        return DriftOutcome.failed(f"evidently run failed: {type(exc).__name__}: {exc}", time.perf_counter() - t0)


def _run(job: DriftJob, t0: float) -> DriftOutcome:
    if job.debug_sleep_s:
        time.sleep(job.debug_sleep_s)
    if job.sample_rows < 1:
        raise DriftInputError(f"sample_rows must be >= 1, got {job.sample_rows}")
    mapping = job.columns
    wanted = mapping.all_columns()
    if not wanted:
        raise DriftInputError("no columns mapped")
    unknown = sorted((set(job.stattests) | set(job.thresholds)) - set(wanted))
    if unknown:
        raise DriftInputError(f"stat test / threshold given for unmapped columns: {', '.join(unknown)}")

    cur, n_cur = load_sample(job.current, wanted, job.sample_rows, job.seed, job.chunk_rows, "current")
    if n_cur == 0:
        raise DriftInputError("empty current window")
    ref, n_ref = load_sample(job.reference, wanted, job.sample_rows, job.seed + 1, job.chunk_rows, "reference")
    if n_ref == 0:
        raise DriftInputError("empty reference window")

    kinds = drift_columns(mapping, ref)
    _check_types(kinds, ref, cur)

    skipped: dict[str, str] = {}
    for col in kinds:
        empty_sides = [side for side, df in (("reference", ref), ("current", cur)) if df[col].isna().all()]
        if empty_sides:
            skipped[col] = f"all values empty in {' and '.join(empty_sides)} data"
    checked = {c: k for c, k in kinds.items() if c not in skipped}
    if not checked:
        raise DriftInputError("no column with data to compare: " + "; ".join(f"{c}: {r}" for c, r in skipped.items()))

    import_evidently()
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = build_data_definition(mapping, checked)
    cols_for_run = list(dict.fromkeys([*checked, *(c for c in (mapping.id, *mapping.datetime) if c)]))
    ref_ds = Dataset.from_pandas(_prepare(ref[cols_for_run], checked), data_definition=definition)
    cur_ds = Dataset.from_pandas(_prepare(cur[cols_for_run], checked), data_definition=definition)
    # Evidently's own preset: its HTML shows the dataset drift summary and one table of the columns; it runs one
    # ValueDrift per column with the method / threshold given here (Evidently's choice where none is).
    preset = DataDriftPreset(
        columns=list(checked),
        drift_share=job.drift_share,
        per_column_method={c: m for c, m in job.stattests.items() if c in checked} or None,
        per_column_threshold={c: t for c, t in job.thresholds.items() if c in checked} or None,
    )
    snapshot = Report([preset], include_tests=True).run(cur_ds, ref_ds)
    verdicts = evidently_verdicts(snapshot)

    results: list[ColumnResult] = []
    for col, kind in kinds.items():
        if col in skipped:
            results.append(ColumnResult(col, kind, None, None, None, None, status="skipped", reason=skipped[col]))
            continue
        method, score, threshold, drifted = verdicts[col]
        results.append(ColumnResult(col, kind, method_name(method), score, threshold, drifted))

    n_drifted = sum(1 for r in results if r.drifted)
    share = n_drifted / len(checked)
    report_path = report_error = None
    if job.report_path:
        try:
            Path(job.report_path).parent.mkdir(parents=True, exist_ok=True)
            snapshot.save_html(job.report_path)
            add_findings(job.report_path, job.findings, skipped)
            report_path = job.report_path
        except OSError as exc:  # a full or read-only disk costs the HTML, never the verdicts computed above
            report_error = f"{exc.strerror or type(exc).__name__}: {exc.filename or job.report_path}"
    return DriftOutcome(
        status="ok",
        columns=results,
        drifted_share=share,
        dataset_drifted=bool(share >= job.drift_share),
        sample_rows_reference=len(ref),
        sample_rows_current=len(cur),
        duration_s=time.perf_counter() - t0,
        report_path=report_path,
        report_error=report_error,
    )
