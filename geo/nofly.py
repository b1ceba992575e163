"""No-fly check: drone pose + zone registry + time -> list of :class:`NoFlyEvent`.

Pure and stateless on purpose: the alert pipeline (which owns deduplication, "one open alert per
device, rule and zone") turns these events into alerts. A pose is in violation when its position
intersects an active ``no_fly`` zone (boundary inclusive: the edge of a no-fly zone is not a safe
place) and, if the zone has vertical limits ``lower_m``/``upper_m`` (metres above ground), its
height is within them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geo.camera import DronePose
from geo.registry import ZoneIndex, ZoneRegistry, snapshot
from geo.zones import EnforcementSubject

NO_FLY_KIND = "no_fly"


@dataclass(frozen=True, slots=True)
class NoFlyEvent:
    """A drone observed inside an active no-fly zone."""

    device_id: str | None
    zone_id: str
    zone_name: str
    time: datetime
    lat: float
    lon: float
    height_agl_m: float
    priority: int
    enforcement_subject: EnforcementSubject | None
    enforcement_items: tuple[str, ...]
    lower_m: float | None
    upper_m: float | None


def check_no_fly(pose: DronePose, registry: ZoneRegistry | ZoneIndex, at: datetime | None = None) -> list[NoFlyEvent]:
    """Events for every active no-fly zone the pose violates, highest priority first.

    ``at`` defaults to ``pose.time``; one of them must be set (schedules need an instant).
    """
    when = at if at is not None else pose.time
    if when is None:
        raise ValueError("check_no_fly needs a time: pass at= or set pose.time")
    index = snapshot(registry)
    hits = index.query([pose.lon], [pose.lat], kinds=[NO_FLY_KIND], at=when)
    events: list[NoFlyEvent] = []
    for zi in hits.zone_index.tolist():
        zone = index.zones[zi]
        if zone.lower_m is not None and pose.height_agl_m < zone.lower_m:
            continue
        if zone.upper_m is not None and pose.height_agl_m > zone.upper_m:
            continue
        events.append(
            NoFlyEvent(
                device_id=pose.device_id,
                zone_id=zone.id,
                zone_name=zone.name,
                time=when,
                lat=pose.lat,
                lon=pose.lon,
                height_agl_m=pose.height_agl_m,
                priority=zone.priority,
                enforcement_subject=zone.enforcement_subject,
                enforcement_items=zone.enforcement_items,
                lower_m=zone.lower_m,
                upper_m=zone.upper_m,
            )
        )
    events.sort(key=lambda e: (-e.priority, e.zone_id))
    return events
