"""Where a frame's tracked objects are, for the zone rules: image zones on a fixed camera, geofences on the ground
for a drone.

A fixed camera's zones are drawn on its image (detectors.video.image_zones: bottom-centre anchor, minimum area,
inertia). A drone frame's objects are placed on the ground: the bottom centre of each box projected with the
frame's pose (geo.projection, flat ground at take-off height), then looked up in the geofences active at the
frame's time, so one flight's findings land in the jurisdictions and zones they were seen in. An object that
cannot be placed (no pose, above the horizon) is in no zone; it is counted by reason.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

import numpy as np

from detectors.video.image_zones import ImageZoneConfig, ImageZones
from detectors.video.tracks import TrackedObject
from gateway.video.ground import drone_pose
from geo.camera import CameraIntrinsics
from geo.projection import AboveHorizonError, BeyondRangeError, ProjectionError, project_pixel
from geo.registry import ZoneIndex
from geo.zones import Zone
from ingest.video.frames import Frame


class ImagePlacement:
    """A fixed camera: zones drawn on the image."""

    def __init__(self, zones: Sequence[ImageZoneConfig]) -> None:
        self.configs = list(zones)
        self._zones = ImageZones(self.configs)

    def place(self, objects: Sequence[TrackedObject], frame: Frame) -> tuple[list[TrackedObject], dict[str, set[str]]]:
        """The objects as they are (no ground point) and each track's zones after inertia."""
        return list(objects), self._zones.update(objects, frame.width, frame.height)


class GroundPlacement:
    """A drone: each object's anchor projected to the ground and looked up in the geofences."""

    def __init__(self, index: ZoneIndex | None, *, hfov_deg: float | None) -> None:
        self.index = index
        self.hfov_deg = hfov_deg
        self.unplaced: Counter[str] = Counter()
        self.zones_seen: dict[str, Zone] = {}

    def place(self, objects: Sequence[TrackedObject], frame: Frame) -> tuple[list[TrackedObject], dict[str, set[str]]]:
        placed: list[TrackedObject] = []
        points: list[tuple[float, float]] = []
        why = self._camera(frame)
        for obj in objects:
            if isinstance(why, str):
                self.unplaced[why] += 1
                placed.append(obj)
                continue
            pose, cam = why
            x, y = obj.anchor
            try:
                # a box touching the frame's edge puts its anchor on the edge, still inside the image
                g = project_pixel(pose, cam, min(max(x, 0.0), frame.width - 1e-6),
                                  min(max(y, 0.0), frame.height - 1e-6))
            except AboveHorizonError:
                self.unplaced["above_horizon"] += 1
                placed.append(obj)
                continue
            except BeyondRangeError:
                self.unplaced["beyond_range"] += 1
                placed.append(obj)
                continue
            except ProjectionError:
                self.unplaced["not_on_ground"] += 1
                placed.append(obj)
                continue
            placed.append(dataclasses.replace(obj, ground=(g.lon, g.lat)))
            points.append((g.lon, g.lat))
        zones: dict[str, set[str]] = {o.track_id: set() for o in placed}
        on_ground = [o for o in placed if o.ground is not None]
        if self.index is not None and on_ground:
            hits = self.index.query(np.array([o.ground[0] for o in on_ground]),  # type: ignore[index]
                                    np.array([o.ground[1] for o in on_ground]), at=frame.time)  # type: ignore[index]
            for i, obj in enumerate(on_ground):
                for z in hits.zones_for(i):
                    zones[obj.track_id].add(z.id)
                    self.zones_seen[z.id] = z
        return placed, zones

    def _camera(self, frame: Frame) -> tuple[object, CameraIntrinsics] | str:
        if frame.pose is None:
            return frame.unplaced_reason or "no_pose"
        pose = drone_pose(frame.pose)
        if pose is None:
            return "no_height"
        fov = frame.pose.hfov_deg or self.hfov_deg
        if fov is None:
            return "no_intrinsics"
        return pose, CameraIntrinsics(width=frame.width, height=frame.height, hfov_deg=fov)
