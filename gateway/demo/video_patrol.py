"""The demo's patrol video: on its first sortie the patrol drone hovers over a no-parking street in Guicheng and
films a parked car; the frames, posed from the drone's telemetry, go through the gateway's detection stage like a
live stream's, and the car becomes an illegal-parking alert with its snapshot, rendition, track and clip.

The picture is one of the generator's nadir views (a seed no training run drew) in which the shipped model sees
a car; the drone's pose puts the car inside the demo's no-parking zone. Without the vision extra or the shipped
weights the demo runs without it and says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import structlog

from gateway.config import Settings
from gateway.demo.fleet import DRONE
from ingest.models import Pose
from ingest.video.frames import Frame, FrameTime

log = structlog.get_logger(__name__)

HOVER = (23.0240, 113.1400)  # lat, lon (WGS84): 南一路, on the patrol's south leg
NO_PARKING_ID = "demo-noparking-nanyi"
STREAM = "demo:patrol-video"
ALTITUDE_M = 60.0
HFOV_DEG = 80.0
SECONDS, FPS = 15.0, 5.0
AFTER_START = timedelta(minutes=12)  # on the 17:40 sortie, ten minutes after the simulated 17:30 start


def unavailable() -> str | None:
    """Why the patrol video cannot run here, or None."""
    try:
        import torch  # noqa: F401
        import ultralytics  # noqa: F401
    except ImportError:
        return "the vision extra (ultralytics, torch) is not installed"
    from detectors.video.detector import SHIPPED_WEIGHTS
    if not SHIPPED_WEIGHTS.exists():
        return f"{SHIPPED_WEIGHTS} is not built"
    return None


def zone_feature(subject: dict[str, str]) -> dict[str, Any]:
    lat, lon = HOVER
    d = 0.0015  # about 160 m each way: the hover's whole footprint at 60 m
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"id": NO_PARKING_ID, "kind": "no_parking", "name": "桂城南一路禁停路段",
                           "enforcement_subject": subject}}


def with_detection(settings: Settings) -> Settings:
    """The demo's detection settings: parking after 5 s of the hover (a street camera would wait minutes)."""
    detection = settings.detection.model_validate({
        **settings.detection.model_dump(), "enabled": True, "plates": False, "hfov_deg": HFOV_DEG,
        "clip_before_s": 2.0, "clip_after_s": 3.0, "rules": {"parking": {"dwell_s": 5.0}}})
    return settings.model_copy(update={"detection": detection})


def hover_scene() -> np.ndarray:
    """The first generated nadir view in which the shipped model sees a labelled car."""
    from detectors.video.detector import Detector
    from detectors.video.synthetic.classes import CLASS_IDS
    from detectors.video.synthetic.dataset import render_frame
    from detectors.video.synthetic.scene import RenderOptions
    from detectors.video.tracks import Box, box_iou

    det = Detector()
    for i in range(60):
        scene = render_frame(5150, i, 640, 1.0, RenderOptions(oblique_probability=0.0))
        cars = [Box(*map(float, o.box)) for o in scene.objects if o.class_id == CLASS_IDS["car"]]
        if any(d.kind == "car" and d.score >= 0.5 and any(box_iou(d.box, c) >= 0.5 for c in cars)
               for d in det.detect(scene.image)):
            return scene.image
    raise RuntimeError("the shipped model sees no car in 60 generated nadir views")


def frames(start: datetime, image: np.ndarray) -> list[Frame]:
    """The hover: the same view with a little sensor noise, each frame posed from the drone's telemetry."""
    rng = np.random.default_rng(11)
    out = []
    for i in range(round(SECONDS * FPS)):
        t = start + timedelta(seconds=i / FPS)
        noisy = np.clip(image + rng.normal(0, 2.0, image.shape), 0, 255).astype(np.uint8)
        pose = Pose(time=t, device_id=DRONE, lat=HOVER[0], lon=HOVER[1], alt_rel_m=ALTITUDE_M, yaw=0.0,
                    gimbal_yaw=0.0, gimbal_pitch=-90.0, gimbal_roll=0.0, hfov_deg=HFOV_DEG, source="dji_osd")
        out.append(Frame(stream_id=STREAM, device_id=DRONE, seq=i, image=noisy, time=t, time_source=FrameTime.FILE,
                         received_at=t, pose=pose, pose_offset_s=0.0))
    return out


def play(put: Any, start: datetime) -> int:
    """Hand the hover's frames to the detection stage (`put` waits for room); returns how many."""
    shots = frames(start + AFTER_START, hover_scene())
    for f in shots:
        put(f, wait=True)
    log.info("demo.patrol_video", frames=len(shots), zone=NO_PARKING_ID)
    return len(shots)
