"""Fence events: enter / exit / dwell with hysteresis; GPS jitter on a border must not flap."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import shapely

from geo.fences import FenceConfig, FenceTracker, depth_inside_m, distance_outside_m
from geo.registry import ZoneRegistry
from geo.schedule import Schedule
from geo.zones import Zone

CST = timezone(timedelta(hours=8))
T0 = datetime(2025, 1, 6, 10, 0, tzinfo=CST)
LAT0 = 23.0
M_LON = 1.0 / (111_320.0 * math.cos(math.radians(LAT0)))  # degrees of longitude per metre
M_LAT = 1.0 / 110_574.0
# A 100 m x 100 m street block in Foshan; its east edge is at EAST.
WEST, EAST = 113.100, 113.100 + 100 * M_LON
SOUTH, NORTH = LAT0, LAT0 + 100 * M_LAT
MID_LAT = (SOUTH + NORTH) / 2


def block(**kw: object) -> Zone:
    fields: dict = {"id": "blk", "kind": "no_vending", "name": "block"}
    fields.update(kw)
    return Zone.from_shape(shapely.box(WEST, SOUTH, EAST, NORTH), **fields)


def east_of_edge(metres: float) -> float:
    return EAST + metres * M_LON


def kinds(events: list) -> list[str]:
    return [e.kind for e in events]


def run(tracker: FenceTracker, offsets_m: list[float], start: datetime = T0, step_s: float = 1.0) -> list:
    out = []
    for i, off in enumerate(offsets_m):
        out += tracker.update("veh-1", east_of_edge(off), MID_LAT, start + timedelta(seconds=i * step_s))
    return out


def test_metric_distances() -> None:
    reg = ZoneRegistry([block()])
    idx, z = reg.index, reg.index.zones[0]
    assert distance_outside_m(idx, z, east_of_edge(7.0), MID_LAT) == pytest.approx(7.0, abs=0.05)
    assert distance_outside_m(idx, z, east_of_edge(-7.0), MID_LAT) == 0.0
    assert depth_inside_m(idx, z, east_of_edge(-7.0), MID_LAT) == pytest.approx(7.0, abs=0.05)
    assert depth_inside_m(idx, z, east_of_edge(7.0), MID_LAT) == 0.0


def test_jitter_on_the_border_does_not_flap() -> None:
    rng = np.random.default_rng(7)
    jitter = rng.normal(0.0, 2.0, 300).clip(-4.5, 4.5).tolist()  # 2 m sigma GPS noise around the edge
    assert sum(j > 0 for j in jitter) > 100 and sum(j < 0 for j in jitter) > 100  # really crosses
    tracker = FenceTracker(ZoneRegistry([block()]), FenceConfig(exit_buffer_m=5, exit_min_s=3))
    events = run(tracker, jitter)
    assert kinds(events) == ["enter"]
    # then the vehicle really leaves: 20 m out, exit after >= 3 s beyond the buffer
    leave = run(tracker, [20.0] * 6, start=T0 + timedelta(seconds=300))
    assert kinds(leave) == ["exit"]
    assert leave[0].time == T0 + timedelta(seconds=303) and leave[0].reason == "left"
    assert leave[0].group_id == events[0].group_id


def test_without_hysteresis_the_same_jitter_flaps() -> None:
    """Control: proves the jitter above would flap if the tracker had no hysteresis."""
    rng = np.random.default_rng(7)
    jitter = rng.normal(0.0, 2.0, 300).clip(-4.5, 4.5).tolist()
    tracker = FenceTracker(ZoneRegistry([block()]), FenceConfig(exit_buffer_m=0, exit_min_s=0))
    events = run(tracker, jitter)
    assert kinds(events).count("enter") > 20 and kinds(events).count("exit") > 20


def test_returning_within_the_buffer_resets_the_exit_clock() -> None:
    tracker = FenceTracker(ZoneRegistry([block()]), FenceConfig(exit_buffer_m=5, exit_min_s=3))
    events = run(tracker, [-10, 8, 8, 2, 8, 8, 3, 8, 8, 8, 8])
    # beyond the buffer for 2 s at most until the last run of four fixes (t=7..10): exit at t=10
    assert kinds(events) == ["enter", "exit"]
    assert events[1].time == T0 + timedelta(seconds=10)


def test_dwell_once_per_visit_with_group_ids() -> None:
    tracker = FenceTracker(ZoneRegistry([block(dwell_s=10)]), FenceConfig(exit_buffer_m=0, exit_min_s=0))
    events = run(tracker, [-20.0] * 15 + [30.0] + [-20.0] * 12)
    assert kinds(events) == ["enter", "dwell", "exit", "enter", "dwell"]
    enter, dwell, exit_, enter2, _ = events
    assert dwell.time - enter.time == timedelta(seconds=10) and dwell.duration_s == 10
    assert enter.group_id == dwell.group_id == exit_.group_id != enter2.group_id
    assert exit_.duration_s == 15


def test_config_dwell_default_and_zone_override() -> None:
    reg = ZoneRegistry([block()])
    tracker = FenceTracker(reg, FenceConfig(dwell_s=5))
    assert kinds(run(tracker, [-20.0] * 7)) == ["enter", "dwell"]
    tracker = FenceTracker(ZoneRegistry([block(dwell_s=60)]), FenceConfig(dwell_s=5))
    assert kinds(run(tracker, [-20.0] * 7)) == ["enter"]


def test_enter_min_time_filters_brief_touches() -> None:
    tracker = FenceTracker(ZoneRegistry([block()]), FenceConfig(enter_min_s=5, exit_buffer_m=0, exit_min_s=0))
    assert run(tracker, [10, -3, -3, -3, 10, 10]) == []
    events = run(tracker, [-3] * 7, start=T0 + timedelta(minutes=1))
    assert kinds(events) == ["enter"] and events[0].time == T0 + timedelta(minutes=1, seconds=5)
    assert events[0].since == T0 + timedelta(minutes=1)


def test_enter_inset() -> None:
    tracker = FenceTracker(ZoneRegistry([block()]), FenceConfig(enter_inset_m=3))
    assert run(tracker, [-1.0, -2.0, -1.5]) == []  # inside, but within 3 m of the edge
    assert kinds(run(tracker, [-6.0], start=T0 + timedelta(seconds=10))) == ["enter"]


def test_schedule_end_closes_the_visit() -> None:
    zone = block(schedule=Schedule(hours=[{"start": "08:00", "end": "20:00"}]))
    tracker = FenceTracker(ZoneRegistry([zone]))
    t = datetime(2025, 1, 6, 19, 59, tzinfo=CST)
    assert kinds(tracker.update("p", east_of_edge(-20), MID_LAT, t)) == ["enter"]
    ev = tracker.update("p", east_of_edge(-20), MID_LAT, t + timedelta(minutes=1))
    assert kinds(ev) == ["exit"] and ev[0].reason == "zone_inactive"
    assert tracker.update("p", east_of_edge(-20), MID_LAT, t + timedelta(minutes=2)) == []


def test_zone_removed_and_object_forgotten() -> None:
    reg = ZoneRegistry([block(), block(id="blk2")])
    tracker = FenceTracker(reg)
    assert sorted(kinds(tracker.update("p", east_of_edge(-20), MID_LAT, T0))) == ["enter", "enter"]
    assert sorted(tracker.inside("p")) == ["blk", "blk2"]
    reg.remove(["blk2"])
    ev = tracker.update("p", east_of_edge(-20), MID_LAT, T0 + timedelta(seconds=1))
    assert [(e.kind, e.zone_id, e.reason) for e in ev] == [("exit", "blk2", "zone_removed")]
    ev = tracker.forget("p", T0 + timedelta(seconds=2))
    assert [(e.kind, e.zone_id, e.reason) for e in ev] == [("exit", "blk", "object_removed")]
    assert tracker.inside("p") == []


def test_out_of_order_fix_ignored_and_naive_time_refused() -> None:
    tracker = FenceTracker(ZoneRegistry([block()]))
    assert kinds(tracker.update("p", east_of_edge(-20), MID_LAT, T0)) == ["enter"]
    assert tracker.update("p", east_of_edge(50), MID_LAT, T0 - timedelta(seconds=30)) == []
    assert tracker.inside("p") == ["blk"]
    with pytest.raises(ValueError, match="timezone-aware"):
        tracker.update("p", 0.0, 0.0, datetime(2025, 1, 6, 10))


def test_class_and_kind_filters() -> None:
    reg = ZoneRegistry([block(classes=("vending_cart",)), block(id="np", kind="no_parking")])
    tracker = FenceTracker(reg, FenceConfig(kinds=("no_vending",)))
    assert tracker.update("p", east_of_edge(-20), MID_LAT, T0, object_class="person") == []
    ev = tracker.update("c", east_of_edge(-20), MID_LAT, T0, object_class="vending_cart")
    assert [(e.kind, e.zone_id, e.zone_kind) for e in ev] == [("enter", "blk", "no_vending")]


def test_objects_are_independent() -> None:
    tracker = FenceTracker(ZoneRegistry([block()]), FenceConfig(exit_buffer_m=0, exit_min_s=0))
    a = tracker.update("a", east_of_edge(-20), MID_LAT, T0)
    b = tracker.update("b", east_of_edge(20), MID_LAT, T0)
    assert kinds(a) == ["enter"] and b == []
    assert kinds(tracker.update("a", east_of_edge(20), MID_LAT, T0 + timedelta(seconds=1))) == ["exit"]
    assert kinds(tracker.update("b", east_of_edge(-20), MID_LAT, T0 + timedelta(seconds=1))) == ["enter"]
