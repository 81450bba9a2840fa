"""Store doubles for pipeline tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from slo_service.adapters.memory import InMemoryHistoryStore
from slo_service.core.ports import Baselines, CountIncrement


def _unreachable() -> Exception:
    return ConnectionError("database unreachable")


class FlakyStore(InMemoryHistoryStore):
    """The in-memory store with a switch (`down`) that makes writes fail like an unreachable database, with
    the exception `error` makes."""

    def __init__(self, error: Callable[[], Exception] = _unreachable) -> None:
        super().__init__()
        self.down = False
        self.error = error

    def add_counts(
        self, increments: Sequence[CountIncrement], idempotency_key: str | None = None, baselines: Baselines = ()
    ) -> bool:
        if self.down:
            raise self.error()
        return super().add_counts(increments, idempotency_key, baselines)
