"""The house is one way: every `import hubsense.X` against LAYOUT's table of allowed arrows.

An AST pass over the source folders (it sees through pyproject's `package-dir` mapping, which
mypy and import graphers do not), in the pattern of Home Assistant's hassfest
`dependencies.py`: a table of allowed pairs and a commented set of exceptions. A failure names
the file and line of each arrow that points up the house.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# component -> the components it may import (the contract `hubsense` is always allowed).
ALLOWED: dict[str, set[str]] = {
    "hubsense": set(),
    "edge": set(),
    "ingest": set(),
    "analytics": set(),
    "dashboards": set(),
    "bookings": set(),
    "provision": set(),
    "simulators": {"edge", "bookings"},
    "api": {"analytics", "bookings"},
    "report": {"analytics"},
    "devstack": {"*"},
    "firmware_config": set(),  # sample files, no code
}

# (importing file, imported component): arrows allowed against the table, each with its reason.
EXCEPTIONS: dict[tuple[str, str], str] = {
    # The CLI registry is the contract's one door to the components: module paths as strings,
    # imported by name at run time, so no import statement of it appears here.
}


def package_dirs() -> dict[str, str]:
    """pyproject's `package-dir`: top-level folder -> component name (`hubsense.X` -> X)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"]["package-dir"]
    return {folder: name.removeprefix("hubsense.") for name, folder in mapping.items()}


def imported_components(tree: ast.AST, components: set[str]) -> list[tuple[int, str]]:
    """(line, component) for each `import hubsense.X…` / `from hubsense.X… import` in a module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "hubsense":
                names = [f"hubsense.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "hubsense" and len(parts) > 1 and parts[1] in components:
                found.append((node.lineno, parts[1]))
    return found


def component_of(path: Path, folders: dict[str, str]) -> str:
    return folders[path.relative_to(ROOT).parts[0]]


def upward_arrows() -> list[str]:
    folders = package_dirs()
    components = set(folders.values()) - {"hubsense"}
    bad: list[str] = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            source = component_of(path, folders)
            allowed = ALLOWED[source]
            tree = ast.parse(path.read_text(), filename=str(path))
            for line, target in imported_components(tree, components):
                rel = path.relative_to(ROOT).as_posix()
                if target == source or "*" in allowed or target in allowed:
                    continue
                if (rel, target) in EXCEPTIONS:
                    continue
                bad.append(f"{rel}:{line}: {source} imports hubsense.{target}")
    return bad


def test_every_folder_is_in_the_table() -> None:
    assert set(package_dirs().values()) == set(ALLOWED)


def test_arrows_point_down_the_house() -> None:
    assert upward_arrows() == []


def test_the_pass_sees_an_upward_arrow(tmp_path: Path) -> None:
    """The AST pass finds both import forms, including `from hubsense import X`."""
    tree = ast.parse(
        "import hubsense.api.app\nfrom hubsense import report\nfrom hubsense import wire\n"
    )
    assert imported_components(tree, {"api", "report"}) == [(1, "api"), (2, "report")]
