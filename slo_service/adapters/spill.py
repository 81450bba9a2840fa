"""The spill directory: counted increments that could not reach the database, kept on local disk.

While the database is unreachable, LiveHistory (pipeline/history.py) appends every write it buffers to the
current segment file here, fsynced before the write returns, so a SIGKILL during an outage loses nothing.
A segment is written to the database in one transaction under the idempotency key `spill:<segment id>` and
then deleted; a process that starts replays the segments a killed one left behind under the same keys, so a
crash between the commit and the delete never counts a segment twice.

File format, one record per line (a failed write appends one):

    <crc32 of the JSON, 8 hex digits> <JSON: {"i": [[key, series, resolution, start_epoch, good, total], ...],
                                              "b": [[source, slo, target, sli, at_epoch, [[role, name,
                                                     [[label, value], ...], counter], ...]], ...]}>

A line whose checksum or JSON does not hold (the process died in the middle of appending it) is skipped with
a warning: what it held was not acknowledged as written.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
import uuid
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from slo_service.core.ports import BaselineKey, CounterBaselines, CountIncrement

log = logging.getLogger(__name__)

SUFFIX = ".spill"
LOCK_NAME = ".lock"


class SpillDirInUse(RuntimeError):
    """Another live process holds the spill directory (replicas need one each)."""


SpillRecord = tuple[list[CountIncrement], list[CounterBaselines]]
"""The increments of one buffered write and the counter baselines they were counted with."""


def encode(increments: Sequence[CountIncrement], baselines: Sequence[CounterBaselines]) -> bytes:
    """One line of a segment file, newline included."""
    doc = {
        "i": [[i.key, i.series, i.resolution, i.start.timestamp(), i.good, i.total] for i in increments],
        "b": [
            [
                b.source,
                b.slo,
                b.target,
                b.sli,
                b.at.timestamp(),
                [
                    [role, name, [list(kv) for kv in labels], value]
                    for (role, (name, labels)), value in b.values.items()
                ],
            ]
            for b in baselines
        ],
    }
    body = json.dumps(doc, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode(line: bytes) -> SpillRecord:
    """The record of one line; ValueError if it is damaged."""
    crc, sep, body = line.rstrip(b"\n").partition(b" ")
    if not sep or len(crc) != 8 or int(crc, 16) != zlib.crc32(body):
        raise ValueError("checksum mismatch")
    doc: dict[str, Any] = json.loads(body)
    increments = [
        CountIncrement(str(k), datetime.fromtimestamp(float(at), UTC), float(g), float(t), str(s), int(r))
        for k, s, r, at, g, t in doc["i"]
    ]
    baselines = []
    for source, slo, target, sli, at, counters in doc["b"]:
        values: dict[BaselineKey, float] = {
            (str(role), (str(name), tuple((str(k), str(v)) for k, v in labels))): float(value)
            for role, name, labels, value in counters
        }
        baselines.append(CounterBaselines(source, slo, target, sli, datetime.fromtimestamp(float(at), UTC), values))
    return increments, baselines


class SpillDir:
    """Segment files in one directory, held by one process at a time (an exclusive lock on `.lock`, which
    the kernel releases when the process dies, even by SIGKILL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._lock_file: IO[bytes] | None = open(path / LOCK_NAME, "ab")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            raise SpillDirInUse(
                f"spill directory {path} is in use by another process: give each replica its own SLO_SERVICE_SPILL_DIR"
            ) from None

    def new_segment(self) -> str:
        """A fresh segment id; ids sort in creation order."""
        return f"history-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"

    def segments(self) -> list[str]:
        """Ids of the segments on disk, oldest first."""
        return sorted(p.name.removesuffix(SUFFIX) for p in self.path.glob("*" + SUFFIX))

    def append(self, segment: str, increments: Sequence[CountIncrement], baselines: Sequence[CounterBaselines]) -> None:
        """Append one record and fsync it (and the directory, for a new file): on disk when this returns."""
        file = self.path / (segment + SUFFIX)
        new = not file.exists()
        with open(file, "ab") as f:
            f.write(encode(increments, baselines))
            f.flush()
            os.fsync(f.fileno())
        if new:
            self._sync_dir()

    def read(self, segment: str) -> list[SpillRecord]:
        """The segment's intact records; damaged lines (a crash mid-append) are skipped with a warning."""
        file = self.path / (segment + SUFFIX)
        records: list[SpillRecord] = []
        with open(file, "rb") as f:
            for number, line in enumerate(f, 1):
                try:
                    records.append(decode(line))
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning(
                        "spill file %s: line %d is damaged (%s), skipped: its write never completed", file, number, exc
                    )
        return records

    def remove(self, segment: str) -> None:
        (self.path / (segment + SUFFIX)).unlink(missing_ok=True)

    def close(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _sync_dir(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
