"""Benchmark: the cheap per-slice drift metrics (slo_service.core.drift) for 20 columns.

    .venv/bin/python bench/bench_drift_slices.py [--rows 1000 10000] [--runs 7]

20 columns (14 numerical, 6 categorical of 30 categories, 1% missing), a reference profile of 100k rows
(20 quantile bins, top 50 categories). Times, median of --runs runs:

- histogram: `histogram_batch` of one slice of N rows (all 20 columns), from numpy arrays as pandas'
  `to_numpy()` gives them (float64, object);
- merge: a day of minute slices (1440 histograms per column) merged with `merge_many`, all 20 columns;
  and the same with a left fold of pairwise `merge` for comparison;
- score: `column_drift` (auto method) of the 20 merged histograms plus `dataset_drift`;
- the JSON size of one slice's 20 histograms (what a store would keep per slice).
Building the profile itself (once per reference version) is timed once.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from slo_service.core.drift import (
    ColumnKind,
    SliceHistogram,
    build_profile,
    column_drift,
    dataset_drift,
    histogram_batch,
    merge,
    merge_many,
)

N_NUM, N_CAT, N_CATEGORIES, REF_ROWS, SLICES = 14, 6, 30, 100_000, 1440


def make_columns(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    labels = np.array([f"cat_{i:02d}" for i in range(N_CATEGORIES)], dtype=object)
    p = 1.0 / np.arange(1, N_CATEGORIES + 1)
    p /= p.sum()
    for i in range(N_NUM):
        x = rng.normal(10.0 * i + shift, 1.0 + i, n)
        x[rng.random(n) < 0.01] = np.nan
        cols[f"num_{i:02d}"] = x
    for i in range(N_CAT):
        c = labels[rng.choice(N_CATEGORIES, n, p=p)]
        c[rng.random(n) < 0.01] = None
        cols[f"cat_{i:02d}"] = c
    return cols


def kinds() -> dict[str, ColumnKind]:
    out = {f"num_{i:02d}": ColumnKind.NUMERICAL for i in range(N_NUM)}
    out.update({f"cat_{i:02d}": ColumnKind.CATEGORICAL for i in range(N_CAT)})
    return out


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def run(rows: int, runs: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    profile = build_profile(make_columns(rng, REF_ROWS), kinds(), "bench-v1")
    one = make_columns(rng, rows, shift=0.1)
    t_hist = median_ms(lambda: histogram_batch(profile, one), runs)
    # a day of minute slices: 24 distinct slices repeated (histogramming 1440 x rows rows would only slow the setup)
    distinct = [histogram_batch(profile, make_columns(rng, rows, shift=0.1)) for _ in range(24)]
    day = [distinct[i % len(distinct)] for i in range(SLICES)]
    names = list(profile.columns)

    def merge_day() -> dict[str, SliceHistogram]:
        return {name: merge_many([s[name] for s in day]) for name in names}

    def fold_day() -> dict[str, SliceHistogram]:
        return {name: functools.reduce(merge, [s[name] for s in day]) for name in names}

    merged = merge_day()
    t_merge = median_ms(merge_day, runs)
    t_fold = median_ms(fold_day, runs)

    def score() -> tuple[float, bool]:
        return dataset_drift([column_drift(profile.columns[n], merged[n]) for n in names])

    t_score = median_ms(score, runs)
    size = sum(len(h.to_json()) for h in histogram_batch(profile, one).values())
    return {"rows": rows, "hist": t_hist, "merge": t_merge, "fold": t_fold, "score": t_score, "json": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000, 10_000])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    ref = make_columns(rng, REF_ROWS)
    t0 = time.perf_counter()
    build_profile(ref, kinds(), "bench-v1")
    t_profile = (time.perf_counter() - t0) * 1e3

    print("$ .venv/bin/python " + " ".join(sys.argv))
    print(
        f"20 columns ({N_NUM} numerical, {N_CAT} categorical), profile of {REF_ROWS:,} reference rows built once in "
        f"{t_profile:.0f} ms; median of {args.runs} runs; numpy {np.__version__}, Python {sys.version.split()[0]}"
    )
    print()
    header = (
        "| rows/slice | histogram 1 slice (ms) | merge 1440 slices, merge_many (ms) | merge 1440, pairwise fold (ms) "
        "| score 20 cols + dataset (ms) | JSON / slice (bytes) |"
    )
    print(header)
    print("|" + "|".join("---:" for _ in range(6)) + "|")
    for rows in args.rows:
        r = run(rows, args.runs)
        print(
            f"| {rows:,} | {r['hist']:.2f} | {r['merge']:.1f} | {r['fold']:.1f} | {r['score']:.2f} "
            f"| {int(r['json']):,} |"
        )


if __name__ == "__main__":
    main()
