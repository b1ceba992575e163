"""The layering the README states holds in the code: no module imports one that imports it back, and the
top-level packages depend one way only: api -> gateway -> (ingest, detectors, geo, evidence), and those four
import none of ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.imports import cycles, import_graph, package_edges

LOWER = ("ingest", "detectors", "geo", "evidence")
ALLOWED = {("api", p) for p in ("gateway", *LOWER)} | {("gateway", p) for p in LOWER}


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_packages_depend_one_way() -> None:
    assert package_edges(import_graph()) - ALLOWED == set()


@pytest.mark.parametrize(("graph", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
    ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
])
def test_cycle_finder(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert sorted(cycles(graph)) == expected


def test_the_graph_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "gateway"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from gateway.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from .. import a\nfrom typing import TYPE_CHECKING\n"
                                      "if TYPE_CHECKING:\n    from gateway.sub import c\n")
    (pkg / "sub" / "c.py").write_text("")
    graph = import_graph(("gateway",), tmp_path)
    assert graph["gateway.a"] == {"gateway.sub", "gateway.sub.b"}
    assert graph["gateway.sub.b"] == {"gateway", "gateway.a"}
    assert cycles(graph) == [["gateway.a", "gateway.sub.b"]]
