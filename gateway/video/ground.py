"""Where a posed frame looks: its image centre projected to the ground, and the zones that point lies in. The
batch `analyze` summary counts frames per zone with it; the detection stage places findings the same way."""

from __future__ import annotations

from collections import Counter

import numpy as np

from geo.camera import CameraIntrinsics, DronePose
from geo.projection import AboveHorizonError, BeyondRangeError, GroundPoint, ProjectionError, project_pixel
from geo.registry import ZoneIndex
from ingest.models import Pose
from ingest.video.frames import Frame


def drone_pose(p: Pose) -> DronePose | None:
    """The camera pose a frame was taken from: the gimbal's absolute angles where the telemetry has them, else the
    aircraft heading looking straight down (a fixed nadir camera)."""
    if not p.has_fix or p.alt_rel_m is None or p.alt_rel_m <= 0:
        return None
    if p.lat == 0.0 and p.lon == 0.0:  # DJI's "no position": ingest makes it None, a file parser might not
        return None
    yaw = p.gimbal_yaw if p.gimbal_yaw is not None else (p.yaw or 0.0)
    pitch = p.gimbal_pitch if p.gimbal_pitch is not None else -90.0
    roll = p.gimbal_roll if p.gimbal_roll is not None else 0.0
    return DronePose(lat=p.lat, lon=p.lon, height_agl_m=p.alt_rel_m, yaw_deg=yaw % 360.0, pitch_deg=pitch,
                     roll_deg=roll, device_id=p.device_id, time=p.time)


def frame_centre(frame: Frame, hfov_deg: float | None) -> GroundPoint | str:
    """The ground point under the image centre, or why there is none."""
    if frame.pose is None:
        return frame.unplaced_reason or "no_pose"
    pose = drone_pose(frame.pose)
    if pose is None:
        return "no_height"
    fov = frame.pose.hfov_deg or hfov_deg
    if fov is None:
        return "no_intrinsics"
    cam = CameraIntrinsics(width=frame.width, height=frame.height, hfov_deg=fov)
    try:
        return project_pixel(pose, cam, frame.width / 2.0, frame.height / 2.0)
    except AboveHorizonError:
        return "above_horizon"
    except BeyondRangeError:
        return "beyond_range"
    except ProjectionError:
        return "not_on_ground"


class ZoneCounter:
    """A frame handler: frames whose centre lies in each zone, and why others were not placed on the ground."""

    def __init__(self, index: ZoneIndex | None, hfov_deg: float | None) -> None:
        self.index = index
        self.hfov_deg = hfov_deg
        self.per_zone: Counter[str] = Counter()
        self.outside = 0
        self.not_on_ground: Counter[str] = Counter()
        self.track: list[tuple[float, float]] = []

    def __call__(self, frame: Frame) -> None:
        point = frame_centre(frame, self.hfov_deg)
        if isinstance(point, str):
            self.not_on_ground[point] += 1
            return
        self.track.append((point.lon, point.lat))
        if self.index is None:
            return
        hits = self.index.query(np.array([point.lon]), np.array([point.lat]), at=frame.time)
        zones = hits.zones_for(0)
        if not zones:
            self.outside += 1
        for z in zones:
            self.per_zone[z.id] += 1
