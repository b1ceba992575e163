"""Per-object fence events: ``enter``, ``exit`` and ``dwell``, with hysteresis against GPS jitter.

Tile38 gives enter/exit/inside/outside/cross per fix but no dwell and no hysteresis, and a detection's
position is only good to 3-10 m (the error radius of :mod:`geo.projection`), so a vendor standing on a street
edge would flap enter/exit on every fix. This tracker keeps one visit per (object, zone):

* **enter** when the point is inside the zone (boundary inclusive) - optionally at least
  ``enter_inset_m`` metres from the edge (the ``buffer(-eps)`` test) and for at least ``enter_min_s``
  seconds; a visit gets a ``group_id`` shared by its enter, dwell and exit events (as Tile38 does);
* **exit** only after the point has been more than ``exit_buffer_m`` metres outside the zone
  (the ``buffer(+eps)`` test) continuously for ``exit_min_s`` seconds; coming back within the
  buffer resets that clock. An exit is also emitted when the zone stops being active (schedule),
  disappears from the registry, or the object is forgotten (``reason`` says which);
* **dwell** once per visit when the visit has lasted ``dwell_s`` (per zone ``Zone.dwell_s``,
  else the tracker default).

Metre distances use a local equirectangular frame around each zone (cached per registry snapshot);
for buffers of metres its scale error (a fraction of a percent over a district) does not matter.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import shapely
from pydantic import BaseModel, ConfigDict, Field

from geo.geodesy import metres_per_degree
from geo.registry import ZoneIndex, ZoneRegistry
from geo.zones import Zone

EventKind = Literal["enter", "exit", "dwell"]


class FenceConfig(BaseModel):
    """Tracker defaults; zone fields ``dwell_s``, ``exit_buffer_m``, ``exit_min_s`` override them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: tuple[str, ...] | None = Field(default=None, description="Zone kinds to track; None = all kinds.")
    exit_buffer_m: float = Field(
        default=5.0, ge=0, description="Metres beyond the zone edge a point must be before exit counts."
    )
    exit_min_s: float = Field(
        default=3.0, ge=0, description="Seconds continuously beyond the exit buffer before exit is emitted."
    )
    enter_min_s: float = Field(default=0.0, ge=0, description="Seconds continuously inside before enter.")
    enter_inset_m: float = Field(
        default=0.0, ge=0, description="Metres inside the edge a point must be to start a visit (buffer(-eps))."
    )
    dwell_s: float | None = Field(
        default=None, ge=0, description="Default dwell threshold in seconds when the zone has no dwell_s."
    )
    respect_schedule: bool = Field(
        default=True, description="Ignore zones whose schedule is inactive; end visits when it ends."
    )


@dataclass(frozen=True, slots=True)
class FenceEvent:
    """One fence transition for one tracked object."""

    kind: EventKind
    object_id: str
    zone_id: str
    zone_kind: str
    time: datetime
    lon: float
    lat: float
    group_id: str  # pairs enter / dwell / exit of one visit
    since: datetime  # start of the visit (first fix inside)
    duration_s: float  # time inside so far (0 for enter)
    reason: str = ""  # for exit: "left", "zone_inactive", "zone_removed", "object_removed"


@dataclass(slots=True)
class _Visit:
    zone_id: str
    since: datetime
    group_id: str
    entered: bool = False
    dwell_emitted: bool = False
    outside_since: datetime | None = None


def _metric_frame(index: ZoneIndex, zone: Zone) -> tuple[Any, float, float, float, float, Any]:
    """Zone geometry in local metres (equirectangular at its centroid), cached on the snapshot."""
    key = f"fence_metric:{zone.id}"
    cached = index.memo.get(key)
    if cached is not None:
        return cached
    c = zone.shape.centroid
    lon0, lat0 = c.x, c.y
    kx, ky = metres_per_degree(lat0)
    geom = shapely.transform(zone.shape, lambda xy: (xy - (lon0, lat0)) * (kx, ky))
    shapely.prepare(geom)
    boundary = geom.boundary
    shapely.prepare(boundary)
    value = (geom, lon0, lat0, kx, ky, boundary)
    index.memo[key] = value
    return value


def distance_outside_m(index: ZoneIndex, zone: Zone, lon: float, lat: float) -> float:
    """Metres from the point to the zone (0 when inside or on the edge)."""
    geom, lon0, lat0, kx, ky, _ = _metric_frame(index, zone)
    return float(shapely.distance(geom, shapely.Point((lon - lon0) * kx, (lat - lat0) * ky)))


def depth_inside_m(index: ZoneIndex, zone: Zone, lon: float, lat: float) -> float:
    """Metres from an inside point to the zone edge (0 when outside)."""
    geom, lon0, lat0, kx, ky, boundary = _metric_frame(index, zone)
    pt = shapely.Point((lon - lon0) * kx, (lat - lat0) * ky)
    if not shapely.intersects(geom, pt):
        return 0.0
    return float(shapely.distance(boundary, pt))


class FenceTracker:
    """Turns a stream of (object, position, time) fixes into fence events. Not thread-safe."""

    def __init__(self, registry: ZoneRegistry, config: FenceConfig | None = None) -> None:
        self.registry = registry
        self.config = config or FenceConfig()
        self._visits: dict[str, dict[str, _Visit]] = {}
        self._last_time: dict[str, datetime] = {}
        self._counter = itertools.count(1)

    def inside(self, object_id: str) -> list[str]:
        """Zone ids the object is currently (entered) inside."""
        return [v.zone_id for v in self._visits.get(object_id, {}).values() if v.entered]

    def _param(self, zone: Zone, name: str) -> Any:
        value = getattr(zone, name)
        return getattr(self.config, name) if value is None else value

    def update(
        self, object_id: str, lon: float, lat: float, t: datetime, *, object_class: str | None = None
    ) -> list[FenceEvent]:
        """Feed one fix (WGS84, timezone-aware time); returns the events it causes.

        Fixes older than the object's previous fix are ignored (returns ``[]``).
        """
        if t.tzinfo is None:
            raise ValueError("fix time must be timezone-aware")
        last = self._last_time.get(object_id)
        if last is not None and t < last:
            return []
        self._last_time[object_id] = t
        cfg = self.config
        index = self.registry.index
        hits = index.query([lon], [lat], kinds=cfg.kinds, at=t if cfg.respect_schedule else None)
        hit_zones: dict[str, Zone] = {}
        for zi in hits.zone_index.tolist():
            zone = index.zones[zi]
            if object_class is not None and zone.classes and object_class not in zone.classes:
                continue
            hit_zones[zone.id] = zone
        visits = self._visits.setdefault(object_id, {})
        events: list[FenceEvent] = []

        def emit(kind: EventKind, zone_id: str, zone_kind: str, visit: _Visit, reason: str = "") -> None:
            duration = 0.0 if kind == "enter" else (t - visit.since).total_seconds()
            events.append(
                FenceEvent(
                    kind, object_id, zone_id, zone_kind, t, lon, lat, visit.group_id, visit.since, duration, reason
                )
            )

        for zone_id, visit in list(visits.items()):
            zone = hit_zones.get(zone_id)
            if zone is None:
                zi = index.by_id.get(zone_id)
                current = None if zi is None else index.zones[zi]
                if current is None:
                    if visit.entered:
                        emit("exit", zone_id, "", visit, "zone_removed")
                    del visits[zone_id]
                    continue
                if not visit.entered:  # a pending enter that did not last
                    del visits[zone_id]
                    continue
                if cfg.respect_schedule and current.schedule is not None and not current.schedule.is_active(t):
                    emit("exit", zone_id, current.kind, visit, "zone_inactive")
                    del visits[zone_id]
                    continue
                if distance_outside_m(index, current, lon, lat) <= self._param(current, "exit_buffer_m"):
                    visit.outside_since = None  # still within the hysteresis band
                else:
                    if visit.outside_since is None:
                        visit.outside_since = t
                    if (t - visit.outside_since).total_seconds() >= self._param(current, "exit_min_s"):
                        emit("exit", zone_id, current.kind, visit, "left")
                        del visits[zone_id]
                        continue
                self._maybe_dwell(current, visit, t, emit)
                continue
            visit.outside_since = None
            if not visit.entered:
                if cfg.enter_inset_m > 0 and depth_inside_m(index, zone, lon, lat) < cfg.enter_inset_m:
                    del visits[zone_id]  # back in the edge band: restart the enter clock
                    continue
                if (t - visit.since).total_seconds() >= cfg.enter_min_s:
                    visit.entered = True
                    emit("enter", zone_id, zone.kind, visit)
            if visit.entered:
                self._maybe_dwell(zone, visit, t, emit)

        for zone_id, zone in hit_zones.items():
            if zone_id in visits:
                continue
            if cfg.enter_inset_m > 0 and depth_inside_m(index, zone, lon, lat) < cfg.enter_inset_m:
                continue
            visit = _Visit(zone_id=zone_id, since=t, group_id=f"{object_id}:{zone_id}:{next(self._counter)}")
            visits[zone_id] = visit
            if cfg.enter_min_s <= 0:
                visit.entered = True
                emit("enter", zone_id, zone.kind, visit)
                self._maybe_dwell(zone, visit, t, emit)
        if not visits:
            self._visits.pop(object_id, None)
        return events

    def _maybe_dwell(self, zone: Zone, visit: _Visit, t: datetime, emit: Any) -> None:
        threshold = self._param(zone, "dwell_s")
        if threshold is None or visit.dwell_emitted:
            return
        if (t - visit.since).total_seconds() >= threshold:
            visit.dwell_emitted = True
            emit("dwell", zone.id, zone.kind, visit)

    def forget(self, object_id: str, t: datetime) -> list[FenceEvent]:
        """Drop an object (track lost, device offline); entered visits end with ``reason="object_removed"``."""
        events: list[FenceEvent] = []
        index = self.registry.index
        for zone_id, visit in self._visits.pop(object_id, {}).items():
            if visit.entered:
                zi = index.by_id.get(zone_id)
                kind = index.zones[zi].kind if zi is not None else ""
                events.append(
                    FenceEvent(
                        "exit",
                        object_id,
                        zone_id,
                        kind,
                        t,
                        math.nan,
                        math.nan,
                        visit.group_id,
                        visit.since,
                        (t - visit.since).total_seconds(),
                        "object_removed",
                    )
                )
        self._last_time.pop(object_id, None)
        return events
