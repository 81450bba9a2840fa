"""An in-memory DeploymentStore and GateStore: the fakes for pipeline tests; same semantics as the SQL
store (adapters/sql/deployment_store.py), minus durability."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from slo_service.core import deployments as core
from slo_service.core.deployments import Deployment, Freeze
from slo_service.core.gates import GateStatus, StoredGate


class InMemoryDeploymentStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.deployments: dict[str, Deployment] = {}
        self.freezes: builtins.list[Freeze] = []
        self.signatures: dict[str, datetime] = {}
        self.gates: dict[str, StoredGate] = {}

    def record(self, d: Deployment) -> Deployment:
        with self._lock:
            if d.id in self.deployments:
                raise ValueError(f"deployment {d.id!r} exists")
            self.deployments[d.id] = d
        return d

    def get(self, deployment_id: str) -> Deployment | None:
        return self.deployments.get(deployment_id)

    def mark(self, deployment_id: str, status: str) -> Deployment | None:
        with self._lock:
            found = self.deployments.get(deployment_id)
            if found is None:
                return None
            self.deployments[deployment_id] = found = replace(found, status=status)
        return found

    def list(
        self,
        service: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[Deployment]:
        with self._lock:
            found = [
                d
                for d in self.deployments.values()
                if (service is None or d.service == service)
                and (environment is None or d.environment == environment)
                and (since is None or d.at >= since)
                and (until is None or d.at < until)
            ]
        return sorted(found, key=lambda d: (d.at, d.id), reverse=True)[:limit]

    def latest(self, service: str, environment: str) -> Deployment | None:
        found = self.list(service=service, environment=environment, limit=1)
        return found[0] if found else None

    def previous_good(self, service: str, environment: str) -> Deployment | None:
        latest = self.latest(service, environment)
        if latest is None:
            return None
        return core.previous_good(self.deployments.values(), service, environment, latest.version)

    def counts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for d in builtins.list(self.deployments.values()):
            counts[(d.service, d.environment)] = counts.get((d.service, d.environment), 0) + 1
        return counts

    def latest_per_target(self) -> builtins.list[Deployment]:
        targets = sorted(self.counts())
        return [d for s, e in targets if (d := self.latest(s, e)) is not None]

    def freeze(self, service: str, reason: str, since: datetime, by: str) -> Freeze:
        with self._lock:
            active = self._active(service)
            if active is not None:
                return active
            frozen = Freeze(service, reason, since, by)
            self.freezes.append(frozen)
        return frozen

    def lift(self, service: str, at: datetime, by: str) -> Freeze | None:
        with self._lock:
            active = self._active(service)
            if active is None:
                return None
            lifted = replace(active, lifted_at=at, lifted_by=by)
            self.freezes = [lifted if f is active else f for f in self.freezes]
        return lifted

    def _active(self, service: str) -> Freeze | None:
        return next((f for f in self.freezes if f.service == service and f.active), None)

    def active_freeze(self, service: str) -> Freeze | None:
        with self._lock:
            return self._active(service)

    def active_freezes(self) -> builtins.list[Freeze]:
        with self._lock:
            return sorted((f for f in self.freezes if f.active), key=lambda f: f.service)

    def remember_signature(self, signature: str, at: datetime, forget_before: datetime) -> bool:
        with self._lock:
            self.signatures = {s: t for s, t in self.signatures.items() if t >= forget_before}
            if signature in self.signatures:
                return False
            self.signatures[signature] = at
        return True

    def add_gate(self, gate: StoredGate) -> StoredGate:
        with self._lock:
            self.gates[gate.id] = gate
        return gate

    def get_gate(self, gate_id: str) -> StoredGate | None:
        return self.gates.get(gate_id)

    def due_gates(self, now: datetime, limit: int = 100) -> builtins.list[StoredGate]:
        with self._lock:
            due = [g for g in self.gates.values() if g.status is GateStatus.PENDING and g.window_end <= now]
        return sorted(due, key=lambda g: (g.window_end, g.id))[:limit]

    def finish_gate(self, gate_id: str, status: GateStatus, result: Mapping[str, Any], at: datetime) -> StoredGate:
        with self._lock:
            gate = self.gates[gate_id]
            if gate.status is GateStatus.PENDING:
                gate = replace(gate, status=status, result=dict(result), evaluated_at=at)
                self.gates[gate_id] = gate
        return gate
