"""Tracked detections as the zone rules take them: one `TrackedObject` per track per frame.

The tracker (ByteTrack) hands these over frame by frame; a frame's objects all carry that frame's time. `box`
is in pixels of the frame the object was seen in; `ground` is the WGS84 (lon, lat) of the box's bottom centre
projected with geo/ for drone frames, None for fixed cameras (or a drone frame without a usable pose).

`refusal` checks one object before the rules see it: a bad box or time is refused with a stable reason code
and a message, never an exception in the worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


class Box(NamedTuple):
    """An axis-aligned box in pixels: (x1, y1) top left, (x2, y2) bottom right (image y grows downwards)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def bottom_centre(self) -> tuple[float, float]:
        """Where the object meets the ground: the point zones test (as Frigate does)."""
        return ((self.x1 + self.x2) / 2.0, self.y2)

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)


def box_gap(a: Box, b: Box) -> float:
    """Distance in pixels between the nearest edges of two boxes; 0 when they touch or overlap."""
    dx = max(0.0, b.x1 - a.x2, a.x1 - b.x2)
    dy = max(0.0, b.y1 - a.y2, a.y1 - b.y2)
    return math.hypot(dx, dy)


_MEAN_RADIUS_M = 6_371_008.8  # IUGG mean Earth radius, as geo.geodesy uses


def ground_distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance in metres between two WGS84 (lon, lat) points; ample for metre-scale stillness tests
    (detectors may not import geo, so the formula lives here)."""
    p1, p2 = math.radians(a[1]), math.radians(b[1])
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b[0] - a[0]) / 2) ** 2
    return 2 * _MEAN_RADIUS_M * math.asin(math.sqrt(min(h, 1.0)))


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when either is empty)."""
    iw = min(a.x2, b.x2) - max(a.x1, b.x1)
    ih = min(a.y2, b.y2) - max(a.y1, b.y1)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class TrackedObject:
    """One tracked object in one frame. `track_id` is unique within a stream; `kind` is our object kind
    (car, truck, person, stall, cart, boat, smoke, fire, garbage, rubble, ...) after the model's class map."""

    track_id: str
    kind: str
    score: float
    box: Box
    time: datetime
    ground: tuple[float, float] | None = None

    @property
    def anchor(self) -> tuple[float, float]:
        """The image point zones and stationarity use: the bottom centre of the box."""
        return self.box.bottom_centre


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an object was not given to the rules. `code` is stable; `message` names the bad value."""

    code: str
    message: str


# stable reason codes
BAD_TRACK_ID = "bad_track_id"
BAD_KIND = "bad_kind"
BAD_SCORE = "bad_score"
BAD_BOX = "bad_box"
NAIVE_TIME = "naive_time"
BAD_GROUND = "bad_ground"


def refusal(obj: TrackedObject) -> Refusal | None:
    """None when the rules may use `obj`, else the reason it is refused."""
    if not isinstance(obj.track_id, str) or not obj.track_id:
        return Refusal(BAD_TRACK_ID, f"track_id {obj.track_id!r} is not a non-empty string")
    if not isinstance(obj.kind, str) or not obj.kind:
        return Refusal(BAD_KIND, f"kind {obj.kind!r} is not a non-empty string")
    if not isinstance(obj.score, int | float) or not 0.0 <= obj.score <= 1.0:
        return Refusal(BAD_SCORE, f"score {obj.score!r} is not in [0, 1]")
    box = obj.box
    if len(box) != 4 or not all(isinstance(v, int | float) and math.isfinite(v) for v in box):
        return Refusal(BAD_BOX, f"box {tuple(box)!r} is not four finite numbers")
    if box.x2 <= box.x1 or box.y2 <= box.y1:
        return Refusal(BAD_BOX, f"box {tuple(box)!r} has no area (needs x2 > x1 and y2 > y1)")
    if not isinstance(obj.time, datetime) or obj.time.utcoffset() is None:
        return Refusal(NAIVE_TIME, f"time {obj.time!r} is not a timezone-aware datetime")
    if obj.ground is not None:
        g = obj.ground
        if len(g) != 2 or not all(isinstance(v, int | float) and math.isfinite(v) for v in g) \
                or not (-180.0 <= g[0] <= 180.0 and -90.0 <= g[1] <= 90.0):
            return Refusal(BAD_GROUND, f"ground {g!r} is not a WGS84 (lon, lat)")
    return None
