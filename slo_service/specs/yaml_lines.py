"""Load YAML into plain Python data while remembering the line of every mapping key and sequence item.

PyYAML's ``safe_load`` forgets where things came from. Here the document is composed into nodes,
then walked by hand: scalars are constructed by the safe constructor (so ``1`` is an int and ``true``
a bool exactly as with ``safe_load``), and each path such as ``("slos", 1, "sli", "ratio", "good")``
is recorded with the 1-based line of its key (for mappings) or of its item (for sequences).

Config files may come from anyone who can write to the config directory, so reading is bounded
(docs/configuration.md, "Limits"): the text size, the nesting depth and the number of nodes (each
alias counted as the nodes it copies) are checked on the parser's events, before any node or Python
object is built. A 369-byte
"billion laughs" file is refused after reading a few lines instead of expanding to billions of nodes.
`read_config_text` refuses a file over the size limit before reading it whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any, TypeVar

import yaml

from slo_service.core.sizes import format_size

Path = tuple[str | int, ...]
_T = TypeVar("_T")

MAX_FILE_BYTES = 1024 * 1024  # one config file; the largest real ones are tens of KiB
MAX_DEPTH = 100  # lists and mappings inside each other, aliases included
MAX_NODES = 100_000  # values, lists and mappings of one file, each alias counted as what it copies


@dataclass
class LoadedYAML:
    """The document's data, the line of each path, and duplicate keys found on the way."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: list[tuple[Path, int, int]] = field(default_factory=list)  # (path, line, first line)

    def line_of(self, path: Path) -> int | None:
        """Line of `path`, or of its closest known ancestor (a missing field points at its parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


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


class FileTooLargeError(OSError):
    """A config file over MAX_FILE_BYTES: refused before it is parsed."""


def read_config_text(path: FilePath) -> str:
    """The text of a config file; raise FileTooLargeError past MAX_FILE_BYTES without reading the rest.

    At most MAX_FILE_BYTES + 1 bytes are read, so a huge file (or /dev/zero) costs no memory.
    Line ends are normalised as `Path.read_text` does.
    """
    with path.open("rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            size = os.fstat(f.fileno()).st_size
            written = f"{size:,} bytes" if size > MAX_FILE_BYTES else f"more than {MAX_FILE_BYTES:,} bytes"
            limit = f"{MAX_FILE_BYTES:,} bytes ({format_size(MAX_FILE_BYTES)})"
            raise FileTooLargeError(
                f"file is {written}; config files are limited to {limit}, split it into several files"
            )
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def load_yaml(text: str) -> LoadedYAML | None:
    """Parse one YAML document; None for an empty (or null) document. Raise YAMLSyntaxError on bad YAML."""

    last = _last_documents
    if last is not None and last[0] is text and len(last[1]) == 1:
        return last[1][0]  # the loader reads each file as OpenSLO/Sloth first: parse it once, not twice

    def single(loader: yaml.SafeLoader) -> LoadedYAML | None:
        node = loader.get_single_node()
        return None if node is None else _document(loader, node)

    return _parse(text, single)


def load_yaml_documents(text: str) -> list[LoadedYAML | None]:
    """Every YAML document of `text` with the (file-wide) line of each path; None for an empty document."""

    def every(loader: yaml.SafeLoader) -> list[LoadedYAML | None]:
        out: list[LoadedYAML | None] = []
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            out.append(_document(loader, node))
        return out

    global _last_documents
    docs = _parse(text, every)
    _last_documents = (text, docs)
    return docs


_last_documents: tuple[str, list[LoadedYAML | None]] | None = None
"""The text load_yaml_documents read last and its documents (the same str object: the same file read)."""


def _parse(text: str, read: Callable[[Any], _T]) -> _T:
    """`read` with libyaml's scanner (~10x faster: 10,000 SLOs took ~20 s with PyYAML's); a file it finds
    bad is read again by PyYAML's, whose messages name the character and the context."""
    if _FastLoader is not None:
        try:
            with _reading(text, _FastLoader) as loader:
                return read(loader)
        except YAMLLimitError:
            raise
        except YAMLSyntaxError:
            pass
    with _reading(text, _BoundedLoader) as loader:
        return read(loader)


@contextmanager
def _reading(text: str, kind: Any = None) -> Iterator[_BoundedLoader]:
    """A loader for `text` whose PyYAML errors become YAMLSyntaxError with a line."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise YAMLLimitError(f"text is larger than {MAX_FILE_BYTES:,} bytes, the limit for one config file", None)
    loader = (kind or _BoundedLoader)(text)
    try:
        yield loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise YAMLSyntaxError(message, mark.line + 1 if mark is not None else None) from exc
    except yaml.YAMLError as exc:
        raise YAMLSyntaxError(str(exc), None) from exc
    finally:
        loader.dispose()


def _document(loader: yaml.SafeLoader, node: yaml.Node) -> LoadedYAML | None:
    doc = LoadedYAML(data=None)
    doc.lines[()] = node.start_mark.line + 1
    doc.data = _walk(loader, node, (), doc)
    return None if doc.data is None else doc


def _walk(loader: yaml.SafeLoader, node: yaml.Node, path: Path, out: LoadedYAML) -> Any:
    # No depth or size check here: _BoundedLoader refused the document before it was composed.
    if isinstance(node, yaml.MappingNode):
        data: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode):
                raw_key = _scalar(loader, key_node)
                key = raw_key if isinstance(raw_key, str) else str(key_node.value)
            else:
                key = "<complex key>"
            child_path: Path = (*path, key)
            if key in first_line:
                out.duplicates.append((child_path, line, first_line[key]))
            else:
                first_line[key] = line
            out.lines[child_path] = line
            data[key] = _walk(loader, value_node, child_path, out)
        return data
    if isinstance(node, yaml.SequenceNode):
        items: list[Any] = []
        for index, item_node in enumerate(node.value):
            child_path = (*path, index)
            out.lines[child_path] = item_node.start_mark.line + 1
            items.append(_walk(loader, item_node, child_path, out))
        return items
    return _scalar(loader, node)


def _scalar(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:  # a 5,000-digit int, the date 2024-02-30: not a YAMLError, so no line
        value = str(node.value)
        shown = value if len(value) <= 40 else f"{value[:20]}...{value[-10:]} ({len(value):,} characters)"
        reason = str(exc).split(";")[0]  # drop Python's advice about sys.set_int_max_str_digits
        raise YAMLSyntaxError(f"cannot read the value {shown}: {reason}", node.start_mark.line + 1) from exc


@dataclass(slots=True)
class _Open:
    """A list or mapping whose end event has not come yet."""

    anchor: str | None
    line: int
    nodes: int = 1  # itself and everything in it, aliases expanded
    height: int = 1  # levels of lists and mappings, itself included, aliases expanded


class _BoundedLoader(yaml.SafeLoader):
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
_FastLoader: Any = None
if _CParser is not None:

    class _LibYAMLBoundedLoader(
        yaml.composer.Composer,
        _CParser,  # type: ignore[misc]  # Any to mypy
        yaml.constructor.SafeConstructor,
        yaml.resolver.Resolver,
    ):
        """_BoundedLoader on libyaml's scanner and parser: PyYAML's Python composer is listed first, so every
        event it consumes still passes through `get_event` and the same limits."""

        def __init__(self, text: str) -> None:
            _CParser.__init__(self, text)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self._open: list[_Open] = []
            self._anchors: dict[str, tuple[int, int, int]] = {}
            self._nodes = 0

        get_event = _BoundedLoader.get_event
        _count = _BoundedLoader._count
        _add = _BoundedLoader._add
        _alias = _BoundedLoader._alias

        def _next_event(self) -> Any:
            return _CParser.get_event(self)

        def dispose(self) -> None:
            pass

    _FastLoader = _LibYAMLBoundedLoader
