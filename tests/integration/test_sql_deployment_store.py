"""SqlDeploymentStore (migration 0013) on SQLite and PostgreSQL, and the in-memory fake, to one contract:
deployments, previous good version, freezes, replayed signatures and gates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from slo_service.adapters.memory_deployments import InMemoryDeploymentStore
from slo_service.adapters.sql import migrate
from slo_service.adapters.sql.deployment_store import SqlDeploymentStore
from slo_service.adapters.sql.engine import make_engine
from slo_service.core.deployments import Deployment, DeploymentStore
from slo_service.core.gates import GateStatus, StoredGate

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[SqlDeploymentStore | InMemoryDeploymentStore]:
    if request.param == "memory":
        yield InMemoryDeploymentStore()
        return
    url: str = request.getfixturevalue(f"{request.param}_url")
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        yield SqlDeploymentStore(engine)
    finally:
        engine.dispose()


def _d(n: int, version: str, *, service: str = "api", env: str = "prod", status: str = "succeeded") -> Deployment:
    return Deployment(
        id=f"d{n}",
        service=service,
        environment=env,
        version=version,
        model_version=f"m-{version}",
        commit="abc123",
        pipeline_url=f"https://ci.example/run/{n}",
        at=T0 + timedelta(minutes=n),
        status=status,
    )


def test_deployments_round_trip_newest_first_with_filters(store: DeploymentStore) -> None:
    for d in (_d(1, "v1"), _d(2, "v2"), _d(3, "v1", env="staging"), _d(4, "w1", service="web")):
        store.record(d)
    assert store.get("d2") == _d(2, "v2")
    assert store.get("nope") is None
    assert [d.id for d in store.list()] == ["d4", "d3", "d2", "d1"]
    assert [d.id for d in store.list(service="api")] == ["d3", "d2", "d1"]
    assert [d.id for d in store.list(service="api", environment="prod")] == ["d2", "d1"]
    assert [d.id for d in store.list(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4))] == [
        "d3",
        "d2",
    ]
    assert [d.id for d in store.list(limit=2)] == ["d4", "d3"]
    assert store.latest("api", "prod") == _d(2, "v2")
    assert store.latest("api", "qa") is None
    assert store.counts() == {("api", "prod"): 2, ("api", "staging"): 1, ("web", "prod"): 1}
    assert [d.id for d in store.latest_per_target()] == ["d2", "d3", "d4"]


def test_previous_good_is_the_version_before_the_latest(store: DeploymentStore) -> None:
    assert store.previous_good("api", "prod") is None
    store.record(_d(1, "v1"))
    assert store.previous_good("api", "prod") is None
    store.record(_d(2, "v2", status="failed"))
    store.record(_d(3, "v3"))
    found = store.previous_good("api", "prod")
    assert found is not None and found.id == "d1"


def test_one_active_freeze_per_service_until_lifted(store: DeploymentStore) -> None:
    assert store.active_freeze("api") is None
    first = store.freeze("api", "budget exhausted", T0, "policy:budget")
    again = store.freeze("api", "someone else", T0 + timedelta(minutes=5), "alice")
    assert again == first
    store.freeze("web", "release week", T0, "bob")
    assert store.active_freeze("api") == first
    assert [f.service for f in store.active_freezes()] == ["api", "web"]
    lifted = store.lift("api", T0 + timedelta(hours=1), "carol")
    assert lifted is not None
    assert (lifted.reason, lifted.since, lifted.by, lifted.lifted_at, lifted.lifted_by) == (
        "budget exhausted",
        T0,
        "policy:budget",
        T0 + timedelta(hours=1),
        "carol",
    )
    assert store.active_freeze("api") is None
    assert store.lift("api", T0 + timedelta(hours=2), "carol") is None
    assert store.freeze("api", "again", T0 + timedelta(hours=3), "dave").reason == "again"


def test_a_signature_is_accepted_once_within_the_window(store: DeploymentStore) -> None:
    assert store.remember_signature("aa", T0, T0 - timedelta(minutes=5))
    assert not store.remember_signature("aa", T0 + timedelta(minutes=1), T0 - timedelta(minutes=4))
    assert store.remember_signature("bb", T0 + timedelta(minutes=1), T0 - timedelta(minutes=4))
    # Past the window the old row is forgotten (the timestamp check refuses such a request before this).
    assert store.remember_signature("aa", T0 + timedelta(minutes=10), T0 + timedelta(minutes=5))


def test_gates_are_due_after_their_window_and_finish_once(store: SqlDeploymentStore | InMemoryDeploymentStore) -> None:
    gate = StoredGate(
        id="g1",
        service="api",
        deployment_id="d1",
        created_at=T0,
        window_start=T0,
        window_end=T0 + timedelta(minutes=10),
        spec={"objectives": [{"slo": "api-availability"}]},
    )
    store.add_gate(gate)
    assert store.get_gate("g1") == gate
    assert store.due_gates(T0 + timedelta(minutes=9)) == []
    assert [g.id for g in store.due_gates(T0 + timedelta(minutes=10))] == ["g1"]
    done = store.finish_gate("g1", GateStatus.PASS, {"score": 1.0}, T0 + timedelta(minutes=11))
    assert (done.status, done.result, done.evaluated_at) == (
        GateStatus.PASS,
        {"score": 1.0},
        T0 + timedelta(minutes=11),
    )
    again = store.finish_gate("g1", GateStatus.FAIL, {"score": 0.0}, T0 + timedelta(minutes=12))
    assert again.status is GateStatus.PASS
    assert store.due_gates(T0 + timedelta(hours=1)) == []
