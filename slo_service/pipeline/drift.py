"""The drift use case: one run of one monitor, pushed batches, and the read side for the API and /metrics.

    reader ──chunks──▶ profile (reference) + histograms & seeded sample (current) ──▶ schema check
        ──▶ worker (Evidently, another process) ──▶ DriftRun (+ quality, model quality) ──▶ store, on_run

`DriftService.run_monitor` never raises: every problem (an unreadable source, a missing column, a changed
column kind, an empty window, a worker failure or timeout) becomes a FAILED `DriftRun` whose reason names
the problem; every run is stored and handed to `on_run`.

Memory stays bounded whatever the window size: rows are read in chunks through the injected `FrameReader`;
each chunk updates the mergeable histograms (core.drift.histograms) and a seeded uniform sample of at most
``monitor.sample_rows`` rows (the rows with the smallest random keys, so the sample does not depend on the
chunk size); only the samples go to the worker. A fixed reference is profiled once per (monitor, version)
(`DriftStore.save_profile`) and handed to the worker as its file path (the worker samples it chunk by
chunk); a rolling reference is the current source over the window before the current one.

Windows: by time, the current window is ``[now - window, now)`` and a rolling reference
``[now - window - reference.window, now - window)``; by rows (``window_rows``), the current window is the
last N rows the reader yields and a rolling reference the N rows before them (the reader is read twice:
once to count the rows, once to use them). Rows are assumed to come in time order.

Model quality (``monitor.ground_truth``): labels are read through the reader from the label source from
the start of the current window on (labels arrive late) and joined on ``columns.id`` to the predictions of
the current sample (bounded: only labels of sampled ids are kept) with core.drift.model_quality.

This module imports core and numpy only. Chunks are pandas DataFrames, used through duck typing
(``len(chunk)``, ``chunk.columns``, ``chunk[name].to_numpy()``); samples are column -> numpy array maps,
which the wiring turns into the worker's DataFrames (see `DriftJobSpec`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from slo_service.core.drift.estimation import cbpe, isotonic_calibrator
from slo_service.core.drift.histograms import SliceHistogram, histogram_batch, merge_many
from slo_service.core.drift.model_quality import join_labels, model_quality, positive_mask, segment_model_quality
from slo_service.core.drift.monitor import (
    ColumnRun,
    ColumnSpec,
    CurrentData,
    CurrentKind,
    DriftMonitor,
    DriftRun,
    GroundTruth,
    PerformanceEstimation,
    ReferenceKind,
    RunStatus,
    SegmentRun,
)
from slo_service.core.drift.ports import DriftStore, FrameReader, RunQuery, StoredBatch
from slo_service.core.drift.profile import ColumnKind, ProfileBuilder, ReferenceProfile, category_counts
from slo_service.core.drift.quality import data_quality_findings, dataset_quality, infer_kind, schema_check
from slo_service.core.drift.segments import (
    OTHER,
    SEGMENT_RESERVOIR,
    choose_segments,
    segment_counts,
    segment_rows,
    segment_run,
)
from slo_service.pipeline.drift_batches import LABELS, BatchProblem, check_batch
from slo_service.pipeline.drift_live import LiveDrift, LiveWindow
from slo_service.pipeline.failures import log_failure

log = logging.getLogger(__name__)

Columns = Mapping[str, npt.NDArray[Any]]


# --------------------------------------------------------------------------------------- worker contract


@dataclass(frozen=True)
class DriftJobSpec:
    """What one run asks the worker to compare. ``reference`` / ``current`` are either a file path (a fixed
    reference) or a sample as column -> numpy array (the wiring turns it into a DataFrame)."""

    monitor: str
    reference: str | Columns
    current: str | Columns
    columns: ColumnSpec
    sample_rows: int
    seed: int
    stattests: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    drift_share: float = 0.5
    report_path: str | None = None
    findings: tuple[str, ...] = ()  # data-quality findings, shown in the HTML report


class ColumnOutcomeLike(Protocol):
    """One column of a worker outcome (adapters.drift.worker.ColumnResult satisfies it)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def method(self) -> str | None: ...
    @property
    def score(self) -> float | None: ...
    @property
    def threshold(self) -> float | None: ...
    @property
    def drifted(self) -> bool | None: ...
    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str | None: ...


class DriftOutcomeLike(Protocol):
    """What the worker answers (adapters.drift.worker.DriftOutcome satisfies it)."""

    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def columns(self) -> Sequence[ColumnOutcomeLike]: ...
    @property
    def drifted_share(self) -> float | None: ...
    @property
    def dataset_drifted(self) -> bool | None: ...
    @property
    def sample_rows_reference(self) -> int | None: ...
    @property
    def sample_rows_current(self) -> int | None: ...
    @property
    def report_path(self) -> str | None: ...
    @property
    def report_error(self) -> str | None: ...


_Estimate = Callable[[npt.NDArray[np.intp] | None], dict[str, float]]
"""CBPE metrics of the current sample's rows (None: all of them)."""

SubmitDrift = Callable[[DriftJobSpec, float], DriftOutcomeLike]
"""Run a job in the worker, waiting at most the given seconds; never raises (failures are outcomes)."""

WriteBatch = Callable[[DriftMonitor, Any, datetime], StoredBatch]
"""Write a pushed batch (a DataFrame) to a file; returns the StoredBatch to record (without id)."""

ReaderFactory = Callable[[str, CurrentData, bool], FrameReader]
"""(monitor name, source, labels) -> the reader of that source; the name lets push sources read the monitor's
batches, `labels` says the reader is for the monitor's ground truth (pushed: its labels-only batches too)."""
Range = tuple[datetime | None, datetime | None, int | None, int | None]  # start, end, rows to skip, rows to take

PUSH_CLOCK_SKEW = timedelta(minutes=5)
"""A push monitor's current window also takes rows stamped up to this far after the run's start (client clocks
ahead of ours): a batch pushed before a run always counts in it."""
MAX_NEW_CATEGORIES = 10_000  # distinct new categories counted per column and run (beyond: "at least")


class RunProblem(Exception):
    """A problem that fails the run; its message is the run's reason."""


class MonitorNotFound(KeyError):
    pass


class NotAPushMonitor(ValueError):
    pass


class BadBatch(ValueError):
    """A pushed batch that cannot be accepted; the message names the field."""


# --------------------------------------------------------------------------------------- sampling


class Sampler:
    """Seeded uniform sample without replacement of at most ``size`` rows, fed chunk by chunk.

    Every row gets one random key (drawn in row order from one generator); the rows with the smallest
    keys are kept, in their original order. Memory: ``size`` + one chunk of rows."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = max(1, size)
        self._rng = np.random.default_rng(seed)
        self._keys = np.empty(0, dtype=np.float64)
        self._index = np.empty(0, dtype=np.int64)
        self._cols: dict[str, npt.NDArray[Any]] = {}
        self.rows = 0

    def update(self, columns: Columns, n: int) -> None:
        keys = self._rng.random(n)
        index = np.arange(self.rows, self.rows + n, dtype=np.int64)
        self.rows += n
        if not self._cols:
            self._cols = {k: np.empty(0, dtype=np.asarray(v).dtype) for k, v in columns.items()}
        all_keys = np.concatenate((self._keys, keys))
        all_index = np.concatenate((self._index, index))
        cols = {k: _concat(self._cols[k], np.asarray(columns[k])) for k in self._cols}
        if all_keys.size > self.size:
            keep = np.sort(np.argpartition(all_keys, self.size - 1)[: self.size])
            all_keys, all_index = all_keys[keep], all_index[keep]
            cols = {k: v[keep] for k, v in cols.items()}
        self._keys, self._index, self._cols = all_keys, all_index, cols

    def sample(self) -> dict[str, npt.NDArray[Any]]:
        return dict(self._cols)


def _concat(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if a.dtype != b.dtype and (a.dtype == object or b.dtype == object or a.dtype.kind != b.dtype.kind):
        return np.concatenate((a.astype(object), b.astype(object)))
    return np.concatenate((a, b))


# --------------------------------------------------------------------------------------- the service


@dataclass
class _Side:
    """What one pass over a window produced."""

    rows: int = 0
    hists: dict[str, list[SliceHistogram]] = field(default_factory=dict)
    kinds: dict[str, ColumnKind] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)
    sample: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    new_labels: dict[str, set[str]] = field(default_factory=dict)  # categorical: distinct new categories
    seg_hists: dict[str, dict[str, list[SliceHistogram]]] = field(default_factory=dict)  # segment -> column -> slices
    seg_rows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Segmentation:
    """The segments of a run: `column`'s values in `chosen` have their own reference profile, the rest OTHER's."""

    column: str
    chosen: tuple[str, ...]
    profiles: dict[str, ReferenceProfile]  # a segment without reference rows is binned on the whole profile


class DriftService:
    """Runs drift monitors and keeps what the API and the exporter read. Thread-safe."""

    def __init__(
        self,
        store: DriftStore,
        reader: FrameReader | ReaderFactory,
        submit: SubmitDrift,
        clock_now: Callable[[], datetime],
        report_dir: Path | None = None,
        on_run: Callable[[DriftRun], None] | None = None,
        monitors: Mapping[str, DriftMonitor] | Callable[[], Mapping[str, DriftMonitor]] | None = None,
        write_batch: WriteBatch | None = None,
    ) -> None:
        self.store = store
        self._reader = reader
        self.submit = submit
        self.clock_now = clock_now
        self.report_dir = report_dir
        self.on_run = on_run
        self._monitors = monitors
        self.write_batch = write_batch
        self._lock = threading.Lock()
        self._monitor_locks: dict[str, threading.Lock] = {}
        self._latest: dict[str, DriftRun] | None = None
        self._latest_ok: dict[str, DriftRun] = {}
        self.run_failed_total: dict[str, int] = {}
        self.live: LiveDrift | None = None  # per-slice histograms of pushed batches (pipeline/drift_live.py)

    # --- monitors --------------------------------------------------------------------------------------

    def live_windows(self) -> dict[str, LiveWindow]:
        """The live window of every push monitor that has slices (cheap: merged histograms in memory)."""
        if self.live is None:
            return {}
        out: dict[str, LiveWindow] = {}
        for name, monitor in self.monitors().items():
            if monitor.current.kind is not CurrentKind.PUSH:
                continue
            try:
                window = self.live.window(monitor)
            except Exception:
                log_failure(log, "live drift of %s failed", name)
                continue
            if window is not None:
                out[name] = window
        return out

    def monitors(self) -> dict[str, DriftMonitor]:
        m = self._monitors
        if m is None:
            return {}
        return dict(m() if callable(m) else m)

    def set_monitors(self, monitors: Mapping[str, DriftMonitor] | Callable[[], Mapping[str, DriftMonitor]]) -> None:
        self._monitors = monitors

    def monitor(self, name: str) -> DriftMonitor:
        found = self.monitors().get(name)
        if found is None:
            raise MonitorNotFound(name)
        return found

    def reader_for(self, monitor: str, source: CurrentData, labels: bool = False) -> FrameReader:
        r = self._reader
        if hasattr(r, "chunks"):
            return r
        return r(monitor, source, labels)

    # --- one run ---------------------------------------------------------------------------------------

    def run_monitor(self, monitor: DriftMonitor) -> DriftRun:
        """Run `monitor` now; the run (OK or FAILED) is stored and passed to `on_run`. Never raises."""
        with self._lock:
            mlock = self._monitor_locks.setdefault(monitor.name, threading.Lock())
        with mlock:
            started = self.clock_now()
            log.info("drift run of %s started", monitor.name)
            try:
                run = self._run(monitor, started)
            except RunProblem as exc:
                run = self._failed(monitor, started, str(exc))
            except Exception as exc:  # a bug or an adapter surprise: still a stored, failed run
                log_failure(log, "drift run of %s failed unexpectedly", monitor.name)
                run = self._failed(monitor, started, f"internal error: {type(exc).__name__}: {exc}")
            return self._record(run)

    def _failed(self, monitor: DriftMonitor, started: datetime, reason: str, **kw: Any) -> DriftRun:
        return DriftRun(
            monitor=monitor.name,
            started_at=started,
            finished_at=self.clock_now(),
            status=RunStatus.FAILED,
            reason=reason,
            reference_version=_ref_version(monitor),
            **kw,
        )

    def _record(self, run: DriftRun) -> DriftRun:
        try:
            run = replace(run, id=self.store.save_run(run))
        except Exception:
            log_failure(log, "could not store the drift run of %s", run.monitor)
        with self._lock:
            latest = self._load_latest_locked()
            latest[run.monitor] = run
            if run.status is RunStatus.OK:
                self._latest_ok[run.monitor] = run
            else:
                self.run_failed_total[run.monitor] = self.run_failed_total.get(run.monitor, 0) + 1
        if run.status is RunStatus.FAILED:
            log.warning("drift run of %s failed: %s", run.monitor, run.reason)
        else:
            log.info("drift run of %s finished in %.1fs: %s", run.monitor, run.duration_seconds or 0.0, _verdict(run))
        if self.on_run is not None:
            try:
                self.on_run(run)
            except Exception:
                log_failure(log, "on_run failed for the drift run of %s", run.monitor)
        return run

    def _run(self, monitor: DriftMonitor, started: datetime) -> DriftRun:
        spec = monitor.columns
        drift_cols = _drift_columns(spec)
        wanted = _all_columns(spec, monitor.current.timestamp_column)
        gt = monitor.ground_truth
        if gt is not None and gt.score_column is not None and gt.score_column not in wanted:
            wanted.append(gt.score_column)  # carried in the sample to the label join (roc_auc), never drift-tested
        est = monitor.estimation
        for extra in (monitor.segment_by, est.score_column if est is not None else None):
            if extra is not None and extra not in wanted:
                wanted.append(extra)  # in the sample (segments, CBPE), never drift-tested
        if not drift_cols:
            raise RunProblem("no columns mapped for drift (columns.numerical / categorical / target / prediction)")
        now = started
        seed = zlib.crc32(monitor.name.encode())
        cur_range, ref_range = self._windows(monitor, now, wanted)

        # reference profile (and, for a rolling reference, its sample)
        ref_sample: str | Columns
        if monitor.reference.kind is ReferenceKind.FIXED:
            path = monitor.reference.path
            if not path:
                raise RunProblem("reference.path is not set")
            profile = self._fixed_profile(monitor, path, drift_cols)
            ref_sample = path
            ref_rows = profile.rows
        else:
            source = monitor.current
            side = self._pass(
                monitor, source, ref_range, wanted, None, drift_cols, monitor.sample_rows, seed + 1, "reference"
            )
            if side.rows == 0:
                raise RunProblem("empty reference window")
            profile = self._profile_of(side, drift_cols, f"rolling:{ref_range[0]}")
            ref_sample = side.sample
            ref_rows = side.rows

        segmentation = self._segmentation(monitor, profile, ref_sample) if monitor.segment_by else None

        # current window: histograms on the profile (and per segment), kinds, sample
        cur = self._pass(
            monitor,
            monitor.current,
            cur_range,
            wanted,
            profile,
            drift_cols,
            monitor.sample_rows,
            seed,
            "current",
            segmentation,
        )
        if cur.rows == 0:
            raise RunProblem("empty current window")
        missing = [c for c in wanted if c not in cur.present]
        if missing:
            raise RunProblem(f"missing columns in current data: {', '.join(missing)}")
        kinds = {c: cur.kinds.get(c, k.kind) for c, k in profile.columns.items()}
        check = schema_check(profile, kinds)
        problems: list[str] = [f"missing column {c!r}" for c in check.missing_columns]
        problems += [
            f"column {c!r} changed kind: {ref.value} in the reference, {now_kind.value} in the current data"
            for c, ref, now_kind in check.kind_changed
        ]
        base: dict[str, Any] = {"rows_reference": ref_rows, "rows_current": cur.rows}
        if problems:
            return self._failed(
                monitor, started, "schema changed: " + "; ".join(problems), schema_problems=tuple(problems), **base
            )
        hists = {c: merge_many(hs) for c, hs in cur.hists.items() if hs}
        quality = dataset_quality(profile, hists)
        findings = data_quality_findings(quality, monitor.max_missing_increase)

        # the worker
        report_path = self._report_path(monitor, started)
        job = DriftJobSpec(
            monitor=monitor.name,
            reference=ref_sample,
            current=cur.sample,
            columns=spec,
            sample_rows=monitor.sample_rows,
            seed=seed,
            stattests=dict(monitor.stattests),
            thresholds=dict(monitor.thresholds),
            drift_share=monitor.drift_share,
            report_path=report_path,
            findings=tuple(findings),
        )
        outcome = self.submit(job, monitor.timeout.total_seconds())
        if outcome.status != "ok":
            return self._failed(monitor, started, f"drift worker: {outcome.reason or 'failed'}", **base)

        columns: list[ColumnRun] = []
        for c in outcome.columns:
            q = quality.get(c.name)
            pkind = profile.columns[c.name].kind if c.name in profile.columns else None
            categorical = pkind is ColumnKind.CATEGORICAL
            columns.append(
                ColumnRun(
                    column=c.name,
                    kind=c.kind,
                    method=c.method,
                    score=c.score,
                    threshold=c.threshold,
                    drifted=c.drifted,
                    missing_share=q.missing_share if q else None,
                    new_categories=len(cur.new_labels.get(c.name, ())) if q and categorical else None,
                    out_of_range_share=q.out_of_range_share if q and pkind is ColumnKind.NUMERICAL else None,
                    note=c.reason if c.status != "ok" else None,
                    new_category_rows=q.new_categories if q and categorical else None,
                )
            )
        model_q: dict[str, float] = {}
        seg_q: dict[str, dict[str, float]] = {}  # realised metrics per segment
        notes: list[str] = [f"data quality: {f}" for f in findings]
        if outcome.report_error:  # the verdicts stand; only the HTML is missing, and the run says why
            notes.append(f"HTML report not written ({outcome.report_error})")
            log.warning("drift run of %s: %s; check SLO_SERVICE_DATA_DIR", monitor.name, notes[-1])
        if monitor.ground_truth is not None:
            try:  # labels are a separate source: their problems must not discard the drift results
                model_q, seg_q = self._model_quality(
                    monitor, monitor.ground_truth, cur.sample, cur_range, seed, segmentation
                )
            except RunProblem as exc:
                notes.append(f"model quality skipped: {exc}")
                log.warning("drift run of %s: %s", monitor.name, notes[-1])
        estimate: _Estimate | None = None
        if monitor.estimation is not None:
            try:  # estimated metrics sit beside the realised ones (both kept on the run)
                estimate = self._estimator(monitor, monitor.estimation, ref_sample, cur.sample)
                model_q.update(estimate(None))
            except RunProblem as exc:
                notes.append(f"performance estimation skipped: {exc}")
                log.warning("drift run of %s: %s", monitor.name, notes[-1])
        segments: tuple[SegmentRun, ...] = ()
        if segmentation is not None:
            segments = self._segment_runs(monitor, segmentation, profile, cur, estimate, seg_q)
            findings += [f"segment {s.segment!r}: {f}" for s in segments for f in s.data_quality]
        return DriftRun(
            monitor=monitor.name,
            started_at=started,
            finished_at=self.clock_now(),
            status=RunStatus.OK,
            reason="; ".join(notes) or None,
            reference_version=_ref_version(monitor),
            sample_rows_reference=outcome.sample_rows_reference,
            sample_rows_current=outcome.sample_rows_current,
            drifted_share=outcome.drifted_share,
            dataset_drifted=outcome.dataset_drifted,
            columns=tuple(columns),
            quality=model_q,
            report_path=outcome.report_path,
            data_quality=tuple(findings),
            segments=segments,
            **base,
        )

    # --- segments and performance estimation -----------------------------------------------------------

    def _segmentation(self, monitor: DriftMonitor, profile: ReferenceProfile, ref: str | Columns) -> _Segmentation:
        """The segments and their reference profiles: a fixed reference's are built once per version (two passes
        over the file: count the values, then profile the chosen segments) and stored beside its profile; a rolling
        reference's come from its sample."""
        column = monitor.segment_by
        assert column is not None
        kinds = profile.kinds()
        seed = zlib.crc32(monitor.name.encode()) + 3
        if not isinstance(ref, str):
            values = ref.get(column)
            if values is None:
                raise RunProblem(f"reference data lacks the segment column {column!r}")
            chosen = choose_segments(segment_counts(values), monitor.max_segments)
            builders = self._segment_builders(kinds, chosen, profile.version, seed)
            for seg, idx in segment_rows(values, chosen).items():
                builders[seg].update({c: np.asarray(ref[c])[idx] for c in kinds})
            return _Segmentation(column, chosen, {s: b.build() for s, b in builders.items() if b.rows})
        version = f"{monitor.reference.version}#segments:{column}:{monitor.max_segments}"
        try:
            cached = self.store.load_profile(monitor.name, version)
            if cached is not None:
                doc = json.loads(str(cached["json"]))
                profiles = {s: ReferenceProfile.from_json(p) for s, p in doc["profiles"].items()}
                if all(set(p.columns) == set(kinds) for p in profiles.values()):
                    return _Segmentation(column, tuple(doc["chosen"]), profiles)
        except Exception:
            log.warning("stored segment profiles of %s %s unreadable: rebuilding", monitor.name, version)
        source = CurrentData(kind=CurrentKind.FILES, path=ref)
        counts: dict[str, int] = {}
        for chunk in self._chunks(monitor, source, None, None, [column], "reference"):
            if column not in set(map(str, chunk.columns)):
                raise RunProblem(f"reference data lacks the segment column {column!r}")
            for k, n in segment_counts(np.asarray(chunk[column].to_numpy())).items():
                counts[k] = counts.get(k, 0) + n
        chosen = choose_segments(counts, monitor.max_segments)
        builders = self._segment_builders(kinds, chosen, profile.version, seed)
        for chunk in self._chunks(monitor, source, None, None, [*kinds, column], "reference"):
            cols = {c: np.asarray(chunk[c].to_numpy()) for c in [*kinds, column]}
            for seg, idx in segment_rows(cols[column], chosen).items():
                builders[seg].update({c: cols[c][idx] for c in kinds})
        profiles = {s: b.build() for s, b in builders.items() if b.rows}
        doc = {"chosen": list(chosen), "profiles": {s: p.to_json() for s, p in profiles.items()}}
        try:
            self.store.save_profile(monitor.name, version, {"json": json.dumps(doc)})
        except Exception:
            log_failure(log, "could not store the segment profiles of %s %s", monitor.name, version)
        return _Segmentation(column, chosen, profiles)

    @staticmethod
    def _segment_builders(
        kinds: Mapping[str, ColumnKind], chosen: Sequence[str], version: str, seed: int
    ) -> dict[str, ProfileBuilder]:
        return {
            s: ProfileBuilder(kinds, f"{version}#{s}", reservoir=SEGMENT_RESERVOIR, seed=seed + i)
            for i, s in enumerate([*chosen, OTHER])
        }

    def _segment_runs(
        self,
        monitor: DriftMonitor,
        seg: _Segmentation,
        profile: ReferenceProfile,
        cur: _Side,
        estimate: _Estimate | None,
        realised: Mapping[str, Mapping[str, float]],
    ) -> tuple[SegmentRun, ...]:
        """One SegmentRun per chosen segment (in the reference's order) and OTHER when it has current rows; its
        quality holds the segment's realised metrics (`realised`, from the label join) beside its estimated_* ones."""
        out: list[SegmentRun] = []
        labels = cur.sample.get(seg.column)
        sample_rows = segment_rows(labels, seg.chosen) if labels is not None else {}
        for name in [*seg.chosen, *([OTHER] if cur.seg_rows.get(OTHER) else [])]:
            own = seg.profiles.get(name)
            note = None if own is not None else "no reference rows in this segment: compared with the whole reference"
            if not cur.seg_rows.get(name):
                note = "no current rows in this segment"
            run = segment_run(
                name,
                own or profile,
                cur.seg_hists.get(name, {}),
                cur.seg_rows.get(name, 0),
                monitor.stattests,
                monitor.thresholds,
                monitor.drift_share,
                monitor.max_missing_increase,
                note,
            )
            if own is None:
                run = replace(run, rows_reference=0)
            quality: dict[str, float] = dict(realised.get(name, {}))
            if estimate is not None and name in sample_rows:
                quality.update(estimate(sample_rows[name]))
            if quality:
                run = replace(run, quality=quality)
            out.append(run)
        return tuple(out)

    def _estimator(
        self, monitor: DriftMonitor, est: PerformanceEstimation, ref: str | Columns, sample: Columns
    ) -> _Estimate:
        """CBPE over the current sample (or some of its rows), with the scores calibrated on the reference when
        `est.calibrate` (its (score, target) pairs)."""
        raw = sample.get(est.score_column)
        if raw is None:
            raise RunProblem(f"current data lacks the score column {est.score_column!r}")
        scores = _floats(raw)
        decided = scores >= est.threshold  # the model's decisions, before any calibration
        probabilities = scores
        if est.calibrate:
            target = monitor.columns.target
            if target is None:
                raise RunProblem("calibrate needs columns.target in the reference")
            pairs = self._reference_pairs(monitor, ref, [est.score_column, target])
            gt = monitor.ground_truth
            y = positive_mask(pairs[target], gt.positive_label if gt is not None else None).astype(np.float64)
            keep = np.asarray([not _missing(v) for v in pairs[target].tolist()], dtype=bool)
            ref_scores = _floats(pairs[est.score_column])
            if not keep.any() or np.isnan(ref_scores[keep]).all():
                raise RunProblem("no reference row with both a score and a target to calibrate on")
            probabilities = isotonic_calibrator(ref_scores[keep], y[keep])(scores)

        def estimate(rows: npt.NDArray[np.intp] | None) -> dict[str, float]:
            if rows is None:
                return cbpe(probabilities, decided)
            return cbpe(probabilities[rows], decided[rows])

        return estimate

    def _reference_pairs(self, monitor: DriftMonitor, ref: str | Columns, columns: list[str]) -> Columns:
        if not isinstance(ref, str):
            missing = [c for c in columns if c not in ref]
            if missing:
                raise RunProblem(f"reference data lacks {', '.join(map(repr, missing))} to calibrate on")
            return {c: np.asarray(ref[c]) for c in columns}
        sampler = Sampler(monitor.sample_rows, zlib.crc32(monitor.name.encode()) + 4)
        source = CurrentData(kind=CurrentKind.FILES, path=ref)
        for chunk in self._chunks(monitor, source, None, None, columns, "reference"):
            names = set(map(str, chunk.columns))
            missing = [c for c in columns if c not in names]
            if missing:
                raise RunProblem(f"reference data lacks {', '.join(map(repr, missing))} to calibrate on")
            sampler.update({c: np.asarray(chunk[c].to_numpy()) for c in columns}, len(chunk))
        return sampler.sample()

    # --- windows and reading ---------------------------------------------------------------------------

    def _windows(self, monitor: DriftMonitor, now: datetime, wanted: Sequence[str]) -> tuple[Range, Range]:
        if monitor.window_rows is not None and monitor.window_rows > 0:
            n = monitor.window_rows
            total = self._count(monitor, monitor.current, wanted)
            cur: Range = (None, None, max(0, total - n), n)
            ref: Range = (None, None, max(0, total - 2 * n), min(n, max(0, total - n)))
            return cur, ref
        if monitor.window is None:
            raise RunProblem("the monitor has neither a window nor window_rows")
        start = now - monitor.window
        end = now + PUSH_CLOCK_SKEW if monitor.current.kind is CurrentKind.PUSH else now
        cur = (start, end, None, None)
        back = monitor.reference.window or monitor.window
        return cur, (start - back, start, None, None)

    def _count(self, monitor: DriftMonitor, source: CurrentData, wanted: Sequence[str]) -> int:
        total = 0
        for chunk in self._chunks(monitor, source, None, None, wanted, "current"):
            total += len(chunk)
        return total

    def _chunks(
        self,
        monitor: DriftMonitor,
        source: CurrentData,
        start: datetime | None,
        end: datetime | None,
        columns: Sequence[str],
        side: str,
    ) -> Iterator[Any]:
        try:
            reader = self.reader_for(monitor.name, source, side == "ground truth")
            yield from reader.chunks(source, start, end, list(columns))
        except RunProblem:
            raise
        except Exception as exc:
            raise RunProblem(f"could not read the {side} data: {exc}") from exc

    def _pass(
        self,
        monitor: DriftMonitor,
        source: CurrentData,
        rng: Range,
        wanted: Sequence[str],
        profile: ReferenceProfile | None,
        drift_cols: Mapping[str, ColumnKind | None],
        sample_rows: int,
        seed: int,
        side: str,
        segmentation: _Segmentation | None = None,
    ) -> _Side:
        start, end, skip, take = rng
        out = _Side()
        sampler = Sampler(sample_rows, seed)
        position = 0
        for chunk in self._chunks(monitor, source, start, end, wanted, side):
            n = len(chunk)
            lo, hi = 0, n
            if skip is not None and take is not None:
                lo = min(n, max(0, skip - position))
                hi = min(n, max(0, skip + take - position))
            position += n
            if hi <= lo:
                continue
            names = [c for c in wanted if c in set(map(str, chunk.columns))]
            out.present.update(names)
            cols: dict[str, npt.NDArray[Any]] = {c: np.asarray(chunk[c].to_numpy())[lo:hi] for c in names}
            rows = hi - lo
            out.rows += rows
            changed: set[str] = set()
            for c, declared in drift_cols.items():
                v = cols.get(c)
                if v is None:
                    continue
                expected = profile.columns[c].kind if profile is not None and c in profile.columns else declared
                if expected is ColumnKind.CATEGORICAL:  # any value is a category (e.g. integer codes)
                    out.kinds.setdefault(c, ColumnKind.CATEGORICAL)
                    if profile is not None and c in profile.columns:
                        _new_labels(out.new_labels.setdefault(c, set()), profile, c, v)
                    continue
                if v.dtype.kind in "iuf":
                    out.kinds.setdefault(c, ColumnKind.NUMERICAL)
                    continue
                present = _non_missing(v)
                if not present.size:  # an all-empty chunk says nothing about the kind
                    continue
                kind = infer_kind(present)
                if expected is ColumnKind.NUMERICAL and kind is not ColumnKind.NUMERICAL:
                    out.kinds[c] = kind  # a changed kind wins over earlier chunks; the run fails on it
                    changed.add(c)
                else:
                    out.kinds.setdefault(c, kind)
            sampler.update(cols, rows)
            if profile is not None:
                usable = {k: v for k, v in cols.items() if k not in changed}
                for c, h in histogram_batch(profile, usable).items():
                    out.hists.setdefault(c, []).append(h)
                if segmentation is not None and segmentation.column in cols:
                    self._segment_slice(out, segmentation, profile, usable, cols[segmentation.column])
        # a rolling reference (no profile yet) is profiled from its sample: at most sample_rows rows
        out.sample = sampler.sample()
        return out

    @staticmethod
    def _segment_slice(
        out: _Side, seg: _Segmentation, profile: ReferenceProfile, cols: Columns, labels: npt.NDArray[Any]
    ) -> None:
        """Histograms of one chunk per segment, each on its segment's reference profile."""
        for name, idx in segment_rows(labels, seg.chosen).items():
            own = seg.profiles.get(name, profile)
            out.seg_rows[name] = out.seg_rows.get(name, 0) + len(idx)
            hists = out.seg_hists.setdefault(name, {})
            for c, h in histogram_batch(own, {k: v[idx] for k, v in cols.items() if k in own.columns}).items():
                hists.setdefault(c, []).append(h)

    def _profile_of(self, side: _Side, drift_cols: Mapping[str, ColumnKind | None], version: str) -> ReferenceProfile:
        missing = [c for c in drift_cols if c not in side.present]
        if missing:
            raise RunProblem(f"missing columns in reference data: {', '.join(missing)}")
        kinds = {c: k or side.kinds.get(c, ColumnKind.CATEGORICAL) for c, k in drift_cols.items()}
        for c, k in kinds.items():
            if k is ColumnKind.NUMERICAL and side.kinds.get(c, k) is not k:
                raise RunProblem(f"column {c!r} is not numerical in the reference data")
        builder = ProfileBuilder(kinds, version, reservoir=max(1, len(next(iter(side.sample.values()), []))))
        builder.update({c: side.sample[c] for c in kinds})
        return builder.build()

    def _fixed_profile(
        self, monitor: DriftMonitor, path: str, drift_cols: Mapping[str, ColumnKind | None]
    ) -> ReferenceProfile:
        version = monitor.reference.version
        try:
            cached = self.store.load_profile(monitor.name, version)
        except Exception as exc:
            raise RunProblem(f"could not load the reference profile: {exc}") from exc
        if cached is not None:
            try:
                profile = ReferenceProfile.from_json(str(cached["json"]))
                if set(profile.columns) == set(drift_cols):
                    return profile
            except Exception:
                log.warning("stored reference profile of %s %s unreadable: rebuilding", monitor.name, version)
        source = CurrentData(kind=CurrentKind.FILES, path=path)
        builder: ProfileBuilder | None = None
        present: set[str] = set()
        for chunk in self._chunks(monitor, source, None, None, list(drift_cols), "reference"):
            names = [c for c in drift_cols if c in set(map(str, chunk.columns))]
            present.update(names)
            missing = [c for c in drift_cols if c not in names]
            if missing:
                raise RunProblem(f"missing columns in reference data: {', '.join(missing)}")
            cols = {c: np.asarray(chunk[c].to_numpy()) for c in names}
            if builder is None:
                kinds = {c: k or infer_kind(_non_missing(cols[c])) for c, k in drift_cols.items()}
                builder = ProfileBuilder(kinds, version, seed=zlib.crc32(monitor.name.encode()))
            builder.update(cols)
        if builder is None or builder.rows == 0:
            raise RunProblem("empty reference data")
        profile = builder.build()
        try:
            self.store.save_profile(monitor.name, version, {"json": profile.to_json()})
        except Exception:
            log_failure(log, "could not store the reference profile of %s %s", monitor.name, version)
        return profile

    def _report_path(self, monitor: DriftMonitor, started: datetime) -> str | None:
        if self.report_dir is None:
            return None
        stamp = started.strftime("%Y%m%dT%H%M%S%fZ")
        return str(self.report_dir / _safe(monitor.name) / f"{stamp}.html")

    def _model_quality(
        self,
        monitor: DriftMonitor,
        gt: GroundTruth,
        sample: Columns,
        cur_range: Range,
        seed: int,
        segmentation: _Segmentation | None = None,
    ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """Metrics over the predictions that got a label, for the whole window and (with `segmentation`) per
        segment, each prediction in the segment its segment column's value gives (as for drift, OTHER included).
        Predictions: the current sample, or, with ``gt.max_delay``, a sample of the window stretched back by it
        (labels of older predictions arrive later). Labels: those received from the start of that span on. No
        labelled prediction yet (in the window or a segment): only ``labelled_rows`` 0 -- no metric, so the
        quality SLIs have no data rather than a bad event."""
        spec = monitor.columns
        if spec.id is None or spec.prediction is None:
            raise RunProblem("ground_truth needs columns.id and columns.prediction")
        start = cur_range[0]
        seg_col = segmentation.column if segmentation is not None else None
        pred_cols = list(dict.fromkeys(c for c in (spec.id, spec.prediction, gt.score_column, seg_col) if c))
        if gt.max_delay > timedelta(0) and start is not None:
            start = start - gt.max_delay
            sampler = Sampler(monitor.sample_rows, seed + 2)
            for chunk in self._chunks(monitor, monitor.current, start, cur_range[1], pred_cols, "current"):
                names = set(map(str, chunk.columns))
                cols = {c: np.asarray(chunk[c].to_numpy()) for c in pred_cols if c in names}
                if len(cols) == len(pred_cols):
                    sampler.update(cols, len(chunk))
            sample = sampler.sample()
        ids = sample.get(spec.id, np.empty(0))
        preds = sample.get(spec.prediction, np.empty(0))
        scores = None
        if gt.score_column is not None:
            raw = sample.get(gt.score_column)
            if raw is None:
                raise RunProblem(f"current data lacks the score column {gt.score_column!r}")
            scores = np.asarray([math.nan if _missing(v) else float(v) for v in raw.tolist()], dtype=np.float64)
        wanted = {_label(v) for v in ids.tolist()}
        label_ids: list[Any] = []
        labels: list[Any] = []
        for chunk in self._chunks(monitor, gt.current, start, None, [spec.id, gt.label_column], "ground truth"):
            names = set(map(str, chunk.columns))
            if spec.id not in names or gt.label_column not in names:
                raise RunProblem(f"ground truth data lacks column {spec.id!r} or {gt.label_column!r}")
            chunk_ids = chunk[spec.id].to_numpy().tolist()
            for i, y in zip(chunk_ids, chunk[gt.label_column].to_numpy().tolist(), strict=True):
                if _label(i) in wanted:  # keep only labels of sampled predictions: bounded memory
                    label_ids.append(i)
                    labels.append(y)
        joined = join_labels(
            ids, preds, np.asarray(label_ids, dtype=object), np.asarray(labels, dtype=object), scores=scores
        )
        per_segment: dict[str, dict[str, float]] = {}
        if segmentation is not None and seg_col is not None and seg_col in sample:
            rows = segment_rows(sample[seg_col], segmentation.chosen)
            per_segment = segment_model_quality(gt.task, joined, rows, gt.positive_label)
        if joined.labelled == 0:
            return {"labelled_rows": 0.0}, per_segment
        return {k: float(v) for k, v in model_quality(gt.task, joined, gt.positive_label).items()}, per_segment

    # --- pushed batches --------------------------------------------------------------------------------

    def ingest_batch(self, monitor: DriftMonitor, frame: Any, where: str = "records") -> StoredBatch:
        """Check a batch pushed to a push monitor against its schema (drift_batches.check_batch) and keep it:
        `write_batch` writes the file, the store records it. Raises NotAPushMonitor, BadBatch (the message names
        the row, column and expected type; nothing is stored) or RuntimeError (no writer)."""
        if monitor.current.kind is not CurrentKind.PUSH:
            raise NotAPushMonitor(f"monitor {monitor.name!r} reads {monitor.current.kind.value}, not pushed batches")
        if self.write_batch is None:
            raise RuntimeError("pushed batches are not enabled (no batch writer)")
        if isinstance(frame, Sequence) and not isinstance(frame, str | bytes):
            raise BadBatch("records: pass a DataFrame (the API converts records)")
        try:
            checked = check_batch(monitor, frame, self._stored_profile(monitor), where)
        except BatchProblem as exc:
            raise BadBatch(str(exc)) from None
        at = self.clock_now()
        try:
            batch = replace(self.write_batch(monitor, checked.frame, at), kind=checked.kind)
        except (TypeError, ValueError) as exc:  # pyarrow's ArrowTypeError / ArrowInvalid are these
            raise BadBatch(f"{where}: cannot be stored as Parquet: {type(exc).__name__}: {exc}") from None
        batch_id = self.store.save_batch(batch)
        if self.live is not None and checked.kind != LABELS:
            try:  # the batch is kept either way; live drift is a cheap view on top of it
                self.live.add(monitor, checked.frame, at)
            except Exception:
                log.exception("could not histogram the batch of %s for live drift", monitor.name)
        return replace(batch, id=batch_id)

    def _stored_profile(self, monitor: DriftMonitor) -> ReferenceProfile | None:
        """The reference profile of a fixed reference, once a run has built it (kinds of target / prediction)."""
        if monitor.reference.kind is not ReferenceKind.FIXED:
            return None
        try:
            cached = self.store.load_profile(monitor.name, monitor.reference.version)
            return None if cached is None else ReferenceProfile.from_json(str(cached["json"]))
        except Exception:
            log_failure(log, "could not load the reference profile of %s", monitor.name)
            return None

    def batches(self, monitor: DriftMonitor) -> list[StoredBatch]:
        """Every batch kept for `monitor` (rows and labels), oldest first."""
        return self.store.batches(monitor.name, None, None, kind=None)

    def delete_batch(self, monitor: DriftMonitor, batch_id: int) -> StoredBatch | None:
        """Forget a pushed batch and remove its file; None when `monitor` has no such batch. Later runs no
        longer see it (live drift keeps the histograms of its slice until they leave the window)."""
        found = self.store.delete_batch(monitor.name, batch_id)
        if found is not None:
            try:
                Path(found.path).unlink(missing_ok=True)
            except OSError:
                log_failure(log, "could not remove the batch file %s", found.path)
        return found

    def prune_reports(self, now: datetime) -> list[str]:
        """Remove the HTML reports older than each monitor's own `report_retention`; returns the files."""
        removed: list[str] = []
        for name, monitor in self.monitors().items():
            if monitor.report_retention is None:
                continue
            for path in self.store.prune_reports(name, now - monitor.report_retention):
                Path(path).unlink(missing_ok=True)
                removed.append(path)
        return removed

    # --- read side -------------------------------------------------------------------------------------

    def _load_latest_locked(self) -> dict[str, DriftRun]:
        if self._latest is None:
            try:
                runs = self.store.latest_runs()
            except Exception:
                log_failure(log, "could not load the latest drift runs")
                runs = []
            self._latest = {r.monitor: r for r in runs}
            self._latest_ok = {r.monitor: r for r in runs if r.status is RunStatus.OK} | self._latest_ok
        return self._latest

    def latest(self) -> dict[str, DriftRun]:
        """The newest run of every monitor (with columns)."""
        with self._lock:
            return dict(self._load_latest_locked())

    def latest_ok(self) -> dict[str, DriftRun]:
        """The newest OK run of every monitor this process knows of (after a restart: those whose newest
        stored run was OK, until the next OK run)."""
        with self._lock:
            self._load_latest_locked()
            return dict(self._latest_ok)

    def runs(self, query: RunQuery) -> list[DriftRun]:
        return self.store.runs(query)

    def run(self, run_id: int) -> DriftRun | None:
        return self.store.run(run_id)

    def failed_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.run_failed_total)


# --------------------------------------------------------------------------------------- helpers


def _ref_version(monitor: DriftMonitor) -> str:
    ref = monitor.reference
    if ref.kind is ReferenceKind.FIXED:
        return ref.version
    return f"rolling:{int(ref.window.total_seconds()) if ref.window else 'window'}s"


def _drift_columns(spec: ColumnSpec) -> dict[str, ColumnKind | None]:
    """Columns compared for drift -> their declared kind (None: inferred, for target / prediction)."""
    out: dict[str, ColumnKind | None] = {}
    for c in spec.numerical:
        out[c] = ColumnKind.NUMERICAL
    for c in spec.categorical:
        out.setdefault(c, ColumnKind.CATEGORICAL)
    for role in (spec.target, spec.prediction):
        if role is not None:
            out.setdefault(role, None)
    return out


def _all_columns(spec: ColumnSpec, timestamp: str | None) -> list[str]:
    cols: list[str] = [*spec.numerical, *spec.categorical, *spec.text, *spec.datetime]
    cols += [c for c in (spec.id, spec.target, spec.prediction, timestamp) if c is not None]
    return list(dict.fromkeys(cols))


def _floats(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Scores as floats (missing: NaN)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iufb":
        return arr.astype(np.float64)
    return np.asarray([math.nan if _missing(v) else float(v) for v in arr.tolist()], dtype=np.float64)


def _non_missing(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if values.dtype.kind in "iufb":
        return values
    kept = [v for v in values.tolist() if not _missing(v)]
    if kept and all(isinstance(v, int | float) and not isinstance(v, bool) for v in kept):
        return np.asarray(kept, dtype=np.float64)
    return np.asarray(kept, dtype=object)


def _new_labels(found: set[str], profile: ReferenceProfile, column: str, values: npt.NDArray[Any]) -> None:
    """Add the categories of `values` the reference never saw (by their string form, as the profile)."""
    if len(found) >= MAX_NEW_CATEGORIES:
        return
    col = profile.columns[column]
    known = set(col.categories) | set(col.rare)
    counts, _, _ = category_counts(values)
    for label in counts:
        if label not in known:
            found.add(label)
            if len(found) >= MAX_NEW_CATEGORIES:
                return


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "_"


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return v != v
    return type(v).__name__ in ("NAType", "NaTType")


def _label(v: Any) -> str:
    """Ids compared by their string form (1.0 and 1 are the same id): a loose pre-filter, join_labels decides."""
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _verdict(run: DriftRun) -> str:
    """One log phrase for an OK run: drift or not, which columns, how many rows."""
    drifted = [c.column for c in run.columns if c.drifted]
    share = f"{run.drifted_share * 100:.0f}% of columns drifted" if run.drifted_share is not None else "no share"
    verdict = "dataset drift" if run.dataset_drifted else "no dataset drift"
    named = f" ({', '.join(drifted[:5])}{', ...' if len(drifted) > 5 else ''})" if drifted else ""
    return f"{verdict}, {share}{named}, {run.rows_reference or 0} reference / {run.rows_current or 0} current rows"
