"""The project's import graph, read from the source (nothing is imported): which module imports which.

Imports under `if TYPE_CHECKING:` are left out: they never run, so they make no cycle at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

from testkit.paths import REPO

PACKAGES = ("api", "detectors", "evidence", "gateway", "geo", "ingest")


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit_one(sub)
                continue
            visit_one(child)

    def visit_one(child: ast.AST) -> None:
        if isinstance(child, ast.Import):
            found.update(a.name for a in child.names)
        elif isinstance(child, ast.ImportFrom):
            if child.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (child.level - 1)]
                target = ".".join([*base, child.module] if child.module else base)
            else:
                target = child.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in child.names)  # `from pkg import module`
        visit(child)

    visit(tree)
    return found


def import_graph(packages: tuple[str, ...] = PACKAGES, root: Path = REPO) -> dict[str, set[str]]:
    """module -> the project modules it imports."""
    files = {module_name(p, root): p for pkg in packages if (root / pkg).is_dir()
             for p in (root / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        raw = _imports(ast.parse(path.read_text(encoding="utf-8")), mod, path.name == "__init__.py")
        graph[mod] = {m for m in raw if m in files and m != mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return out


def package_edges(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(importing top-level package, imported top-level package) for every cross-package import."""
    return {(a.split(".")[0], b.split(".")[0]) for a, deps in graph.items() for b in deps
            if a.split(".")[0] != b.split(".")[0]}


def _module_path(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def defined_names(path: Path) -> set[str]:
    """Top-level names a module defines itself: functions, classes, assignments (imports do not count)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def names_not_from_their_module(packages: tuple[str, ...], root: Path = REPO,
                                scan: tuple[str, ...] = (*PACKAGES, "testkit", "tests", "bench")) -> list[str]:
    """`file:line: name ...` for every `from M import name` (M one of `packages`) where M does not define `name`
    itself: it re-exports what another module defines (or has no such module)."""
    wrong: list[str] = []
    files = [p for d in scan if (root / d).is_dir() for p in (root / d).rglob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if node.module.split(".")[0] not in packages:
                continue
            where = f"{path.relative_to(root)}:{node.lineno}"
            target = _module_path(node.module, root)
            if target is None:
                wrong.append(f"{where}: no module {node.module}")
                continue
            defined = defined_names(target)
            for alias in node.names:
                if alias.name in defined or _module_path(f"{node.module}.{alias.name}", root) is not None:
                    continue
                if target.with_name(f"{alias.name}.c").is_file():  # a C extension built beside its source
                    continue
                wrong.append(f"{where}: {alias.name} is not defined in {node.module}")
    return wrong
