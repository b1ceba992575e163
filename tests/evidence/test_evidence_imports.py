"""What importing an evidence module drags in, and where evidence names are imported from.

The alert path appends through `evidence.log`: it must not load the auditor (tqdm, numpy, the C extension) nor
the bundle writer. The audit's spawned processes import only what their entry points need. And every name
imported from an evidence module is defined there, so no module is a facade for another.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# module imported in a fresh interpreter -> modules (and their submodules) that must stay unloaded
LOADS_NONE_OF = [
    ("evidence.log", ["evidence.audit", "evidence.bundle", "tqdm"]),
    ("evidence.bundle", ["evidence.audit", "tqdm"]),
    ("gateway.alerts.service", ["evidence.audit", "evidence.bundle", "tqdm"]),
    # a spawned chunk scanner: no pydantic, no log, no auditor
    ("evidence.audit.scan", ["pydantic", "evidence.entry", "evidence.log", "evidence.audit.auditor", "tqdm"]),
    # a spawned signature checker: the bundled verifier only
    ("evidence.audit.notes", ["psycopg", "pydantic", "numpy", "evidence.log", "evidence.audit.auditor"]),
]


@pytest.mark.parametrize(("module", "forbidden"), LOADS_NONE_OF, ids=[m for m, _ in LOADS_NONE_OF])
def test_importing_loads_none_of(module: str, forbidden: list[str]) -> None:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert module in loaded
    assert [m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden)] == []


def _python_files() -> list[Path]:
    skip = {".venv", ".git", "build", "node_modules"}
    return [p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts)]


def _module_path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _defined(path: Path) -> set[str]:
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


def test_evidence_names_are_imported_from_the_module_that_defines_them() -> None:
    wrong: list[str] = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if node.module != "evidence" and not node.module.startswith("evidence."):
                continue
            target = _module_path(node.module)
            if target is None:
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: no module {node.module}")
                continue
            defined = _defined(target)
            for alias in node.names:
                if alias.name not in defined and _module_path(f"{node.module}.{alias.name}") is None and not (
                        target.with_name(f"{alias.name}.c").is_file()):  # a C extension built beside its source
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} is not defined in "
                                 f"{node.module}")
    assert wrong == []
