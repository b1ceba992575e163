"""Frames -> video alerts in the store with their evidence, on real PostgreSQL and the real evidence log.

The detector here is scripted (it says where a parked car and a passer-by are in each frame): what is under test
is everything after it (gate, placement, rules, lifecycle, snapshots, rendition, clip, track, rows, change feed).
The real model is tried on real and generated images in tests/detectors/test_video_detector.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import psycopg
import pytest
from psycopg.rows import dict_row

from detectors.video.detector import Detector
from detectors.video.image_zones import ImageZoneConfig
from detectors.video.tracks import Box, TrackedObject
from evidence.config import EvidenceConfig
from evidence.log import EvidenceLog
from gateway.video.detection import VideoDetection
from gateway.video.detection_config import DetectionConfig
from geo.registry import ZoneRegistry
from ingest.video.frames import Frame, FrameTime
from testkit.gateway_harness import register

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Foshan
CAR = Box(300.0, 200.0, 420.0, 290.0)


class ScriptedDetector(Detector):
    """ByteTrack's output for a scene where a car stands still in the no-parking zone from frame 2 to 30 and a
    passer-by walks across the top of the picture."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def track(self, image: np.ndarray, at: datetime) -> list[TrackedObject]:
        i = round((at - T0).total_seconds())
        self.calls += 1
        out = []
        if 2 <= i <= 30:
            out.append(TrackedObject("t1", "car", 0.6 + 0.01 * min(i, 20), CAR, at))
        if i < 25:
            x = 20.0 + 20 * i
            out.append(TrackedObject("t2", "person", 0.8, Box(x, 40.0, x + 40.0, 150.0), at))
        return out


def frames(n: int) -> list[Frame]:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    return [Frame(stream_id="cam-1", device_id="cam-1", seq=i, image=base.copy(), time=T0 + timedelta(seconds=i),
                  time_source=FrameTime.STREAM, received_at=T0 + timedelta(seconds=i)) for i in range(n)]


def media(log: EvidenceLog, sha256: str) -> bytes:
    assert log.media is not None
    with log.media.open(sha256) as f:
        return f.read()


def config() -> DetectionConfig:
    zone = ImageZoneConfig(id="gate-street", kind="no_parking", coordinates=((0, 0.4), (1, 0.4), (1, 1), (0, 1)),
                           inertia=2)
    return DetectionConfig(
        enabled=True, plates=False, clip_before_s=3, clip_after_s=3,
        rules={"parking": {"dwell_s": 10}},
        streams={"cam-1": {"gate": {"mode": "off", "off_reason": "scripted detector"}, "image_zones": [zone]}})


def test_a_parked_car_becomes_one_alert_with_snapshot_rendition_clip_and_track(db_url: str, tmp_path: Path) -> None:
    register(db_url, "cam-1", kind="camera")
    with EvidenceLog.open(db_url, EvidenceConfig(), tmp_path) as log:
        det = VideoDetection(config(), database_url=db_url, evidence=log, zones=ZoneRegistry(),
                             cameras={"cam-1": "fixed"}, detector_factory=ScriptedDetector)
        for f in frames(40):
            det(f)
        det.finish(T0 + timedelta(seconds=40))
        det.close()
        with psycopg.connect(db_url, row_factory=dict_row) as conn:
            alerts = conn.execute("SELECT * FROM alerts").fetchall()
            changes = [r["type"] for r in conn.execute("SELECT type FROM alert_changes ORDER BY id")]
            entries = conn.execute("SELECT idx, entry FROM evidence_entries ORDER BY idx").fetchall()
        assert len(alerts) == 1
        a = alerts[0]
        assert (a["source"], a["kind"], a["device_id"], a["zone_id"]) == ("video", "illegal_parking", "cam-1",
                                                                          "gate-street")
        assert a["end_time"] is not None and a["end_reason"] == "left" and a["admissible"] is True
        d = a["detail"]
        assert d["object_kind"] == "car" and d["camera"] == "fixed" and d["bbox"] == list(CAR)
        assert d["dwell_s"] >= 10 and d["confidence"] == pytest.approx(0.8)
        assert changes[0] == "new" and changes[-1] == "end"
        bodies = [json.loads(bytes(e["entry"])) for e in entries]
        payloads = [b["payload"] for b in bodies]
        events = [p["event"] for p in payloads]
        assert events.count("alert_open") == 1 and events.count("alert_end") == 1 and events.count("alert_clip") == 1
        opened = payloads[events.index("alert_open")]
        assert opened["clue_code"] == a["clue_code"] and opened["snapshot_original_sha256"] != \
            opened["snapshot_redacted_sha256"]
        # the originals and the rendition are in the media store under the hashes the entry names
        original = media(log, opened["snapshot_original_sha256"])
        redacted = media(log, opened["snapshot_redacted_sha256"])
        o = cv2.imdecode(np.frombuffer(original, np.uint8), cv2.IMREAD_COLOR)
        r = cv2.imdecode(np.frombuffer(redacted, np.uint8), cv2.IMREAD_COLOR)
        i = round((datetime.fromisoformat(opened["best_frame_time"]) - T0).total_seconds())
        person = (slice(45, 145), slice(25 + 20 * i, 55 + 20 * i))  # the passer-by is pixelated, the car is not
        car = (slice(210, 280), slice(310, 410))
        car_change = np.abs(o[car].astype(int) - r[car].astype(int)).mean()  # JPEG re-encoding only
        person_change = np.abs(o[person].astype(int) - r[person].astype(int)).mean()
        assert person_change > 5 * car_change
        ended = payloads[events.index("alert_end")]
        assert ended["end_reason"] == "left"
        end_entry = bodies[events.index("alert_end")]
        track_ref = next(m for m in end_entry["media"] if m["role"] == "track")
        track = json.loads(media(log, track_ref["sha256"]))
        assert track["track_id"] == "t1" and len(track["points"]) >= 15
        clip_entry = bodies[events.index("alert_clip")]
        assert clip_entry["refs"] == [entries[events.index("alert_open")]["idx"]]
        assert [m["mime"] for m in clip_entry["media"]] == ["video/mp4"]
