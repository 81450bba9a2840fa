"""Deployments, deploy freezes, CI signatures and quality gates in SQL; implements `DeploymentStore` and
`GateStore` (schema revision 0013 or later)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from slo_service.adapters.sql.base import SqlStoreBase
from slo_service.adapters.sql.deployment_models import CiSignatureRow, DeployFreezeRow, DeploymentRow, GateRow
from slo_service.core import deployments as core
from slo_service.core.deployments import Deployment, Freeze
from slo_service.core.gates import GateStatus, StoredGate

_deployments: Table = DeploymentRow.__table__  # type: ignore[assignment]
_freezes: Table = DeployFreezeRow.__table__  # type: ignore[assignment]
_signatures: Table = CiSignatureRow.__table__  # type: ignore[assignment]
_gates: Table = GateRow.__table__  # type: ignore[assignment]


def _deployment(row: Any) -> Deployment:
    return Deployment(**{f.name: getattr(row, f.name) for f in fields(Deployment)})


def _freeze(row: Any) -> Freeze:
    return Freeze(**{f.name: getattr(row, f.name) for f in fields(Freeze)})


def _gate(row: Any) -> StoredGate:
    columns = {f.name: getattr(row, f.name) for f in fields(StoredGate)}
    return StoredGate(**{**columns, "status": GateStatus(row.status)})


class SqlDeploymentStore(SqlStoreBase):
    """One transaction per method, SQLite or PostgreSQL."""

    # deployments

    def record(self, d: Deployment) -> Deployment:
        with self._write() as conn:
            conn.execute(_deployments.insert(), asdict(d))
        return d

    def get(self, deployment_id: str) -> Deployment | None:
        with self._read() as conn:
            row = conn.execute(select(_deployments).where(_deployments.c.id == deployment_id)).first()
        return None if row is None else _deployment(row)

    def mark(self, deployment_id: str, status: str) -> Deployment | None:
        with self._write() as conn:
            conn.execute(update(_deployments).where(_deployments.c.id == deployment_id).values(status=status))
        return self.get(deployment_id)

    def list(
        self,
        service: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[Deployment]:
        query = select(_deployments)
        if service is not None:
            query = query.where(_deployments.c.service == service)
        if environment is not None:
            query = query.where(_deployments.c.environment == environment)
        if since is not None:
            query = query.where(_deployments.c.at >= since)
        if until is not None:
            query = query.where(_deployments.c.at < until)
        query = query.order_by(_deployments.c.at.desc(), _deployments.c.id.desc()).limit(limit)
        with self._read() as conn:
            return [_deployment(r) for r in conn.execute(query)]

    def latest(self, service: str, environment: str) -> Deployment | None:
        found = self.list(service=service, environment=environment, limit=1)
        return found[0] if found else None

    def previous_good(self, service: str, environment: str) -> Deployment | None:
        query = select(_deployments).where(_deployments.c.service == service, _deployments.c.environment == environment)
        with self._read() as conn:
            mine = [_deployment(r) for r in conn.execute(query)]
        if not mine:
            return None
        latest = max(mine, key=lambda d: (d.at, d.id))
        return core.previous_good(mine, service, environment, latest.version)

    def counts(self) -> dict[tuple[str, str], int]:
        query = select(_deployments.c.service, _deployments.c.environment, func.count()).group_by(
            _deployments.c.service, _deployments.c.environment
        )
        with self._read() as conn:
            return {(s, e): int(n) for s, e, n in conn.execute(query)}

    def latest_per_target(self) -> builtins.list[Deployment]:
        newest = (
            select(_deployments.c.service, _deployments.c.environment, func.max(_deployments.c.at).label("at"))
            .group_by(_deployments.c.service, _deployments.c.environment)
            .subquery()
        )
        query = select(_deployments).join(
            newest,
            (_deployments.c.service == newest.c.service)
            & (_deployments.c.environment == newest.c.environment)
            & (_deployments.c.at == newest.c.at),
        )
        with self._read() as conn:
            rows = [_deployment(r) for r in conn.execute(query)]
        # Two deployments at the same instant: the larger id wins, as in `latest`.
        best: dict[tuple[str, str], Deployment] = {}
        for d in rows:
            key = (d.service, d.environment)
            if key not in best or d.id > best[key].id:
                best[key] = d
        return sorted(best.values(), key=lambda d: (d.service, d.environment))

    # freezes

    def _active(self, conn: Any, service: str) -> Any:
        return conn.execute(
            select(_freezes)
            .where(_freezes.c.service == service, _freezes.c.lifted_at.is_(None))
            .order_by(_freezes.c.since, _freezes.c.id)
            .limit(1)
        ).first()

    def freeze(self, service: str, reason: str, since: datetime, by: str) -> Freeze:
        with self._write() as conn:
            row = self._active(conn, service)
            if row is not None:
                return _freeze(row)
            conn.execute(_freezes.insert(), {"service": service, "reason": reason, "since": since, "by": by})
        return Freeze(service, reason, since, by)

    def lift(self, service: str, at: datetime, by: str) -> Freeze | None:
        with self._write() as conn:
            row = self._active(conn, service)
            if row is None:
                return None
            # Lift every active row: two replicas freezing at once may have left two.
            conn.execute(
                update(_freezes)
                .where(_freezes.c.service == service, _freezes.c.lifted_at.is_(None))
                .values(lifted_at=at, lifted_by=by)
            )
        return Freeze(row.service, row.reason, row.since, row.by, at, by)

    def active_freeze(self, service: str) -> Freeze | None:
        with self._read() as conn:
            row = self._active(conn, service)
        return None if row is None else _freeze(row)

    def active_freezes(self) -> builtins.list[Freeze]:
        query = select(_freezes).where(_freezes.c.lifted_at.is_(None)).order_by(_freezes.c.service, _freezes.c.since)
        with self._read() as conn:
            rows = [_freeze(r) for r in conn.execute(query)]
        first: dict[str, Freeze] = {}
        for f in rows:  # the earliest active row of a service is its freeze, as in `active_freeze`
            first.setdefault(f.service, f)
        return builtins.list(first.values())

    # replay protection

    def remember_signature(self, signature: str, at: datetime, forget_before: datetime) -> bool:
        try:
            with self._write() as conn:
                conn.execute(delete(_signatures).where(_signatures.c.seen_at < forget_before))
                seen = conn.execute(select(_signatures.c.seen_at).where(_signatures.c.signature == signature))
                if seen.first() is not None:
                    return False
                conn.execute(_signatures.insert(), {"signature": signature, "seen_at": at})
        except IntegrityError:  # another replica stored the same signature between our select and insert
            return False
        return True

    # gates

    def add_gate(self, gate: StoredGate) -> StoredGate:
        with self._write() as conn:
            row = {f.name: getattr(gate, f.name) for f in fields(StoredGate)}
            row.update(status=str(gate.status), spec=dict(gate.spec), result=gate.result and dict(gate.result))
            conn.execute(_gates.insert(), row)
        return gate

    def get_gate(self, gate_id: str) -> StoredGate | None:
        with self._read() as conn:
            row = conn.execute(select(_gates).where(_gates.c.id == gate_id)).first()
        return None if row is None else _gate(row)

    def due_gates(self, now: datetime, limit: int = 100) -> builtins.list[StoredGate]:
        query = (
            select(_gates)
            .where(_gates.c.status == str(GateStatus.PENDING), _gates.c.window_end <= now)
            .order_by(_gates.c.window_end, _gates.c.id)
            .limit(limit)
        )
        with self._read() as conn:
            return [_gate(r) for r in conn.execute(query)]

    def finish_gate(self, gate_id: str, status: GateStatus, result: Mapping[str, Any], at: datetime) -> StoredGate:
        with self._write() as conn:
            conn.execute(
                update(_gates)
                .where(_gates.c.id == gate_id, _gates.c.status == str(GateStatus.PENDING))
                .values(status=str(status), result=dict(result), evaluated_at=at)
            )
            row = conn.execute(select(_gates).where(_gates.c.id == gate_id)).one()
        return _gate(row)
