"""The drift example (examples/drift) made runnable now: its current data re-dated to end a minute ago.

The committed current.csv has fixed dates, so a monitor with a 24 h window finds nothing a day later. The demo
writes a copy whose timestamps keep their spacing but end now, and a copy of monitors.yaml that reads it (the
reference and the labels stay where they are)."""

from __future__ import annotations

import csv
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

EXAMPLE_DIR = Path(__file__).resolve().parent.parent.parent / "examples" / "drift"
TIMESTAMP_COLUMN = "ts"


def redate_csv(source: Path, target: Path, now: datetime, column: str = TIMESTAMP_COLUMN) -> int:
    """Copy `source` to `target` with every `column` timestamp shifted so the newest is a minute before `now`.
    Returns the rows written."""
    with source.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{source}: no rows")
    stamps = [datetime.fromisoformat(r[column].replace("Z", "+00:00")) for r in rows]
    shift = now - timedelta(minutes=1) - max(stamps)
    for row, at in zip(rows, stamps, strict=True):
        row[column] = (at + shift).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def write_drift_example(directory: Path, now: datetime, example_dir: Path = EXAMPLE_DIR) -> Path:
    """Write the re-dated current data and a monitors.yaml reading it into `directory`; returns the config."""
    directory = directory.resolve()  # the config's relative paths would be read against its own directory
    rows = redate_csv(example_dir / "data" / "current.csv", directory / "current.csv", now)
    text = (example_dir / "monitors.yaml").read_text()
    data = example_dir / "data"
    for old, new in (
        ("files: data/current*.csv", f"files: {directory / 'current.csv'}"),
        ("file: data/reference.csv", f"file: {data / 'reference.csv'}"),
        ("files: data/labels*.csv", f"files: {data / 'labels*.csv'}"),
    ):
        if old not in text:
            raise ValueError(f"{example_dir / 'monitors.yaml'} no longer holds {old!r}: update {__name__}")
        text = text.replace(old, new)
    config = directory / "monitors.yaml"
    config.write_text(text)
    log.info("drift example: %d current rows dated up to %s in %s", rows, now.isoformat(timespec="seconds"), config)
    return config
