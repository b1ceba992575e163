"""Pose pairing: interpolation (angles on the circle), exact hits, the ends of a track, gap and no-fix refusals,
the live track's history bound, and a frame marked placed or unplaced."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.models import Pose
from ingest.video.frames import Frame, FrameTime
from ingest.video.pose_pairing import LivePoseTrack, PoseTrack, interpolate_angle, pair_frame

T0 = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def pose(s: float, *, lat: float | None = 30.0, lon: float | None = 120.0, yaw: float = 0.0,
         gimbal_pitch: float = -90.0, alt: float | None = 100.0, roll: float | None = 0.0) -> Pose:
    return Pose(time=at(s), device_id="drone-1", lat=lat, lon=lon, alt_rel_m=alt, yaw=yaw, roll=roll,
                gimbal_yaw=yaw, gimbal_pitch=gimbal_pitch, source="srt")


TRACK = [
    pose(0.0, lat=30.0, yaw=170.0, alt=100.0),
    pose(1.0, lat=30.001, yaw=-170.0, alt=110.0, gimbal_pitch=-80.0),
    pose(2.0, lat=30.002, yaw=-10.0, alt=120.0),
    pose(3.0, lat=30.003, yaw=10.0, alt=None),
    pose(10.0, lat=30.01, yaw=0.0),  # after a 7 s hole
    pose(11.0, lat=None, lon=None),  # in the dock: no fix
    pose(12.0, lat=None, lon=None),
]


# (t, reason, lat, yaw, alt_rel_m, offset_s)
CASES = [
    (0.0, None, 30.0, 170.0, 100.0, 0.0),            # exact hit at the first sample
    (1.0, None, 30.001, -170.0, 110.0, 0.0),         # exact hit
    (0.5, None, 30.0005, -180.0, 105.0, 0.5),        # yaw 170 -> -170 passes 180, not 0
    (0.25, None, 30.00025, 175.0, 102.5, 0.25),
    (0.75, None, 30.00075, -175.0, 107.5, 0.25),
    (2.5, None, 30.0025, 0.0, 120.0, 0.5),           # -10 -> 10 passes 0; alt from the nearer when one lacks it
    (-0.4, None, 30.0, 170.0, 100.0, 0.4),           # before the first, within the gap: the first sample
    (-1.5, "pose_gap", None, None, None, 1.5),       # before the first, beyond the gap
    (3.5, "pose_gap", None, None, None, 0.5),        # the bracket 3..10 spans more than 2 * max_gap
    (6.5, "pose_gap", None, None, None, 3.5),
    (10.0, None, 30.01, 0.0, 100.0, 0.0),
    (11.5, "no_fix", None, None, None, 0.5),         # only samples without a fix nearby
    (10.9, None, 30.01, 0.0, 100.0, 0.9),            # after the last fix within the gap: the last fix
    (20.0, "pose_gap", None, None, None, 10.0),
]


@pytest.mark.parametrize(("s", "reason", "lat", "yaw", "alt", "offset"), CASES)
@pytest.mark.parametrize("kind", ["fixed", "live"])
def test_pairing_table(kind: str, s: float, reason: str | None, lat: float | None, yaw: float | None,
                       alt: float | None, offset: float | None) -> None:
    if kind == "fixed":
        track: PoseTrack | LivePoseTrack = PoseTrack(list(reversed(TRACK)), max_gap_s=1.0)
    else:
        track = LivePoseTrack(max_gap_s=1.0, history_s=600.0)
        for p in (TRACK[2], TRACK[0], TRACK[1], *TRACK[3:]):  # one arrives late
            track.add(p)
    got = track.pair(at(s))
    assert got.reason == reason
    assert got.offset_s == pytest.approx(offset)
    if reason is None:
        assert got.pose is not None
        assert got.pose.time == at(s)
        assert got.pose.lat == pytest.approx(lat)
        assert got.pose.yaw == pytest.approx(yaw, abs=1e-9)
        assert got.pose.gimbal_yaw == pytest.approx(yaw, abs=1e-9)
        assert got.pose.alt_rel_m == pytest.approx(alt)
    else:
        assert got.pose is None


def test_pitch_interpolates_linearly_between_close_values() -> None:
    got = PoseTrack(TRACK, max_gap_s=1.0).pair(at(0.5))
    assert got.pose is not None and got.pose.gimbal_pitch == pytest.approx(-85.0)


def test_longitude_across_the_antimeridian() -> None:
    track = PoseTrack([pose(0.0, lon=179.9), pose(1.0, lon=-179.9)], max_gap_s=1.0)
    got = track.pair(at(0.5))
    assert got.pose is not None and abs(got.pose.lon) == pytest.approx(180.0)


def test_empty_track() -> None:
    assert PoseTrack([], max_gap_s=1.0).pair(T0).reason == "no_poses"
    assert LivePoseTrack(max_gap_s=1.0, history_s=10.0).pair(T0).reason == "no_poses"


def test_live_history_is_bounded() -> None:
    track = LivePoseTrack(max_gap_s=1.0, history_s=5.0, max_samples=4)
    for s in range(20):
        track.add(pose(float(s)))
    assert len(track) == 4
    assert track.pair(at(19.0)).reason is None
    assert track.pair(at(10.0)).reason == "pose_gap"  # dropped from the history


def test_live_track_from_several_threads() -> None:
    track = LivePoseTrack(max_gap_s=1.0, history_s=1e6)

    def feed(start: int) -> None:
        for s in range(start, 2000, 4):
            track.add(pose(s * 0.1))

    threads = [threading.Thread(target=feed, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(track) == 2000
    assert all(track.pair(at(s * 0.1 + 0.05)).reason is None for s in range(0, 1999, 97))


def _frame(s: float) -> Frame:
    return Frame(stream_id="s", device_id="drone-1", seq=1, image=np.zeros((2, 2, 3), np.uint8), time=at(s),
                 time_source=FrameTime.FILE, received_at=at(s))


def test_pair_frame_sets_pose_or_reason() -> None:
    track = PoseTrack(TRACK, max_gap_s=1.0)
    placed, unplaced = _frame(0.5), _frame(6.0)
    pair_frame(placed, track)
    pair_frame(unplaced, track)
    assert placed.placed and placed.pose_offset_s == pytest.approx(0.5) and placed.unplaced_reason is None
    assert not unplaced.placed and unplaced.unplaced_reason == "pose_gap" and unplaced.pose_offset_s == 3.0


def _arc(a: float, b: float) -> float:
    return abs((b - a + 180.0) % 360.0 - 180.0)


angles = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False)


@given(a=angles, b=angles, f=st.floats(min_value=0.0, max_value=1.0))
def test_interpolated_angles_lie_on_the_shorter_arc(a: float, b: float, f: float) -> None:
    v = interpolate_angle(a, b, f)
    assert -180.0 <= v < 180.0
    # on the shorter arc: the two pieces add up to the arc, each in proportion
    assert _arc(a, v) + _arc(v, b) == pytest.approx(_arc(a, b), abs=1e-7)
    assert _arc(a, v) == pytest.approx(f * _arc(a, b), abs=1e-7)


@given(a=angles, b=angles, f=st.floats(min_value=0.0, max_value=1.0))
def test_paired_yaw_lies_on_the_shorter_arc(a: float, b: float, f: float) -> None:
    track = PoseTrack([pose(0.0, yaw=a), pose(1.0, yaw=b)], max_gap_s=1.0)
    got = track.pair(at(f))
    assert got.pose is not None and got.pose.yaw is not None
    assert _arc(a, got.pose.yaw) + _arc(got.pose.yaw, b) == pytest.approx(_arc(a, b), abs=1e-6)
