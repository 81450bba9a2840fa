"""The count change log that keeps every replica's in-memory window current, and where a reader is in it.

Each `add_counts` on PostgreSQL also appends one change (its increments, the writer's replica id) in the
same transaction. Every replica reads the changes after its position and applies those other replicas
wrote. Change ids come from a sequence, and sequence values are taken before their transactions commit,
so a change with a smaller id can become visible after a larger one was read. A reader therefore keeps a
`floor` (every change at or below it was seen or never will be) and the ids it applied above it; the floor
moves to the largest id of a read only once every transaction that was open during that read has ended
(the database's snapshot xmin has passed the read's xmax). Pure logic: the log is a port.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from slo_service.core.ports import CountIncrement


@dataclass(frozen=True)
class Change:
    id: int
    replica: str
    increments: Sequence[CountIncrement]


@dataclass(frozen=True)
class ChangeRead:
    """Changes with id above a floor, read in one snapshot, and that snapshot's xmin and xmax."""

    changes: Sequence[Change]
    xmin: int
    xmax: int


@dataclass
class ChangePosition:
    """Where a reader is: `floor`, the ids applied above it, and reads waiting for their transactions to end
    (largest id read, the read's xmax)."""

    floor: int
    applied: set[int] = field(default_factory=set)
    marks: list[tuple[int, int]] = field(default_factory=list)

    def fresh(self, changes: Sequence[Change]) -> list[Change]:
        """The changes not applied yet, marking them applied."""
        out = [c for c in changes if c.id > self.floor and c.id not in self.applied]
        self.applied.update(c.id for c in out)
        return out

    def settle(self, read: ChangeRead) -> None:
        """Remember the read; raise the floor past reads whose open transactions have all ended."""
        top = max((c.id for c in read.changes), default=self.floor)
        self.marks.append((top, read.xmax))
        done = [top for top, xmax in self.marks if xmax <= read.xmin]
        if done:
            self.floor = max(self.floor, *done)
            self.marks = [(t, x) for t, x in self.marks if x > read.xmin]
            self.applied = {i for i in self.applied if i > self.floor}


class ChangeLog(Protocol):
    """The store side of the change log (PostgreSQL)."""

    def read_changes(self, floor: int) -> ChangeRead:
        """Changes with id > floor, oldest first, with the snapshot's xmin and xmax."""
        ...

    def prune_changes(self, written_before_epoch: float) -> int: ...
