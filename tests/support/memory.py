"""Peak Python memory of one call, for tests that a hostile input is refused without eating memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def peak_of(call: Callable[[], T]) -> tuple[T, int]:
    """`call()` and the most bytes Python had allocated during it (tracemalloc: the call runs several
    times slower, so time it separately)."""
    tracemalloc.start()
    try:
        return call(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
