"""Declared runtime dependencies are the ones the code uses, and the environment the tests run in
meets every declared bound (pyproject.toml is what a fresh `make setup` installs from)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from pulsarload.doctor import RUNTIME_DEPENDENCIES

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "pulsarload"


def _declared() -> dict[str, str]:
    """Distribution name -> its requirement text, for the runtime dependencies that apply here."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for req in deps:
        spec, _, marker = req.partition(";")
        if marker and "python_version < '3.14'" in marker and sys.version_info >= (3, 14):
            continue
        name = re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0]
        out[name] = spec.strip()
    return out


def _imported_top_levels() -> set[str]:
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_every_declared_dependency_is_used_and_checked() -> None:
    declared = _declared()
    assert set(declared) == set(RUNTIME_DEPENDENCIES), "pyproject and doctor disagree"
    imported = _imported_top_levels()
    unused = [name for name in declared if RUNTIME_DEPENDENCIES[name].split(".")[0] not in imported]
    assert not unused, f"declared but never imported by pulsarload: {unused}"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def test_installed_versions_meet_the_declared_lower_bounds() -> None:
    """The lower bounds are the versions the suite runs on (or older ones known to work): an
    environment that satisfies pyproject is one the tests have seen work."""
    for name, spec in _declared().items():
        bound = re.search(r">=\s*([\w.]+)", spec)
        assert bound, f"{name}: no lower bound in {spec!r}"
        have = importlib.metadata.version(name)
        assert _version_tuple(have) >= _version_tuple(bound.group(1)), (name, have, spec)
