"""MAVLink tlog: the SITL sample's first and last positions, attitude and gimbal pairing in a tlog written here
(the sample has no gimbal), refusals, and hostile bytes that never raise."""

from __future__ import annotations

import math
import random
import struct
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from ingest.telemetry.detect import detect_format
from ingest.telemetry.tlog import parse_tlog, quaternion_to_euler
from testkit.paths import shared_path

T0 = datetime(2024, 5, 1, 2, 0, 0, tzinfo=UTC).timestamp()


def _sample() -> bytes:
    return shared_path("samples", "mavlink", "ardupilot_quadplane_sitl_vtol.tlog").read_bytes()


def test_sample_first_and_last() -> None:
    data = _sample()
    assert detect_format(data) == "mavlink_tlog"
    parsed = parse_tlog(data, device_id="plane-01")
    assert (parsed.format, len(parsed.poses), parsed.refusals) == ("mavlink_tlog", 807, [])
    first, last = parsed.poses[0], parsed.poses[-1]
    # GLOBAL_POSITION_INT 1 and 807 (tlog times 1533737161.912 and 1533737369.507)
    assert first.time == datetime(2018, 8, 8, 14, 6, 1, 912000, tzinfo=UTC)
    assert (first.lat, first.lon, first.alt_rel_m, first.alt_abs_m) == (-35.3629904, 149.1649392, 6.75, None)
    assert first.extra["alt_msl_m"] == 587.85
    # the first position comes before the first ATTITUDE: its yaw is the heading (hdg 14037 cdeg)
    assert (first.yaw, first.pitch, first.extra["yaw_source"]) == (140.37, None, "hdg")
    assert last.time == datetime(2018, 8, 8, 14, 9, 29, 507000, tzinfo=UTC)
    assert (last.lat, last.lon, last.alt_rel_m, last.extra["alt_msl_m"]) == (-35.3609623, 149.16503, -2.64, 586.64)
    assert last.yaw == pytest.approx(44.51, abs=0.1) and "yaw_source" not in last.extra
    assert all(p.source == "mavlink" and -180 <= p.yaw <= 180 for p in parsed.poses)


class _Writer:
    """A tlog: each packet after its 8-byte big-endian receive time in µs."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.links = {s: mavlink2.MAVLink(None, srcSystem=s, srcComponent=1) for s in (1, 2)}

    def add(self, t: float, msg: mavlink2.MAVLink_message, system: int = 1) -> None:
        self.out += struct.pack(">Q", round(t * 1e6)) + msg.pack(self.links[system])

    def gpi(self, t: float, lat: float, lon: float, system: int = 1) -> None:
        self.add(t, mavlink2.MAVLink_global_position_int_message(
            1000, round(lat * 1e7), round(lon * 1e7), 123_450, 45_600, 0, 0, 0, 9000), system)


def _quat(roll: float, pitch: float, yaw: float) -> list[float]:
    r, p, y = (math.radians(a) / 2 for a in (roll, pitch, yaw))
    return [math.cos(r) * math.cos(p) * math.cos(y) + math.sin(r) * math.sin(p) * math.sin(y),
            math.sin(r) * math.cos(p) * math.cos(y) - math.cos(r) * math.sin(p) * math.sin(y),
            math.cos(r) * math.sin(p) * math.cos(y) + math.sin(r) * math.cos(p) * math.sin(y),
            math.cos(r) * math.cos(p) * math.sin(y) - math.sin(r) * math.sin(p) * math.cos(y)]


def _gimbal(flags: int, roll: float, pitch: float, yaw: float) -> mavlink2.MAVLink_message:
    return mavlink2.MAVLink_gimbal_device_attitude_status_message(0, 0, 1000, flags, _quat(roll, pitch, yaw),
                                                                  0, 0, 0, 0)


def _flight() -> bytes:
    w = _Writer()
    w.add(T0, mavlink2.MAVLink_attitude_message(1000, math.radians(2.0), math.radians(-5.0), 3.5, 0, 0, 0))
    w.add(T0 + 0.01, _gimbal(mavlink2.GIMBAL_DEVICE_FLAGS_YAW_IN_VEHICLE_FRAME, 0.0, -45.0, 30.0))
    w.gpi(T0 + 0.02, 22.5, 113.9)                        # 1: attitude and a vehicle-frame gimbal
    w.add(T0 + 0.1, _gimbal(mavlink2.GIMBAL_DEVICE_FLAGS_YAW_LOCK, 1.0, -90.0 + 1e-3, 0.0))
    w.add(T0 + 0.2, _gimbal(mavlink2.GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME, 0.0, -30.0, -120.0))
    w.gpi(T0 + 0.3, 0.0, 0.0)                            # 2: no fix
    w.gpi(T0 + 0.4, 22.6, 113.8, system=2)               # another vehicle in the same log
    w.out += b"\xfe\x09garbage-bytes-not-a-packet"       # unframed bytes
    w.add(T0 + 0.5, mavlink2.MAVLink_mount_status_message(1, 1, -2000, 150, -1000, 2))
    w.gpi(T0 + 0.6, 22.7, 113.7)                         # 3: MOUNT_STATUS (vehicle-frame yaw)
    w.gpi(T0 + 5.0, 22.8, 113.6)                         # 4: attitude and gimbal too old to use
    return bytes(w.out)


def test_attitude_and_gimbal_pairing() -> None:
    parsed = parse_tlog(_flight(), device_id="uav-01")
    assert len(parsed.poses) == 4
    a, no_fix, mount, stale = parsed.poses
    assert a.time == datetime.fromtimestamp(T0 + 0.02, UTC)
    assert (a.lat, a.lon, a.alt_rel_m, a.extra["alt_msl_m"]) == (22.5, 113.9, 45.6, 123.45)
    vehicle_yaw = math.degrees(3.5) - 360.0  # 200.5° is -159.5°
    assert (a.roll, a.pitch, a.yaw) == pytest.approx((2.0, -5.0, vehicle_yaw))
    assert (a.gimbal_roll, a.gimbal_pitch) == pytest.approx((0.0, -45.0), abs=1e-4)
    assert a.gimbal_yaw == pytest.approx(vehicle_yaw + 30.0, abs=1e-4)  # vehicle frame -> earth frame
    assert (no_fix.has_fix, no_fix.gimbal_yaw, no_fix.gimbal_pitch) == (False, pytest.approx(-120.0),
                                                                        pytest.approx(-30.0))
    assert (mount.gimbal_pitch, mount.gimbal_roll, mount.extra["gimbal_source"]) == (-20.0, 1.5, "MOUNT_STATUS")
    assert mount.gimbal_yaw == pytest.approx(vehicle_yaw - 10.0)
    assert (stale.yaw, stale.gimbal_yaw, stale.extra["yaw_source"]) == (90.0, None, "hdg")
    reasons = [(r.reason, r.position_only) for r in parsed.refusals]
    assert ("no_position", True) in reasons and ("other_vehicle", False) in reasons
    assert ("bad_data", False) in reasons


@settings(max_examples=200, deadline=None)
@given(st.floats(-179.0, 179.0), st.floats(-89.0, 89.0), st.floats(-179.0, 179.0))
def test_quaternion_to_euler_round_trip(roll: float, pitch: float, yaw: float) -> None:
    assert quaternion_to_euler(*_quat(roll, pitch, yaw)) == pytest.approx((roll, pitch, yaw), abs=1e-6)


def test_a_zero_quaternion_is_refused() -> None:
    with pytest.raises(ValueError, match="no rotation"):
        quaternion_to_euler(0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("seed", range(4))
def test_corrupted_bytes_never_raise(seed: int) -> None:
    rnd = random.Random(seed)
    data = bytearray(_sample()[:30_000])
    for _ in range(300):
        data[rnd.randrange(8, len(data))] = rnd.randrange(256)
    parsed = parse_tlog(bytes(data), device_id="d")
    assert parsed.refusals  # the flipped bytes were noticed
    assert all(p.lat is None or -90 <= p.lat <= 90 for p in parsed.poses)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_after_a_valid_prefix_never_raise(tail: bytes) -> None:
    w = _Writer()
    w.gpi(T0, 22.5, 113.9)
    parsed = parse_tlog(bytes(w.out) + tail, device_id="d")
    assert parsed.poses[0].lat == 22.5
