"""Importing one geo module loads only what it uses: the package re-exports nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def loaded_after(module: str) -> set[str]:
    """The geo modules a fresh interpreter holds after importing `module`."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(m for m in sys.modules if m.startswith('geo'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


@pytest.mark.parametrize(
    ("module", "not_loaded"),
    [
        ("geo", {"geo.zones", "geo.projection", "geo.fences", "geo.registry", "geo.crs"}),
        ("geo.zones", {"geo.projection", "geo.fences", "geo.camera", "geo.registry", "geo.jurisdiction"}),
        ("geo.registry", {"geo.projection", "geo.fences", "geo.camera"}),
        ("geo.nofly", {"geo.projection", "geo.fences"}),  # a pose check needs the pose model, not projection
        ("geo.camera", {"geo.projection", "geo.zones"}),
    ],
)
def test_importing_a_module_loads_only_its_dependencies(module: str, not_loaded: set[str]) -> None:
    loaded = loaded_after(module)
    assert module in loaded
    assert loaded.isdisjoint(not_loaded), sorted(loaded & not_loaded)
