"""A video alert's unredacted originals are sealed for auditors and supervisors: an operator (or a case system's
signed link) asking for one by hash gets 403 naming the redacted rendition, which it may have."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from gateway.commands.evidence import alert_entry_indexes
from gateway.video.detection import VideoDetection
from geo.registry import ZoneRegistry
from testkit.api_harness import api_gateway
from testkit.gateway_harness import register
from testkit.video_scenes import T0, ScriptedDetector, frames, parking_config

pytestmark = pytest.mark.integration


async def test_originals_are_for_auditors_renditions_for_operators(tmp_path: Path, db_url: str,
                                                                   mqtt_url: str) -> None:
    register(db_url, "cam-1", kind="camera")
    async with api_gateway(tmp_path, db_url, mqtt_url) as api:
        det = VideoDetection(parking_config(), database_url=db_url, evidence=api.gw.evidence, zones=ZoneRegistry(),
                             cameras={"cam-1": "fixed"}, detector_factory=ScriptedDetector)
        for f in frames(40):
            det(f)
        det.finish(T0)
        det.close()
        with psycopg.connect(db_url) as conn:
            entries = [json.loads(bytes(e)) for (e,) in conn.execute("SELECT entry FROM evidence_entries")]
        opened = next(e["payload"] for e in entries if e["payload"].get("event") == "alert_open")
        clip = next(e for e in entries if e["payload"].get("event") == "alert_clip")
        original, rendition = opened["snapshot_original_sha256"], opened["snapshot_redacted_sha256"]
        code = opened["clue_code"]
        async with api.request("GET", f"/api/alerts/{code}", "operator") as r:  # the queue's detail of it
            assert r.status == 200, await r.text()
            detail = await r.json()
        assert detail["alert"]["source"] == "video" and detail["alert"]["detail"]["object_kind"] == "car"
        assert [e["role"] for e in detail["evidence"]] == ["open", "end", "clip"]
        # an operator is shown the renditions, not the sealed originals it could not fetch
        assert {m["role"] for m in detail["media"]} == {"snapshot_redacted", "track", "clip_redacted"}
        async with api.request("GET", f"/api/alerts/{code}", "auditor") as r:
            audited = await r.json()
        assert {m["role"] for m in audited["media"]} == {"snapshot_original", "snapshot_redacted", "track",
                                                          "clip_original", "clip_redacted"}
        with psycopg.connect(db_url) as conn:
            clip_idx = conn.execute("SELECT (detail->>'clip_evidence_idx')::bigint FROM alerts WHERE clue_code = %s",
                                    (code,)).fetchone()[0]
        assert clip_idx in alert_entry_indexes(api.gw.evidence, code)  # the clip entry travels in the bundle
        for who, sha, status in [("operator", original, 403), ("operator", clip["media"][0]["sha256"], 403),
                                 ("operator", rendition, 200), ("operator", clip["media"][1]["sha256"], 200),
                                 ("auditor", original, 200),
                                 ("supervisor", original, 200), ("auditor", rendition, 200)]:
            async with api.request("GET", f"/api/media/{sha}", who) as r:
                assert r.status == status, (who, sha)
                if status == 403:
                    body = await r.json()
                    assert body["error"]["code"] == "sealed_original"
                    if sha == original:
                        assert rendition in body["error"]["message"]
                elif sha in (original, rendition):
                    assert (await r.read())[:2] == b"\xff\xd8"  # a JPEG
