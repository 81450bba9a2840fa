"""Benchmark: one drift run of a monitor sliced in segments (``segment_by``) vs the same run unsegmented.

    .venv/bin/python bench/bench_drift_segments.py                   # 1M rows x 20 columns, 10 segments, 3 runs
    .venv/bin/python bench/bench_drift_segments.py --rows 200000 --runs 5

Data as bench_drift_evidently.py (14 numerical, 6 categorical columns; current shifted by 0.25 std on num0..num6)
plus a ``segment`` column of 10 values; reference and current are Parquet files of ``--rows`` rows each. Each run is
``DriftService.run_monitor`` with the real FileReader and the real Evidently worker (DriftWorkerPool, warmed up
first), a fixed reference and a fresh in-memory store per run, so every run pays the reference profile -- and,
segmented, the two extra passes over the reference that build the segment profiles. Printed: the median wall time
of each mode, the ratio, and the load average before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.bench_drift_evidently import CAT, NUM, make_frame
from slo_service.adapters.drift import DriftWorkerPool
from slo_service.adapters.drift.readers import FileReader
from slo_service.adapters.memory_drift import InMemoryDriftStore
from slo_service.core.drift.monitor import (
    ColumnSpec,
    CurrentData,
    CurrentKind,
    DriftMonitor,
    ReferenceData,
    ReferenceKind,
    RunStatus,
)
from slo_service.drift_wiring import pool_submit
from slo_service.pipeline.drift import DriftService

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def write(path: Path, rows: int, seed: int, scenario: str) -> None:
    df = make_frame(rows, seed, scenario)
    df["segment"] = np.random.default_rng(seed + 100).choice([f"s{i}" for i in range(10)], rows)
    df.to_parquet(path)


def one_run(pool: DriftWorkerPool, ref: Path, cur: Path, segmented: bool) -> float:
    monitor = DriftMonitor(
        name="bench",
        current=CurrentData(kind=CurrentKind.FILES, path=str(cur)),
        reference=ReferenceData(kind=ReferenceKind.FIXED, path=str(ref), version="v1"),
        columns=ColumnSpec(numerical=NUM, categorical=CAT),
        window=None,
        window_rows=10**9,  # every row of the current file
        timeout=timedelta(minutes=10),
        segment_by="segment" if segmented else None,
    )
    svc = DriftService(InMemoryDriftStore(), FileReader(), pool_submit(pool), clock_now=lambda: NOW)
    t0 = time.perf_counter()
    run = svc.run_monitor(monitor)
    elapsed = time.perf_counter() - t0
    if run.status is not RunStatus.OK:
        raise SystemExit(f"run failed: {run.reason}")
    if segmented and len(run.segments) != 10:
        raise SystemExit(f"expected 10 segments, got {[s.segment for s in run.segments]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ref, cur = Path(tmp) / "ref.parquet", Path(tmp) / "cur.parquet"
        write(ref, args.rows, 1, "shift_0")
        write(cur, args.rows, 2, "shift_0.25")
        pool = DriftWorkerPool(max_workers=1)
        try:
            one_run(pool, ref, cur, False)  # warm the worker (Evidently's import)
            print(f"load average before: {os.getloadavg()}")
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.runs):  # interleaved: drifting machine load hits both modes alike
                for segmented in (False, True):
                    times[segmented].append(one_run(pool, ref, cur, segmented))
            print(f"load average after: {os.getloadavg()}")
        finally:
            pool.close()
    plain, seg = statistics.median(times[False]), statistics.median(times[True])
    print(f"{args.rows} rows x 20 columns, {args.runs} runs each")
    print(f"unsegmented: median {plain:.2f} s  {[round(t, 2) for t in times[False]]}")
    print(f"10 segments: median {seg:.2f} s  {[round(t, 2) for t in times[True]]}")
    print(f"ratio: {seg / plain:.2f}x")


if __name__ == "__main__":
    main()
