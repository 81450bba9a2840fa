"""The file:line problem type every reader reports, and the per-file context that locates problems.

All readers (slo-service YAML, OpenSLO, Sloth, alerting, monitors) report through `SpecFile.add`, so every
message has the same `file:line: field: message` shape and a configuration lists all its problems at once.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from slo_service.specs.yaml_lines import LoadedYAML
from slo_service.specs.yaml_lines import Path as YPath

__all__ = ["ConfigError", "Problem", "SpecFile", "describe", "field_name", "validate_spec"]

M = TypeVar("M", bound=BaseModel)

_DURATION_FIELDS = frozenset(
    {"interval", "timeout", "slice", "rolling", "window"}
    | {"long_window", "short_window", "for", "no_data_after", "length", "delay"}  # alerting
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration, located as precisely as possible."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field}: {self.message}"


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists everything found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class SpecFile:
    """One YAML document of a file: reports problems at a path with the path's line."""

    name: str
    doc: LoadedYAML
    problems: list[Problem]

    def add(self, path: YPath, message: str) -> None:
        self.problems.append(Problem(self.name, self.doc.line_of(path), field_name(path), message))

    def where(self, path: YPath) -> str:
        line = self.doc.line_of(path)
        return f"{self.name}:{line}" if line is not None else self.name


def field_name(path: YPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def describe(value: Any) -> str:
    if value is None:
        return "null (empty value)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def validate_spec(file: SpecFile, cls: type[M], data: Any, path: YPath) -> M | None:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            file.add((*path, *loc), _error_message(cls, loc, err))
        return None


def _error_message(cls: type[BaseModel], loc: tuple[Any, ...], err: Any) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _fields_at(cls, loc[:-1])
        message = f"unknown field {name!r}"
        close = difflib.get_close_matches(name, allowed, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        if allowed:
            message += f"; allowed fields: {', '.join(allowed)}"
        return message
    if kind == "float_type":
        if isinstance(value, str) and _looks_numeric(value):
            return (
                f"expected a number, got {describe(value)}: YAML reads quoted numbers, and exponents "
                "without a dot such as 1e3, as text; write a plain number such as 99.9"
            )
        return f"expected a number, got {describe(value)}"
    if kind == "bool_type":
        return f"expected true or false, got {describe(value)}"
    if kind == "missing":
        return "required field is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping, got {describe(value)}"
    if kind == "literal_error":
        return f"{err['msg']}; got {describe(value)}"
    msg = str(err["msg"])
    if kind == "string_type" and loc and loc[-1] in _DURATION_FIELDS:
        return f"expected a duration with a unit such as 15s, 5m or 7d; got {describe(value)}"
    if kind == "string_type" and loc and loc[-1] == "body_size_limit":
        return f'expected a size with a unit such as 512KB or 10MB, or "0" for no limit; got {describe(value)}'
    if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'expected a string, got {describe(value)}; quote it, e.g. "{value}"'
    return f"{msg}; got {describe(value)}"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fields_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model reached by following `loc` from `cls` (for 'allowed fields' hints)."""
    current: Any = cls
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = next((i for n, i in current.model_fields.items() if (i.alias or n) == str(part)), None)
        if info is None:
            return []
        current = _unwrap(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]  # `for`, not `for_`
    return []


def _unwrap(annotation: Any) -> Any:
    """`Foo | None` and `list[Foo]` to Foo."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    if origin is list:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation
