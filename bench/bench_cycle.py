"""Benchmark: one whole evaluation cycle of the pipeline (advance, settle timeslices, evaluate, snapshot).

    .venv/bin/python bench/bench_cycle.py --slos 1000 10000 --runs 5

bench_evaluate.py times core.evaluation.evaluate() alone; this times pipeline.Evaluator.run(), what the
scheduler calls every evaluation interval: the matrix advances, finished 5-minute timeslices of the
timeslice SLOs are judged and written to the store, every SLO is evaluated, and (every
snapshot_interval) a snapshot per SLO is saved. The store is the in-memory one, so the figure is the
service's own work, not the database's (bench_store.py measures that). Each cycle is 15 s after the last.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from datetime import timedelta

from bench_evaluate import NOW, build, make_slos, vm_hwm_mib

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.pipeline.evaluate import Evaluator
from slo_service.pipeline.history import LiveHistory


def run(n: int, days: int, runs: int) -> dict[str, float]:
    slos = make_slos(n)
    matrix, _ = build(slos, days)
    store = InMemoryHistoryStore()
    history = LiveHistory(store, NOW)
    history.matrix = matrix
    evaluator = Evaluator(history, snapshot_interval=timedelta(minutes=5))
    now = NOW
    evaluator.run(slos, now)  # first cycle: settles the last 6 h of timeslices and saves snapshots
    gc.collect()
    plain, with_snapshot = [], []
    for i in range(runs * 2):
        now += timedelta(seconds=15)
        t0 = time.perf_counter()
        evaluator._last_snapshot = None if i % 2 else now  # alternate: every other cycle saves snapshots
        result = evaluator.run(slos, now)
        (with_snapshot if i % 2 else plain).append(time.perf_counter() - t0)
        assert len(result.statuses) == n
    return {
        "slos": n,
        "median_cycle_s": statistics.median(plain),
        "median_cycle_with_snapshot_s": statistics.median(with_snapshot),
        "peak_rss_mib": vm_hwm_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slos", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'SLOs':>7} {'cycle (s)':>10} {'cycle+snapshot (s)':>19} {'peak RSS (MiB)':>15}")
    for n in args.slos:
        r = run(n, args.history_days, args.runs)
        print(
            f"{r['slos']:>7,} {r['median_cycle_s']:>10.3f} {r['median_cycle_with_snapshot_s']:>19.3f}"
            f" {r['peak_rss_mib']:>15.0f}"
        )


if __name__ == "__main__":
    main()
