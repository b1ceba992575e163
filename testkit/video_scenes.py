"""A scripted fixed-camera scene for tests of what comes after the detector: ByteTrack's output for a car that
stands in a no-parking zone from second 2 to 30 and a passer-by crossing the top of the picture, the frames it
is seen in, and the detection settings that judge it (parking after 10 s)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from detectors.video.detector import Detector
from detectors.video.image_zones import ImageZoneConfig
from detectors.video.tracks import Box, TrackedObject
from gateway.video.detection_config import DetectionConfig
from ingest.video.frames import Frame, FrameTime

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Foshan
CAR = Box(300.0, 200.0, 420.0, 290.0)


def passer_by(i: int) -> Box:
    """The passer-by's box at second `i`."""
    x = 20.0 + 20 * i
    return Box(x, 40.0, x + 40.0, 150.0)


class ScriptedDetector(Detector):
    """Tracked objects by the frame's second: the parked car (t1) and the passer-by (t2)."""

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
            out.append(TrackedObject("t2", "person", 0.8, passer_by(i), at))
        return out


def frames(n: int, stream_id: str = "cam-1", device_id: str = "cam-1") -> list[Frame]:
    base = np.random.default_rng(3).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    return [Frame(stream_id=stream_id, device_id=device_id, seq=i, image=base.copy(), time=T0 + timedelta(seconds=i),
                  time_source=FrameTime.STREAM, received_at=T0 + timedelta(seconds=i)) for i in range(n)]


def parking_config(stream_id: str = "cam-1") -> DetectionConfig:
    zone = ImageZoneConfig(id="gate-street", kind="no_parking", coordinates=((0, 0.4), (1, 0.4), (1, 1), (0, 1)),
                           inertia=2)
    return DetectionConfig(
        enabled=True, plates=False, clip_before_s=3, clip_after_s=3,
        rules={"parking": {"dwell_s": 10}},
        streams={stream_id: {"gate": {"mode": "off", "off_reason": "scripted detector"}, "image_zones": [zone]}})
