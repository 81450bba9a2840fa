"""Run Evidently drift jobs in a separate worker process, with a timeout.

The parent (API / SLO evaluation) never imports Evidently: jobs go to a
``ProcessPoolExecutor`` using the ``spawn`` context, and only the child imports
:mod:`slo_service.adapters.drift.evidently_runner` (which imports Evidently lazily).
A job that exceeds its timeout gets its worker process killed and the pool
recreated; every failure comes back as ``DriftOutcome(status="failed", reason=...)``.

This module imports only the standard library, so the job/outcome types can be
used anywhere in the service.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ColumnMapping",
    "ColumnResult",
    "DriftJob",
    "DriftOutcome",
    "DriftWorkerPool",
]

Status = Literal["ok", "failed"]
ColumnKind = Literal["numerical", "categorical", "text"]


@dataclass(frozen=True)
class ColumnMapping:
    """Which column is what. Drift is checked on numerical, categorical and text columns and on
    target / prediction (numerical if the reference column is numeric, else categorical);
    datetime and id columns are declared to Evidently but not checked."""

    numerical: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    datetime: tuple[str, ...] = ()
    id: str | None = None
    target: str | None = None
    prediction: str | None = None

    def all_columns(self) -> list[str]:
        """Every mapped column, without duplicates, in mapping order."""
        cols: list[str] = [*self.numerical, *self.categorical, *self.text, *self.datetime]
        cols += [c for c in (self.id, self.target, self.prediction) if c is not None]
        return list(dict.fromkeys(cols))


# Reference / current data: a path to a Parquet or CSV file, or a (small) pandas DataFrame.
DataSource = Any


@dataclass
class DriftJob:
    """One drift comparison. Plain and picklable: sent to the worker process as is.

    ``stattests`` / ``thresholds`` override Evidently's automatic per-column choice
    (e.g. ``{"age": "psi"}``, ``{"age": 0.2}``). ``sample_rows`` caps the rows of each side
    that Evidently sees (seeded uniform sample without replacement, drawn chunk by chunk
    from files). ``drift_share``: the dataset counts as drifted when the share of drifted
    columns is >= it (Evidently's rule). ``debug_sleep_s`` is a test hook only.
    """

    reference: DataSource
    current: DataSource
    columns: ColumnMapping
    sample_rows: int = 50_000
    seed: int = 0
    stattests: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    drift_share: float = 0.5
    report_path: str | None = None
    chunk_rows: int = 100_000
    debug_sleep_s: float = 0.0
    findings: list[str] = field(default_factory=list)
    """Data-quality findings of the run, shown at the top of the HTML report."""


@dataclass
class ColumnResult:
    """Per-column verdict. ``status="skipped"`` (with ``reason``) for a column that could not
    be compared (e.g. all values empty on one side); then score/threshold/drifted are None."""

    name: str
    kind: str
    method: str | None
    score: float | None
    threshold: float | None
    drifted: bool | None
    status: Literal["ok", "skipped"] = "ok"
    reason: str | None = None


@dataclass
class DriftOutcome:
    status: Status
    reason: str | None = None
    columns: list[ColumnResult] = field(default_factory=list)
    drifted_share: float | None = None
    dataset_drifted: bool | None = None
    sample_rows_reference: int | None = None
    sample_rows_current: int | None = None
    duration_s: float = 0.0
    report_path: str | None = None
    report_error: str | None = None
    """Why the HTML report asked for was not written (the verdicts are still valid)."""

    @classmethod
    def failed(cls, reason: str, duration_s: float = 0.0) -> DriftOutcome:
        return cls(status="failed", reason=reason, duration_s=duration_s)

    @property
    def drifted_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.drifted]


def _worker_init(parent_pid: int | None = None) -> None:
    # Evidently's telemetry is only used by its CLI/UI; make sure it can never phone home.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if parent_pid is not None:
        threading.Thread(target=_exit_with_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    """End this worker once the service that started it is gone (killed with SIGKILL, or crashed): an orphaned
    worker holds Evidently's ~340 MB for nothing. A reparented process sees another parent pid."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(0)


def _warm_up() -> float:
    """Import Evidently in the worker; returns the import time (s)."""
    t0 = time.perf_counter()
    from slo_service.adapters.drift import evidently_runner

    evidently_runner.import_evidently()
    return time.perf_counter() - t0


def _run_job(job: DriftJob) -> DriftOutcome:
    from slo_service.adapters.drift.evidently_runner import run_job

    return run_job(job)


class DriftWorkerPool:
    """A process pool (spawn context) for drift jobs.

    ``submit`` blocks the calling thread (run it in a thread from async code) and never raises
    for job problems: timeouts, worker crashes and Evidently errors become failed outcomes.
    Calls are serialised by a lock, so a job's timeout does not include waiting for another
    job. A fresh worker (the first one, or the replacement of a killed one) first imports
    Evidently (~5 s) under its own ``warm_up_timeout_s``, outside the job's timeout; call
    ``warm_up()`` at start-up to pay that early.
    """

    def __init__(self, max_workers: int = 1, mp_context: str = "spawn", warm_up_timeout_s: float = 120.0) -> None:
        self._max_workers = max_workers
        self._ctx = multiprocessing.get_context(mp_context)
        self._warm_up_timeout_s = warm_up_timeout_s
        self._lock = threading.Lock()
        self._executor: cf.ProcessPoolExecutor | None = None
        self._warm = False
        self._closed = False

    # -- pool lifecycle -------------------------------------------------------------------
    def _pool(self) -> cf.ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("DriftWorkerPool is closed")
        if self._executor is None:
            self._executor = cf.ProcessPoolExecutor(
                max_workers=self._max_workers,
                mp_context=self._ctx,
                initializer=_worker_init,
                initargs=(os.getpid(),),
            )
        return self._executor

    def _kill(self) -> None:
        """Kill the worker processes (a stuck job cannot be cancelled otherwise) and drop the pool."""
        ex, self._executor = self._executor, None
        self._warm = False
        if ex is None:
            return
        procs = list(getattr(ex, "_processes", {}).values())  # private, but the only handle on the children
        for p in procs:
            if p.is_alive():
                p.kill()
        ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            p.join(timeout=5)

    def worker_pids(self) -> list[int]:
        ex = self._executor
        return [p.pid for p in getattr(ex, "_processes", {}).values()] if ex is not None else []

    def warm_up(self, timeout_s: float | None = None) -> float | None:
        """Start the worker and import Evidently there. Returns the import time (s), None on failure."""
        with self._lock:
            return self._warm_up_locked(timeout_s)

    def _warm_up_locked(self, timeout_s: float | None = None) -> float | None:
        try:
            seconds = float(self._pool().submit(_warm_up).result(timeout=timeout_s or self._warm_up_timeout_s))
        except Exception:
            self._kill()
            return None
        self._warm = True
        return seconds

    def submit(self, job: DriftJob, timeout_s: float) -> DriftOutcome:
        """Run ``job`` in the worker; wait at most ``timeout_s`` seconds for it."""
        with self._lock:
            if not self._warm and self._warm_up_locked() is None:
                return DriftOutcome.failed(
                    f"drift worker failed to start (Evidently import failed or took over {self._warm_up_timeout_s:g} s)"
                )
            t0 = time.perf_counter()
            try:
                fut = self._pool().submit(_run_job, job)
            except Exception as exc:  # broken pool, unpicklable job, ...
                self._kill()
                return DriftOutcome.failed(f"could not submit drift job: {exc!r}", time.perf_counter() - t0)
            try:
                outcome = fut.result(timeout=timeout_s)
            except cf.TimeoutError:
                self._kill()
                return DriftOutcome.failed(f"timed out after {timeout_s:g} s", time.perf_counter() - t0)
            except cf.process.BrokenProcessPool as exc:
                self._kill()
                return DriftOutcome.failed(f"drift worker died: {exc}", time.perf_counter() - t0)
            except Exception as exc:  # e.g. an unpicklable result or error
                return DriftOutcome.failed(f"drift job error: {exc!r}", time.perf_counter() - t0)
            outcome.duration_s = time.perf_counter() - t0
            return outcome

    def close(self) -> None:
        """Stop the worker processes now, a running job's included (it comes back failed): a stopped service
        leaves no Evidently process behind."""
        self._closed = True
        # Not under the lock first: a running job (or the warm-up) holds it until its timeout, minutes away.
        ex = self._executor
        for p in list(getattr(ex, "_processes", {}).values()) if ex is not None else []:
            if p.is_alive():
                p.kill()
        with self._lock:
            self._kill()

    def __enter__(self) -> DriftWorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
