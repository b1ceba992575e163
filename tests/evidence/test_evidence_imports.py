"""What importing an evidence module drags in, and where evidence names are imported from.

The alert path appends through `evidence.log`: it must not load the auditor (tqdm, numpy, the C extension) nor
the bundle writer. The audit's spawned processes import only what their entry points need. And every name
imported from an evidence module is defined there, so no module is a facade for another.
"""

from __future__ import annotations

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
