"""The layer rules of docs/architecture.md, enforced by reading every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "slo_service"

# layer -> allowed slo_service layers and allowed third-party top-level packages
RULES: dict[str, tuple[set[str], set[str]]] = {
    "core": ({"core"}, {"numpy"}),
    "specs": ({"core", "specs"}, {"pydantic", "yaml", "promql_parser"}),
    "pipeline": ({"core", "pipeline"}, {"numpy", "zstandard"}),  # zstandard: checkpoint bytes, no I/O
    "exporter": ({"core", "exporter", "__init__"}, {"prometheus_client"}),
    "generate": ({"core", "generate"}, {"yaml"}),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _stdlib(name: str) -> bool:
    import sys

    return name.split(".")[0] in sys.stdlib_module_names


def _cases() -> list[tuple[str, Path]]:
    return [(layer, p) for layer in RULES for p in sorted((ROOT / layer).rglob("*.py"))]


@pytest.mark.parametrize(("layer", "path"), _cases(), ids=lambda v: str(v).rsplit("slo_service/", 1)[-1])
def test_module_imports_only_what_its_layer_may(layer: str, path: Path) -> None:
    allowed_layers, allowed_packages = RULES[layer]
    bad = []
    for name in _imports(path):
        if name == "__future__" or _stdlib(name):
            continue
        parts = name.split(".")
        if parts[0] == "slo_service":
            sub = parts[1] if len(parts) > 1 else "__init__"
            if sub not in allowed_layers:
                bad.append(name)
        elif parts[0] not in allowed_packages:
            bad.append(name)
    assert not bad, f"{path.name} ({layer}) imports {bad}"


def test_every_layer_has_modules() -> None:
    assert all(list((ROOT / layer).rglob("*.py")) for layer in RULES)


def _private_imports(path: Path) -> list[str]:
    """`from slo_service.x import _name`: another module's private name (a knot the next reader must untie)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("slo_service")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p).rsplit("slo_service/", 1)[-1])
def test_no_module_imports_another_modules_private_names(path: Path) -> None:
    assert not _private_imports(path), f"{path.name} imports private names {_private_imports(path)}"


def test_the_private_import_check_sees_one(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from slo_service.specs.loader import _File, load_config\nfrom os import _exit\n")
    assert _private_imports(probe) == ["slo_service.specs.loader._File"]


SPECS_MAX_LINES = 400  # issue 9: the readers stay small enough to change one format at a time


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.py")), ids=lambda p: p.name)
def test_specs_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= SPECS_MAX_LINES, f"{path.name} has {lines} lines; split it by noun (see docs/architecture.md)"
