"""examples/bad/*.yaml document their own problems in `# expect: line: field: message` comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from slo_service.specs import validate_files

BAD = Path(__file__).resolve().parents[2] / "examples" / "bad"


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yaml")), ids=lambda p: p.name)
def test_bad_example_reports_exactly_the_problems_it_documents(path: Path) -> None:
    expected = [
        f"{path}:{line.removeprefix('# expect: ')}"
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("# expect: ")
    ]
    assert expected, "each bad example lists the problems it expects"
    assert [str(p) for p in validate_files([path])] == expected
