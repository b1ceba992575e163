"""Violation rules over tracked objects in zones: what is in violation in each frame, and what stopped being.

Zone membership is the caller's: `zone_ids_for(obj)` gives the zones an object is in (after inertia), from
detectors.video.image_zones for fixed cameras or from geofences of the object's ground point for drone frames.
`kinds` maps those ids to the zone kinds the rules dispatch on, `schedules` to when each zone's rule applies
(anything with `is_active(datetime) -> bool`, such as geo.schedule.Schedule, whose times are local to its own
time zone; no schedule = always). `ViolationEngine.for_zones` takes both from zone objects (geo.zones.Zone,
ImageZoneConfig). A zone whose schedule is closed applies no rule, and what was in violation there ends with
`schedule_closed`.

Per (rule, zone, subject) the engine keeps a small state; the subject is the track id, except for open burning,
which is one finding per zone (a plume's detections split and merge under new track ids):

    illegal_parking  car/truck in no_parking, stationary (anchor moved < stationary_px, or < stationary_m on the
                     ground when both points are placed) for longer than dwell_s
    street_vending   person in no_vending with a stall/cart within near_px of its box, for at least dwell_s
    boat_in_river    boat in river_protection for at least min_s
    open_burning     smoke/fire in a burning_watch zone (or outside them, zone None, with `anywhere`) for
                     min_frames consecutive frames or min_s;
                     a gap of clear_frames frames without it ends the run
    illegal_dumping  garbage/rubble in dumping_watch, stationary for persist_s, and not in the baseline (what was
                     there during the first baseline_s of the watch, matched by track, box IoU or ground distance)

Once in violation a finding stays so while its subject stays in the zone and the schedule is open: a parked car
that edges forward is still parked. The end reasons are `left` (the track left the zone or vanished), `cleared`
(burning no longer seen) and `schedule_closed`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from detectors.video.tracks import Box, Refusal, TrackedObject, box_gap, box_iou, ground_distance_m, refusal

PARKING = "illegal_parking"
VENDING = "street_vending"
BOAT = "boat_in_river"
BURNING = "open_burning"
DUMPING = "illegal_dumping"

# reason codes for refused objects, besides those of detectors.video.tracks
OUT_OF_ORDER = "out_of_order"
DUPLICATE_TRACK = "duplicate_track"

EndReason = Literal["left", "cleared", "schedule_closed"]


class ActiveHours(Protocol):
    """When a zone's rule applies (geo.schedule.Schedule fits)."""

    def is_active(self, at: datetime) -> bool: ...


class ZoneLike(Protocol):
    """A zone as `ViolationEngine.for_zones` reads it; a `schedule` attribute is optional."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...


_STRICT = ConfigDict(extra="forbid", frozen=True)


class ParkingRule(BaseModel):
    model_config = _STRICT
    enabled: bool = Field(default=True, description="Apply the rule.")
    zone_kinds: tuple[str, ...] = Field(default=("no_parking",), description="Zone kinds the rule applies in.")
    kinds: tuple[str, ...] = Field(default=("car", "truck"), description="Object kinds that can park.")
    dwell_s: float = Field(default=300.0, ge=0, description="Stationary longer than this many seconds is parking.")
    stationary_px: float = Field(default=15.0, gt=0, description="Anchor movement in pixels below which it is still.")
    stationary_m: float = Field(default=2.0, gt=0, description="Ground movement in metres below which it is still.")


class VendingRule(BaseModel):
    model_config = _STRICT
    enabled: bool = Field(default=True, description="Apply the rule.")
    zone_kinds: tuple[str, ...] = Field(default=("no_vending",), description="Zone kinds the rule applies in.")
    kinds: tuple[str, ...] = Field(default=("person",), description="Object kinds that vend.")
    stall_kinds: tuple[str, ...] = Field(default=("stall", "cart"), description="Kinds that make a person a vendor.")
    near_px: float = Field(default=30.0, ge=0, description="A stall this close to the person's box (or overlapping).")
    dwell_s: float = Field(default=60.0, ge=0, description="Seconds with a stall in the zone before it is vending.")


class BoatRule(BaseModel):
    model_config = _STRICT
    enabled: bool = Field(default=True, description="Apply the rule.")
    zone_kinds: tuple[str, ...] = Field(default=("river_protection",), description="Zone kinds the rule applies in.")
    kinds: tuple[str, ...] = Field(default=("boat",), description="Object kinds that are boats.")
    min_s: float = Field(default=0.0, ge=0, description="Seconds in the zone before it is a violation (0 = at once).")


class BurningRule(BaseModel):
    model_config = _STRICT
    enabled: bool = Field(default=True, description="Apply the rule.")
    zone_kinds: tuple[str, ...] = Field(default=("burning_watch",), description="Zone kinds the rule applies in.")
    anywhere: bool = Field(default=False, description="Also raise smoke/fire outside every watched zone (zone_id "
                           "None).")
    kinds: tuple[str, ...] = Field(default=("smoke", "fire"), description="Object kinds that show burning.")
    min_frames: int | None = Field(default=5, ge=1, description="Consecutive frames with smoke/fire (None = unused).")
    min_s: float | None = Field(default=None, ge=0, description="Or seconds of sustained smoke/fire (None = unused).")
    clear_frames: int = Field(default=5, ge=1, description="Frames without smoke/fire that end a run or an alert.")


class DumpingRule(BaseModel):
    model_config = _STRICT
    enabled: bool = Field(default=True, description="Apply the rule.")
    zone_kinds: tuple[str, ...] = Field(default=("dumping_watch",), description="Zone kinds the rule applies in.")
    kinds: tuple[str, ...] = Field(default=("garbage", "rubble"), description="Object kinds that are dumped waste.")
    persist_s: float = Field(default=600.0, ge=0, description="Seconds a new pile must stay before it is dumping.")
    stationary_px: float = Field(default=10.0, gt=0, description="Anchor movement in pixels below which it is still.")
    stationary_m: float = Field(default=1.0, gt=0, description="Ground movement in metres below which it is still.")
    baseline_s: float = Field(default=0.0, ge=0, description="Seconds from the watch's start that form the baseline.")
    baseline_iou: float = Field(default=0.3, gt=0, le=1, description="Box IoU with a baseline pile: the same pile.")
    baseline_m: float = Field(default=2.0, gt=0, description="Ground distance to a baseline pile: the same pile.")


class ViolationRules(BaseModel):
    """All video violation rules of a stream."""

    model_config = _STRICT
    parking: ParkingRule = Field(default_factory=ParkingRule, description="Illegal parking.")
    vending: VendingRule = Field(default_factory=VendingRule, description="Street vending.")
    boat: BoatRule = Field(default_factory=BoatRule, description="Boats in a protected river section.")
    burning: BurningRule = Field(default_factory=BurningRule, description="Open burning (smoke or fire).")
    dumping: DumpingRule = Field(default_factory=DumpingRule, description="Illegal dumping.")


Key = tuple[str, str | None, str]  # (rule_id, zone_id, subject)


@dataclass(frozen=True, slots=True)
class Finding:
    """A subject in violation in this frame. `since` is when the violation began (when the car stopped, the
    plume was first seen); `obj` is the subject's object this frame; `figures` the numbers that prove it."""

    rule_id: str
    zone_id: str | None
    subject: str
    obj: TrackedObject
    since: datetime
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return (self.rule_id, self.zone_id, self.subject)


@dataclass(frozen=True, slots=True)
class Closed:
    """A subject that was in violation and no longer is, and why."""

    rule_id: str
    zone_id: str | None
    subject: str
    reason: EndReason

    @property
    def key(self) -> Key:
        return (self.rule_id, self.zone_id, self.subject)


@dataclass(slots=True)
class FrameResult:
    time: datetime
    active: list[Finding] = field(default_factory=list)
    closed: list[Closed] = field(default_factory=list)
    refused: list[tuple[TrackedObject, Refusal]] = field(default_factory=list)


class _State:
    __slots__ = ("frames", "missing", "ref_anchor", "ref_ground", "since", "still_since", "violating")

    def __init__(self, t: datetime, obj: TrackedObject | None) -> None:
        self.since = t
        self.still_since = t
        self.ref_anchor = obj.anchor if obj is not None else (0.0, 0.0)
        self.ref_ground = obj.ground if obj is not None else None
        self.violating = False
        self.frames = 0
        self.missing = 0

    def track_still(self, obj: TrackedObject, limit_px: float, limit_m: float) -> None:
        """Restart the still period when the object moved beyond the limit from where it stopped."""
        if obj.ground is not None and self.ref_ground is not None:
            moved = ground_distance_m(self.ref_ground, obj.ground) >= limit_m
        else:
            ax, ay = self.ref_anchor
            moved = math.hypot(obj.anchor[0] - ax, obj.anchor[1] - ay) >= limit_px
        if moved:
            self.ref_anchor, self.ref_ground, self.still_since = obj.anchor, obj.ground, obj.time


def _secs(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


class _Baseline:
    __slots__ = ("boxes", "grounds", "start", "tracks")

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.tracks: set[str] = set()
        self.boxes: list[Box] = []
        self.grounds: list[tuple[float, float]] = []

    def add(self, obj: TrackedObject) -> None:
        self.tracks.add(obj.track_id)
        self.boxes.append(obj.box)
        if obj.ground is not None:
            self.grounds.append(obj.ground)

    def holds(self, obj: TrackedObject, rule: DumpingRule) -> bool:
        if obj.track_id in self.tracks:
            return True
        if obj.ground is not None and self.grounds:
            return any(ground_distance_m(g, obj.ground) < rule.baseline_m for g in self.grounds)
        return any(box_iou(b, obj.box) >= rule.baseline_iou for b in self.boxes)


class ViolationEngine:
    """Evaluates the rules frame by frame for one stream; feed every frame in time order (also empty ones)."""

    def __init__(self, rules: ViolationRules, kinds: Mapping[str, str],
                 schedules: Mapping[str, ActiveHours | None] | None = None) -> None:
        self.rules = rules
        self.kinds = dict(kinds)
        self.schedules = {zid: s for zid, s in (schedules or {}).items() if s is not None}
        unknown = set(self.schedules) - set(self.kinds)
        if unknown:
            raise ValueError(f"schedules for zones without a kind: {sorted(unknown)}")
        self._states: dict[Key, _State] = {}
        self._baselines: dict[str, _Baseline] = {}  # dumping watch per zone, from when its schedule opened
        self.refused = 0
        self._last_t: datetime | None = None

    @classmethod
    def for_zones(cls, rules: ViolationRules, zones: Iterable[ZoneLike]) -> ViolationEngine:
        """An engine for these zones: kinds from `zone.kind`, schedules from `zone.schedule` where there is one."""
        zones = list(zones)
        return cls(rules, {z.id: z.kind for z in zones}, {z.id: getattr(z, "schedule", None) for z in zones})

    def _active_zones(self, t: datetime) -> set[str]:
        sched = self.schedules
        return {zid for zid in self.kinds if zid not in sched or sched[zid].is_active(t)}

    def step(
        self, t: datetime, objects: Sequence[TrackedObject], zone_ids_for: Callable[[TrackedObject], set[str]]
    ) -> FrameResult:
        """One frame at time `t` (tz-aware): the findings in violation now and the ones that ended."""
        out = FrameResult(t)
        if self._last_t is not None and t < self._last_t:
            # a frame from the past would rewind dwell clocks: refuse it whole, state untouched
            for obj in objects:
                out.refused.append((obj, Refusal(OUT_OF_ORDER, f"frame time {t.isoformat()} is before the "
                                                               f"previous frame's {self._last_t.isoformat()}")))
            self.refused += len(objects)
            return out
        self._last_t = t
        good: list[TrackedObject] = []
        tids: set[str] = set()
        for obj in objects:
            why = refusal(obj)
            if why is None and obj.track_id in tids:
                why = Refusal(DUPLICATE_TRACK, f"track {obj.track_id!r} appears twice in one frame")
            if why is None:
                good.append(obj)
                tids.add(obj.track_id)
            else:
                out.refused.append((obj, why))
                self.refused += 1
        open_zones = self._active_zones(t)
        for zid in list(self._baselines):
            if zid not in open_zones:
                del self._baselines[zid]
        r = self.rules
        seen: set[Key] = set()
        in_zones = [(o, {z for z in zone_ids_for(o) if z in open_zones}) for o in good]
        for obj, zids in in_zones:
            for zid in zids:
                zkind = self.kinds[zid]
                if r.parking.enabled and zkind in r.parking.zone_kinds and obj.kind in r.parking.kinds:
                    self._parking(t, obj, zid, seen, out)
                if r.vending.enabled and zkind in r.vending.zone_kinds and obj.kind in r.vending.kinds:
                    self._vending(t, obj, zid, good, seen, out)
                if r.boat.enabled and zkind in r.boat.zone_kinds and obj.kind in r.boat.kinds:
                    self._boat(t, obj, zid, seen, out)
        if r.dumping.enabled:
            self._dumping(t, good, in_zones, open_zones, seen, out)
        if r.burning.enabled:
            self._burning(t, good, in_zones, open_zones, seen, out)
        for key in [k for k in self._states if k not in seen]:
            state = self._states.pop(key)
            if state.violating:
                zid = key[1]
                reason: EndReason = "schedule_closed" if zid is not None and zid not in open_zones else "left"
                out.closed.append(Closed(key[0], zid, key[2], reason))
        return out

    def _state(self, key: Key, t: datetime, obj: TrackedObject | None, seen: set[Key]) -> _State:
        seen.add(key)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _State(t, obj)
        return state

    def _parking(self, t: datetime, obj: TrackedObject, zid: str, seen: set[Key], out: FrameResult) -> None:
        rule = self.rules.parking
        s = self._state((PARKING, zid, obj.track_id), t, obj, seen)
        s.track_still(obj, rule.stationary_px, rule.stationary_m)
        still = _secs(s.still_since, t)
        if not s.violating and still > rule.dwell_s:
            s.violating = True
            s.since = s.still_since
        if s.violating:
            out.active.append(Finding(PARKING, zid, obj.track_id, obj, s.since,
                                      {"dwell_s": _secs(s.since, t), "still_s": still}))

    def _vending(self, t: datetime, obj: TrackedObject, zid: str, frame: Sequence[TrackedObject],
                 seen: set[Key], out: FrameResult) -> None:
        rule = self.rules.vending
        stalls = [o for o in frame if o.kind in rule.stall_kinds and box_gap(o.box, obj.box) <= rule.near_px]
        key = (VENDING, zid, obj.track_id)
        if not stalls and not self._states.get(key, _NOT_VIOLATING).violating:
            self._states.pop(key, None)  # the dwell counts only while a stall is with the person
            return
        s = self._state(key, t, obj, seen)
        if not s.violating and _secs(s.since, t) >= rule.dwell_s:
            s.violating = True
        if s.violating:
            out.active.append(Finding(VENDING, zid, obj.track_id, obj, s.since,
                                      {"dwell_s": _secs(s.since, t), "stall_tracks": [o.track_id for o in stalls]}))

    def _boat(self, t: datetime, obj: TrackedObject, zid: str, seen: set[Key], out: FrameResult) -> None:
        s = self._state((BOAT, zid, obj.track_id), t, obj, seen)
        if not s.violating and _secs(s.since, t) >= self.rules.boat.min_s:
            s.violating = True
        if s.violating:
            out.active.append(Finding(BOAT, zid, obj.track_id, obj, s.since, {"dwell_s": _secs(s.since, t)}))

    def _dumping(self, t: datetime, frame: Sequence[TrackedObject], in_zones: list[tuple[TrackedObject, set[str]]],
                 open_zones: set[str], seen: set[Key], out: FrameResult) -> None:
        rule = self.rules.dumping
        piles = [o for o in frame if o.kind in rule.kinds]
        for zid in open_zones:
            if self.kinds[zid] not in rule.zone_kinds:
                continue
            base = self._baselines.get(zid)
            if base is None:
                base = self._baselines[zid] = _Baseline(t)
            if _secs(base.start, t) <= rule.baseline_s:
                # the whole frame's piles: with inertia, a pile already there is not yet a zone member
                for o in piles:
                    base.add(o)
        for obj, zids in in_zones:
            if obj.kind not in rule.kinds:
                continue
            for zid in zids:
                base = self._baselines.get(zid)
                if base is None or base.holds(obj, rule):
                    continue
                s = self._state((DUMPING, zid, obj.track_id), t, obj, seen)
                s.track_still(obj, rule.stationary_px, rule.stationary_m)
                if not s.violating and _secs(s.still_since, t) >= rule.persist_s:
                    s.violating = True
                    s.since = s.still_since
                if s.violating:
                    out.active.append(Finding(DUMPING, zid, obj.track_id, obj, s.since,
                                              {"persist_s": _secs(s.since, t)}))

    def _burning(self, t: datetime, frame: Sequence[TrackedObject], in_zones: list[tuple[TrackedObject, set[str]]],
                 open_zones: set[str], seen: set[Key], out: FrameResult) -> None:
        rule = self.rules.burning
        best: dict[str | None, TrackedObject] = {}
        for obj, zids in in_zones:
            if obj.kind not in rule.kinds:
                continue
            places: set[str | None] = {z for z in zids if self.kinds[z] in rule.zone_kinds}
            if rule.anywhere and not places:
                places.add(None)  # outside every watched zone; inside one, that zone's finding covers it
            for zid in places:
                if zid not in best or obj.score > best[zid].score:
                    best[zid] = obj
        watched: list[str | None] = [z for z in open_zones if self.kinds[z] in rule.zone_kinds]
        if rule.anywhere:
            watched.append(None)
        for zid in watched:
            key: Key = (BURNING, zid, "")
            obj = best.get(zid)
            s = self._states.get(key)
            if obj is None:
                if s is None:
                    continue
                s.missing += 1
                if s.missing >= rule.clear_frames:
                    del self._states[key]
                    if s.violating:
                        out.closed.append(Closed(BURNING, zid, "", "cleared"))
                else:
                    seen.add(key)  # a short gap: the run goes on, the frame does not count
                continue
            s = self._state(key, t, obj, seen)
            if s.missing:
                s.missing = 0
            s.frames += 1
            if not s.violating and ((rule.min_frames is not None and s.frames >= rule.min_frames)
                                    or (rule.min_s is not None and _secs(s.since, t) >= rule.min_s)):
                s.violating = True
            if s.violating:
                out.active.append(Finding(BURNING, zid, "", obj, s.since,
                                          {"frames": s.frames, "sustained_s": _secs(s.since, t)}))


class _NotViolating:
    violating = False


_NOT_VIOLATING = _NotViolating()
