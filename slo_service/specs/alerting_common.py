"""What the loader hands to the alerting builders, and the helpers they share (list entries, names, locations)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from slo_service.specs.problems import SpecFile, describe
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["SECTION", "AlertingSection", "SLOAlerting", "entries", "raw_names", "refine", "repeated_names"]

SECTION: YPath = ("alerting",)


@dataclass
class AlertingSection:
    """The `alerting:` mapping of one file."""

    file: SpecFile
    raw: Any


@dataclass
class SLOAlerting:
    """The `alerting:` of one SLO whose own spec was valid."""

    file: SpecFile
    path: YPath  # of the SLO item
    service: str
    name: str
    raw: Any


def entries(file: SpecFile, key: str, items: list[Any]) -> Iterable[tuple[YPath, dict[str, Any]]]:
    """(path, mapping) of each entry of a list field, reporting entries that are not mappings."""
    for i, item in enumerate(items):
        path: YPath = (*SECTION, key, i)
        if isinstance(item, dict):
            yield path, item
        else:
            file.add(path, f"expected a mapping, got {describe(item)}")


def repeated_names(file: SpecFile, key: str, what: str, items: list[Any]) -> set[int]:
    """Indexes of entries whose name repeats an earlier one, after reporting them."""
    first: dict[str, int] = {}
    repeated: set[int] = set()
    for i, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            where = file.where((*SECTION, key, first[name], "name"))
            file.add((*SECTION, key, i, "name"), f"duplicate {what} name {name!r}; first defined at {where}")
            repeated.add(i)
        else:
            first[name] = i
    return repeated


def raw_names(items: list[Any]) -> set[str]:
    return {n for i in items if isinstance(i, dict) and isinstance(n := i.get("name"), str)}


def refine(path: YPath, node: Any, message: str) -> YPath:
    """The field of `node` a core parser's message is about: a matcher (or other list item) it quotes, a
    value it quotes, a field it starts with or quotes; else the node itself."""
    if not isinstance(node, Mapping):
        return path
    for key, value in node.items():
        if isinstance(value, list):
            for i, item in enumerate(value):
                quoted = isinstance(item, str) and repr(item) in message
                inside = str(key).endswith("matchers") and isinstance(item, str) and item.strip() in message
                if quoted or (inside and item.strip()):
                    return (*path, str(key), i)
    for key, value in node.items():
        if isinstance(value, str) and repr(value) in message:
            return (*path, str(key))
    for key in node:
        if message.startswith(f"{key} ") or f"'{key}'" in message:
            return (*path, str(key))
    return path
