"""Load YAML into plain Python data while remembering the line of every mapping key and sequence item.

PyYAML's ``safe_load`` forgets where things came from. Here the data is built straight from the
parser's events: scalars are constructed by the safe constructor (so ``1`` is an int and ``true`` a
bool exactly as with ``safe_load``), and each path such as ``("slos", 1, "sli", "ratio", "good")`` is
recorded with the 1-based line of its key (for mappings) or of its item (for sequences).

Config files may come from anyone who can write to the config directory, so reading is bounded
(docs/configuration.md, "Limits"): `read_config_text` refuses a file over the size limit before reading
it whole, and the events come from `yaml_events`' loaders, which check the nesting depth and the number
of nodes (aliases expanded) before anything is built.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any, TypeVar

import yaml

from slo_service.core.sizes import format_size
from slo_service.specs.yaml_events import (
    MAX_DEPTH,
    MAX_NODES,
    BoundedLoader,
    FastLoader,
    YAMLLimitError,
    YAMLSyntaxError,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "FileTooLargeError",
    "LoadedYAML",
    "YAMLLimitError",
    "YAMLSyntaxError",
    "load_yaml",
    "load_yaml_documents",
    "read_config_text",
]

Path = tuple[str | int, ...]
_T = TypeVar("_T")

MAX_FILE_BYTES = 1024 * 1024  # one config file; the largest real ones are tens of KiB


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

    def single(loader: Any) -> LoadedYAML | None:
        loader.get_event()  # StreamStartEvent
        doc = None
        if not loader.check_event(yaml.StreamEndEvent):
            first = loader.peek_event()
            doc = _compose_document(loader)
            if not loader.check_event(yaml.StreamEndEvent):
                raise yaml.composer.ComposerError(
                    "expected a single document in the stream",
                    first.start_mark,
                    "but found another document",
                    loader.get_event().start_mark,
                )
        return doc

    return _parse(text, single)


def load_yaml_documents(text: str) -> list[LoadedYAML | None]:
    """Every YAML document of `text` with the (file-wide) line of each path; None for an empty document."""

    def every(loader: Any) -> list[LoadedYAML | None]:
        out: list[LoadedYAML | None] = []
        if loader.check_event(yaml.StreamStartEvent):
            loader.get_event()
        while not loader.check_event(yaml.StreamEndEvent):
            out.append(_compose_document(loader))
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
    if FastLoader is not None:
        try:
            with _reading(text, FastLoader) as loader:
                return read(loader)
        except YAMLLimitError:
            raise
        except YAMLSyntaxError:
            pass
    with _reading(text, BoundedLoader) as loader:
        return read(loader)


@contextmanager
def _reading(text: str, kind: Any = None) -> Iterator[BoundedLoader]:
    """A loader for `text` whose PyYAML errors become YAMLSyntaxError with a line."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise YAMLLimitError(f"text is larger than {MAX_FILE_BYTES:,} bytes, the limit for one config file", None)
    loader = (kind or BoundedLoader)(text)
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


_NO_KEY: Any = object()  # a mapping's next event is a key, not a value


@dataclass(slots=True)
class _Frame:
    """A list or mapping being built: where it goes and, for a mapping, the key whose value comes next."""

    data: dict[str, Any] | list[Any]
    path: Path
    anchor: str | None
    entries_from: int  # lines recorded inside it start here (copied when an alias repeats it)
    ignored: bool  # inside a mapping key that is itself a list or mapping: nothing of it is recorded
    line: int  # where it starts: the line of a mapping key that is itself a list or mapping
    key: Any = _NO_KEY
    first_line: dict[str, int] = field(default_factory=dict)


def _compose_document(loader: Any) -> LoadedYAML | None:
    """One document's data and lines, built straight from the parser's events (DocumentStart to End).

    PyYAML's composer built a node per value and a walk over the nodes then built the data: two passes
    and ~200,000 objects for 10,000 SLOs, two thirds of the config's load time. One loop over the
    events gives the same result: scalars resolved and constructed by the safe loader (memoised per
    document when immutable: keys and values repeat), an alias as a copy of its anchor's data with the
    lines of the anchor's paths. No recursion, and the bounded `get_event` refuses a document past the
    depth or node limits before anything here grows with it.
    """
    loader.get_event()  # DocumentStartEvent
    doc = LoadedYAML(data=None)
    entries: list[tuple[Path, int]] = []
    anchors: dict[str, tuple[Any, Path, list[tuple[Path, int]]]] = {}  # data, its path, lines inside
    marks: dict[str, Any] = {}  # anchor -> where it was defined, for "found duplicate anchor"
    memo: dict[tuple[Any, ...], Any] = {}
    stack: list[_Frame] = []
    result: Any = None
    while True:
        event = loader.get_event()
        if isinstance(event, yaml.DocumentEndEvent):
            break
        line = event.start_mark.line + 1
        if isinstance(event, yaml.CollectionEndEvent):
            done = stack.pop()
            if done.anchor is not None:
                anchors[done.anchor] = (done.data, done.path, entries[done.entries_from :])
            if stack:
                _attach(stack[-1], done.data, None, done.line, entries, doc)
            else:
                result = done.data
            continue
        anchor = getattr(event, "anchor", None)
        if anchor is not None and not isinstance(event, yaml.AliasEvent):
            if anchor in marks:
                raise yaml.composer.ComposerError(
                    f"found duplicate anchor {anchor!r}; first occurrence",
                    marks[anchor],
                    "second occurrence",
                    event.start_mark,
                )
            marks[anchor] = event.start_mark
        top = stack[-1] if stack else None
        is_key = top is not None and isinstance(top.data, dict) and top.key is _NO_KEY
        ignored = top is not None and (top.ignored or is_key)
        if top is None:
            path: Path = ()
            doc.lines[()] = line
        elif isinstance(top.data, dict):
            path = (*top.path, top.key if not is_key else "<complex key>")
        else:
            path = (*top.path, len(top.data))
            if not ignored:
                entries.append((path, line))
        if isinstance(event, yaml.CollectionStartEvent):
            data: dict[str, Any] | list[Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
            stack.append(_Frame(data, path, anchor, len(entries), ignored, line))
            continue
        raw: str | None = None
        if isinstance(event, yaml.AliasEvent):
            known = anchors.get(str(event.anchor))
            if known is None:
                mark: Any = event.start_mark  # libyaml's Mark, typed apart from PyYAML's
                raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}", mark)
            value, anchor_path, inside = known
            value = copy.deepcopy(value) if isinstance(value, dict | list) else value
            if not ignored and not is_key:
                cut = len(anchor_path)
                entries.extend(((*path, *p[cut:]), ln) for p, ln in inside)
        else:
            raw = event.value
            value = _scalar_event(loader, event, memo)
            if anchor is not None:
                anchors[anchor] = (value, path, [])
        if top is None:
            result = value
        else:
            _attach(top, value, raw, line, entries, doc)
    doc.lines.update(entries)
    doc.data = result
    return None if doc.data is None else doc


def _attach(
    top: _Frame, value: Any, raw: str | None, line: int, entries: list[tuple[Path, int]], doc: LoadedYAML
) -> None:
    """Put a finished value into the open list or mapping `top` (as the key when a key is due)."""
    if isinstance(top.data, list):
        top.data.append(value)
        return
    if top.key is not _NO_KEY:
        top.data[top.key] = value
        top.key = _NO_KEY
        return
    if isinstance(value, str):
        key = value
    elif raw is not None or not isinstance(value, dict | list):
        key = raw if raw is not None else str(value)
    else:
        key = "<complex key>"
    top.key = key
    if top.ignored:
        return
    child: Path = (*top.path, key)
    if key in top.first_line:
        doc.duplicates.append((child, line, top.first_line[key]))
    else:
        top.first_line[key] = line
    entries.append((child, line))


def _scalar_event(loader: Any, event: Any, memo: dict[tuple[Any, ...], Any]) -> Any:
    """The value of a scalar event as the safe loader constructs it; immutable values memoised."""
    memo_key = (event.tag, event.value, event.implicit)
    if memo_key in memo:
        return memo[memo_key]
    tag = event.tag
    if tag is None or tag == "!":
        tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
    value = _scalar(loader, node)
    if value is None or isinstance(value, str | int | float | bool):
        memo[memo_key] = value
    return value


def _scalar(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:  # a 5,000-digit int, the date 2024-02-30: not a YAMLError, so no line
        value = str(node.value)
        shown = value if len(value) <= 40 else f"{value[:20]}...{value[-10:]} ({len(value):,} characters)"
        reason = str(exc).split(";")[0]  # drop Python's advice about sys.set_int_max_str_digits
        raise YAMLSyntaxError(f"cannot read the value {shown}: {reason}", node.start_mark.line + 1) from exc
