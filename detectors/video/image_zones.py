"""Image-space zones for fixed cameras, and the inertia that turns per-frame hits into zone membership.

An object is in an image zone when the bottom centre of its box (where it meets the ground) lies inside or on
the zone's polygon, its box is at least `min_area_px`, and its kind is one the zone watches: the Frigate
semantics (the reference's section 1.4), since a box centre puts a tall person or truck "inside" a kerb zone it
only overhangs.

`ZoneMembership` debounces raw hits: a track counts as entered after `enter` consecutive frames inside and as
left after `exit` consecutive frames outside (a frame the track is missing from counts as outside). A track that
steps out and back within the exit inertia never left, so its alert stays one alert. It takes raw hits from any
source, so drone frames debounce their geofence hits (computed by the caller from ground points) the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.video.tracks import TrackedObject

Point = tuple[float, float]


def point_in_polygon(pt: Point, polygon: Sequence[Point]) -> bool:
    """True when `pt` lies inside `polygon` or on its boundary (even-odd rule; the ring closes itself)."""
    x, y = pt
    n = len(polygon)
    inside = False
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        # on the edge: collinear and within the segment's bounding box
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        if cross == 0 and min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2):
            return True
        if (y1 > y) != (y2 > y):
            x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_at:
                inside = not inside
    return inside


class ImageZoneConfig(BaseModel):
    """One zone drawn on a fixed camera's image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="Zone id, unique per camera; alerts carry it.")
    kind: str = Field(min_length=1, description="Zone kind the rules dispatch on (no_parking, no_vending, ...).")
    coordinates: tuple[Point, ...] = Field(
        min_length=3, description="Polygon vertices (x, y); relative 0-1 of the frame unless `relative` is false."
    )
    relative: bool = Field(default=True, description="Coordinates are fractions of the frame (else pixels).")
    objects: tuple[str, ...] = Field(default=(), description="Object kinds the zone watches (empty = all).")
    min_area_px: float = Field(default=0.0, ge=0, description="Smallest box area in pixels that may be in the zone.")
    inertia: int = Field(default=3, ge=1, description="Consecutive frames inside before an object counts as entered.")
    exit_inertia: int | None = Field(
        default=None, ge=1, description="Consecutive frames outside before it counts as left (None = `inertia`)."
    )

    @field_validator("coordinates")
    @classmethod
    def _finite(cls, value: tuple[Point, ...]) -> tuple[Point, ...]:
        if any(v != v or v in (float("inf"), float("-inf")) for p in value for v in p):
            raise ValueError("coordinates must be finite")
        return value

    def polygon_px(self, width: int, height: int) -> tuple[Point, ...]:
        """The polygon in pixels of a `width` x `height` frame."""
        if not self.relative:
            return self.coordinates
        return tuple((x * width, y * height) for x, y in self.coordinates)

    def hits(self, obj: TrackedObject, width: int, height: int) -> bool:
        """Is `obj` in this zone in this one frame (no inertia)?"""
        if self.objects and obj.kind not in self.objects:
            return False
        if obj.box.area < self.min_area_px:
            return False
        return point_in_polygon(obj.anchor, self.polygon_px(width, height))


class Inertia(NamedTuple):
    """Frames inside before entered, frames outside before left."""

    enter: int
    exit: int


DEFAULT_INERTIA = Inertia(3, 3)  # Frigate's default


class _Run:
    __slots__ = ("inside", "member", "outside")

    def __init__(self) -> None:
        self.inside = 0
        self.outside = 0
        self.member = False


class ZoneMembership:
    """Debounced (track, zone) membership over a stream of frames; feed every frame, including empty ones."""

    def __init__(self, default: Inertia = DEFAULT_INERTIA, per_zone: Mapping[str, Inertia] | None = None) -> None:
        self._default = default
        self._per_zone = dict(per_zone or {})
        self._runs: dict[str, dict[str, _Run]] = {}

    def _inertia(self, zone_id: str) -> Inertia:
        return self._per_zone.get(zone_id, self._default)

    def update(self, raw: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
        """Take one frame's raw hits (track id -> zone ids) and return the members (track id -> zone ids).

        Every track seen this frame is a key of the result (with an empty set when it is in no zone)."""
        members: dict[str, set[str]] = {tid: set() for tid in raw}
        for tid in set(self._runs) | set(raw):
            hits = set(raw.get(tid, ()))
            runs = self._runs.setdefault(tid, {})
            for zid in set(runs) | hits:
                run = runs.get(zid)
                if run is None:
                    run = runs[zid] = _Run()
                inertia = self._inertia(zid)
                if zid in hits:
                    run.inside += 1
                    run.outside = 0
                    if run.inside >= inertia.enter:
                        run.member = True
                else:
                    run.outside += 1
                    run.inside = 0
                    if run.outside >= inertia.exit:
                        run.member = False
                    if not run.member:
                        del runs[zid]
                        continue
                if run.member:
                    members.setdefault(tid, set()).add(zid)
            if not runs:
                del self._runs[tid]
        return members

    @property
    def tracked(self) -> int:
        """Tracks with any pending or current membership (bounded by the live tracks)."""
        return len(self._runs)


class ImageZones:
    """A fixed camera's zones: raw per-frame hits and their debounced membership."""

    def __init__(self, zones: Sequence[ImageZoneConfig]) -> None:
        ids = [z.id for z in zones]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate image zone ids in {ids}")
        self.zones: dict[str, ImageZoneConfig] = {z.id: z for z in zones}
        self._membership = ZoneMembership(
            per_zone={z.id: Inertia(z.inertia, z.exit_inertia or z.inertia) for z in zones}
        )

    def raw(self, obj: TrackedObject, width: int, height: int) -> set[str]:
        """The zones `obj` is in this frame, before inertia."""
        return {z.id for z in self.zones.values() if z.hits(obj, width, height)}

    def update(self, objects: Sequence[TrackedObject], width: int, height: int) -> dict[str, set[str]]:
        """One frame: track id -> the zones the track is a member of (after inertia)."""
        return self._membership.update({o.track_id: self.raw(o, width, height) for o in objects})
