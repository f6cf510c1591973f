"""The import rules of docs/architecture.md, checked on the source: the arrows point one way.

Every import in ``ocre_py`` counts (module level and inside functions; only ``if TYPE_CHECKING:``
blocks are left out, since they never run), so a lazy import cannot hide a cycle or a wrong arrow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "ocre_py"

#: The Zephyr room's wings, lowest first: a wing imports only wings before it (and never tiny).
WINGS = ("board", "project", "storage", "firmware", "deploy", "emulate", "tiny")
ALLOWED_WINGS: dict[str, set[str]] = {
    "board": set(),
    "project": {"board"},
    "storage": {"board", "project"},
    "firmware": {"board", "project", "storage"},
    "deploy": {"board", "project", "storage"},
    "emulate": {"board", "project", "storage"},
    "tiny": {"board", "project", "storage", "firmware", "deploy", "emulate"},
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path) -> Iterator[tuple[str, str | None, int]]:
    """(module, imported name or None, line) for every import that can run."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]

    def walk(node: ast.AST) -> Iterator[tuple[str, str | None, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                yield from (x for n in child.orelse for x in walk(n))
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, None, child.lineno
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - child.level + 1] + ([base] if base else []))
                for alias in child.names:
                    yield base, alias.name, child.lineno
            yield from walk(child)

    yield from walk(tree)


SOURCES = sorted(PKG.rglob("*.py"))
MODULES = {module_name(p) for p in SOURCES}


def graph() -> dict[str, set[str]]:
    """Module → the ocre_py modules it imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    out: dict[str, set[str]] = {}
    for path in SOURCES:
        deps = set()
        for mod, name, _ in imports(path):
            if not mod.startswith("ocre_py"):
                continue
            target = f"{mod}.{name}" if name and f"{mod}.{name}" in MODULES else mod
            if target in MODULES and target != module_name(path):
                deps.add(target)
        out[module_name(path)] = deps
    return out


def test_no_import_cycles() -> None:
    g = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(g.get(node, ())):
            if dep.startswith(node + "."):
                continue  # a package's __init__ importing its own modules is not a cycle
            if state.get(dep) == 1 and not node.startswith(dep + "."):
                cycles.append([*stack[stack.index(dep) :], dep] if dep in stack else [node, dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_private_names_imported_across_modules() -> None:
    bad = []
    for path in SOURCES:
        for mod, name, line in imports(path):
            if mod.startswith("ocre_py") and name and name.startswith("_") and not name.startswith("__"):
                bad.append(f"{path.relative_to(PKG.parent)}:{line}: from {mod} import {name}")
    assert bad == []


def test_no_private_attributes_of_other_modules() -> None:
    """``module._helper(...)`` on an imported ocre_py module is a private import by another name."""
    bad = []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        aliases = {
            (a.asname or a.name): f"{node.module}.{a.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ocre_py")
            for a in node.names
            if f"{node.module}.{a.name}" in MODULES
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                bad.append(f"{path.relative_to(PKG.parent)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert bad == []


@pytest.mark.parametrize(
    ("room", "forbidden"),
    [
        (
            "ocre_py.zephyr",
            ("ocre_py.runtime", "ocre_py.daemon", "ocre_py.cli"),
        ),  # no engine on the Zephyr side
        ("ocre_py.image", ("ocre_py.runtime", "ocre_py.daemon", "ocre_py.cli", "ocre_py.zephyr")),
        ("ocre_py.runtime", ("ocre_py.daemon", "ocre_py.cli", "ocre_py.zephyr")),  # knows no boards
        ("ocre_py.daemon", ("ocre_py.cli",)),
        ("ocre_py.sdk", ("ocre_py.runtime", "ocre_py.daemon", "ocre_py.cli", "ocre_py.zephyr")),
    ],
)
def test_arrows_point_down(room: str, forbidden: tuple[str, ...]) -> None:
    bad = [
        f"{mod} imports {dep}"
        for mod, deps in graph().items()
        if mod == room or mod.startswith(room + ".")
        for dep in deps
        if dep.startswith(forbidden)
    ]
    assert bad == []


def test_the_library_never_imports_the_cli() -> None:
    bad = [
        f"{mod} imports {dep}"
        for mod, deps in graph().items()
        if not mod.startswith("ocre_py.cli") and mod != "ocre_py.__main__"
        for dep in deps
        if dep.startswith("ocre_py.cli")
    ]
    assert bad == []


def test_zephyr_wings_import_one_way() -> None:
    bad = []
    for mod, deps in graph().items():
        parts = mod.split(".")
        if len(parts) < 3 or parts[:2] != ["ocre_py", "zephyr"] or parts[2] not in WINGS:
            continue
        wing = parts[2]
        for dep in deps:
            d = dep.split(".")
            other = len(d) >= 3 and d[:2] == ["ocre_py", "zephyr"] and d[2] in WINGS and d[2] != wing
            if other and d[2] not in ALLOWED_WINGS[wing]:
                bad.append(f"{mod} ({wing}) imports {dep} ({d[2]})")
    assert bad == []


def test_no_module_is_over_600_lines() -> None:
    long = [
        f"{p.relative_to(PKG.parent)}: {n}" for p in SOURCES if (n := len(p.read_text().splitlines())) > 600
    ]
    assert long == []
