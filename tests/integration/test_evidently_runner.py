"""The Evidently drift adapter: verdicts on synthetic shifts (checked against a plain DataDriftPreset run),
failure handling, timeouts and the rule that the service process never imports Evidently.

Evidently runs in a spawned worker (one per module: its import costs ~4 s). The timeout test kills that
worker, so the next job pays the import again; that test carries a larger pytest timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slo_service.adapters.drift import ColumnMapping, DriftJob, DriftOutcome, DriftWorkerPool
from slo_service.adapters.drift.evidently_runner import load_sample

N_ROWS = 3_000
NUM = tuple(f"num{i}" for i in range(7))
CAT = tuple(f"cat{i}" for i in range(3))
MAPPING = ColumnMapping(numerical=NUM, categorical=CAT)
SHIFTED = {"num0", "num1", "num2", "cat0"}
JOB_TIMEOUT_S = 60.0


def make_frame(seed: int, n: int = N_ROWS, shifted: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for i, col in enumerate(NUM):
        mean, std = 10.0 * i, 1.0 + i
        shift = std if shifted and col in {"num0", "num1", "num2"} else 0.0
        data[col] = rng.normal(mean + shift, std, n)
    for col in CAT:
        data[col] = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    df = pd.DataFrame(data)
    if shifted:  # a category never seen in the reference, on a fifth of the rows
        df.loc[rng.random(n) < 0.2, "cat0"] = "brand_new"
    return df


@pytest.fixture(scope="module")
def pool() -> Iterator[DriftWorkerPool]:
    with DriftWorkerPool(max_workers=1) as p:
        assert p.warm_up() is not None
        yield p


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return make_frame(seed=1)


def run(pool: DriftWorkerPool, ref: object, cur: object, **kw: object) -> DriftOutcome:
    kw.setdefault("columns", MAPPING)
    return pool.submit(DriftJob(reference=ref, current=cur, **kw), timeout_s=JOB_TIMEOUT_S)  # type: ignore[arg-type]


def preset_verdicts(ref: pd.DataFrame, cur: pd.DataFrame) -> tuple[dict[str, bool], float]:
    """Per-column flags and drifted share of a plain ``Report([DataDriftPreset()])`` run, in this process."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from slo_service.adapters.drift.evidently_runner import evidently_verdicts

    dd = DataDefinition(numerical_columns=list(NUM), categorical_columns=list(CAT))
    snap = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(cur, data_definition=dd), Dataset.from_pandas(ref, data_definition=dd)
    )
    flags = {col: v[3] for col, v in evidently_verdicts(snap).items()}
    share = next(
        m["value"]["share"] for m in snap.dict()["metrics"] if m["config"]["type"].endswith(":DriftedColumnsCount")
    )
    return flags, float(share)


# -- verdicts --------------------------------------------------------------------------------------


def test_known_shift_flags_exactly_the_shifted_columns(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    current = make_frame(seed=2, shifted=True)
    out = run(pool, reference, current)
    assert out.status == "ok", out.reason
    assert set(out.drifted_columns) == SHIFTED
    assert out.drifted_share == pytest.approx(0.4)
    assert out.dataset_drifted is False  # 0.4 < default drift_share 0.5
    assert out.sample_rows_reference == out.sample_rows_current == N_ROWS
    by_name = {c.name: c for c in out.columns}
    assert [c.name for c in out.columns] == [*NUM, *CAT]
    assert by_name["num0"].kind == "numerical" and by_name["cat0"].kind == "categorical"
    assert by_name["num0"].method == "wasserstein" and by_name["num0"].threshold == 0.1
    assert by_name["num0"].score is not None and by_name["num0"].score > 0.5
    assert by_name["cat0"].method == "jensenshannon"

    flags, share = preset_verdicts(reference, current)
    assert {c.name: c.drifted for c in out.columns} == flags
    assert out.drifted_share == pytest.approx(share)


def test_unshifted_sample_flags_nothing(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    current = make_frame(seed=3)
    out = run(pool, reference, current)
    assert out.status == "ok", out.reason
    assert out.drifted_columns == []
    assert out.drifted_share == 0.0 and out.dataset_drifted is False
    flags, _ = preset_verdicts(reference, current)
    assert {c.name: c.drifted for c in out.columns} == flags


def test_drift_share_decides_dataset_verdict(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    out = run(pool, reference, make_frame(seed=2, shifted=True), drift_share=0.4)
    assert out.status == "ok" and out.dataset_drifted is True


def test_per_column_stat_test_and_threshold(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    out = run(
        pool,
        reference,
        make_frame(seed=2, shifted=True),
        stattests={"num0": "psi", "cat0": "psi"},
        thresholds={"num0": 100.0},
    )
    assert out.status == "ok", out.reason
    by_name = {c.name: c for c in out.columns}
    assert by_name["num0"].method == "psi" and by_name["num0"].threshold == 100.0
    assert by_name["num0"].drifted is False  # absurd threshold: no longer flagged
    assert by_name["cat0"].method == "psi" and by_name["cat0"].threshold == 0.1 and by_name["cat0"].drifted


def test_sampling_caps_rows_and_is_seeded(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    current = make_frame(seed=2, shifted=True)
    a = run(pool, reference, current, sample_rows=1_500, seed=7)
    b = run(pool, reference, current, sample_rows=1_500, seed=7)
    assert a.status == b.status == "ok"
    assert a.sample_rows_reference == a.sample_rows_current == 1_500
    assert [c.score for c in a.columns] == [c.score for c in b.columns]
    assert set(a.drifted_columns) == SHIFTED


def test_files_are_read_in_chunks(pool: DriftWorkerPool, reference: pd.DataFrame, tmp_path: Path) -> None:
    current = make_frame(seed=2, shifted=True)
    ref_path, cur_path = tmp_path / "ref.csv", tmp_path / "cur.parquet"
    reference.to_csv(ref_path, index=False)
    current.to_parquet(cur_path, index=False)
    out = run(pool, str(ref_path), str(cur_path), sample_rows=2_000, chunk_rows=700)
    assert out.status == "ok", out.reason
    assert out.sample_rows_reference == out.sample_rows_current == 2_000
    assert set(out.drifted_columns) == SHIFTED


def test_chunked_sample_does_not_depend_on_chunk_size(tmp_path: Path) -> None:
    df = make_frame(seed=4, n=5_000)
    path = tmp_path / "data.parquet"
    df.to_parquet(path, index=False)
    cols = ["num0", "cat1"]
    samples = [load_sample(str(path), cols, 1_000, 42, chunk, "current") for chunk in (333, 1_000, 10_000)]
    frame_sample = load_sample(df, cols, 1_000, 42, 10_000, "current")
    for s, total in [*samples, frame_sample]:
        assert total == 5_000 and len(s) == 1_000
        pd.testing.assert_frame_equal(s, samples[0][0])
    assert not samples[0][0].equals(load_sample(df, cols, 1_000, 43, 10_000, "current")[0])


# -- failures ----------------------------------------------------------------------------------------


def test_all_empty_column_is_skipped_with_a_reason(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    current = make_frame(seed=2, shifted=True)
    current["num6"] = np.nan
    ref = reference.assign(cat2=None)
    out = run(pool, ref, current)
    assert out.status == "ok", out.reason
    by_name = {c.name: c for c in out.columns}
    assert by_name["num6"].status == "skipped" and by_name["num6"].drifted is None
    assert by_name["num6"].reason == "all values empty in current data"
    assert by_name["cat2"].status == "skipped" and by_name["cat2"].reason == "all values empty in reference data"
    assert set(out.drifted_columns) == SHIFTED
    assert out.drifted_share == pytest.approx(4 / 8)  # over the 8 compared columns


def test_all_columns_empty_fails(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    empty = pd.DataFrame({"x": [np.nan] * 50})
    out = run(pool, empty, empty, columns=ColumnMapping(numerical=("x",)))
    assert out.status == "failed" and out.reason is not None
    assert out.reason.startswith("no column with data to compare")


def test_missing_column_fails_naming_it(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    out = run(pool, reference, make_frame(seed=2).drop(columns=["num3", "cat1"]))
    assert out.status == "failed"
    assert out.reason == "missing columns in current data: num3, cat1"


def test_missing_column_in_file_fails_naming_it(pool: DriftWorkerPool, reference: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "ref.parquet"
    reference.drop(columns=["num5"]).to_parquet(path)
    out = run(pool, str(path), make_frame(seed=2))
    assert out.status == "failed" and out.reason == "missing columns in reference data: num5"


def test_changed_type_fails_naming_the_column(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    current = make_frame(seed=2)
    current["num4"] = current["num4"].astype(object)
    current.loc[5, "num4"] = "n/a"
    out = run(pool, reference, current)
    assert out.status == "failed" and out.reason is not None
    assert out.reason.startswith("changed column types: num4 (current: expected numerical, got object")
    assert "'n/a'" in out.reason


def test_empty_current_window_fails(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    out = run(pool, reference, make_frame(seed=2).iloc[:0])
    assert out.status == "failed" and out.reason == "empty current window"


def test_missing_file_fails(pool: DriftWorkerPool, reference: pd.DataFrame, tmp_path: Path) -> None:
    out = run(pool, reference, str(tmp_path / "nope.parquet"))
    assert out.status == "failed" and out.reason is not None and out.reason.startswith("current data not found")


def test_evidently_error_becomes_failed_outcome(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    out = run(pool, reference, make_frame(seed=2), stattests={"num0": "no_such_test"})
    assert out.status == "failed" and out.reason is not None
    assert out.reason.startswith("evidently run failed:")


@pytest.mark.timeout(180)  # the killed worker is replaced; the next job re-imports Evidently (~4 s)
def test_timeout_kills_the_worker_and_the_pool_recovers(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    assert run(pool, reference, make_frame(seed=3)).status == "ok"  # the worker is up
    (old_pid,) = pool.worker_pids()
    out = pool.submit(DriftJob(reference, make_frame(seed=3), MAPPING, debug_sleep_s=30), timeout_s=0.5)
    assert out.status == "failed" and out.reason == "timed out after 0.5 s"
    assert out.duration_s < 5
    assert pool.worker_pids() == []
    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)
    again = run(pool, reference, make_frame(seed=2, shifted=True))
    assert again.status == "ok" and set(again.drifted_columns) == SHIFTED
    assert pool.worker_pids() and pool.worker_pids()[0] != old_pid


@pytest.mark.timeout(180)  # the dead worker is replaced; the next job re-imports Evidently (~4 s)
def test_worker_crash_becomes_failed_outcome(pool: DriftWorkerPool, reference: pd.DataFrame) -> None:
    assert run(pool, reference, make_frame(seed=3)).status == "ok"
    (pid,) = pool.worker_pids()
    killer = threading.Timer(1.0, os.kill, (pid, signal.SIGKILL))  # e.g. the OOM killer
    killer.start()
    out = pool.submit(DriftJob(reference, make_frame(seed=3), MAPPING, debug_sleep_s=30), timeout_s=60)
    killer.join()
    assert out.status == "failed" and out.reason is not None and out.reason.startswith("drift worker died")
    assert run(pool, reference, make_frame(seed=3)).status == "ok"


# -- HTML report -----------------------------------------------------------------------------------------


def test_html_report_written_when_asked(pool: DriftWorkerPool, reference: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "reports" / "drift.html"
    out = run(pool, reference, make_frame(seed=2, shifted=True), report_path=str(path))
    assert out.status == "ok" and out.report_path == str(path)
    html = path.read_text(encoding="utf-8")
    assert len(html) > 1_000 and "<html" in html.lower()
    assert run(pool, reference, make_frame(seed=2)).report_path is None


# -- the parent never imports Evidently --------------------------------------------------------------------


@pytest.mark.timeout(180)  # a fresh interpreter and worker: ~6 s
def test_parent_process_never_imports_evidently() -> None:
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import pandas as pd
        from slo_service.adapters.drift import ColumnMapping, DriftJob, DriftWorkerPool

        if __name__ == "__main__":
            rng = np.random.default_rng(0)
            ref = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(list("ab"), 2000)})
            cur = pd.DataFrame({"x": rng.normal(1, size=2000), "c": rng.choice(list("ab"), 2000)})
            with DriftWorkerPool() as pool:
                out = pool.submit(DriftJob(ref, cur, ColumnMapping(numerical=("x",), categorical=("c",))), 120)
            assert out.status == "ok", out.reason
            assert out.drifted_columns == ["x"], out
            leaked = sorted(m for m in sys.modules if m == "evidently" or m.startswith("evidently."))
            assert not leaked, leaked
            print("OK")
        """
    )
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=170)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "OK"
