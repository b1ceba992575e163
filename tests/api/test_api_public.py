"""Public disclosure without a token: devices (JSON and GeoJSON) and the newest signed checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from api import public
from evidence.entry import Entry
from evidence.verify import parse_checkpoint, verify_note
from testkit.read_api import add_device, read_client

pytestmark = pytest.mark.integration

DEVICES = [
    ("noise-1", {"kind": "sensor", "lon": 113.1, "lat": 23.0, "legal_review_ref": "LR-1",
                 "technical_review_ref": "TR-1", "calibration_cert": "C-1",
                 "calibration_valid_until": datetime(2099, 1, 1, tzinfo=UTC),
                 "attrs": {"metrics": ["LAeq", "LAmax"]}, "inspection_object": "site 1"},
     {"measures": ["LAeq", "LAmax"], "calibration_valid": True}),
    ("noise-2", {"kind": "sensor", "lon": 113.2, "lat": 23.1, "calibration_cert": "C-2",
                 "calibration_valid_until": datetime(2020, 1, 1, tzinfo=UTC)},
     {"measures": [], "calibration_valid": False}),
    ("cam-1", {"kind": "camera", "lon": 113.3, "lat": 23.2}, {"measures": ["video"], "calibration_valid": False}),
    ("drone-1", {"kind": "drone"}, {"measures": ["aerial video"], "lon": None}),
]


async def test_devices_as_published(db_url: str, tmp_path: Path) -> None:
    for device_id, cols, _want in DEVICES:
        add_device(db_url, device_id, **cols)
    async with read_client(db_url, tmp_path, public.register) as (client, _ctx):
        resp = await client.get("/api/public/devices")
        body = await resp.json()
        geo = await client.get("/api/public/devices", headers={"Accept": "application/geo+json"})
        fc = await geo.json(content_type=None)
    assert resp.status == 200
    got = {d["id"]: d for d in body["devices"]}
    for device_id, cols, want in DEVICES:
        d = got[device_id]
        assert {k: d[k] for k in want} == want, device_id
        assert d["kind"] == cols["kind"] and d["since"]
    assert got["noise-1"]["legal_review_ref"] == "LR-1" and got["noise-1"]["inspection_object"] == "site 1"
    assert geo.status == 200 and geo.content_type == "application/geo+json" and fc["type"] == "FeatureCollection"
    features = {f["id"]: f for f in fc["features"]}
    assert features["noise-1"]["geometry"] == {"type": "Point", "coordinates": [113.1, 23.0]}
    assert features["drone-1"]["geometry"] is None
    assert features["noise-1"]["properties"]["technical_review_ref"] == "TR-1"


async def test_the_newest_signed_checkpoint(db_url: str, tmp_path: Path) -> None:
    async with read_client(db_url, tmp_path, public.register) as (client, ctx):
        none_yet = await client.get("/api/public/checkpoint")
        assert none_yet.status == 404
        log = ctx.evidence
        assert log is not None
        log.append(Entry(entry_type="evidence", device_id="cam-1"))
        cp = log.checkpoint()
        resp = await client.get("/api/public/checkpoint")
        text = await resp.text()
        vkey = log.vkey
    assert resp.status == 200 and resp.content_type == "text/plain" and text == cp.note
    assert parse_checkpoint(verify_note(text, [vkey]))[1] == cp.size
