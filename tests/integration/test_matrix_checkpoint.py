"""Matrix checkpoints: a matrix restored from a checkpoint plus the slices written after it equals the matrix
rebuilt from all the slices, on SQLite and PostgreSQL, whatever minutes the later slices were written into."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import text

from slo_service.adapters.sql.store import SqlHistoryStore
from slo_service.core.counts_matrix import CountsMatrix
from slo_service.core.model import SLO, Budgeting, BudgetingMethod, Period, RatioSLI
from slo_service.core.ports import SLICES, CountIncrement
from slo_service.pipeline.checkpoint import restore_matrix
from slo_service.pipeline.history import LiveHistory, matrix_keys
from tests.support.stores import FlakyStore

T0 = datetime(2026, 1, 5, 12, 0, 17, tzinfo=UTC)


def slo(name: str, timeslices: bool = False) -> SLO:
    budgeting = (
        Budgeting(BudgetingMethod.TIMESLICES, slice=timedelta(minutes=5), slice_threshold=0.99)
        if timeslices
        else Budgeting()
    )
    return SLO(
        service="svc",
        name=name,
        objective=0.99,
        period=Period.rolling(timedelta(days=30)),
        sli=RatioSLI(source="s", total="t", good="g"),
        budgeting=budgeting,
    )


SLOS = [slo("a"), slo("b"), slo("c", timeslices=True), slo("gone")]


def minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def inc(key: str, at: datetime, good: float, total: float, **kw: object) -> CountIncrement:
    return CountIncrement(key, minute(at), float(good), float(total), **kw)  # type: ignore[arg-type]


def seed(history: LiveHistory) -> None:
    """Before the checkpoint: every tier gets data, each minute written once."""
    incs = []
    for k, s in enumerate(SLOS):
        for m in range(0, 4 * 1440, 37):  # 4 days: the 1-minute and the 5-minute tiers
            incs.append(inc(s.key, T0 - timedelta(minutes=m + k), 90 + m % 7, 100 + m % 11))
        for h in range(4 * 24, 34 * 24, 5):  # hourly roll-ups in the hourly tier, up to 34 days back
            at = (T0 - timedelta(hours=h)).replace(minute=0, second=0)
            incs.append(CountIncrement(s.key, at, 5000.0 + h, 6000.0, resolution=3600))
    c = SLOS[2].key
    incs += [inc(c, T0 - timedelta(minutes=5 * j + 10), float(j % 2), 1.0, series=SLICES) for j in range(40)]
    history.record(incs)


def assert_same(restored: CountsMatrix, rebuilt: CountsMatrix) -> None:
    assert restored.keys == rebuilt.keys
    assert restored.tier_ranges() == rebuilt.tier_ranges()
    for i in range(len(rebuilt.tiers)):
        for name in ("_good", "_total", "_present"):
            np.testing.assert_array_equal(getattr(restored, name)[i], getattr(rebuilt, name)[i], err_msg=f"{name}{i}")
        # a slot with data is on both grids at the same place (an emptied one may stay on the restored grid)
        used = (rebuilt._total[i] != 0).any(axis=0) | (rebuilt._present[i] != 0).any(axis=0)
        np.testing.assert_array_equal(restored._slot_abs[i][used], rebuilt._slot_abs[i][used])
    windows = [(T0 - timedelta(days=d), T0 + timedelta(hours=2)) for d in (0.01, 0.3, 1, 3.2, 7, 29, 33)]
    for got, want in zip(restored.window_sums_many(windows), rebuilt.window_sums_many(windows), strict=True):
        np.testing.assert_array_equal(got, want)


def rebuilt(store: SqlHistoryStore, slos: Sequence[SLO], now: datetime) -> CountsMatrix:
    reference = LiveHistory(store, now)  # no checkpoints: every slice from the store
    reference.rebuild(slos, now)
    return reference.matrix


def test_restored_from_checkpoint_and_tail_equals_rebuilt_from_slices(sql_store: SqlHistoryStore) -> None:
    history = LiveHistory(sql_store, T0, checkpoints=sql_store)
    history.rebuild(SLOS, T0)
    seed(history)
    assert history.save_checkpoint(T0 + timedelta(seconds=30))

    # after the checkpoint: the open minutes, and slices written into the past in every tier
    later = T0 + timedelta(minutes=20)
    a, b, c = (s.key for s in SLOS[:3])
    history.record(
        [
            inc(a, later, 7, 8),
            inc(b, T0 + timedelta(minutes=3), 1, 1),
            inc(a, T0 - timedelta(minutes=37), 3, 4),  # a minute written before, again (restart-gap fill)
            inc(b, T0 - timedelta(hours=5, minutes=1), 2, 2),  # 1-minute tier
            inc(a, T0 - timedelta(days=2, minutes=13), 5, 6),  # 5-minute tier
            inc(b, T0 - timedelta(days=2, minutes=13), 5, 6),  # a minute no slice had
            inc(c, T0 - timedelta(minutes=2), 0, 1, series=SLICES),
            CountIncrement(a, (T0 - timedelta(days=20)).replace(minute=0, second=0), 10.0, 10.0, resolution=3600),
        ],
        idempotency_key="push-1",
    )
    # a compaction rolls minutes older than 2 days into hours: hourly slices in 5-minute cells
    sql_store.compact(later, raw_retention=timedelta(days=2), retention=timedelta(days=400))
    # the config changed too: one SLO new (loaded from its slices), one removed
    sql_store.add_counts([inc("svc/new", T0 - timedelta(hours=3), 1, 2)])
    slos = [*SLOS[:3], slo("new")]

    restored = restore_matrix(sql_store, matrix_keys(slos), later, history.tiers)
    assert restored is not None
    matrix, known = restored
    assert known == set(matrix_keys(SLOS[:3]))  # the new SLO is not in the checkpoint
    fresh = LiveHistory(sql_store, later, checkpoints=sql_store)
    fresh.rebuild(slos, later)
    assert_same(fresh.matrix, rebuilt(sql_store, slos, later))
    assert fresh.matrix.window_sums(T0 - timedelta(days=3), later)[1][matrix.row("svc/new") or 0] == 2


def test_a_restart_reads_the_checkpoint_not_every_slice(sql_store: SqlHistoryStore) -> None:
    history = LiveHistory(sql_store, T0, checkpoints=sql_store)
    history.rebuild(SLOS, T0)
    seed(history)
    assert history.save_checkpoint(T0)
    with sql_store.engine.begin() as conn:  # slices the checkpoint covers: a restore does not read them
        conn.execute(text("DELETE FROM slo_slices WHERE start_epoch < :t"), {"t": int(T0.timestamp()) - 86400})
    now = T0 + timedelta(minutes=5)
    fresh = LiveHistory(sql_store, now, checkpoints=sql_store)
    fresh.rebuild(SLOS, now)
    events = np.array([fresh.matrix.row(s.key) for s in SLOS])  # the verdicts are all in the last day
    week = fresh.matrix.window_sums(T0 - timedelta(days=7), T0, events)[1]
    assert (week > rebuilt(sql_store, SLOS, now).window_sums(T0 - timedelta(days=7), T0, events)[1]).all()


def test_no_checkpoint_while_writes_wait_for_the_database(sql_store: SqlHistoryStore) -> None:
    flaky = FlakyStore()  # the counts' store is down; the checkpoint store is not
    history = LiveHistory(flaky, T0, checkpoints=sql_store)
    history.rebuild(SLOS, T0)
    flaky.down = True
    history.record([inc(SLOS[0].key, T0, 1, 1)])  # buffered: in the matrix, not in the store
    assert history.pending_writes == 1
    assert not history.save_checkpoint(T0)
    assert sql_store.load_checkpoint() is None
    flaky.down = False
    history.flush()
    assert history.save_checkpoint(T0)


@pytest.mark.parametrize("checkpoints", [2])
def test_only_the_newest_checkpoint_is_kept(sql_store: SqlHistoryStore, checkpoints: int) -> None:
    history = LiveHistory(sql_store, T0, checkpoints=sql_store)
    history.rebuild(SLOS, T0)
    seed(history)
    for k in range(checkpoints):
        assert history.save_checkpoint(T0 + timedelta(minutes=k))
    stored = sql_store.load_checkpoint()
    assert stored is not None and stored.created_at == T0 + timedelta(minutes=checkpoints - 1)
    with sql_store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM slo_matrix_checkpoints")).scalar() == 1


@pytest.mark.postgres
def test_replicas_checkpoint_and_restore_with_the_change_log(postgres_url: str) -> None:
    """A push another replica stored just before the checkpoint (not tailed yet) is in it; a replica restored
    from it and tailing the change log from its restore's snapshot ends with the rebuilt matrix."""
    from slo_service.adapters.sql.engine import make_engine
    from slo_service.adapters.sql.migrate import upgrade
    from slo_service.core.clock import ManualClock
    from slo_service.pipeline.tail import ChangeTail

    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        leader_store = SqlHistoryStore(engine, replica="leader")
        other = LiveHistory(SqlHistoryStore(engine, replica="other"), T0)
        other.rebuild(SLOS, T0)
        leader = LiveHistory(leader_store, T0, checkpoints=leader_store)
        leader.rebuild(SLOS, T0)
        clock = ManualClock(T0)
        tail = ChangeTail(
            leader_store, leader, "leader", clock, leader_store.last_load_position or leader_store.change_position()
        )
        seed(leader)
        a, b = SLOS[0].key, SLOS[1].key
        other.record([inc(a, T0 - timedelta(hours=2), 4, 5)], idempotency_key="push-before")  # not tailed yet
        assert leader.save_checkpoint(T0, sync=tail.poll)
        other.record([inc(b, T0 - timedelta(days=2), 6, 7)], idempotency_key="push-after")

        later = T0 + timedelta(minutes=5)
        restarted_store = SqlHistoryStore(engine, replica="leader-2")
        restarted = LiveHistory(restarted_store, later, checkpoints=restarted_store)
        restarted.rebuild(SLOS, later)
        assert restarted_store.last_load_position is not None
        restarted_tail = ChangeTail(restarted_store, restarted, "leader-2", clock, restarted_store.last_load_position)
        other.record([inc(a, T0 - timedelta(minutes=30), 8, 9)], idempotency_key="push-while-up")
        restarted_tail.poll()  # only what the restore did not read
        assert_same(restarted.matrix, rebuilt(SqlHistoryStore(engine), SLOS, later))
    finally:
        engine.dispose()
