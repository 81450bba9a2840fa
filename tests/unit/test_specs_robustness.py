"""Whatever the file holds, validation returns problems; it never raises."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slo_service.specs import Problem, validate_files

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "slo-service.yaml"
EXAMPLE_LINES = EXAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12), st.sampled_from(["28d", "scrape"])
)
keys = st.sampled_from(
    ["apiVersion", "services", "sources", "slos", "name", "type", "url", "sli", "ratio", "period", "x"]
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)


def _validate_text(text: str) -> list[Problem]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8")
        return validate_files([path])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_arbitrary_text_yields_problems_not_exceptions(text: str) -> None:
    problems = _validate_text(text)
    assert all(isinstance(p, Problem) for p in problems)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["services", "sources", "slos", "kind"]), values)
def test_arbitrary_structures_yield_problems_not_exceptions(section: str, data: Any) -> None:
    text = f"apiVersion: slo-service/v1\n{section}: {json.dumps(data)}\n"
    problems = _validate_text(text)
    assert all(isinstance(p, Problem) for p in problems)


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=len(EXAMPLE_LINES) - 1), min_size=1, max_size=4))
def test_the_example_with_lines_removed_yields_problems_not_exceptions(dropped: set[int]) -> None:
    text = "".join(line for i, line in enumerate(EXAMPLE_LINES) if i not in dropped)
    problems = _validate_text(text)
    assert all(isinstance(p, Problem) and p.message for p in problems)
