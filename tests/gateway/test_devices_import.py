"""Device registry import: upsert, per-row per-field errors, valid rows still load."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import yaml

from gateway.cli import main
from gateway.devices import validate_devices

pytestmark = pytest.mark.integration

ROWS = [
    {"id": "noise-01", "kind": "sensor", "name": "Site A noise", "location": {"lon": 113.1, "lat": 23.0},
     "legal_review_ref": "FS-LR-2026-01", "technical_review_ref": "FS-TR-2026-01",
     "calibration_cert": "GD-JL-123", "calibration_valid_until": "2027-03-31", "public_notice": "https://x/1"},
    {"id": "bad id!", "kind": "sensor", "name": "x"},
    {"id": "fume-01", "kind": "toaster", "name": "Fume"},
    {"id": "pm-01", "kind": "sensor", "name": "PM10", "location": {"lon": 213.0, "lat": 23.0}},
    {"id": "drone-01", "kind": "drone", "name": "M30T", "colour": "grey"},
    {"id": "noise-01", "kind": "sensor", "name": "dup"},
    {"id": "dock-01", "kind": "dock", "name": "Dock 2"},
]


def test_validation_reports_index_and_field() -> None:
    valid, errors = validate_devices(ROWS)
    assert [d.id for d in valid] == ["noise-01", "dock-01"]
    assert {(e.index, e.field) for e in errors} == {
        (1, "id"), (2, "kind"), (3, "location.lon"), (4, "colour"), (5, "id")
    }


def _registry_entries(db_url: str) -> list[dict]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT entry FROM evidence_entries WHERE entry_type = 'device_registry' ORDER BY idx")
        return [json.loads(bytes(r[0])) for r in rows]


def test_import_command_upserts_and_reports(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    monkeypatch.setenv("ENFORCEGW_DATA_DIR", str(tmp_path / "data"))
    f = tmp_path / "devices.yaml"
    f.write_text(yaml.safe_dump(ROWS))
    assert main(["devices", "import", str(f)]) == 1  # some rows were rejected
    out = capsys.readouterr()
    assert "row 3: location.lon" in out.err
    assert "loaded 2 device(s) (2 new or changed, recorded as evidence), 5 row(s) rejected" in out.out
    # registry changes are evidence: one entry per created device, none for an import that changes nothing
    assert sorted((e["device_id"], e["payload"]["change"]) for e in _registry_entries(db_url)) == [
        ("dock-01", "created"), ("noise-01", "created")]
    assert main(["devices", "import", str(f)]) == 1
    assert len(_registry_entries(db_url)) == 2

    f.write_text(yaml.safe_dump([{**ROWS[0], "name": "Site A noise (moved)"}]))
    assert main(["devices", "import", str(f)]) == 0
    last = _registry_entries(db_url)[-1]
    assert (last["device_id"], last["payload"]["change"]) == ("noise-01", "updated")
    assert last["payload"]["device"]["name"] == "Site A noise (moved)"
    assert last["payload"]["device"]["calibration_valid_until"].startswith("2027-03-31T23:59:59")
    assert last["calibration_cert_id"] == "GD-JL-123" and last["device_seq"] == 1
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT id, name, calibration_valid_until FROM devices ORDER BY id").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("dock-01", "Dock 2"), ("noise-01", "Site A noise (moved)")]
    # a certificate valid "until 2027-03-31" is valid through that day in China
    assert rows[1][2].isoformat().startswith("2027-03-31T15:59:59")
