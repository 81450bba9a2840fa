"""Live drift: pushed batches become per-slice histograms; a window's drift is their merge, exactly the
drift of all its rows at once, without re-reading any row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from slo_service.adapters.memory_drift import InMemoryDriftStore
from slo_service.core.clock import ManualClock
from slo_service.core.drift.histograms import histogram
from slo_service.core.drift.monitor import (
    ColumnSpec,
    CurrentData,
    CurrentKind,
    DriftMonitor,
    ReferenceData,
    ReferenceKind,
)
from slo_service.core.drift.profile import ColumnKind, build_profile
from slo_service.core.drift.scores import column_drift
from slo_service.pipeline.drift_live import LiveDrift

T0 = datetime(2026, 11, 28, 10, tzinfo=UTC)
KINDS = {"x": ColumnKind.NUMERICAL, "c": ColumnKind.CATEGORICAL}


def monitor(reference: ReferenceKind = ReferenceKind.FIXED) -> DriftMonitor:
    ref = ReferenceData(reference, path="ref.parquet" if reference is ReferenceKind.FIXED else None, version="v1")
    if reference is ReferenceKind.ROLLING:
        ref = ReferenceData(reference, window=timedelta(days=7))
    return DriftMonitor(
        "live",
        CurrentData(CurrentKind.PUSH),
        ref,
        ColumnSpec(numerical=("x",), categorical=("c",)),
        window=timedelta(hours=1),
    )


def frame(rows: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(shift, 1.0, rows), "c": rng.choice(["a", "b", "c"], rows)})


@pytest.fixture
def world() -> tuple[InMemoryDriftStore, ManualClock, LiveDrift]:
    store = InMemoryDriftStore()
    reference = frame(20_000, 0.0, seed=1)
    profile = build_profile({c: reference[c].to_numpy() for c in KINDS}, KINDS, "v1")
    store.save_profile("live", "v1", {"json": profile.to_json()})
    clock = ManualClock(T0)
    return store, clock, LiveDrift(store, clock.now)


def test_the_window_score_is_the_score_of_all_its_rows(
    world: tuple[InMemoryDriftStore, ManualClock, LiveDrift],
) -> None:
    store, clock, live = world
    batches = [frame(500, 1.0, seed=s) for s in range(5)]
    for b in batches:
        clock.advance(timedelta(minutes=7))
        assert live.add(monitor(), b, clock.now())
    window = live.window(monitor())
    assert window is not None and window.rows == 2_500
    profile = store.load_profile("live", "v1")
    assert profile is not None
    from slo_service.core.drift.profile import ReferenceProfile

    ref = ReferenceProfile.from_json(str(profile["json"]))
    everything = pd.concat(batches)
    for name in KINDS:
        expected = column_drift(ref.columns[name], histogram(ref.columns[name], everything[name].to_numpy()))
        assert window.columns[name].score == pytest.approx(expected.score, rel=1e-9)
        assert window.columns[name].drifted == expected.drifted
    assert window.columns["x"].drifted and not window.columns["c"].drifted
    assert window.drifted_share == pytest.approx(0.5) and window.dataset_drifted


def test_old_slices_leave_the_window_and_a_restart_reloads_the_rest(
    world: tuple[InMemoryDriftStore, ManualClock, LiveDrift],
) -> None:
    store, clock, live = world
    live.add(monitor(), frame(500, 3.0, seed=1), clock.now())  # a burst of drift ...
    clock.advance(timedelta(minutes=90))  # ... that is older than the 1h window by now
    live.add(monitor(), frame(500, 0.0, seed=2), clock.now())
    window = live.window(monitor())
    assert window is not None and window.rows == 500 and not window.dataset_drifted
    restarted = LiveDrift(store, clock.now).window(monitor())
    assert restarted is not None and restarted.rows == 500
    assert restarted.columns["x"].score == pytest.approx(window.columns["x"].score)


def test_no_live_drift_without_a_fixed_reference_profile(
    world: tuple[InMemoryDriftStore, ManualClock, LiveDrift],
) -> None:
    _, clock, live = world
    assert not live.add(monitor(ReferenceKind.ROLLING), frame(10, 0.0, seed=1), clock.now())
    empty = LiveDrift(InMemoryDriftStore(), clock.now)
    assert not empty.add(monitor(), frame(10, 0.0, seed=1), clock.now())  # the first run builds the profile
    assert empty.window(monitor()) is None
