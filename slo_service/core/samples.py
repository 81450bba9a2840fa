"""Metric samples as read from a scrape, a PromQL answer or a push: name, frozen labels, value, time."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

LabelItems = tuple[tuple[str, str], ...]
SeriesId = tuple[str, LabelItems]
"""Identity of one series: metric name plus its labels sorted by name."""


class Labels(Mapping[str, str]):
    """An immutable, hashable label set; equal label sets hash equal whatever their order."""

    __slots__ = ("_data", "_items")

    def __init__(self, data: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        self._data: dict[str, str] = dict(data)
        self._items: LabelItems | None = None

    @property
    def items_sorted(self) -> LabelItems:
        if self._items is None:
            self._items = tuple(sorted(self._data.items()))
        return self._items

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(self.items_sorted)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Labels):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Labels({self._data!r})"


@dataclass(frozen=True)
class Sample:
    """One value of one series. `timestamp` is set for pushed samples; scrapes use the scrape time."""

    name: str
    labels: Mapping[str, str]
    value: float
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.labels, Labels):
            object.__setattr__(self, "labels", Labels(self.labels))

    @property
    def series_id(self) -> SeriesId:
        labels = self.labels
        assert isinstance(labels, Labels)
        return (self.name, labels.items_sorted)

    def describe(self) -> str:
        """`name{a="1",b="2"}` for error messages."""
        labels = self.labels
        assert isinstance(labels, Labels)
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items_sorted)
        return f"{self.name}{{{inner}}}" if inner else self.name


def value_text(value: float) -> str:
    """A sample value as the text format writes it: `NaN`, `+Inf`, `-Inf`, else the shortest `%g`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:g}"


def first_of_each_series(samples: Sequence[Sample]) -> tuple[Sequence[Sample], list[Sample]]:
    """(`samples` with only the first sample of each series, the later samples of a series dropped).

    What Prometheus does with a series exposed twice in one scrape: it keeps the first sample and reports
    the others. A label with an empty value is no label there, so `x{a=""}` and `x` are one series.
    """
    seen: set[SeriesId] = set()
    add = seen.add
    kept: list[Sample] = []
    dropped: list[Sample] = []
    for s in samples:
        labels = s.labels
        assert isinstance(labels, Labels)
        items = labels.items_sorted
        if "" in labels._data.values():
            items = tuple(item for item in items if item[1])
        key = (s.name, items)
        if key in seen:
            dropped.append(s)
        else:
            add(key)
            kept.append(s)
    return (kept if dropped else samples), dropped
