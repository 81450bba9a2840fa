"""GateService over in-memory stores: creating gates (fields named on bad requests), the lazy evaluation
on read, and evaluate_due after each evaluation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.adapters.memory_deployments import InMemoryDeploymentStore
from slo_service.core.clock import ManualClock
from slo_service.core.deployments import Deployment
from slo_service.core.gate_spec import GateSpecError
from slo_service.core.gates import GateStatus
from slo_service.core.model import SLO, Config, Period, PushSource, RatioSLI, Service
from slo_service.core.ports import CountIncrement
from slo_service.pipeline.gates import GateRequest, GateService, store_counts

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SLOS = tuple(
    SLO("api", name, 0.99, Period.rolling(timedelta(days=7)), RatioSLI("p", total="t", bad="b"))
    for name in ("avail", "latency")
)
CONFIG = Config({"api": Service("api")}, {"p": PushSource("p")}, SLOS)


def _world() -> tuple[GateService, InMemoryDeploymentStore, InMemoryHistoryStore, ManualClock]:
    clock = ManualClock(T0)
    store, history = InMemoryDeploymentStore(), InMemoryHistoryStore()
    store.record(Deployment("d1", "api", "prod", "2.0", None, None, None, T0))
    return GateService(store, store_counts(history), None, lambda: CONFIG, clock), store, history, clock


def test_a_gate_is_pending_until_its_window_has_passed_then_answers_on_read() -> None:
    gates, _, history, clock = _world()
    history.add_counts([CountIncrement("api/avail", T0 + timedelta(minutes=m), 100, 100) for m in range(10)])
    gate = gates.create(GateRequest({"objectives": ["avail"]}, timedelta(minutes=10), deployment_id="d1"))
    assert (gate.window_start, gate.window_end) == (T0, T0 + timedelta(minutes=10))
    assert gates.get(gate.id).status is GateStatus.PENDING  # type: ignore[union-attr]
    clock.advance(timedelta(minutes=10))
    answered = gates.get(gate.id)
    assert answered is not None and answered.status is GateStatus.PASS
    assert answered.result is not None and answered.result["objectives"][0]["total"] == 1000


def test_evaluate_due_answers_every_passed_gate_once() -> None:
    gates, store, _, clock = _world()
    first = gates.create(GateRequest({}, timedelta(minutes=5), service="api", version="2.0"))
    later = gates.create(GateRequest({}, timedelta(minutes=30), deployment_id="d1"))
    assert [o["slo"] for o in first.spec["objectives"]] == ["api/avail", "api/latency"]  # default: every SLO
    clock.advance(timedelta(minutes=6))
    assert gates.evaluate_due() == 1
    assert store.gates[first.id].status is GateStatus.INCONCLUSIVE  # no events were counted
    assert store.gates[later.id].status is GateStatus.PENDING
    assert gates.evaluate_due() == 0


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (GateRequest({}, timedelta(minutes=5), deployment_id="nope"), "deployment_id"),
        (GateRequest({}, timedelta(minutes=5)), "deployment_id"),
        (GateRequest({}, timedelta(minutes=5), service="api", version="9.9"), "version"),
        (GateRequest({}, timedelta(seconds=5), deployment_id="d1"), "duration"),
        (GateRequest({"objectives": ["nope"]}, timedelta(minutes=5), deployment_id="d1"), "objectives[0].slo"),
    ],
    ids=["unknown-id", "no-deployment", "unknown-version", "too-short", "unknown-slo"],
)
def test_bad_gate_requests_name_the_field(request_: GateRequest, field: str) -> None:
    gates, *_ = _world()
    with pytest.raises(GateSpecError, match="^" + re.escape(field) + ":"):
        gates.create(request_)
