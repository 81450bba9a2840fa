"""The YAML parser's event stream, bounded: depth and node limits checked on each event, before any node.

Config files may come from anyone who can write to the config directory (docs/configuration.md,
"Limits"). The nesting depth and the number of nodes (each alias counted as the nodes it copies) are
checked on the parser's events, before anything is built from them: a 369-byte "billion laughs" file
is refused after reading a few lines instead of expanding to billions of nodes. `yaml_lines` builds the
data from these loaders' events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

MAX_DEPTH = 100  # lists and mappings inside each other, aliases included
MAX_NODES = 100_000  # values, lists and mappings of one file, each alias counted as what it copies


class YAMLSyntaxError(Exception):
    """A YAML scanner/parser/composer error with its 1-based line (None when PyYAML gave no mark)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    @property
    def summary(self) -> str:
        """The problem message for a `(yaml)` problem."""
        return f"invalid YAML: {self.message}"


class YAMLLimitError(YAMLSyntaxError):
    """Valid YAML refused by a limit (size, depth, nodes with aliases expanded): reading on could exhaust us."""

    @property
    def summary(self) -> str:
        return self.message


@dataclass(slots=True)
class _Open:
    """A list or mapping whose end event has not come yet."""

    anchor: str | None
    line: int
    nodes: int = 1  # itself and everything in it, aliases expanded
    height: int = 1  # levels of lists and mappings, itself included, aliases expanded


class BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer only receives events that keep the document within the limits.

    Every event the composer consumes passes through `get_event`. An anchor's size and height are
    known when its end event passes, before any alias may name it, so an alias is charged what it
    would expand to in O(1), and the composer never builds a node past a limit.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._open: list[_Open] = []
        self._anchors: dict[str, tuple[int, int, int]] = {}  # anchor -> (nodes, height, line)
        self._nodes = 0  # nodes of the whole stream so far, aliases expanded

    def get_event(self) -> Any:
        event = self._next_event()
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            self._alias(str(event.anchor), line)
        elif isinstance(event, yaml.ScalarEvent):
            self._count(1, line)
            if event.anchor is not None:
                self._anchors[event.anchor] = (1, 0, line)
            self._add(1, 0)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(self._open) >= MAX_DEPTH:
                raise YAMLLimitError(f"lists and mappings are nested deeper than {MAX_DEPTH} levels here", line)
            self._count(1, line)
            self._open.append(_Open(event.anchor, line))
        elif isinstance(event, yaml.CollectionEndEvent):
            done = self._open.pop()
            if done.anchor is not None:
                self._anchors[done.anchor] = (done.nodes, done.height, done.line)
            self._add(done.nodes, done.height)
        elif isinstance(event, yaml.DocumentEndEvent):
            self._anchors.clear()  # anchors belong to their document, as in the composer
        return event

    def _next_event(self) -> Any:
        return yaml.SafeLoader.get_event(self)  # type: ignore[no-untyped-call]  # untyped in types-PyYAML

    def _count(self, nodes: int, line: int) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise YAMLLimitError(
                f"the file holds more than {MAX_NODES:,} nodes (values, lists and mappings); "
                "split it into several files",
                line,
            )

    def _add(self, nodes: int, height: int) -> None:
        if self._open:
            parent = self._open[-1]
            parent.nodes += nodes
            parent.height = max(parent.height, height + 1)

    def _alias(self, anchor: str, line: int) -> None:
        known = self._anchors.get(anchor)
        if known is None:
            if any(o.anchor == anchor for o in self._open):
                raise YAMLLimitError(f"alias *{anchor} refers to a list or mapping that contains it", line)
            return  # an undefined alias: the composer reports it
        nodes, height, anchor_line = known
        where = f"alias *{anchor} (anchor &{anchor} at line {anchor_line})"
        if len(self._open) + height > MAX_DEPTH:
            raise YAMLLimitError(f"{where} nests lists and mappings deeper than {MAX_DEPTH} levels", line)
        if self._nodes + nodes > MAX_NODES:
            raise YAMLLimitError(
                f"{where} expands to {nodes:,} nodes, taking the file to {self._nodes + nodes:,} nodes, "
                f"past the limit of {MAX_NODES:,} (an alias bomb?); write the data out or use fewer aliases",
                line,
            )
        self._count(nodes, line)
        self._add(nodes, height)


_CParser: Any = getattr(getattr(yaml, "cyaml", None), "CParser", None)  # libyaml, when PyYAML was built with it
FastLoader: Any = None
if _CParser is not None:

    class LibYAMLBoundedLoader(
        yaml.composer.Composer,
        _CParser,  # type: ignore[misc]  # Any to mypy
        yaml.constructor.SafeConstructor,
        yaml.resolver.Resolver,
    ):
        """BoundedLoader on libyaml's scanner and parser: PyYAML's Python composer is listed first, so every
        event it consumes still passes through `get_event` and the same limits."""

        def __init__(self, text: str) -> None:
            _CParser.__init__(self, text)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self._open: list[_Open] = []
            self._anchors: dict[str, tuple[int, int, int]] = {}
            self._nodes = 0

        get_event = BoundedLoader.get_event
        _count = BoundedLoader._count
        _add = BoundedLoader._add
        _alias = BoundedLoader._alias

        def _next_event(self) -> Any:
            return _CParser.get_event(self)

        def dispose(self) -> None:
            pass

    FastLoader = LibYAMLBoundedLoader
