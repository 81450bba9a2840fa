"""Benchmark: our sampled, per-column ValueDrift run in the drift worker vs a plain full-frame DataDriftPreset.

    .venv/bin/python bench/bench_drift_evidently.py                      # 100k rows a side, all scenarios
    .venv/bin/python bench/bench_drift_evidently.py --full --scenarios shift_0.5   # + the 1M baseline (~2 min, 2 GiB)

Data: 20 columns (14 numerical of several shapes, 6 categorical), reference and current of the same size,
written to Parquet. Scenarios: numerical columns num0..num6 shifted by 0 / 0.1 / 0.25 / 0.5 / 1 std
(num7..num13 unchanged); ``new_categories`` (15 % of the rows of cat0..cat2 get unseen labels);
``category_mix`` (cat0..cat2 drawn with reversed probabilities).

(a) baseline: ``Report([DataDriftPreset()])`` on the full frames (1M rows only with --full);
(b) ours: ``DriftWorkerPool.submit`` with ``sample_rows`` (default 50k) -- chunked Parquet read, seeded
    sample, one ValueDrift per column.
Each (size, scenario, mode) runs in a fresh process whose spawned worker does the work; the worker is
warmed up first, so the times exclude Evidently's import (printed separately), and include reading the
Parquet files. Peak RSS is the worker's ru_maxrss (RUSAGE_CHILDREN after it exited). Agreement: share of
the 20 columns on which our drifted flag equals the baseline's (at the size where both ran).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slo_service.adapters.drift import ColumnMapping, DriftJob, DriftWorkerPool

NUM = tuple(f"num{i}" for i in range(14))
CAT = tuple(f"cat{i}" for i in range(6))
MAPPING = ColumnMapping(numerical=NUM, categorical=CAT)
SCENARIOS = ["shift_0", "shift_0.1", "shift_0.25", "shift_0.5", "shift_1", "new_categories", "category_mix"]
CAT_LEVELS = [4, 6, 8, 12, 20, 3]


def make_frame(n: int, seed: int, scenario: str = "shift_0") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    shapes = ["normal", "lognormal", "uniform", "exponential", "poisson", "gamma", "bimodal"]
    for i, name in enumerate(NUM):
        shape = shapes[i % len(shapes)]
        if shape == "normal":
            x = rng.normal(5.0 * i, 1.0 + i, n)
        elif shape == "lognormal":
            x = rng.lognormal(0.0, 0.5, n)
        elif shape == "uniform":
            x = rng.uniform(0, 100, n)
        elif shape == "exponential":
            x = rng.exponential(3.0, n)
        elif shape == "poisson":
            x = rng.poisson(20, n).astype(float)
        elif shape == "gamma":
            x = rng.gamma(2.0, 2.0, n)
        else:
            x = np.where(rng.random(n) < 0.5, rng.normal(-2, 1, n), rng.normal(3, 0.5, n))
        if scenario.startswith("shift_") and i < 7:
            x = x + float(scenario.split("_")[1]) * float(np.std(x))
        cols[name] = x
    for j, name in enumerate(CAT):
        k = CAT_LEVELS[j]
        p = np.arange(k, 0, -1, dtype=float)
        p /= p.sum()
        if scenario == "category_mix" and j < 3:
            p = p[::-1]
        labels = np.array([f"v{v}" for v in range(k)], dtype=object)
        vals = labels[rng.choice(k, n, p=p)]
        if scenario == "new_categories" and j < 3:
            vals[rng.random(n) < 0.15] = "unseen"
        cols[name] = vals
    return pd.DataFrame(cols)


# -- work done inside spawned children -------------------------------------------------------------


def _baseline_warm() -> None:
    import evidently  # noqa: F401


def _baseline_run(ref_path: str, cur_path: str) -> dict[str, Any]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from slo_service.adapters.drift.evidently_runner import evidently_verdicts

    t0 = time.perf_counter()
    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    dd = DataDefinition(numerical_columns=list(NUM), categorical_columns=list(CAT))
    snap = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(cur, data_definition=dd), Dataset.from_pandas(ref, data_definition=dd)
    )
    verdicts = evidently_verdicts(snap)
    return {
        "seconds": time.perf_counter() - t0,
        "flags": {c: v[3] for c, v in verdicts.items()},
        "scores": {c: v[1] for c, v in verdicts.items()},
        "thresholds": {c: v[2] for c, v in verdicts.items()},
    }


def run_case(mode: str, ref_path: str, cur_path: str, sample_rows: int) -> dict[str, Any]:
    """One measurement in this (fresh) process; the work runs in a spawned child."""
    if mode == "baseline":
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(1, mp_context=ctx) as ex:
            t0 = time.perf_counter()
            ex.submit(_baseline_warm).result()
            import_s = time.perf_counter() - t0
            res = ex.submit(_baseline_run, ref_path, cur_path).result()
        res["import_s"] = import_s
    else:
        with DriftWorkerPool() as pool:
            import_s = pool.warm_up() or float("nan")
            out = pool.submit(DriftJob(ref_path, cur_path, MAPPING, sample_rows=sample_rows, seed=0), timeout_s=3600)
        if out.status != "ok":
            raise SystemExit(f"drift job failed: {out.reason}")
        res = {
            "seconds": out.duration_s,
            "import_s": import_s,
            "flags": {c.name: bool(c.drifted) for c in out.columns},
            "scores": {c.name: c.score for c in out.columns},
            "sample": [out.sample_rows_reference, out.sample_rows_current],
        }
    res["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return res


def _in_fresh_process(mode: str, ref_path: Path, cur_path: Path, sample_rows: int) -> dict[str, Any]:
    args = [sys.executable, __file__, "--case", mode, str(ref_path), str(cur_path), str(sample_rows)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--scenarios", nargs="+", default=SCENARIOS, choices=SCENARIOS)
    ap.add_argument("--sample-rows", type=int, default=50_000)
    ap.add_argument("--full", action="store_true", help="also run the baseline at 1M rows (~2 min, 2 GiB each)")
    ap.add_argument("--case", nargs=4, metavar=("MODE", "REF", "CUR", "SAMPLE"), help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.case:
        mode, ref, cur, sample = ns.case
        print(json.dumps(run_case(mode, ref, cur, int(sample))))
        return

    header = (
        f"{'rows/side':>9} {'scenario':<15} {'base s':>7} {'base MiB':>8} {'ours s':>7} {'ours MiB':>8} "
        f"{'speed-up':>8} {'drifted b/o':>11} {'agree':>6} {'max|dscore|':>11}"
    )
    print(f"sample_rows={ns.sample_rows}; times exclude Evidently's import; MiB = worker peak RSS")
    print(header)
    print("-" * len(header))
    imports: list[float] = []
    disagreements: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in ns.sizes:
            ref_path = Path(tmp) / f"ref_{n}.parquet"
            make_frame(n, seed=1).to_parquet(ref_path, index=False)
            for scenario in ns.scenarios:
                cur_path = Path(tmp) / f"cur_{n}_{scenario}.parquet"
                make_frame(n, seed=2, scenario=scenario).to_parquet(cur_path, index=False)
                ours = _in_fresh_process("ours", ref_path, cur_path, ns.sample_rows)
                imports.append(ours["import_s"])
                base = None
                if n < 1_000_000 or ns.full:
                    base = _in_fresh_process("baseline", ref_path, cur_path, ns.sample_rows)
                n_ours = sum(ours["flags"].values())
                if base is not None:
                    agree = np.mean([ours["flags"][c] == base["flags"][c] for c in (*NUM, *CAT)])
                    n_base = sum(base["flags"].values())
                    dscore = max(abs(ours["scores"][c] - base["scores"][c]) for c in (*NUM, *CAT))
                    print(
                        f"{n:>9} {scenario:<15} {base['seconds']:>7.2f} {base['peak_rss_mib']:>8.0f} "
                        f"{ours['seconds']:>7.2f} {ours['peak_rss_mib']:>8.0f} "
                        f"{base['seconds'] / ours['seconds']:>7.1f}x {f'{n_base}/{n_ours}':>11} {agree:>6.0%} "
                        f"{dscore:>11.4f}"
                    )
                    disagreements += [
                        f"  {n} {scenario} {c}: baseline {base['scores'][c]:.4f} vs ours {ours['scores'][c]:.4f} "
                        f"(threshold {base['thresholds'][c]:g})"
                        for c in (*NUM, *CAT)
                        if ours["flags"][c] != base["flags"][c]
                    ]
                else:
                    print(
                        f"{n:>9} {scenario:<15} {'-':>7} {'-':>8} {ours['seconds']:>7.2f} "
                        f"{ours['peak_rss_mib']:>8.0f} {'-':>8} {f'-/{n_ours}':>11} {'-':>6} {'-':>11}"
                    )
                cur_path.unlink()
                sys.stdout.flush()
    print(f"Evidently import in the worker: median {np.median(imports):.1f} s")
    if disagreements:
        print("Columns where the verdicts differ (scores):")
        print("\n".join(disagreements))


if __name__ == "__main__":
    main()
