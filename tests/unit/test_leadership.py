"""Leadership (core/leadership.py) and the change-log reader (core/changes.py, pipeline/tail.py), with an
injected clock, an in-memory lock shared by several replicas and an in-memory change log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from slo_service.core.changes import Change, ChangePosition, ChangeRead
from slo_service.core.clock import ManualClock
from slo_service.core.leadership import Leadership
from slo_service.core.model import slo_key
from slo_service.core.ports import CountIncrement, StoreUnavailable
from slo_service.pipeline.tail import ChangeTail

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
RETRY = timedelta(seconds=1)


class Server:
    """A database holding one advisory lock: the session that holds it, and whether it answers."""

    def __init__(self) -> None:
        self.holder: SharedLock | None = None
        self.down = False


class SharedLock:
    """One replica's session on the Server (a LeaderLock)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.alive = True  # this replica's session; False: the server dropped it (and its lock)

    def _reach(self) -> None:
        if self.server.down:
            raise StoreUnavailable("connection refused")

    def acquire(self) -> bool:
        self._reach()
        self.alive = True
        if self.server.holder is None:
            self.server.holder = self
        return self.server.holder is self

    def confirm(self) -> bool:
        self._reach()
        return self.alive and self.server.holder is self

    def release(self) -> None:
        self._reach()
        if self.server.holder is self:
            self.server.holder = None

    def lose_session(self) -> None:
        self.alive = False
        if self.server.holder is self:
            self.server.holder = None


def replica(name: str, server: Server, clock: ManualClock, events: list[str]) -> tuple[Leadership, SharedLock]:
    lock = SharedLock(server)
    leadership = Leadership(
        lock,
        name,
        clock,
        RETRY,
        on_elected=lambda: events.append(f"{name} elected"),
        on_deposed=lambda: events.append(f"{name} deposed"),
    )
    return leadership, lock


def test_one_replica_leads_and_another_takes_over_at_its_next_attempt_after_the_session_dies() -> None:
    clock, server, events = ManualClock(T0), Server(), []
    a, a_lock = replica("a", server, clock, events)
    b, _ = replica("b", server, clock, events)
    assert a.check() and not b.check()
    assert events == ["a elected"] and a.since == T0 and a.elections == 1
    a_lock.lose_session()  # SIGKILL: the server ends the session and frees the lock
    clock.advance(RETRY / 2)
    assert not b.check()  # b tried at T0: it waits for its retry interval
    clock.advance(RETRY / 2)
    assert b.check() and events == ["a elected", "b elected"]
    assert b.check()  # confirmed, not elected again
    assert b.elections == 1


def test_a_leader_keeps_leading_through_an_outage_and_takes_the_lock_again_after_it() -> None:
    clock, server, events = ManualClock(T0), Server(), []
    a, a_lock = replica("a", server, clock, events)
    b, _ = replica("b", server, clock, events)
    assert a.check()
    server.down = True
    a_lock.lose_session()
    assert a.check() and a.unconfirmed_since == T0  # nobody can take a lock in a database nobody reaches
    clock.advance(RETRY)
    assert not b.check()
    server.down = False
    clock.advance(RETRY)
    assert a.check() and a.unconfirmed_since is None  # the lock was free: a takes it again
    assert not b.check()
    assert events == ["a elected"]


def test_a_leader_that_finds_the_lock_taken_after_an_outage_steps_down() -> None:
    clock, server, events = ManualClock(T0), Server(), []
    a, a_lock = replica("a", server, clock, events)
    b, _ = replica("b", server, clock, events)
    assert a.check()
    a_lock.lose_session()  # a's connection broke (a partition): b reaches the database, a does not
    server.down = True
    assert a.check()
    server.down = False
    assert b.check()  # b takes the free lock
    assert not a.check()
    assert events == ["a elected", "b elected", "a deposed"] and a.since is None


def test_a_failed_take_over_gives_the_lock_back() -> None:
    clock, server = ManualClock(T0), Server()
    lock = SharedLock(server)

    def broken() -> None:
        raise StoreUnavailable("lost while loading the alerts")

    a = Leadership(lock, "a", clock, RETRY, on_elected=broken)
    assert not a.check() and server.holder is None
    b, _ = replica("b", server, clock, [])
    assert b.check()


def test_resign_frees_the_lock_for_the_next_attempt() -> None:
    clock, server = ManualClock(T0), Server()
    a, _ = replica("a", server, clock, [])
    b, _ = replica("b", server, clock, [])
    assert a.check() and not b.check()
    a.resign()
    clock.advance(RETRY)
    assert b.check()


def change(id_: int, replica_: str = "other", total: float = 1.0) -> Change:
    return Change(id_, replica_, [CountIncrement(slo_key("s", "a"), T0, total, total)])


def test_the_floor_passes_a_read_only_once_its_open_transactions_ended() -> None:
    position = ChangePosition(floor=0)
    # ids 1 and 3 are visible, 2 is taken by a transaction still open (xmin 100 <= its xid < xmax 105)
    first = ChangeRead([change(1), change(3)], xmin=100, xmax=105)
    assert [c.id for c in position.fresh(first.changes)] == [1, 3]
    position.settle(first)
    assert position.floor == 0  # transaction 100..104 may still commit id 2
    second = ChangeRead([change(1), change(2), change(3)], xmin=103, xmax=106)
    assert [c.id for c in position.fresh(second.changes)] == [2]  # 1 and 3 are not applied twice
    position.settle(second)
    assert position.floor == 0
    third = ChangeRead([change(1), change(2), change(3), change(4)], xmin=106, xmax=106)
    assert [c.id for c in position.fresh(third.changes)] == [4]
    position.settle(third)
    assert position.floor == 4 and position.applied == set()  # every transaction of those reads has ended


class ChangeLogStub:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.xmin = self.xmax = 1
        self.pruned: list[float] = []

    def read_changes(self, floor: int) -> ChangeRead:
        return ChangeRead([c for c in self.changes if c.id > floor], self.xmin, self.xmax)

    def prune_changes(self, written_before_epoch: float) -> int:
        self.pruned.append(written_before_epoch)
        return 0


def apply_totals(increments: Sequence[CountIncrement]) -> float:
    return sum(i.total for i in increments)


def test_the_tail_applies_what_other_replicas_wrote_once_and_skips_its_own() -> None:
    applied: list[CountIncrement] = []

    class Window:
        def apply(self, increments: Sequence[CountIncrement]) -> None:
            applied.extend(increments)

        def reload(self, now: datetime) -> None:
            applied.append(CountIncrement("reloaded", now, 0, 0))

    clock, log = ManualClock(T0), ChangeLogStub()
    tail = ChangeTail(log, Window(), "me", clock, ChangePosition(0), timedelta(hours=1))  # type: ignore[arg-type]
    log.changes = [change(1, total=5), change(2, "me", total=7), change(3, total=11)]
    assert tail.poll() == 2
    assert apply_totals(applied) == 16  # not its own 7
    assert tail.poll() == 0 and apply_totals(applied) == 16
    log.changes.append(change(4, total=1))
    clock.advance(timedelta(minutes=29))
    assert tail.poll() == 1 and apply_totals(applied) == 17
    # Away for longer than half the retention: changes may have been pruned, the window is loaded again.
    clock.advance(timedelta(minutes=31))
    tail.poll()
    assert tail.reloads == 1 and any(i.key == "reloaded" for i in applied)
    tail.prune()
    tail.prune()  # at most once a minute
    assert log.pruned == [(clock.now() - timedelta(hours=1)).timestamp()]
