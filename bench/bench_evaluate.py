"""Benchmark: evaluate() over N SLOs, each with a full history of 1-minute slices in a CountsMatrix.

    .venv/bin/python bench/bench_evaluate.py --slos 1000 10000 --history-days 1 7 30 --runs 5

For every (N, history) it builds a fresh CountsMatrix, bulk-loads the history one day at a time
with add_many (as start-up does from SQL), advances the grid minute by minute through the last
hour, then times evaluate() over all SLOs (median of --runs). Each case runs in a fresh process;
prints its peak RSS (VmHWM, including the loader's temporaries) and the matrix's own memory.
A tenth of the SLOs use timeslices budgeting and also get a "#slices" verdict row.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from slo_service.core.counts_matrix import CountsMatrix
from slo_service.core.evaluation import SLICES_SUFFIX, evaluate
from slo_service.core.model import (
    SLO,
    Budgeting,
    BudgetingMethod,
    CalendarUnit,
    Period,
    RatioSLI,
)

NOW = datetime(2026, 11, 28, 9, 30, 17, tzinfo=UTC)


def make_slos(n: int) -> list[SLO]:
    periods = [
        Period.rolling(timedelta(days=30)),
        Period.rolling(timedelta(days=28)),
        Period.calendar(CalendarUnit.MONTH, "Europe/Berlin"),
        Period.calendar(CalendarUnit.WEEK, "America/New_York"),
    ]
    slos = []
    for i in range(n):
        budgeting = (
            Budgeting(BudgetingMethod.TIMESLICES, slice=timedelta(minutes=5), slice_threshold=0.99)
            if i % 10 == 9
            else Budgeting()
        )
        slos.append(
            SLO(
                service=f"svc{i // 10}",
                name=f"slo{i}",
                objective=0.999 if i % 2 else 0.99,
                period=periods[i % len(periods)],
                sli=RatioSLI(source="bench", total="requests_total", good="requests_ok_total"),
                budgeting=budgeting,
            )
        )
    return slos


def vm_hwm_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def build(slos: list[SLO], history_days: int) -> tuple[CountsMatrix, float]:
    keys = [s.key for s in slos] + [s.key + SLICES_SUFFIX for s in slos if s.budgeting.slice is not None]
    start_clock = NOW - timedelta(hours=1)
    matrix = CountsMatrix(keys, start_clock)
    rng = np.random.default_rng(42)
    n_rows = len(slos)
    t0 = time.perf_counter()
    first_minute = (int(start_clock.timestamp()) // 60) - history_days * 1440
    last_minute = int(start_clock.timestamp()) // 60  # inclusive: the open minute at start_clock
    rows_1 = np.arange(n_rows, dtype=np.int64)
    chunk = 120  # minutes per add_many call: keeps the loader's temporary arrays small
    for chunk_start in range(first_minute, last_minute + 1, chunk):
        minutes = np.arange(chunk_start, min(chunk_start + chunk, last_minute + 1), dtype=np.int64)
        rows = np.repeat(rows_1, len(minutes))
        secs = np.tile(minutes * 60, n_rows)
        total = rng.integers(80, 120, size=len(rows)).astype(np.float64)
        good = total - (rng.random(len(rows)) < 0.05)
        matrix.add_many(rows, secs, good, total)
    slice_rows = np.array([matrix.row(k) for k in keys if k.endswith(SLICES_SUFFIX)], dtype=np.int64)
    slice_starts = np.arange(first_minute * 60, last_minute * 60 - 300, 300, dtype=np.int64)
    for day in range(0, len(slice_starts), 288):  # one day of 5-minute verdicts per call
        starts = slice_starts[day : day + 288]
        rows = np.repeat(slice_rows, len(starts))
        secs = np.tile(starts, len(slice_rows))
        good = (rng.random(len(rows)) > 0.01).astype(np.float64)
        matrix.add_many(rows, secs, good, np.ones(len(rows)))
    # then one hour of live operation: a write per SLO per minute, advancing the grid each minute
    for k in range(1, 61):
        at = start_clock + timedelta(minutes=k)
        matrix.advance(at)
        secs = np.full(n_rows, int(at.timestamp()), dtype=np.int64)
        total = rng.poisson(100, size=n_rows).astype(np.float64)
        matrix.add_many(rows_1, secs, total - 1, total)
    return matrix, time.perf_counter() - t0


def run_one(n: int, days: int, runs: int) -> dict[str, float]:
    slos = make_slos(n)
    matrix, load_s = build(slos, days)
    gc.collect()
    evaluate(matrix, slos, NOW)  # warm-up (BLAS threads, caches)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        statuses = evaluate(matrix, slos, NOW)
        times.append(time.perf_counter() - t0)
        assert len(statuses) == n
    return {
        "slos": n,
        "days": days,
        "rows": len(matrix.keys),
        "load_s": load_s,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "matrix_mib": matrix.memory_bytes() / 2**20,
        "peak_rss_mib": vm_hwm_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slos", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--history-days", type=int, nargs="+", default=[1, 7, 30])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--in-process", action="store_true", help="run every case in this process")
    args = parser.parse_args()
    print(
        f"{'SLOs':>6} {'rows':>6} {'history':>8} {'load s':>7} {'median s':>9} {'min s':>7}"
        f" {'matrix MiB':>10} {'peak RSS MiB':>12}"
    )
    medians: dict[tuple[int, int], float] = {}
    for n in args.slos:
        for days in args.history_days:
            if args.in_process:
                r = run_one(n, days, args.runs)
            else:  # a fresh process per case, so the peak RSS (VmHWM) is that case's own
                out = subprocess.run(
                    [sys.executable, __file__, "--one", str(n), str(days), str(args.runs)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                r = json.loads(out.strip().splitlines()[-1])
            medians[(n, days)] = r["median_s"]
            print(
                f"{n:>6} {int(r['rows']):>6} {days:>7}d {r['load_s']:>7.1f} {r['median_s']:>9.3f}"
                f" {r['min_s']:>7.3f} {r['matrix_mib']:>10.1f} {r['peak_rss_mib']:>12.0f}",
                flush=True,
            )
    if len(args.slos) >= 2:
        lo, hi = min(args.slos), max(args.slos)
        for days in args.history_days:
            ratio = medians[(hi, days)] / medians[(lo, days)]
            print(f"ratio {hi}/{lo} SLOs at {days}d history: {ratio:.1f}x (median cycle)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        print(json.dumps(run_one(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
