"""The spill directory: what LiveHistory buffers during a database outage is on disk, a process that starts
writes what a killed one left there exactly once, and a crash in the middle of an append costs only that
append."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slo_service.adapters.spill import SUFFIX, SpillDir, SpillDirInUse, decode, encode
from slo_service.core.ports import SLICES, CounterBaselines, CountIncrement, StoreUnavailable
from slo_service.pipeline.history import SPILL_KEY_PREFIX, LiveHistory
from tests.support.stores import FlakyStore

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
KEY = "svc/availability"


def baseline(value: float, minute: int) -> CounterBaselines:
    values = {("total", ("requests_total", (("code", "200"), ("path", "/a b")))): value}
    return CounterBaselines("scrape", KEY, "http://t/metrics", "sli-1", T0 + timedelta(minutes=minute), values)


def inc(minute: int, good: float = 9, total: float = 10) -> CountIncrement:
    return CountIncrement(KEY, T0 + timedelta(minutes=minute), good, total)


def stored(store: FlakyStore) -> tuple[float, float]:
    slices = store.load_counts(None, T0 - timedelta(hours=1), T0 + timedelta(hours=2))
    return sum(s.good for s in slices), sum(s.total for s in slices)


@pytest.fixture
def down() -> FlakyStore:
    store = FlakyStore(lambda: StoreUnavailable("connection refused", "db:5432"))
    store.down = True
    return store


@pytest.fixture
def spill(tmp_path: Path) -> Iterator[SpillDir]:
    spill = SpillDir(tmp_path / "spill")
    yield spill
    spill.close()


def restart(spill: SpillDir) -> SpillDir:
    """What a SIGKILL and a new process do to the directory: the lock goes, the files stay."""
    spill.close()
    return SpillDir(spill.path)


def test_a_record_reads_back_as_written() -> None:
    increments = [inc(0, 1.5, 2.25), CountIncrement(KEY, T0, 1, 1, SLICES, 300)]
    line = encode(increments, [baseline(1e15 + 0.5, 3)])
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line) == (increments, [baseline(1e15 + 0.5, 3)])


def test_a_damaged_or_truncated_line_is_skipped_with_a_warning(
    spill: SpillDir, caplog: pytest.LogCaptureFixture
) -> None:
    segment = spill.new_segment()
    spill.append(segment, [inc(0)], [])
    spill.append(segment, [inc(1)], [])
    spill.append(segment, [inc(2)], [baseline(5, 2)])
    file = spill.path / (segment + SUFFIX)
    data = file.read_bytes()
    lines = data.splitlines(keepends=True)
    flipped = lines[1].replace(b'"svc/', b'"svX/')  # a bit rot in the middle: the checksum catches it
    file.write_bytes(lines[0] + flipped + lines[2][: len(lines[2]) // 2])  # the last append cut by a crash
    with caplog.at_level(logging.WARNING, logger="slo_service.adapters.spill"):
        records = spill.read(segment)
    assert records == [([inc(0)], [])]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert "line 2 is damaged (checksum mismatch), skipped" in warnings[0]
    assert "line 3 is damaged" in warnings[1]


def test_an_outage_is_on_disk_and_the_next_process_writes_it_once(
    down: FlakyStore, spill: SpillDir, caplog: pytest.LogCaptureFixture
) -> None:
    history = LiveHistory(down, T0, spill=spill)
    history.record([inc(0)], baselines=[baseline(100, 0)])
    history.record([inc(1), inc(2)], baselines=[baseline(130, 2)])
    assert history.pending_writes == 3
    [segment] = spill.segments()
    assert len(spill.read(segment)) == 2  # one fsynced line per buffered write
    # SIGKILL: the memory is gone, the directory is not. The database is back for the next process.
    spill = restart(spill)
    down.down = False
    with caplog.at_level(logging.INFO, logger="slo_service.pipeline.history"):
        assert LiveHistory(down, T0, spill=spill).replay_spill() == 3
    assert stored(down) == (27, 30)
    [kept] = down.load_baselines("scrape")
    assert kept == baseline(130, 2)  # written with the increments: the next scrape counts on from there
    assert spill.segments() == []
    assert [r.getMessage() for r in caplog.records] == [
        f"spill segment {segment}: wrote 3 increments a stopped process left"
    ]
    spill = restart(spill)
    assert LiveHistory(down, T0, spill=spill).replay_spill() == 0  # nothing left to count twice
    assert stored(down) == (27, 30)
    spill.close()


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the code under test may catch it)."""


class CrashingSpill(SpillDir):
    """Dies after the store committed a segment and before its file is deleted."""

    def remove(self, segment: str) -> None:
        raise Crash(segment)


@pytest.mark.parametrize("where", ["recovery in the same process", "replay at start"])
def test_a_crash_between_the_commit_and_the_delete_counts_nothing_twice(
    down: FlakyStore, tmp_path: Path, where: str
) -> None:
    spill = CrashingSpill(tmp_path / "spill")
    history = LiveHistory(down, T0, spill=spill)
    history.record([inc(0), inc(1)], baselines=[baseline(120, 1)])
    if where == "replay at start":
        spill.close()  # SIGKILL during the outage; the next process dies in its replay
        spill = CrashingSpill(spill.path)
        history = LiveHistory(down, T0, spill=spill)
        down.down = False
        with pytest.raises(Crash):
            history.replay_spill()
    else:
        down.down = False
        with pytest.raises(Crash):
            history.flush()  # the database is back: the segment is committed, then the process dies
    assert stored(down) == (18, 20)
    assert down.ingest_keys == {SPILL_KEY_PREFIX + s for s in spill.segments()}  # the file is still there
    # The next process finds the file and writes it under the same key: the store adds nothing.
    spill.close()
    survivor = SpillDir(spill.path)
    assert LiveHistory(down, T0, spill=survivor).replay_spill() == 0
    assert stored(down) == (18, 20)
    assert survivor.segments() == []
    survivor.close()


def test_the_limit_drops_the_oldest_segments_files_included_and_counts_them(
    down: FlakyStore, spill: SpillDir, caplog: pytest.LogCaptureFixture
) -> None:
    history = LiveHistory(down, T0, pending_limit=32, spill=spill)  # segments of 2 increments
    with caplog.at_level(logging.WARNING, logger="slo_service.pipeline.history"):
        for minute in range(40):
            history.record([inc(minute)])
    assert history.pending_writes == 32 and history.dropped_increments == 8
    assert len(spill.segments()) == 16
    assert [r.getMessage() for r in caplog.records] == [
        "pending-write limit reached (32 increments wait for the database): dropping the oldest"
    ]
    spill = restart(spill)
    down.down = False
    assert LiveHistory(down, T0, spill=spill).replay_spill() == 32
    starts = sorted(s.start for s in down.load_counts(None, T0, T0 + timedelta(hours=1)))
    assert starts == [T0 + timedelta(minutes=m) for m in range(8, 40)]  # the newest 32 minutes


def test_a_spill_directory_serves_one_process_at_a_time(spill: SpillDir) -> None:
    with pytest.raises(SpillDirInUse, match="give each replica its own SLO_SERVICE_SPILL_DIR"):
        SpillDir(spill.path)
    spill.close()
    SpillDir(spill.path).close()  # free once the holder is gone (the kernel frees it on SIGKILL too)
