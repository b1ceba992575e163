"""The layering the README states holds in the code: no module imports one that imports it back, and the
top-level packages depend one way only: api -> gateway -> (ingest, detectors, geo, evidence), and those four
import none of ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.imports import PACKAGES, cycles, import_graph, names_not_from_their_module, package_edges

LOWER = ("ingest", "detectors", "geo", "evidence")
ALLOWED = {("api", p) for p in ("gateway", *LOWER)} | {("gateway", p) for p in LOWER}


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_packages_depend_one_way() -> None:
    assert package_edges(import_graph()) - ALLOWED == set()


def test_names_are_imported_from_the_module_that_defines_them() -> None:
    """No facades: a module that re-exports another's names hides where they live and loads more than asked."""
    assert names_not_from_their_module((*PACKAGES, "testkit")) == []


def test_a_re_export_is_found(tmp_path: Path) -> None:
    (tmp_path / "geo").mkdir()
    (tmp_path / "geo" / "__init__.py").write_text("from geo.crs import convert\n")
    (tmp_path / "geo" / "crs.py").write_text("def convert():\n    pass\n")
    (tmp_path / "geo" / "user.py").write_text("from geo import convert\nfrom geo.crs import convert as c\n")
    assert names_not_from_their_module(("geo",), tmp_path, ("geo",)) == ["geo/user.py:1: convert is not defined in geo"]


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
