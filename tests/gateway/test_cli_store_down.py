"""A database that is down or misnamed: every command that needs it says so in one line and exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli import main
from testkit.services import free_port


@pytest.mark.parametrize("argv", [
    ["migrate"],
    ["devices", "list"],
    ["zones", "export", "-o", "{tmp}/z.geojson"],
    ["evidence", "audit", "--no-progress"],
    ["evidence", "checkpoint"],
])
def test_unreachable_database_is_a_plain_error(argv: list[str], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(json.dumps({"data_dir": str(tmp_path / "data"),
                               "database": {"url": f"postgresql://postgres@127.0.0.1:{free_port()}/nope"}}))
    assert main(["-c", str(cfg), *(a.replace("{tmp}", str(tmp_path)) for a in argv)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot use the database:") and "Traceback" not in err
