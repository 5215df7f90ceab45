"""The tree's architecture, checked from the import graph: kernel at the bottom, shell on top."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What each package may import of ours, besides itself. The kernel imports nothing of
# ours; domain packages stand on the kernel only; the application shell sits on top.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "connectors": {"core"},
    "projections": {"core"},
    "alerts": {"core"},
    "themes": {"core"},
    "emulators": set(),
    "demo": {"core", "emulators"},
    "hub": {"core", "connectors", "projections", "alerts", "themes", "demo"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (anywhere in its body, lazily too)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for package in ALLOWED:
        for path in (ROOT / package).rglob("*.py"):
            module = _module_name(path)
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] in ALLOWED:
                        graph[module].add(name)
    return graph


def test_packages_import_only_the_layers_below_them() -> None:
    """No package imports one it is not allowed to: the kernel imports nothing of ours."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _imports().items()
        for target in targets
        if (top := target.split(".")[0]) != module.split(".")[0]
        and top not in ALLOWED[module.split(".")[0]]
    )
    assert wrong == []


def test_no_package_level_import_cycles() -> None:
    """Packages form a DAG: following allowed edges never leads back to the start."""
    seen: set[str] = set()

    def visit(package: str, path: tuple[str, ...]) -> None:
        assert package not in path, " -> ".join((*path, package))
        for below in ALLOWED[package]:
            visit(below, (*path, package))
        seen.add(package)

    for package in ALLOWED:
        visit(package, ())
    assert seen == set(ALLOWED)


def test_no_module_level_import_cycles() -> None:
    """No module imports itself back through others, counting lazy and type-checking imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    modules = {_module_name(p) for package in ALLOWED for p in (ROOT / package).rglob("*.py")}
    for package in ALLOWED:
        for path in (ROOT / package).rglob("*.py"):
            module = _module_name(path)
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    candidates = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
                elif isinstance(node, ast.Import):
                    candidates = [a.name for a in node.names]
                else:
                    continue
                for name in candidates:
                    if name in modules and name != module:
                        graph[module].add(name)
                        break
    state: dict[str, int] = {}
    cycles: list[str] = []

    def dfs(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                dfs(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(modules):
        if module not in state:
            dfs(module, [module])
    assert cycles == []
