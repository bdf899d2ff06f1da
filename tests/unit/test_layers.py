"""The packages depend one way: the application layer on the stages, the stages on the core."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = "core"
STAGES = ("connectors", "consumer", "generator", "marts")
APPLICATION = "cdc"
OURS = (CORE, *STAGES, APPLICATION)


def imported_packages(package: str) -> set[str]:
    """Our top-level packages that any module of ``package`` imports (at any depth, lazily or not)."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found.update(name.split(".")[0] for name in names)
    return {name for name in found if name in OURS and name != package}


def test_the_core_imports_no_stage_and_not_the_application() -> None:
    assert imported_packages(CORE) == set()


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_only_the_core(stage: str) -> None:
    assert imported_packages(stage) <= {CORE}


def test_no_package_imports_the_application_layer() -> None:
    assert [package for package in (CORE, *STAGES) if APPLICATION in imported_packages(package)] == []


def test_the_package_graph_has_no_circle() -> None:
    graph = {package: imported_packages(package) for package in OURS}
    visiting: list[str] = []

    def visit(package: str) -> None:
        assert package not in visiting, f"import circle: {' -> '.join([*visiting, package])}"
        visiting.append(package)
        for dependency in graph[package]:
            visit(dependency)
        visiting.pop()

    for package in OURS:
        visit(package)
