"""Hostile config files are refused quickly, with little memory, and with the file:line of the cause.

Before the limits a 369-byte billion-laughs file ran `slo-service validate` past 120 s at 9.8 GB and
10,000 nested `[` gave an "internal error" without a line. Each test here measures time and peak
memory (tracemalloc) so a regression to exponential expansion fails instead of hanging for minutes.
"""

from __future__ import annotations

import itertools
import string
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from slo_service.specs import load_config, validate_files, yaml_events
from slo_service.specs.yaml_lines import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, YAMLLimitError, load_yaml
from tests.support.memory import peak_of

T = TypeVar("T")

# Without the limits the bombs below expand exponentially: fail within a minute instead of eating the machine.
pytestmark = pytest.mark.timeout(60)

SECONDS = 5.0  # generous: the bombs are refused in milliseconds, the benign files read in well under 1 s
PEAK_BYTES = 50 * 1024 * 1024

NATIVE = "apiVersion: slo-service/v1\n"


def laughs(header: str = NATIVE, levels: int = 9, width: int = 9, indent: str = "") -> str:
    """A billion-laughs file: anchors a, b, c... each a list of `width` aliases of the one before.

    With the defaults it is the 369-byte file of the issue: 9**9 = 387,420,489 "lol" once expanded.
    """
    names = string.ascii_lowercase[:levels]
    lols = ",".join(['"lol"'] * width)
    lines = [f"{indent}a: &a [{lols}]"]
    lines += [f"{indent}{n}: &{n} [{','.join([f'*{p}'] * width)}]" for p, n in itertools.pairwise(names)]
    return header + "\n".join(lines) + "\n"


def measured(call: Callable[[], T]) -> T:
    """`call()`, asserting it took under SECONDS and allocated at most PEAK_BYTES at its peak.

    Timed on its own first: tracemalloc slows Python several times, more on a busy machine.
    """
    start = time.monotonic()
    call()
    elapsed = time.monotonic() - start
    assert elapsed < SECONDS, f"took {elapsed:.1f}s"
    result, peak = peak_of(call)
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.0f} MB"
    return result


def problems_of(path: Path) -> list[str]:
    return [str(p) for p in measured(lambda: validate_files([path]))]


def test_the_369_byte_billion_laughs_file_is_refused_at_the_alias_that_crosses_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(laughs())
    assert path.stat().st_size == 369
    assert problems_of(path) == [
        f"{path}:7: (yaml): alias *e (anchor &e at line 6) expands to 66,430 nodes, taking the file to "
        "141,172 nodes, past the limit of 100,000 (an alias bomb?); write the data out or use fewer aliases"
    ]


@pytest.mark.parametrize(
    ("header", "indent", "line", "total"),
    [
        # OpenSLO, Sloth and drift monitors are read by their own readers, all through yaml_lines.
        ("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec:\n", "  ", 9, "115,177"),
        ('version: "prometheus/v1"\nservice: x\nslos:\n  - name: y\n', "    ", 9, "115,176"),
        (NATIVE + "monitors:\n  - name: drift\n", "    ", 8, "115,174"),
    ],
    ids=["openslo", "sloth", "monitors"],
)
def test_every_format_refuses_a_bomb(tmp_path: Path, header: str, indent: str, line: int, total: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(laughs(header, levels=12, width=12, indent=indent))
    assert problems_of(path) == [
        f"{path}:{line}: (yaml): alias *d (anchor &d at line {line - 1}) expands to 22,621 nodes, taking the "
        f"file to {total} nodes, past the limit of 100,000 (an alias bomb?); write the data out or use fewer aliases"
    ]


def test_a_bomb_split_over_documents_is_counted_for_the_whole_file(tmp_path: Path) -> None:
    """Anchors end with their document, but the node count does not: many small expansions still add up."""
    doc = "---\napiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec:\n" + laughs("", 4, 9, "  ")
    path = tmp_path / "docs.yaml"
    path.write_text(doc * 20)
    # 8,317 nodes a document: the 13th (from line 109) crosses 100,000 at the first alias of c.
    assert problems_of(path) == [
        f"{path}:116: (yaml): alias *b (anchor &b at line 115) expands to 91 nodes, taking the file to 100,011 "
        "nodes, past the limit of 100,000 (an alias bomb?); write the data out or use fewer aliases"
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[" * 10_000 + "]" * 10_000, 1),
        ("{a: " * 10_000 + "1" + "}" * 10_000, 1),
        (NATIVE + "".join(f"{'  ' * i}k{i}:\n" for i in range(150)), 102),
        ("".join(f"{'  ' * i}-\n" for i in range(150)), 101),
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings", "block-sequences"],
)
def test_deep_nesting_is_refused_at_the_line_it_passes_the_limit(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    assert problems_of(path) == [f"{path}:{line}: (yaml): lists and mappings are nested deeper than 100 levels here"]


def test_nesting_at_the_depth_limit_is_accepted() -> None:
    doc = load_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert doc is not None
    data, depth = doc.data, 1
    while data:
        data, depth = data[0], depth + 1
    assert depth == MAX_DEPTH


def test_an_alias_that_nests_too_deep_names_the_alias_and_its_anchor() -> None:
    deep = "[" * 60 + "]" * 60
    with pytest.raises(YAMLLimitError) as info:
        load_yaml(f"a: &deep {deep}\nb:\n  c: {'[' * 40}*deep{']' * 40}\n")
    assert info.value.line == 3
    assert info.value.message == "alias *deep (anchor &deep at line 1) nests lists and mappings deeper than 100 levels"


def test_a_recursive_alias_is_refused_with_its_line() -> None:
    with pytest.raises(YAMLLimitError) as info:
        load_yaml("a: &loop\n  b: [1, *loop]\n")
    assert (info.value.line, info.value.message) == (2, "alias *loop refers to a list or mapping that contains it")


def test_the_node_limit_counts_plain_nodes_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file without aliases is bounded as well (its size alone allows ~500,000 tiny nodes)."""
    monkeypatch.setattr(yaml_events, "MAX_NODES", 1_000)
    items = "".join(f"  - {i}\n" for i in range(997))
    assert load_yaml("x:\n" + items) is not None  # mapping + key + list + 997 items = 1,000
    with pytest.raises(YAMLLimitError) as info:
        load_yaml("x:\n" + items + "  - one too many\n")
    assert info.value.line == 999
    assert info.value.message == (
        "the file holds more than 1,000 nodes (values, lists and mappings); split it into several files"
    )


def test_aliases_up_to_the_node_limit_are_accepted_and_one_more_node_is_not() -> None:
    # mapping, key, anchored list of 9 (10), key, list = 14 nodes; 6 padding nodes; each alias copies 10.
    aliases = (MAX_NODES - 14 - 6) // 10
    text = "p1: 1\np2: 2\np3: 3\nbase: &b [1, 2, 3, 4, 5, 6, 7, 8, 9]\nuses:\n" + "  - *b\n" * aliases
    assert 14 + 6 + 10 * aliases == MAX_NODES
    doc = measured(lambda: load_yaml(text))
    assert doc is not None and len(doc.data["uses"]) == aliases
    with pytest.raises(YAMLLimitError) as info:
        load_yaml(text + "  - 1\n")
    assert info.value.line == aliases + 6


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:  # sparse: 10 GiB that are never read
        f.truncate(10 * 1024**3)
    assert problems_of(path) == [
        f"{path}: (file): file is 10,737,418,240 bytes; config files are limited to 1,048,576 bytes (1MiB), "
        "split it into several files"
    ]


def test_the_size_limit_is_exact(tmp_path: Path, example_text: str) -> None:
    path = tmp_path / "padded.yaml"
    path.write_text(example_text + "#" * (MAX_FILE_BYTES - len(example_text.encode()) - 1) + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert validate_files([path]) == []  # not measured: scanning 1 MiB of comment takes PyYAML ~1 s
    path.write_text(path.read_text() + "\n")
    assert problems_of(path) == [
        f"{path}: (file): file is 1,048,577 bytes; config files are limited to 1,048,576 bytes (1MiB), "
        "split it into several files"
    ]


def test_text_over_the_size_limit_is_refused_by_the_yaml_reader_too() -> None:
    with pytest.raises(YAMLLimitError) as info:
        load_yaml("a: " + "é" * (MAX_FILE_BYTES // 2))  # fewer characters than the limit, more bytes
    assert info.value.line is None
    assert info.value.message == "text is larger than 1,048,576 bytes, the limit for one config file"


def test_many_legitimate_aliases_are_still_accepted(tmp_path: Path) -> None:
    def slo(i: int, period: str, labels: str, budgeting: str) -> str:
        return f"""  - service: checkout
    name: availability-{i}
    objective: 99.5
    period: {period}
    labels: {labels}
    budgeting: {budgeting}
    sli: {{ratio: {{source: push, good: 'requests_total{{code!~"5.."}}', total: requests_total}}}}
"""

    first = slo(0, "&period {rolling: 28d}", "&labels {team: ml, journey: pay}", "&b {method: timeslices, slice: 5m}")
    path = tmp_path / "aliases.yaml"
    path.write_text(
        NATIVE
        + "services: [{name: checkout}]\nsources: [{name: push, type: push}]\nslos:\n"
        + first
        + "".join(slo(i, "*period", "*labels", "*b") for i in range(1, 200))
    )
    config = measured(lambda: load_config([path]))
    assert len(config.slos) == 200
    assert all(s.labels == {"team": "ml", "journey": "pay"} for s in config.slos)
    assert {s.period.length for s in config.slos} == {timedelta(days=28)}


@pytest.fixture
def example_text() -> str:
    return (Path(__file__).resolve().parents[2] / "examples" / "slo-service.yaml").read_text()
