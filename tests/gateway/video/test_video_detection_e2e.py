"""Frames -> video alerts in the store with their evidence, on real PostgreSQL and the real evidence log.

The detector here is scripted (it says where a parked car and a passer-by are in each frame): what is under test
is everything after it (gate, placement, rules, lifecycle, snapshots, rendition, clip, track, rows, change feed).
The real model is tried on real and generated images in tests/detectors/test_video_detector.py.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import av
import cv2
import numpy as np
import psycopg
import pytest
from prometheus_client import CollectorRegistry
from psycopg.rows import dict_row

from evidence.config import EvidenceConfig
from evidence.log import EvidenceLog
from gateway.video.detection import VideoDetection
from gateway.video.detection_config import DetectionConfig
from gateway.video.detection_metrics import DetectionMetrics
from geo.registry import ZoneRegistry
from ingest.video.frames import FrameTime
from testkit.gateway_harness import register
from testkit.video_scenes import CAR, T0, ScriptedDetector, frames, parking_config, passer_by

pytestmark = pytest.mark.integration

def media(log: EvidenceLog, sha256: str) -> bytes:
    assert log.media is not None
    with log.media.open(sha256) as f:
        return f.read()


def test_a_parked_car_becomes_one_alert_with_snapshot_rendition_clip_and_track(db_url: str, tmp_path: Path) -> None:
    register(db_url, "cam-1", kind="camera")
    with EvidenceLog.open(db_url, EvidenceConfig(), tmp_path) as log:
        registry = CollectorRegistry()
        det = VideoDetection(parking_config(), database_url=db_url, evidence=log, zones=ZoneRegistry(),
                             cameras={"cam-1": "fixed"}, detector_factory=ScriptedDetector,
                             metrics=DetectionMetrics(registry))
        for f in frames(40):
            det(f)
        det.finish(T0 + timedelta(seconds=40))
        det.close()
        with psycopg.connect(db_url, row_factory=dict_row) as conn:
            alerts = conn.execute("SELECT * FROM alerts").fetchall()
            changes = [r["type"] for r in conn.execute("SELECT type FROM alert_changes ORDER BY id")]
            entries = conn.execute("SELECT idx, entry FROM evidence_entries ORDER BY idx").fetchall()
        assert len(alerts) == 1

        def sample(name: str, **labels: str) -> float | None:
            return registry.get_sample_value(name, labels)

        assert sample("enforcegw_detection_frames_total", stream="cam-1", decision="inferred", reason="gate_off") == 40
        assert sample("enforcegw_detection_inference_seconds_count") == 40
        for type_ in ("new", "end", "clip"):
            assert sample("enforcegw_video_alerts_total", rule="illegal_parking", type=type_) == 1, type_
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
        # making the rendition left the sealed original as it was: its bytes still hash to what the entry says
        assert hashlib.sha256(original).hexdigest() == opened["snapshot_original_sha256"]
        assert hashlib.sha256(redacted).hexdigest() == opened["snapshot_redacted_sha256"]
        open_entry = bodies[events.index("alert_open")]
        assert {m["role"]: m["sha256"] for m in open_entry["media"]} == {
            "snapshot_original": opened["snapshot_original_sha256"],
            "snapshot_redacted": opened["snapshot_redacted_sha256"]}
        o = cv2.imdecode(np.frombuffer(original, np.uint8), cv2.IMREAD_COLOR)
        r = cv2.imdecode(np.frombuffer(redacted, np.uint8), cv2.IMREAD_COLOR)
        i = round((datetime.fromisoformat(opened["best_frame_time"]) - T0).total_seconds())
        p = passer_by(i)  # the passer-by is pixelated, the car is not
        person = (slice(int(p.y1) + 5, int(p.y2) - 5), slice(int(p.x1) + 5, int(p.x2) - 5))
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
        assert [(m["role"], m["mime"]) for m in clip_entry["media"]] == [("clip_original", "video/mp4"),
                                                                        ("clip_redacted", "video/mp4")]
        # the redacted clip hides the passer-by in its frames and keeps the car
        def first_frame(sha: str) -> np.ndarray:
            with av.open(io.BytesIO(media(log, sha))) as c:
                return next(c.decode(video=0)).to_ndarray(format="bgr24")

        o, r = (first_frame(clip_entry["payload"][f"clip_{k}_sha256"]) for k in ("original", "redacted"))
        t = datetime.fromisoformat(clip_entry["payload"]["first"])
        p = passer_by(round((t - T0).total_seconds()))
        person = (slice(int(p.y1) + 5, int(p.y2) - 5), slice(int(p.x1) + 5, int(p.x2) - 5))
        assert np.abs(o[person].astype(int) - r[person].astype(int)).mean() > \
            5 * np.abs(o[car].astype(int) - r[car].astype(int)).mean()


@pytest.mark.parametrize(("time_source", "camera", "mode"), [
    (FrameTime.EXIF, "fixed", "off"),  # a photo set: every photo inferred
    (FrameTime.STREAM, "fixed", "motion"),
    (FrameTime.FILE, "drone", "aligned"),
])
def test_each_stream_gets_the_gate_its_source_needs(db_url: str, time_source: FrameTime, camera: str,
                                                    mode: str) -> None:
    det = VideoDetection(DetectionConfig(enabled=True, plates=False, redact=False), database_url=db_url,
                         evidence=None, zones=ZoneRegistry(), cameras={"s": camera},
                         detector_factory=ScriptedDetector)
    f = frames(1, stream_id="s")[0]
    f.time_source = time_source
    det(f)
    assert det.pipelines["s"].gate.config.mode == mode
    assert det.pipelines["s"].gate.counters.inferred == 1  # the first frame always is


def test_a_failed_write_is_that_events_alone() -> None:
    """Two cars open alerts in one frame; the writer fails on the first: the second is still handed on, and the
    stream goes on."""
    from detectors.video.gate import GateConfig, InferenceGate
    from detectors.video.image_zones import ImageZoneConfig
    from detectors.video.tracks import Box, TrackedObject
    from detectors.video.video_alerts import VideoAlerts
    from detectors.video.violations import ViolationEngine, ViolationRules
    from gateway.video.placement import ImagePlacement
    from gateway.video.stream_pipeline import StreamPipeline

    class TwoCars(ScriptedDetector):
        def track(self, image: np.ndarray, at: datetime) -> list[TrackedObject]:
            return [TrackedObject("t1", "car", 0.7, Box(100, 200, 200, 280), at),
                    TrackedObject("t2", "car", 0.7, Box(400, 200, 500, 280), at)]

    seen: list[str] = []

    def writer(out: object) -> None:
        ev = out.event  # type: ignore[attr-defined]
        seen.append(f"{ev.type}:{ev.subject}")
        if len(seen) == 1:
            raise RuntimeError("store refused it")

    zone = ImageZoneConfig(id="z", kind="no_parking", coordinates=((0, 0.4), (1, 0.4), (1, 1), (0, 1)), inertia=1)
    rules = ViolationRules(parking={"dwell_s": 1})
    registry = CollectorRegistry()
    p = StreamPipeline("s", "cam-1", detector=TwoCars(), gate=InferenceGate(GateConfig(mode="off", off_reason="t")),
                       placement=ImagePlacement([zone]), engine=ViolationEngine.for_zones(rules, [zone]),
                       alerts=VideoAlerts("s"), on_event=writer, metrics=DetectionMetrics(registry))
    for f in frames(4, stream_id="s"):
        p.handle(f)
    assert sorted(seen[:2]) == ["open:t1", "open:t2"] and p.failed == 1 and p.frames == 4
    assert registry.get_sample_value("enforcegw_video_alert_failures_total", {"stream": "s"}) == 1


@pytest.mark.parametrize(("hours", "opened"), [
    ([{"start": "09:00", "end": "12:00"}], 1),  # 10:00 in Foshan: the market street's vending hours
    ([{"start": "18:00", "end": "23:00"}], 0),  # an evening-only rule: nothing at 10:00
])
def test_vending_on_a_fixed_camera_follows_its_zones_hours(db_url: str, hours: list, opened: int) -> None:
    from detectors.video.tracks import Box, TrackedObject

    class Vendor(ScriptedDetector):
        def track(self, image: np.ndarray, at: datetime) -> list[TrackedObject]:
            return [TrackedObject("t1", "person", 0.8, Box(300, 200, 340, 300), at),
                    TrackedObject("t2", "stall", 0.8, Box(340, 220, 440, 300), at)]

    register(db_url, "cam-2", kind="camera")
    zone = {"id": "market", "kind": "no_vending", "coordinates": [[0, 0.4], [1, 0.4], [1, 1], [0, 1]], "inertia": 1}
    cfg = DetectionConfig(enabled=True, plates=False, redact=False, clip_before_s=0, clip_after_s=0,
                          rules={"vending": {"dwell_s": 5}},
                          streams={"cam-2": {"gate": {"mode": "off", "off_reason": "scripted"}, "image_zones": [zone],
                                             "schedules": {"market": {"hours": hours}}}})
    det = VideoDetection(cfg, database_url=db_url, evidence=None, zones=ZoneRegistry(), cameras={"cam-2": "fixed"},
                         detector_factory=Vendor)
    for f in frames(12, stream_id="cam-2", device_id="cam-2"):
        det(f)
    det.close()
    assert det.writer.written["new"] == opened


def test_a_schedule_for_an_unknown_image_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="schedules for zones not among image_zones"):
        DetectionConfig(streams={"cam-1": {"schedules": {"nowhere": {"hours": [{"start": "09:00", "end": "12:00"}]}}}})
