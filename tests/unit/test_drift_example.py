"""The drift example re-dated for the demo: the spacing of its rows kept, the newest a minute before now, and a
config that loads and reads the copy wherever the process runs."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from slo_service.demo.drift_example import EXAMPLE_DIR, redate_csv, write_drift_example
from slo_service.specs.loader import load_config

NOW = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)


def stamps(path: Path) -> list[datetime]:
    with path.open(newline="") as f:
        return [datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) for r in csv.DictReader(f)]


def test_redated_rows_keep_their_spacing_and_end_a_minute_before_now(tmp_path: Path) -> None:
    source = EXAMPLE_DIR / "data" / "current.csv"
    rows = redate_csv(source, tmp_path / "current.csv", NOW)
    before, after = stamps(source), stamps(tmp_path / "current.csv")
    assert rows == len(before) == len(after) > 0
    assert max(after) == NOW - timedelta(minutes=1)
    assert [b - a for a, b in pairwise(before)] == [b - a for a, b in pairwise(after)]
    assert min(after) > NOW - timedelta(hours=24)  # inside the example monitor's 24 h window


def test_the_written_config_loads_and_reads_the_copy(tmp_path: Path) -> None:
    config = write_drift_example(tmp_path / "drift", NOW)
    loaded = load_config([config])
    monitor = loaded.monitors["fraud-features"]
    assert str(tmp_path / "drift" / "current.csv") in str(monitor.current)
    assert str(EXAMPLE_DIR / "data" / "reference.csv") in str(monitor.reference)
