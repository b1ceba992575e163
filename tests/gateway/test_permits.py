"""The night-work permit register: `enforcegw permits import/list`, and permits reaching the rule engine's device
views (where they suppress the night-construction rule for their site zone)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from gateway.alerts.devices import load_device_views
from gateway.cli import main
from gateway.commands.permits import parse_permits
from gateway.errors import InputError
from gateway.zone_service import ZoneService
from testkit.alert_scenes import LEGAL, NOISE, setup_site

GOOD = {"zone_id": "cs-1", "valid_from": "2026-03-01", "valid_until": "2026-04-01",
        "issuing_body": "佛山市南海区住房城乡建设和水利局", "reference": "南建夜证〔2026〕12号"}


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ({"zone_id": "cs-1"}, "a JSON list"),
        ([{**GOOD, "extra": 1}], r"permits\[0\]: a permit has exactly the fields"),
        ([{**GOOD, "issuing_body": " "}], r"permits\[0\]: issuing_body must be a non-empty string"),
        ([{**GOOD, "valid_until": "2026-03-01"}], r"permits\[0\]: .*not after valid_from"),
        ([GOOD, {**GOOD, "valid_from": "March"}], r"permits\[1\]: valid_from 'March' is not an ISO"),
    ],
)
def test_bad_permit_files_refused_naming_the_entry(doc, error):
    with pytest.raises(InputError, match=error):
        parse_permits(doc)


def test_a_date_is_local_midnight_in_beijing_time():
    (p,) = parse_permits([GOOD])
    assert p.valid_from == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert p.valid_until == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)


@pytest.mark.integration
def test_import_list_and_device_views(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ENFORCEGW_DATABASE__URL", db_url)
    setup_site(db_url, {**NOISE, **LEGAL})
    f = tmp_path / "permits.json"
    expired = {**GOOD, "valid_from": "2025-01-01", "valid_until": "2025-02-01", "reference": "南建夜证〔2025〕3号"}
    f.write_text(json.dumps([GOOD, expired], ensure_ascii=False), encoding="utf-8")
    assert main(["permits", "import", str(f)]) == 0
    assert main(["permits", "import", str(f)]) == 0  # re-import replaces, no duplicates
    capsys.readouterr()
    assert main(["permits", "list", "--at", "2026-03-15"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "南建夜证" in line]  # not the log lines
    assert len(lines) == 1 and "南建夜证〔2026〕12号" in lines[0] and lines[0].startswith("cs-1")
    zones = ZoneService(db_url)
    zones.reload()
    with psycopg.connect(db_url) as conn:
        views = load_device_views(conn, zones.registry)
    refs = sorted(p.reference for p in views["noise-cs"].info.permits)
    assert refs == ["南建夜证〔2025〕3号", "南建夜证〔2026〕12号"]  # expired too: backlogs
