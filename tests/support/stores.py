"""Store doubles for pipeline tests."""

from __future__ import annotations

from collections.abc import Sequence

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.core.ports import Baselines, CountIncrement


class FlakyStore(InMemoryHistoryStore):
    """The in-memory store with a switch that makes writes fail like an unreachable database."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def add_counts(
        self, increments: Sequence[CountIncrement], idempotency_key: str | None = None, baselines: Baselines = ()
    ) -> bool:
        if self.down:
            raise ConnectionError("database unreachable")
        return super().add_counts(increments, idempotency_key, baselines)
