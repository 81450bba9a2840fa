"""The line-keeping YAML loader behind the file:line of every problem."""

from __future__ import annotations

import pytest

from slo_service.specs.yaml_lines import YAMLSyntaxError, load_yaml

DOC = """\
# comment
top:
  list:
    - a: 1
      b: [x, y]
    - {c: true}
  empty:
"""


def test_records_the_line_of_each_mapping_key_and_sequence_item() -> None:
    doc = load_yaml(DOC)
    assert doc is not None
    assert doc.lines[("top",)] == 2
    assert doc.lines[("top", "list")] == 3
    assert doc.lines[("top", "list", 0)] == 4
    assert doc.lines[("top", "list", 0, "b")] == 5
    assert doc.lines[("top", "list", 0, "b", 1)] == 5
    assert doc.lines[("top", "list", 1, "c")] == 6
    assert doc.lines[("top", "empty")] == 7


def test_constructs_scalars_like_safe_load() -> None:
    doc = load_yaml(DOC)
    assert doc is not None
    assert doc.data == {"top": {"list": [{"a": 1, "b": ["x", "y"]}, {"c": True}], "empty": None}}


def test_line_of_a_missing_path_falls_back_to_the_closest_ancestor() -> None:
    doc = load_yaml(DOC)
    assert doc is not None
    assert doc.line_of(("top", "list", 0, "missing", "deeper")) == 4
    assert doc.line_of(("nowhere",)) == 2  # the line the document starts on


def test_reports_duplicate_keys_with_both_lines() -> None:
    doc = load_yaml("a: 1\nb: 2\na: 3\n")
    assert doc is not None
    assert doc.duplicates == [(("a",), 3, 1)]
    assert doc.data == {"a": 3, "b": 2}


def test_non_string_keys_become_strings() -> None:
    doc = load_yaml("200: ok\n")
    assert doc is not None
    assert doc.data == {"200": "ok"}


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"], ids=["empty", "comment", "marker"])
def test_empty_document_is_none(text: str) -> None:
    assert load_yaml(text) is None


@pytest.mark.parametrize(
    ("text", "line", "phrase"),
    [
        ("a: 1\nb: [1, 2\nc: 3\n", 3, "expected ',' or ']'"),
        ("a: 1\n  b: 2\n", 2, "mapping values are not allowed here"),
        ("a: 1\n---\nb: 2\n", 2, "expected a single document"),
        ("a: *nope\n", 1, "found undefined alias"),
        ("a: 1\nb: 2024-02-30\n", 2, "cannot read the value 2024-02-30: day is out of range for month"),
        (
            "a:\n  - " + "1" * 5000 + "\n",
            2,
            "cannot read the value 11111111111111111111...1111111111 (5,000 characters): "
            "Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits",
        ),
        ("2024-13-01: x\n", 1, "cannot read the value 2024-13-01: month must be in 1..12"),
    ],
    ids=[
        "unclosed-flow-sequence",
        "bad-indentation",
        "two-documents",
        "undefined-alias",
        "impossible-date",
        "huge-int",
        "impossible-date-key",
    ],
)
def test_syntax_errors_carry_the_line_of_the_mark(text: str, line: int, phrase: str) -> None:
    with pytest.raises(YAMLSyntaxError) as info:
        load_yaml(text)
    assert info.value.line == line
    assert phrase in info.value.message
    assert info.value.summary == f"invalid YAML: {info.value.message}"


def test_aliases_are_expanded() -> None:
    doc = load_yaml("base: &b {x: 1}\nother: *b\n")
    assert doc is not None
    assert doc.data == {"base": {"x": 1}, "other": {"x": 1}}
