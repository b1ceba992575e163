"""Turns drone poses into no-fly events: `enter` when a drone is first seen inside an active no-fly zone,
`exit` when it is seen outside again. The alert pipeline subscribes to these; they are also published on
MQTT `enf/events/no_fly` and counted."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from geo.camera import DronePose
from geo.nofly import NoFlyEvent, check_no_fly
from geo.registry import ZoneRegistry
from ingest.models import Pose, Reading

# Below this height above take-off a drone is on the ground or in its dock, not flying through a zone.
MIN_AIRBORNE_M = 0.5


@dataclass(frozen=True, slots=True)
class NoFlyTransition:
    type: Literal["enter", "exit"]
    device_id: str
    zone_id: str
    pose: Pose
    event: NoFlyEvent | None  # the geo event on enter


class NoFlyMonitor:
    def __init__(self, zones: ZoneRegistry, listeners: list[Callable[[NoFlyTransition], None]] | None = None) -> None:
        self.zones = zones
        self.listeners = listeners or []
        self._inside: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def on_stored(self, _readings: list[Reading], poses: list[Pose]) -> None:
        """Writer hook: called after each committed batch."""
        for pose in poses:
            for t in self.check(pose):
                for listener in self.listeners:
                    listener(t)

    def check(self, pose: Pose) -> list[NoFlyTransition]:
        events: list[NoFlyEvent] = []
        if pose.has_fix and (pose.alt_rel_m or 0.0) > MIN_AIRBORNE_M:
            dp = DronePose(lat=pose.lat, lon=pose.lon, height_agl_m=pose.alt_rel_m, device_id=pose.device_id,
                           time=pose.time)
            events = check_no_fly(dp, self.zones)
        now_inside = {e.zone_id: e for e in events}
        with self._lock:
            before = self._inside.get(pose.device_id, set())
            self._inside[pose.device_id] = set(now_inside)
        entered, left = sorted(set(now_inside) - before), sorted(before - set(now_inside))
        out = [NoFlyTransition("enter", pose.device_id, z, pose, now_inside[z]) for z in entered]
        out += [NoFlyTransition("exit", pose.device_id, z, pose, None) for z in left]
        return out
