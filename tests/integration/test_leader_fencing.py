"""Fencing on PostgreSQL: two replicas' alert stores on one database. Once another replica took the leader
epoch, the old leader commits no alert change and enqueues no message, even while it still believes it leads;
a transaction of the old leader that checked its epoch first commits before the new leader's epoch, so the new
leader loads what it wrote. Operator actions stored by a replica that does not lead are applied once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from slo_service.adapters.sql import migrate
from slo_service.adapters.sql.alert_models import AlertActionRow, AlertRow, OutboxRow
from slo_service.adapters.sql.alert_store import SqlAlertStore
from slo_service.adapters.sql.alert_store import _message_row as message_row
from slo_service.adapters.sql.engine import make_engine
from slo_service.core.alerting.ports import AlertQuery
from slo_service.core.clock import ManualClock
from slo_service.core.ports import NotLeader
from slo_service.pipeline.alerting import ActionQueued, AlertingService
from tests.integration.test_sql_alert_store import T0, make_alert, make_message

pytestmark = pytest.mark.postgres


@pytest.fixture
def engines(postgres_url: str) -> Iterator[tuple[Engine, Engine]]:
    migrate.upgrade(postgres_url)
    a, b = make_engine(postgres_url), make_engine(postgres_url)  # two processes: two pools, two sessions each
    yield a, b
    a.dispose()
    b.dispose()


def fenced(engine: Engine) -> SqlAlertStore:
    store = SqlAlertStore(engine, clock=ManualClock(T0))
    store.fenced = True
    return store


def count(engine: Engine, model: type[AlertRow] | type[OutboxRow] | type[AlertActionRow]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_an_old_leader_commits_nothing_after_another_took_the_epoch(engines: tuple[Engine, Engine]) -> None:
    old, new = fenced(engines[0]), fenced(engines[1])
    with pytest.raises(NotLeader, match="does not lead"):
        old.save_alerts([make_alert()], [make_message()])  # never led: fenced too
    assert old.take_epoch("r0") == 1
    old.save_alerts([make_alert()], [make_message(dedup_key="g-old")])
    assert new.take_epoch("r1") == 2
    # r0 still believes it leads (a partition hid the takeover): its next cycle is refused whole
    with pytest.raises(NotLeader, match="epoch 1 is over: r1 \\(epoch 2\\) leads"):
        old.save_alerts([make_alert(extra={"x": "1"})], [make_message(dedup_key="g-late")])
    with pytest.raises(NotLeader):
        old.enqueue([make_message(dedup_key="g-late")])
    assert count(engines[0], AlertRow) == 1
    assert [m.dedup_key for m in new.messages()] == ["g-old"]
    new.save_alerts([make_alert(extra={"x": "2"})], [make_message(dedup_key="g-new")])
    assert sorted(m.dedup_key for m in new.messages()) == ["g-new", "g-old"]
    old.drop_epoch()
    with pytest.raises(NotLeader, match="does not lead"):
        old.save_alerts([], [make_message()])


def test_a_takeover_waits_for_the_old_leaders_open_save(engines: tuple[Engine, Engine]) -> None:
    """The fence check takes a share lock on the epoch row: a save that passed it commits before the new
    epoch, never after (so the new leader's load sees it)."""
    old, new = fenced(engines[0]), fenced(engines[1])
    old.take_epoch("r0")
    taken: list[int] = []
    with old._write() as conn:  # the old leader's save, between its fence check and its commit
        old._check_fence(conn)
        thread = threading.Thread(target=lambda: taken.append(new.take_epoch("r1")))
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive() and not taken  # the new epoch waits for the old leader's transaction
        conn.execute(OutboxRow.__table__.insert(), [_row()])
    thread.join(timeout=10)
    assert taken == [2]
    assert count(engines[1], OutboxRow) == 1


def _row() -> dict[str, object]:
    return message_row(make_message(dedup_key="g-before-takeover"))


def test_a_follower_stores_an_action_the_leader_applies_once(engines: tuple[Engine, Engine]) -> None:
    leader_store, follower_store = fenced(engines[0]), fenced(engines[1])
    leader_store.take_epoch("r0")
    leader = AlertingService(leader_store, lambda: T0)
    follower = AlertingService(follower_store, lambda: T0)
    follower.leads, follower.replica = (lambda: False), "r1"
    follower.action_wait = 0.2
    alert = make_alert()
    leader_store.save_alerts([alert])
    leader.refresh()
    with pytest.raises(ActionQueued):  # nobody applies it within the wait: stored, answered 202 by the API
        follower.resolve(alert.fingerprint, "alice")
    assert count(engines[1], AlertActionRow) == 1
    assert leader.apply_actions() == 1
    assert leader.apply_actions() == 0  # once
    (episode,) = leader_store.query_alerts(AlertQuery())
    assert episode.state.value == "resolved" and episode.annotations["resolved_by"] == "alice"
    # a second resolve, applied while the follower waits: it answers what the leader decided
    follower.action_wait = 5.0
    applier = threading.Timer(0.3, leader.apply_actions)
    applier.start()
    assert follower.resolve(alert.fingerprint, "bob") is None  # not firing any more: the API's 409
    applier.join()
    assert leader_store.action_result(2) == {"resolved": None}
