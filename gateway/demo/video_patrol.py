"""The demo's patrol video: on its first sortie the patrol drone hovers over three places in Guicheng and films
them: a parked car in a no-parking street, a boat in a protected river section, smoke over a watched plot. The
frames, posed from the drone's telemetry, go through the gateway's detection stage like a live stream's, and each
finding becomes an alert with its snapshot, rendition, track and clip, on the console's map at the place filmed.

Each picture is one of the generator's nadir views (a seed no training run drew) in which the shipped model sees
the kind; a kind it sees in none of them is left out and said so. Without the vision extra or the shipped
weights the demo runs without the video and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import structlog

from gateway.config import Settings
from gateway.demo.fleet import DRONE, MARKET_CAMERA
from ingest.models import Pose
from ingest.video.frames import Frame, FrameTime

log = structlog.get_logger(__name__)

@dataclass(frozen=True)
class Hover:
    kind: str  # the object kind filmed
    zone_id: str
    zone_kind: str
    zone_name: str
    lat: float
    lon: float


HOVERS = (
    Hover("car", "demo-noparking-nanyi", "no_parking", "桂城南一路禁停路段", 23.0240, 113.1400),
    Hover("boat", "demo-river-pingzhou", "river_protection", "平洲水道保护河段", 23.0262, 113.1336),
    Hover("smoke", "demo-burning-xiabian", "burning_watch", "夏边村露天焚烧巡查地块", 23.0372, 113.1470),
)
NO_PARKING_ID = HOVERS[0].zone_id
STREAM = "demo:patrol-video"
ALTITUDE_M = 60.0
HFOV_DEG = 80.0
SECONDS, FPS = 15.0, 5.0
AFTER_START = timedelta(minutes=12)  # on the 17:40 sortie, ten minutes after the simulated 17:30 start
BETWEEN = timedelta(minutes=3)  # flying on to the next place
MARKET_STREAM = "demo:market-cam"
MARKET_ZONE = "market-street"  # drawn on the market camera's image


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


def zone_features(subject: dict[str, str]) -> list[dict[str, Any]]:
    """The zones the hovers film, each about 160 m each way: the whole footprint at 60 m."""
    d = 0.0015
    return [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[
        [h.lon - d, h.lat - d], [h.lon + d, h.lat - d], [h.lon + d, h.lat + d], [h.lon - d, h.lat + d],
        [h.lon - d, h.lat - d]]]},
        "properties": {"id": h.zone_id, "kind": h.zone_kind, "name": h.zone_name, "enforcement_subject": subject}}
        for h in HOVERS]


def with_detection(settings: Settings) -> Settings:
    """The demo's detection settings: parking and vending after 5 s (a street camera would wait minutes); the
    market camera's street is a no-vending zone in the night market's hours."""
    market = {"image_zones": [{"id": MARKET_ZONE, "kind": "no_vending", "inertia": 2,
                               "coordinates": [[0.0, 0.35], [1.0, 0.35], [1.0, 1.0], [0.0, 1.0]]}],
              "schedules": {MARKET_ZONE: {"tz": "Asia/Shanghai", "hours": [{"start": "17:00", "end": "23:00"}]}}}
    detection = settings.detection.model_validate({
        **settings.detection.model_dump(), "enabled": True, "plates": False, "hfov_deg": HFOV_DEG,
        "clip_before_s": 2.0, "clip_after_s": 3.0, "streams": {MARKET_STREAM: market},
        "rules": {"parking": {"dwell_s": 5.0}, "vending": {"dwell_s": 5.0}}})
    return settings.model_copy(update={"detection": detection})


def scene_of(kind: str) -> np.ndarray | None:
    """The first generated nadir view in which the shipped model sees a labelled object of `kind`."""
    from detectors.video.detector import Detector
    from detectors.video.synthetic.seen import scene_seen

    return scene_seen(Detector(), kind)


def vendor_scene(tries: int = 30) -> np.ndarray | None:
    """The first generated street view in which the shipped model sees a person beside a stall or cart."""
    from detectors.video.detector import Detector
    from detectors.video.synthetic.dataset import render_frame
    from detectors.video.synthetic.seen import UNSEEN_SEED
    from detectors.video.tracks import box_gap

    det = Detector()
    for i in range(tries):
        scene = render_frame(UNSEEN_SEED, i, 640, 0.0)
        found = [d for d in det.detect(scene.image) if d.score >= 0.4]
        people = [d.box for d in found if d.kind == "person"]
        stalls = [d.box for d in found if d.kind in ("stall", "cart")]
        if any(box_gap(p, s) <= 30 for p in people for s in stalls):
            return scene.image
    return None


def market_frames(start: datetime, image: np.ndarray) -> list[Frame]:
    """The market camera's view, still but for sensor noise, timed by its stream."""
    rng = np.random.default_rng(12)
    return [Frame(stream_id=MARKET_STREAM, device_id=MARKET_CAMERA, seq=i,
                  image=np.clip(image + rng.normal(0, 2.0, image.shape), 0, 255).astype(np.uint8),
                  time=start + timedelta(seconds=i / FPS), time_source=FrameTime.STREAM,
                  received_at=start + timedelta(seconds=i / FPS)) for i in range(round(SECONDS * FPS))]


def frames(start: datetime, image: np.ndarray, hover: Hover, first_seq: int = 0) -> list[Frame]:
    """One hover: the same view with a little sensor noise, each frame posed from the drone's telemetry."""
    rng = np.random.default_rng(11)
    out = []
    for i in range(round(SECONDS * FPS)):
        t = start + timedelta(seconds=i / FPS)
        noisy = np.clip(image + rng.normal(0, 2.0, image.shape), 0, 255).astype(np.uint8)
        pose = Pose(time=t, device_id=DRONE, lat=hover.lat, lon=hover.lon, alt_rel_m=ALTITUDE_M, yaw=0.0,
                    gimbal_yaw=0.0, gimbal_pitch=-90.0, gimbal_roll=0.0, hfov_deg=HFOV_DEG, source="dji_osd")
        out.append(Frame(stream_id=STREAM, device_id=DRONE, seq=first_seq + i, image=noisy, time=t,
                         time_source=FrameTime.FILE, received_at=t, pose=pose, pose_offset_s=0.0))
    return out


def play(put: Any, start: datetime) -> int:
    """Hand each hover's frames to the detection stage (`put` waits for room); returns how many frames."""
    n, at = 0, start + AFTER_START
    for hover in HOVERS:
        image = scene_of(hover.kind)
        if image is None:
            log.warning("demo.patrol_video_skipped", kind=hover.kind, reason="the shipped model sees none")
            continue
        for f in frames(at, image, hover, n):
            put(f, wait=True)
            n += 1
        log.info("demo.patrol_video", kind=hover.kind, zone=hover.zone_id)
        at += BETWEEN
    vendor = vendor_scene()
    if vendor is None:
        log.warning("demo.market_camera_skipped", reason="the shipped model sees no vendor")
        return n
    for f in market_frames(start + AFTER_START, vendor):  # 17:42 local: in the night market's hours
        put(f, wait=True)
        n += 1
    log.info("demo.market_camera", zone=MARKET_ZONE)
    return n
