"""Shared helpers for the geo tests: where the shared reference data lives, and loaders."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testkit.paths import SHARED

VECTORS = SHARED / "testdata" / "geo_vectors.json"
FOSHAN = SHARED / "samples" / "geo" / "foshan_districts_440600_full.geojson"
GUANGDONG = SHARED / "samples" / "geo" / "guangdong_cities_440000_full.geojson"


def _load_vectors() -> dict[str, Any]:
    if not VECTORS.exists():
        return {}
    return json.loads(VECTORS.read_text(encoding="utf-8"))


VECTOR_DATA = _load_vectors()


def cases(section: str, where: Callable[[dict[str, Any]], bool] | None = None) -> list[Any]:
    """Parametrize list for a vectors section; one skipped param when the file is absent."""
    items = [c for c in VECTOR_DATA.get(section, []) if where is None or where(c)]
    if not items:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{VECTORS} absent or has no {section}"))]
    return [pytest.param(c, id=c.get("id", f"{section}-{i}")) for i, c in enumerate(items)]


def require(path: Path) -> bytes:
    """Bytes of a shared sample, or skip the test when it is absent."""
    if not path.exists():
        pytest.skip(f"shared sample {path} not present")
    return path.read_bytes()
