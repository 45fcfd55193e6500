"""Imports point down the layer list only (docs/design.md): nothing imports a layer above it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "pulsarload"

# Rank of each layer; a module may import its own layer or any lower rank.
# `errors` is the shared root of user-facing errors; `config` is the single home of defaults
# and sits just above the client (the client keeps its own option classes).
RANK = {
    "errors": 0,
    "wire": 0,
    "client": 1,
    "config": 2,
    "engines": 3,
    "metrics": 3,
    "load": 4,
    "ui": 5,
    # One run over many processes: shards are load controllers; the views never import it
    # (they read the merged snapshots, which carry one `ShardStats` row per shard).
    "cluster": 5,
    "web": 5,
    "doctor": 6,
    "cli": 6,
    "cli_flags": 6,
    "settings_doc": 6,
    "bench": 6,
    "entry": 7,
    "broker": 2,
}
# metrics must not depend on engines (or the other way round): they are siblings.
# ui and web are two views of the same run, side by side: neither builds on the other.
FORBIDDEN = {
    ("metrics", "engines"),
    ("engines", "metrics"),
    ("broker", "client"),
    ("ui", "cluster"),
    ("web", "cluster"),
    ("cluster", "ui"),
    ("cluster", "web"),
    ("ui", "web"),
    ("web", "ui"),
}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "pulsarload" or len(parts) < 2:
        return None
    return parts[1]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports_of(path: Path) -> set[str]:
    """Modules `path` imports when it runs (anywhere in it, functions too), without those
    under `if TYPE_CHECKING:`; `from a import b` counts as `a.b` where b is a module."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if _module_path(sub) is not None:
                    found.add(sub)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return {m for m in found if _module_path(m) is not None}


def _module_path(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != "pulsarload":
        return None
    base = PACKAGE.parent.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_imports_point_down_only() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        here = layer_of(".".join(rel.parts))
        if here is None or here not in RANK:
            continue
        for target in imports_of(path):
            there = layer_of(target)
            if there is None or there == here or there not in RANK:
                continue
            if RANK[there] > RANK[here] or (here, there) in FORBIDDEN:
                wrong.append(f"{rel}: imports {target} ({here} -> {there})")
    assert not wrong, "\n".join(wrong)


def test_every_layer_has_a_docstring() -> None:
    for layer in ("wire", "client", "engines", "metrics", "load", "ui", "web", "broker", "cluster"):
        init = PACKAGE / layer / "__init__.py"
        assert init.exists(), init
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 80, f"{init} needs a one-paragraph docstring"


def test_no_import_cycles() -> None:
    """No module reaches itself through the imports it runs, within a layer or across
    layers: each part can be read (and loaded) after what it builds on."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        graph[".".join(parts)] = runtime_imports_of(path)
    cycles: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def walk(mod: str) -> None:
        state[mod] = 1
        stack.append(mod)
        for nxt in sorted(graph.get(mod, ())):
            if nxt == mod:
                continue  # a package importing its own modules by name
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[mod] = 2

    for mod in sorted(graph):
        if mod not in state:
            walk(mod)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
