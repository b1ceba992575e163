"""Auditors' reads: an entry with its inclusion proof, consistency between checkpoints, an alert's bundle that
verifies offline, and the originals by SHA-256."""

from __future__ import annotations

import base64
import hashlib
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from api import evidence_read
from evidence.entry import Entry
from evidence.log import MediaInput
from evidence.verify import leaf_hash, verify_bundle, verify_consistency, verify_inclusion
from testkit.read_api import add_alert, add_device, read_client

pytestmark = pytest.mark.integration

WINDOW = b'{"time": "2026-07-01T15:00:00Z", "value": 66.0}\n'


async def test_entry_with_its_inclusion_proof(db_url: str, tmp_path: Path) -> None:
    async with read_client(db_url, tmp_path, evidence_read.register) as (client, ctx):
        log = ctx.evidence
        assert log is not None
        a = log.append(Entry(entry_type="evidence", device_id="cam-1"))
        small = log.checkpoint()
        log.append(Entry(entry_type="evidence", device_id="cam-1"))
        pending = await (await client.get(f"/api/evidence/entries/{a.index + 1}")).json()
        assert pending["proof"] is None and pending["pending"]
        big = log.checkpoint()
        latest = await (await client.get(f"/api/evidence/entries/{a.index}")).json()
        held = await (await client.get(f"/api/evidence/entries/{a.index}", params={"size": str(small.size)})).json()
        data = log.entry(a.index)
    assert base64.b64decode(latest["entry"]) == data and latest["leaf_hash"] == leaf_hash(data).hex()
    for body, cp in ((latest, big), (held, small)):
        p = body["proof"]
        assert p["size"] == cp.size and p["checkpoint"] == cp.note
        verify_inclusion(a.index, p["size"], leaf_hash(data), [base64.b64decode(h) for h in p["path"]], cp.root)


async def test_consistency_between_checkpoints(db_url: str, tmp_path: Path) -> None:
    async with read_client(db_url, tmp_path, evidence_read.register) as (client, ctx):
        log = ctx.evidence
        assert log is not None
        log.append(Entry(entry_type="evidence", device_id="cam-1"))
        first = log.checkpoint()
        for _ in range(4):
            log.append(Entry(entry_type="evidence", device_id="cam-1"))
        second = log.checkpoint()
        resp = await client.get("/api/evidence/consistency",
                                params={"first": str(first.size), "second": str(second.size)})
        body = await resp.json()
    assert resp.status == 200
    verify_consistency(first.size, second.size, first.root, second.root, [base64.b64decode(h) for h in body["proof"]])


BAD = [
    ("/api/evidence/entries/x", 422, "index"),  # parameters the document types are refused as it says: 422
    ("/api/evidence/entries/999", 404, None),
    ("/api/evidence/entries/0?size=77", 404, "size"),
    ("/api/evidence/consistency?first=1", 422, "second"),
    ("/api/evidence/consistency?first=2&second=1", 400, "first"),
    ("/api/evidence/consistency?first=1&second=5", 404, None),
    ("/api/evidence/bundle", 422, "alert"),
    ("/api/evidence/bundle?alert=NOPE", 404, "alert"),
    ("/api/media/xyz", 422, "sha256"),
    (f"/api/media/{'0' * 64}", 404, None),
]


async def test_refusals(db_url: str, tmp_path: Path) -> None:
    async with read_client(db_url, tmp_path, evidence_read.register) as (client, ctx):
        assert ctx.evidence is not None
        ctx.evidence.append(Entry(entry_type="evidence", device_id="cam-1"))
        ctx.evidence.checkpoint()
        for path, status, field in BAD:
            resp = await client.get(path)
            assert resp.status == status, path
            assert (await resp.json())["error"].get("field") == field, path


async def test_bundle_and_media_of_an_alert(db_url: str, tmp_path: Path) -> None:
    add_device(db_url, "d1")
    before = set(Path(tempfile.gettempdir()).glob("enforcegw-bundle-*"))
    async with read_client(db_url, tmp_path / "data", evidence_read.register) as (client, ctx):
        log = ctx.evidence
        assert log is not None
        opened = log.append(Entry(entry_type="alert_open", device_id="d1", payload={"clue_code": "E-1"}),
                            [MediaInput("window_readings", "application/x-ndjson", WINDOW)])
        with psycopg.connect(db_url) as conn:
            add_alert(conn, "E-1", "d1", datetime(2026, 7, 1, 15, tzinfo=UTC), evidence_open_idx=opened.index)
        resp = await client.get("/api/evidence/bundle", params={"alert": "E-1"})
        assert resp.status == 200 and resp.content_type == "application/zip"
        (tmp_path / "e1.zip").write_bytes(await resp.read())
        sha = hashlib.sha256(WINDOW).hexdigest()
        media = await client.get(f"/api/media/{sha.upper()}")
        assert media.status == 200 and await media.read() == WINDOW
        vkey = log.vkey
    assert verify_bundle(tmp_path / "e1.zip", vkey)  # raises at the first failure
    with zipfile.ZipFile(tmp_path / "e1.zip") as zf:
        assert f"entries/{opened.index}.json" in zf.namelist() and f"media/{sha}" in zf.namelist()
    assert set(Path(tempfile.gettempdir()).glob("enforcegw-bundle-*")) <= before  # the export's temp dir is gone
