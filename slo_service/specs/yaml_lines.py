"""Load YAML into plain Python data while remembering the line of every mapping key and sequence item.

PyYAML's ``safe_load`` forgets where things came from. Here the document is composed into nodes,
then walked by hand: scalars are constructed by the safe constructor (so ``1`` is an int and ``true``
a bool exactly as with ``safe_load``), and each path such as ``("slos", 1, "sli", "ratio", "good")``
is recorded with the 1-based line of its key (for mappings) or of its item (for sequences).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]

_MAX_DEPTH = 64


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


def load_yaml(text: str) -> LoadedYAML | None:
    """Parse one YAML document; None for an empty (or null) document. Raise YAMLSyntaxError on bad YAML."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        result = LoadedYAML(data=None)
        result.lines[()] = node.start_mark.line + 1
        result.data = _walk(loader, node, (), result)
        return None if result.data is None else result
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise YAMLSyntaxError(message, line) from exc
    except yaml.YAMLError as exc:
        raise YAMLSyntaxError(str(exc), None) from exc
    finally:
        loader.dispose()


def _walk(loader: yaml.SafeLoader, node: yaml.Node, path: Path, out: LoadedYAML) -> Any:
    if len(path) > _MAX_DEPTH:
        raise YAMLSyntaxError(f"document nested deeper than {_MAX_DEPTH} levels (recursive alias?)", None)
    if isinstance(node, yaml.MappingNode):
        data: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode):
                raw_key = loader.construct_object(key_node, deep=True)
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
    return loader.construct_object(node, deep=True)


def load_yaml_documents(text: str) -> list[LoadedYAML | None]:
    """Every YAML document of `text` with the (file-wide) line of each path; None for an empty document."""
    loader = yaml.SafeLoader(text)
    out: list[LoadedYAML | None] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            doc = LoadedYAML(data=None)
            doc.lines[()] = node.start_mark.line + 1
            doc.data = _walk(loader, node, (), doc)
            out.append(None if doc.data is None else doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise YAMLSyntaxError(message, mark.line + 1 if mark is not None else None) from exc
    except yaml.YAMLError as exc:
        raise YAMLSyntaxError(str(exc), None) from exc
    finally:
        loader.dispose()
    return out
