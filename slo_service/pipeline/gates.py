"""Quality gates: create one for a deployment, evaluate it once its window has passed (on read, and for all
due gates after each evaluation), answer polls. Counts come from the history store, the same slices the
SLO history API reads; drift verdicts from the drift store."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np

from slo_service.core.clock import Clock
from slo_service.core.deployments import Deployment, DeploymentStore
from slo_service.core.drift.monitor import RunStatus
from slo_service.core.drift.ports import DriftStore, RunQuery
from slo_service.core.gate_spec import GateSpec, GateSpecError, parse_gate_spec, spec_json
from slo_service.core.gates import (
    Counts,
    GateStatus,
    GateStore,
    MonitorWindow,
    SloWindow,
    StoredGate,
    evaluate_gate,
)
from slo_service.core.model import Config
from slo_service.core.ports import EVENTS, StoredSlice
from slo_service.pipeline.history import LiveHistory

log = logging.getLogger(__name__)

MIN_WINDOW = timedelta(minutes=1)
MAX_WINDOW = timedelta(days=7)
MAX_DRIFT_RUNS = 1000


class CountsReader(Protocol):
    def load_counts(
        self, keys: Collection[str] | None, start: datetime, end: datetime, series: str | None = None
    ) -> list[StoredSlice]: ...


WindowCounts = Callable[[Sequence[str], Sequence[tuple[datetime, datetime]]], list[dict[str, Counts]]]
"""(SLO keys, windows [start, end)) -> per window, the event counts of each key that has any."""


def store_counts(store: CountsReader) -> WindowCounts:
    """Counts summed from the stored slices (whole slices starting in each window), as the history API reads."""

    def read(keys: Sequence[str], windows: Sequence[tuple[datetime, datetime]]) -> list[dict[str, Counts]]:
        return [_sum(store.load_counts(keys, start, end, EVENTS)) for start, end in windows]

    return read


def live_counts(history: LiveHistory) -> WindowCounts:
    """Counts from the in-memory counts matrix the evaluation reads (one matrix product for all SLOs and
    windows), when every window lies in its 1-minute tier, where it is exact to the minute; otherwise from
    the stored slices."""
    from_store = store_counts(history.store)

    def read(keys: Sequence[str], windows: Sequence[tuple[datetime, datetime]]) -> list[dict[str, Counts]]:
        with history.lock:
            matrix = history.matrix
            rows = [(k, r) for k in keys if (r := matrix.row(k)) is not None]
            fine_start = matrix.tier_ranges()[0][0]
            if len(rows) < len(keys) or any(start < fine_start for start, _ in windows):
                return from_store(keys, windows)
            good, total, _ = matrix.window_sums_many(windows, np.array([r for _, r in rows], dtype=np.int64))
        return [
            {k: Counts(float(good[i, w]), float(total[i, w])) for i, (k, _) in enumerate(rows) if total[i, w] > 0}
            for w in range(len(windows))
        ]

    return read


class GateStores(DeploymentStore, GateStore, Protocol):
    """The SQL deployment store holds both."""


@dataclass(frozen=True)
class GateRequest:
    """A gate as asked for: the deployment (by id, or service + version [+ environment]), the window and the
    checks (the `objectives`, `monitors`, `pass_threshold`, `warning_threshold` fields, see core/gate_spec)."""

    checks: Mapping[str, Any]
    duration: timedelta
    deployment_id: str | None = None
    service: str | None = None
    version: str | None = None
    environment: str | None = None
    start: datetime | None = None


def _sum(slices: list[StoredSlice]) -> dict[str, Counts]:
    sums: dict[str, list[float]] = {}
    for s in slices:
        acc = sums.setdefault(s.key, [0.0, 0.0])
        acc[0] += s.good
        acc[1] += s.total
    return {k: Counts(g, t) for k, (g, t) in sums.items()}


class GateService:
    def __init__(
        self,
        store: GateStores,
        counts: WindowCounts,
        drift: DriftStore | None,
        config: Callable[[], Config],
        clock: Clock,
    ) -> None:
        self.store = store
        self.counts = counts
        self.drift = drift
        self.config = config
        self.clock = clock
        self.on_finished: Callable[[StoredGate], object] | None = None  # told of every gate that got its answer

    def _deployment(self, request: GateRequest) -> Deployment:
        if request.deployment_id is not None:
            found = self.store.get(request.deployment_id)
            if found is None:
                raise GateSpecError(f"deployment_id: no deployment {request.deployment_id!r}")
            return found
        if not request.service or not request.version:
            raise GateSpecError("deployment_id: give deployment_id, or service and version")
        for d in self.store.list(service=request.service, environment=request.environment, limit=1000):
            if d.version == request.version:
                return d
        where = f" in {request.environment!r}" if request.environment else ""
        raise GateSpecError(f"version: no deployment of {request.service!r} version {request.version!r}{where}")

    def create(self, request: GateRequest) -> StoredGate:
        """Check and store a gate; GateSpecError naming the field for a request that cannot be evaluated."""
        if not MIN_WINDOW <= request.duration <= MAX_WINDOW:
            raise GateSpecError(f"duration: from {MIN_WINDOW} to {MAX_WINDOW.days} days")
        deployment = self._deployment(request)
        service = deployment.service
        config = self.config()
        names = tuple(s.name for s in config.slos if s.service == service)
        spec = parse_gate_spec(request.checks, service, names)
        known = {s.key for s in config.slos}
        for i, o in enumerate(spec.objectives):
            if o.slo not in known:
                raise GateSpecError(f"objectives[{i}].slo: no SLO {o.slo!r} in the config")
        start = request.start or deployment.at
        stored = {
            **spec_json(spec),
            "environment": deployment.environment,
            "version": deployment.version,
            "baseline_start": (deployment.at - request.duration).isoformat(),
            "baseline_end": deployment.at.isoformat(),
        }
        gate = StoredGate(
            id=uuid.uuid4().hex,
            service=service,
            deployment_id=deployment.id,
            created_at=self.clock.now(),
            window_start=start,
            window_end=start + request.duration,
            spec=stored,
        )
        self.store.add_gate(gate)
        log.info(
            "gate %s for %s %s: %d objectives until %s",
            gate.id,
            service,
            deployment.version,
            len(spec.objectives) + len(spec.monitors),
            gate.window_end.isoformat(),
        )
        return gate

    def get(self, gate_id: str) -> StoredGate | None:
        """The gate, evaluated first if its window has passed (any replica may: the first result stays)."""
        gate = self.store.get_gate(gate_id)
        if gate is not None and gate.status is GateStatus.PENDING and gate.window_end <= self.clock.now():
            gate = self.evaluate(gate)
        return gate

    def evaluate_due(self) -> int:
        """Evaluate every pending gate whose window has passed; how many were."""
        done = 0
        for gate in self.store.due_gates(self.clock.now()):
            try:
                self.evaluate(gate)
                done += 1
            except Exception:
                log.exception("evaluating gate %s failed", gate.id)
        return done

    def evaluate(self, gate: StoredGate) -> StoredGate:
        spec = parse_gate_spec(gate.spec, gate.service)
        result = evaluate_gate(
            spec, self._slo_data(gate, spec), self._monitor_data(gate, spec), gate.window_end, self.clock
        )
        if result["result"] == GateStatus.PENDING:
            return gate
        finished = self.store.finish_gate(gate.id, GateStatus(result["result"]), result, self.clock.now())
        log.info("gate %s: %s (score %s)", gate.id, finished.status, result["score"])
        if self.on_finished is not None:  # the response policies (pipeline/actions.py): gate_failed
            try:
                self.on_finished(finished)
            except Exception:
                log.exception("the response policies failed on gate %s", gate.id)
        return finished

    def _slo_data(self, gate: StoredGate, spec: GateSpec) -> dict[str, SloWindow]:
        keys = [o.slo for o in spec.objectives]
        if not keys:
            return {}
        slos = {s.key: s for s in self.config().slos}
        b_start = datetime.fromisoformat(str(gate.spec["baseline_start"]))
        b_end = datetime.fromisoformat(str(gate.spec["baseline_end"]))
        window, baseline = self.counts(keys, [(gate.window_start, gate.window_end), (b_start, b_end)])
        return {
            key: SloWindow(slos[key].objective, window.get(key, Counts(0.0, 0.0)), baseline.get(key))
            for key in keys
            if key in slos
        }

    def _monitor_data(self, gate: StoredGate, spec: GateSpec) -> dict[str, MonitorWindow]:
        if self.drift is None:
            return {}
        out = {}
        for m in spec.monitors:
            query = RunQuery(monitor=m.monitor, since=gate.window_start, until=gate.window_end, limit=MAX_DRIFT_RUNS)
            runs = self.drift.runs(query)
            verdicts = [
                r.drift_found
                for r in runs
                if r.status is RunStatus.OK and r.finished_at <= gate.window_end and r.drift_found is not None
            ]
            out[m.monitor] = MonitorWindow(len(verdicts), sum(1 for v in verdicts if v))
        return out
