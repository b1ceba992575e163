"""Video violation rules and their alert lifecycle: dwell, stationarity, schedule, inertia, burning, dumping."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.video.image_zones import ImageZoneConfig, ImageZones, Inertia, ZoneMembership
from detectors.video.tracks import Box, TrackedObject
from detectors.video.video_alerts import VideoAlertEvent, VideoAlerts
from detectors.video.violations import (
    BOAT,
    BURNING,
    DUMPING,
    PARKING,
    VENDING,
    BoatRule,
    BurningRule,
    DumpingRule,
    ParkingRule,
    VendingRule,
    ViolationEngine,
    ViolationRules,
)
from geo.schedule import Schedule
from geo.zones import Zone

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)  # 16:00 in Asia/Shanghai
EPS = 0.01


@dataclass(frozen=True)
class Z:
    id: str
    kind: str
    schedule: Schedule | None = None


def engine(rules: ViolationRules, *zones: Z) -> ViolationEngine:
    return ViolationEngine.for_zones(rules, zones)


def car(t: datetime, x: float = 100.0, tid: str = "c1", kind: str = "car", score: float = 0.8,
        ground: tuple[float, float] | None = None) -> TrackedObject:
    return TrackedObject(tid, kind, score, Box(x, 500, x + 200, 700), t, ground)


def run(eng: ViolationEngine, frames: Sequence[tuple[datetime, list[TrackedObject]]],
        zone_ids: dict[str, set[str]] | None = None, alerts: VideoAlerts | None = None) -> list[VideoAlertEvent]:
    """Feed frames; every object is in the zones `zone_ids[track]` (default: every zone the engine knows)."""
    alerts = alerts or VideoAlerts("cam-1", update_interval_s=1e9)
    everywhere = set(eng.kinds)
    events: list[VideoAlertEvent] = []
    for t, objs in frames:
        res = eng.step(t, objs, lambda o: (zone_ids or {}).get(o.track_id, everywhere))
        events += alerts.apply(res)
    return events


def kinds(events: list[VideoAlertEvent]) -> list[tuple[str, str]]:
    return [(e.type, e.rule_id) for e in events if e.type != "update"]


def every(step_s: float, until_s: float, make: Callable[[datetime, int], list[TrackedObject]]
          ) -> list[tuple[datetime, list[TrackedObject]]]:
    n = round(until_s / step_s)
    return [(T0 + timedelta(seconds=i * step_s), make(T0 + timedelta(seconds=i * step_s), i)) for i in range(n + 1)]


@pytest.mark.parametrize(("until_s", "opened"), [(60 - EPS, False), (60.0, False), (60 + EPS, True)])
def test_parking_dwell_edges(until_s: float, opened: bool) -> None:
    eng = engine(ViolationRules(parking=ParkingRule(dwell_s=60)), Z("np", "no_parking"))
    frames = [(T0, [car(T0)]), (T0 + timedelta(seconds=until_s), [car(T0 + timedelta(seconds=until_s))])]
    assert kinds(run(eng, frames)) == ([("open", PARKING)] if opened else [])


@pytest.mark.parametrize(
    ("step_px", "opened"),
    [(0.0, True), (14.0 / 61, True), (16.0 / 61, False), (1.0, False), (5.0, False)],
)
def test_parking_stationary_vs_moving(step_px: float, opened: bool) -> None:
    # one frame a second for 61 s; a car creeping step_px a frame moves 61 * step_px over it (limit 15 px)
    eng = engine(ViolationRules(parking=ParkingRule(dwell_s=60, stationary_px=15)), Z("np", "no_parking"))
    frames = every(1.0, 61.0, lambda t, i: [car(t, x=100 + i * step_px)])
    assert (("open", PARKING) in kinds(run(eng, frames))) is opened


@pytest.mark.parametrize(("metres_per_s", "opened"), [(0.0, True), (0.02, True), (0.1, False)])
def test_parking_stationary_on_the_ground(metres_per_s: float, opened: bool) -> None:
    # drone frames: the box jumps as the camera moves, the ground point decides (limit 2 m over 61 s)
    eng = engine(ViolationRules(parking=ParkingRule(dwell_s=60, stationary_m=2)), Z("np", "no_parking"))
    deg_per_m = 1 / 111_320
    frames = every(1.0, 61.0, lambda t, i: [car(t, x=100 + 37 * i, ground=(113.1 + i * metres_per_s * deg_per_m
                                                                            / 0.92, 23.0))])
    assert (("open", PARKING) in kinds(run(eng, frames))) is opened


def test_parking_only_for_vehicles() -> None:
    eng = engine(ViolationRules(parking=ParkingRule(dwell_s=0)), Z("np", "no_parking"))
    frames = every(1.0, 5.0, lambda t, i: [car(t, kind="person", tid="p"), car(t, kind="truck", tid="t")])
    assert [e.subject for e in run(eng, frames) if e.type == "open"] == ["t"]


CLOSES_22 = Schedule(hours=({"start": "08:00", "end": "22:00"},))  # Asia/Shanghai


def vendor(t: datetime, with_stall: bool = True, gap_px: float = 10.0) -> list[TrackedObject]:
    person = TrackedObject("p1", "person", 0.9, Box(100, 300, 160, 600), t)
    stall = TrackedObject("s1", "stall", 0.7, Box(160 + gap_px, 400, 360, 600), t)
    return [person, stall] if with_stall else [person]


def local(hh: int, mm: int) -> datetime:
    return datetime(2026, 5, 4, hh - 8, mm, tzinfo=UTC)  # Asia/Shanghai is UTC+8


@pytest.mark.parametrize(
    ("start", "opened"),
    [(local(21, 58), True), (local(21, 59), False), (local(22, 1), False)],
)
def test_vending_schedule_edges(start: datetime, opened: bool) -> None:
    # dwell 60 s: from 21:58 it is vending at 21:59 (still in hours); from 21:59 the dwell ends at 22:00, closed
    eng = engine(ViolationRules(vending=VendingRule(dwell_s=60)), Z("nv", "no_vending", CLOSES_22))
    frames = [(start + timedelta(seconds=s), vendor(start + timedelta(seconds=s))) for s in range(0, 121, 10)]
    assert (("open", VENDING) in kinds(run(eng, frames))) is opened


def test_vending_in_hours_at_2159_not_at_2201() -> None:
    eng = engine(ViolationRules(vending=VendingRule(dwell_s=0)), Z("nv", "no_vending", CLOSES_22))
    assert kinds(run(eng, [(local(21, 59), vendor(local(21, 59)))])) == [("open", VENDING)]
    eng = engine(ViolationRules(vending=VendingRule(dwell_s=0)), Z("nv", "no_vending", CLOSES_22))
    assert kinds(run(eng, [(local(22, 1), vendor(local(22, 1)))])) == []


def test_vending_alert_ends_when_schedule_closes() -> None:
    eng = engine(ViolationRules(vending=VendingRule(dwell_s=30)), Z("nv", "no_vending", CLOSES_22))
    start = local(21, 58)
    frames = [(start + timedelta(seconds=s), vendor(start + timedelta(seconds=s))) for s in range(0, 241, 30)]
    events = run(eng, frames)
    assert kinds(events) == [("open", VENDING), ("end", VENDING)]
    end = events[-1]
    assert end.end_reason == "schedule_closed"
    assert end.at == local(22, 0) and end.end == local(22, 0) - timedelta(seconds=30)


@pytest.mark.parametrize(("gap_px", "opened"), [(0.0, True), (30.0, True), (30.5, False), (-50.0, True)])
def test_vending_needs_a_stall_nearby(gap_px: float, opened: bool) -> None:
    eng = engine(ViolationRules(vending=VendingRule(dwell_s=10, near_px=30)), Z("nv", "no_vending"))
    frames = every(1.0, 12.0, lambda t, i: vendor(t, gap_px=gap_px))
    assert (("open", VENDING) in kinds(run(eng, frames))) is opened


def test_vending_dwell_restarts_without_stall() -> None:
    eng = engine(ViolationRules(vending=VendingRule(dwell_s=10)), Z("nv", "no_vending"))
    # the stall is missing at second 6: the 10 s dwell counts again from second 7 and ends at 17
    frames = every(1.0, 16.0, lambda t, i: vendor(t, with_stall=i != 6))
    assert kinds(run(eng, frames)) == []
    frames = every(1.0, 17.0, lambda t, i: vendor(t, with_stall=i != 6))
    assert kinds(run(ViolationEngine(eng.rules, eng.kinds, eng.schedules), frames)) == [("open", VENDING)]


def test_boat_any_dwell() -> None:
    eng = engine(ViolationRules(), Z("rv", "river_protection"))
    boat = TrackedObject("b1", "boat", 0.6, Box(0, 0, 50, 20), T0, (113.1, 23.0))
    events = run(eng, [(T0, [boat])])
    assert kinds(events) == [("open", BOAT)] and events[0].start == T0


@pytest.mark.parametrize(("frames_seen", "opened"), [(4, False), (5, True)])
def test_smoke_sustained_frames(frames_seen: int, opened: bool) -> None:
    eng = engine(ViolationRules(burning=BurningRule(min_frames=5)), Z("bw", "burning_watch"))
    # track ids change every frame: the plume is one finding per zone
    frames = [(T0 + timedelta(seconds=i), [TrackedObject(f"s{i}", "smoke", 0.5, Box(0, 0, 90, 90),
                                                         T0 + timedelta(seconds=i))]) for i in range(frames_seen)]
    frames += [(T0 + timedelta(seconds=frames_seen + i), []) for i in range(10)]
    expected = [("open", BURNING), ("end", BURNING)] if opened else []
    events = run(eng, frames)
    assert kinds(events) == expected
    if opened:
        assert events[-1].end_reason == "cleared"


@pytest.mark.parametrize(("span_s", "opened"), [(30 - EPS, False), (30.0, True)])
def test_smoke_sustained_seconds_anywhere(span_s: float, opened: bool) -> None:
    rules = ViolationRules(burning=BurningRule(min_frames=None, min_s=30, anywhere=True))
    eng = engine(rules)
    frames = [(T0 + timedelta(seconds=s), [TrackedObject("f", "fire", 0.5, Box(0, 0, 9, 9), T0 + timedelta(seconds=s))])
              for s in (0.0, span_s / 2, span_s)]
    events = run(eng, frames)
    assert kinds(events) == ([("open", BURNING)] if opened else [])
    if opened:
        assert events[0].zone_id is None


def test_smoke_short_gap_keeps_the_run() -> None:
    eng = engine(ViolationRules(burning=BurningRule(min_frames=5, clear_frames=3)), Z("bw", "burning_watch"))
    seen = [1, 1, 0, 0, 1, 1, 1]  # two missing frames (< 3) do not break the run; five frames with smoke
    frames = [(T0 + timedelta(seconds=i), [TrackedObject("s", "smoke", 0.5, Box(0, 0, 9, 9), T0)] if v else [])
              for i, v in enumerate(seen)]
    assert kinds(run(eng, frames)) == [("open", BURNING)]


def pile(t: datetime, tid: str, x: float) -> TrackedObject:
    return TrackedObject(tid, "garbage", 0.6, Box(x, 600, x + 80, 660), t)


def test_dumping_baseline_is_not_dumping() -> None:
    eng = engine(ViolationRules(dumping=DumpingRule(persist_s=60)), Z("dw", "dumping_watch"))
    # "old" is there when the watch starts (and comes back under a new track id); "new" appears at 10 s
    frames = every(5.0, 100.0, lambda t, i: [pile(t, "old" if i < 8 else "old-again", 100)]
                   + ([pile(t, "new", 500)] if i >= 2 else []))
    events = run(eng, frames)
    assert [(e.type, e.subject) for e in events] == [("open", "new")]
    assert events[0].rule_id == DUMPING and events[0].start == T0 + timedelta(seconds=10)


@pytest.mark.parametrize(("seen_s", "opened"), [(60 - EPS, False), (60.0, True)])
def test_dumping_persist_edges(seen_s: float, opened: bool) -> None:
    eng = engine(ViolationRules(dumping=DumpingRule(persist_s=60)), Z("dw", "dumping_watch"))
    t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=1 + seen_s)
    events = run(eng, [(T0, []), (t1, [pile(t1, "n", 300)]), (t2, [pile(t2, "n", 300)])])
    assert kinds(events) == ([("open", DUMPING)] if opened else [])


KERB = ImageZoneConfig(id="kerb", kind="no_parking", coordinates=((0, 0.6), (1, 0.6), (1, 0.8), (0, 0.8)),
                       inertia=3)


@pytest.mark.parametrize(
    ("outside_frames", "opens"),
    [(0, 1), (1, 1), (2, 1), (3, 2), (6, 2)],
)
def test_leave_and_reenter_within_inertia(outside_frames: int, opens: int) -> None:
    # parked at y 700 (in the kerb strip) for 20 frames, pulled out to y 900 for some frames, back for 20
    zones = ImageZones([KERB])
    eng = ViolationEngine.for_zones(ViolationRules(parking=ParkingRule(dwell_s=5, stationary_px=500)),
                                    zones.zones.values())
    alerts = VideoAlerts("cam-1")
    ys = [700] * 20 + [900] * outside_frames + [700] * 20
    events: list[VideoAlertEvent] = []
    for i, y in enumerate(ys):
        t = T0 + timedelta(seconds=i)
        o = TrackedObject("c", "car", 0.8, Box(100, y - 200, 300, y), t)
        members = zones.update([o], 1000, 1000)
        events += alerts.apply(eng.step(t, [o], lambda ob, m=members: m.get(ob.track_id, set())))
    assert sum(e.type == "open" for e in events) == opens
    assert sum(e.type == "end" for e in events) == opens - 1
    assert all(e.end_reason == "left" for e in events if e.type == "end")


def test_updates_on_better_score_and_interval() -> None:
    eng = engine(ViolationRules(), Z("rv", "river_protection"))
    alerts = VideoAlerts("cam-1", update_interval_s=10)
    scores = [0.5, 0.4, 0.6, 0.6, 0.6]
    times = [0, 1, 2, 5, 12]
    frames = [(T0 + timedelta(seconds=s), [TrackedObject("b", "boat", sc, Box(0, 0, 9, 9), T0 + timedelta(seconds=s))])
              for s, sc in zip(times, scores, strict=True)]
    events = run(eng, frames, alerts=alerts)
    assert [(e.type, (e.at - T0).seconds) for e in events] == [("open", 0), ("update", 2), ("update", 12)]
    assert events[-1].best.score == 0.6 and events[-1].frames == 5
    assert [e.type for e in alerts.close_all(T0 + timedelta(seconds=13))] == ["end"]


def test_bad_objects_are_refused_not_raised() -> None:
    eng = engine(ViolationRules(), Z("rv", "river_protection"))
    bad = TrackedObject("b", "boat", 2.0, Box(0, 0, 9, 9), T0)
    res = eng.step(T0, [bad], lambda o: {"rv"})
    assert [r.code for _, r in res.refused] == ["bad_score"] and res.active == [] and eng.refused == 1


def test_rules_config_forbids_unknown_fields() -> None:
    with pytest.raises(ValueError):
        ViolationRules.model_validate({"parking": {"dwell": 10}})


# --- property: random track sequences never raise and never hold two open alerts for one key -----------------

ZONES = {
    "np": Z("np", "no_parking"),
    "nv": Z("nv", "no_vending", Schedule(hours=({"start": "16:00", "end": "16:01"},))),
    "rv": Z("rv", "river_protection"),
    "bw": Z("bw", "burning_watch"),
    "dw": Z("dw", "dumping_watch"),
}
KINDS = ["car", "truck", "person", "stall", "cart", "boat", "smoke", "fire", "garbage", "rubble", "dog"]

detection = st.tuples(
    st.sampled_from(["1", "2", "3", "4"]), st.sampled_from(KINDS), st.floats(0, 1),
    st.floats(0, 900), st.floats(0, 900), st.floats(1, 100), st.frozensets(st.sampled_from(sorted(ZONES))),
)
frame = st.tuples(st.floats(0.0, 30.0), st.lists(detection, max_size=5))


@settings(max_examples=150, deadline=None)
@given(st.lists(frame, max_size=40), st.booleans(), st.sampled_from([None, Inertia(1, 1), Inertia(3, 2)]))
def test_random_sequences_keep_one_open_alert_per_key(frames: list, anywhere: bool, inertia: Inertia | None) -> None:
    rules = ViolationRules(parking=ParkingRule(dwell_s=5), vending=VendingRule(dwell_s=2),
                           burning=BurningRule(min_frames=2, clear_frames=2, anywhere=anywhere),
                           dumping=DumpingRule(persist_s=3))
    eng = ViolationEngine.for_zones(rules, ZONES.values())
    alerts = VideoAlerts("cam", update_interval_s=3)
    is_open: set = set()
    membership = ZoneMembership(inertia or Inertia(1, 1))
    t = T0
    for dt, dets in frames:
        t += timedelta(seconds=dt)
        objs, zids = [], {}
        for tid, kind, score, x, y, size, zs in dets:
            objs.append(TrackedObject(tid, kind, score, Box(x, y, x + size, y + size), t))
            zids.setdefault(tid, set()).update(zs)
        if inertia is not None:  # the hits through the debouncer, as a pipeline feeds them
            zids = membership.update(zids)
        for e in alerts.apply(eng.step(t, objs, lambda o, z=zids: z.get(o.track_id, set()))):
            if e.type == "open":
                assert e.key not in is_open
                is_open.add(e.key)
            else:
                assert e.key in is_open
                if e.type == "end":
                    is_open.remove(e.key)
        assert is_open == alerts.open_keys


def test_out_of_order_frame_and_duplicate_track_are_refused() -> None:
    eng = engine(ViolationRules(boat=BoatRule(min_s=10)), Z("rv", "river_protection"))
    boat = TrackedObject("b", "boat", 0.6, Box(0, 0, 9, 9), T0)
    first = eng.step(T0, [boat, boat], lambda o: {"rv"})
    assert [r.code for _, r in first.refused] == ["duplicate_track"]
    early = T0 - timedelta(seconds=1)
    back = eng.step(early, [TrackedObject("b", "boat", 0.6, Box(0, 0, 9, 9), early)], lambda o: {"rv"})
    assert [r.code for _, r in back.refused] == ["out_of_order"]
    later = T0 + timedelta(seconds=10)
    assert [f.rule_id for f in eng.step(later, [boat], lambda o: {"rv"}).active] == [BOAT]  # dwell kept from T0


def test_geo_zone_with_local_schedule() -> None:
    # a geofence from geo.zones (drone frames): kind and schedule read from the zone itself
    zone = Zone.from_shape(shapely.box(113.0, 23.0, 113.01, 23.01), id="nv-geo", kind="no_vending",
                           schedule=CLOSES_22)
    eng = ViolationEngine.for_zones(ViolationRules(vending=VendingRule(dwell_s=0)), [zone])
    hits = run(eng, [(local(21, 59), vendor(local(21, 59))), (local(22, 0), vendor(local(22, 0)))])
    assert [(e.type, e.zone_id, e.end_reason) for e in hits] == [("open", "nv-geo", None),
                                                                  ("end", "nv-geo", "schedule_closed")]
    with pytest.raises(ValueError):
        ViolationEngine(ViolationRules(), {}, {"nowhere": CLOSES_22})


def test_anywhere_smoke_inside_a_watched_zone_is_that_zones_finding() -> None:
    eng = engine(ViolationRules(burning=BurningRule(min_frames=1, anywhere=True)), Z("bw", "burning_watch"))
    inside = TrackedObject("s1", "smoke", 0.5, Box(0, 0, 9, 9), T0)
    outside = TrackedObject("s2", "fire", 0.7, Box(500, 0, 509, 9), T0)
    events = run(eng, [(T0, [inside, outside])], zone_ids={"s1": {"bw"}, "s2": set()})
    assert sorted((e.zone_id or "-", e.best.track_id) for e in events) == [("-", "s2"), ("bw", "s1")]
