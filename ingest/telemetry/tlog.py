"""MAVLink telemetry logs (`.tlog`: each packet prefixed by its 8-byte big-endian receive time in µs) to poses.

Read through pymavlink: one Pose per GLOBAL_POSITION_INT of the vehicle (the system that sent the first one),
timed by the tlog's own prefix (`msg._timestamp`, UTC), carrying the latest ATTITUDE (rad -> deg, yaw in
-180..180) and gimbal attitude (MOUNT_STATUS, or GIMBAL_DEVICE_ATTITUDE_STATUS quaternion -> ZYX Euler) received
before it, when no older than `max_age_s`. Gimbal yaw is stored in the earth frame, as DJI's: a yaw the gimbal
reports relative to the vehicle gets the vehicle's yaw added.

Reason codes: whole records `bad_data` (bytes pymavlink could not frame), `bad_time`, `other_vehicle`,
`unreadable` (pymavlink failed; reading stops, what was read is kept); positions only (the pose is kept without a
fix) `no_position` (0,0: no fix), `bad_position` (out of range).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from ingest.models import Pose
from ingest.telemetry.records import ParsedTelemetry, Refusal

__all__ = ["FORMAT", "looks_like_tlog", "parse_tlog", "parse_tlog_file", "quaternion_to_euler"]

FORMAT = "mavlink_tlog"
_TYPES = {"GLOBAL_POSITION_INT", "ATTITUDE", "MOUNT_STATUS", "GIMBAL_DEVICE_ATTITUDE_STATUS", "BAD_DATA"}
_MIN_T = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
_MAX_T = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
_YAW_LOCK = mavlink2.GIMBAL_DEVICE_FLAGS_YAW_LOCK
_YAW_IN_VEHICLE = mavlink2.GIMBAL_DEVICE_FLAGS_YAW_IN_VEHICLE_FRAME
_YAW_IN_EARTH = mavlink2.GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME


def looks_like_tlog(data: bytes) -> bool:
    """A plausible time prefix followed by a MAVLink v1 (0xFE) or v2 (0xFD) start byte, twice in a row."""
    if len(data) < 9 or data[8] not in (0xFE, 0xFD):
        return False
    if not _MIN_T <= int.from_bytes(data[:8], "big") / 1e6 <= _MAX_T:
        return False
    # The second packet: v1 header 6 + payload + crc 2; v2 header 10 + payload + crc 2 (+ 13 when signed).
    size = (8 + data[9] if data[8] == 0xFE else 12 + data[9] + (13 if data[10] & 1 else 0)) if len(data) > 10 else 0
    nxt = 8 + size
    return len(data) <= nxt + 8 or data[nxt + 8] in (0xFE, 0xFD)


def _wrap180(a: float) -> float:
    return a if -180.0 <= a <= 180.0 else (a + 180.0) % 360.0 - 180.0


def quaternion_to_euler(w: float, x: float, y: float, z: float) -> tuple[float, float, float]:
    """(roll, pitch, yaw) in degrees, aerospace ZYX order, from a unit quaternion (normalised first)."""
    n = math.sqrt(w * w + x * x + y * y + z * z)
    if not math.isfinite(n) or n == 0.0:
        raise ValueError(f"quaternion ({w}, {x}, {y}, {z}) has no rotation")
    w, x, y, z = w / n, x / n, y / n, z / n
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2.0 * (w * y - z * x))))
    yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    return math.degrees(roll), math.degrees(pitch), math.degrees(yaw)


@dataclass(slots=True)
class _Attitude:
    t: float
    roll: float
    pitch: float
    yaw: float


@dataclass(slots=True)
class _Gimbal:
    t: float
    roll: float
    pitch: float
    yaw: float
    yaw_in_vehicle_frame: bool
    message: str


def _gimbal_from_device_status(t: float, msg: Any) -> _Gimbal | None:
    try:
        roll, pitch, yaw = quaternion_to_euler(*msg.q)
    except (ValueError, TypeError):
        return None
    flags = int(msg.flags)
    if flags & _YAW_IN_EARTH:
        in_vehicle = False
    elif flags & _YAW_IN_VEHICLE:
        in_vehicle = True
    else:  # older gimbals: yaw lock means the yaw is earth-fixed, else it follows the vehicle
        in_vehicle = not flags & _YAW_LOCK
    return _Gimbal(t, roll, pitch, yaw, in_vehicle, "GIMBAL_DEVICE_ATTITUDE_STATUS")


def _gimbal_from_mount_status(t: float, msg: Any) -> _Gimbal:
    # ArduPilot fills pointing_a/b/c with pitch, roll and a body-frame yaw, in centidegrees.
    return _Gimbal(t, msg.pointing_b / 100.0, msg.pointing_a / 100.0, msg.pointing_c / 100.0, True, "MOUNT_STATUS")


class _Reader:
    """Turns the message stream into poses; holds the latest attitude and gimbal of the vehicle."""

    def __init__(self, device_id: str, max_age_s: float) -> None:
        self.device_id = device_id
        self.max_age_s = max_age_s
        self.vehicle: int | None = None
        self.attitude: _Attitude | None = None
        self.gimbal: _Gimbal | None = None
        self.poses: list[Pose] = []
        self.refusals: list[Refusal] = []

    def feed(self, n: int, msg: Any) -> None:
        kind = msg.get_type()
        if kind not in _TYPES:
            return
        t = float(getattr(msg, "_timestamp", 0.0) or 0.0)
        if kind == "BAD_DATA":
            reason = getattr(msg, "reason", "") or "unframed bytes"
            size = len(getattr(msg, "data", b""))
            self.refusals.append(Refusal(n, "bad_data", f"message {n}: {reason} ({size} bytes)"))
            return
        sysid = msg.get_srcSystem()
        if kind == "GLOBAL_POSITION_INT":
            if self.vehicle is None:
                self.vehicle = sysid
            if sysid != self.vehicle:
                self.refusals.append(Refusal(n, "other_vehicle",
                                             f"message {n}: position of system {sysid}, the log's vehicle is "
                                             f"system {self.vehicle}"))
                return
            self._position(n, t, msg)
        elif self.vehicle is not None and sysid != self.vehicle:
            return
        elif kind == "ATTITUDE":
            self.attitude = _Attitude(t, math.degrees(msg.roll), math.degrees(msg.pitch),
                                      _wrap180(math.degrees(msg.yaw)))
        elif kind == "MOUNT_STATUS":
            self.gimbal = _gimbal_from_mount_status(t, msg)
        elif kind == "GIMBAL_DEVICE_ATTITUDE_STATUS":
            self.gimbal = _gimbal_from_device_status(t, msg) or self.gimbal

    def _fresh(self, sample: _Attitude | _Gimbal | None, t: float) -> Any:
        return sample if sample is not None and 0.0 <= t - sample.t <= self.max_age_s else None

    def _position(self, n: int, t: float, msg: Any) -> None:
        if not (_MIN_T <= t <= _MAX_T):
            self.refusals.append(Refusal(n, "bad_time", f"message {n}: tlog time {t} s is not a plausible UTC time"))
            return
        lat: float | None = msg.lat / 1e7
        lon: float | None = msg.lon / 1e7
        if msg.lat == 0 and msg.lon == 0:
            self.refusals.append(Refusal(n, "no_position", f"message {n}: GLOBAL_POSITION_INT at 0,0 (no fix)",
                                         position_only=True))
            lat = lon = None
        elif not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # type: ignore[operator]
            self.refusals.append(Refusal(n, "bad_position", f"message {n}: lat {lat} / lon {lon} out of range",
                                         position_only=True))
            lat = lon = None
        # MAVLink `alt` is above mean sea level, not the WGS84 ellipsoid that alt_abs_m means: the two differ by up
        # to ~100 m (the geoid undulation), so it stays in extra and alt_abs_m is left empty.
        extra: dict[str, Any] = {"alt_msl_m": msg.alt / 1000.0, "time_boot_ms": int(msg.time_boot_ms),
                                 "system": msg.get_srcSystem()}
        if msg.hdg != 65535:
            extra["heading_deg"] = msg.hdg / 100.0
        att: _Attitude | None = self._fresh(self.attitude, t)
        yaw = att.yaw if att else None
        if yaw is None and msg.hdg != 65535:  # before the first ATTITUDE the heading is the best yaw there is
            yaw = _wrap180(msg.hdg / 100.0)
            extra["yaw_source"] = "hdg"
        g: _Gimbal | None = self._fresh(self.gimbal, t)
        gimbal_yaw = None
        if g is not None:
            extra["gimbal_source"] = g.message
            if g.yaw_in_vehicle_frame:
                extra["gimbal_yaw_vehicle_deg"] = g.yaw
                gimbal_yaw = None if yaw is None else _wrap180(yaw + g.yaw)
            else:
                gimbal_yaw = _wrap180(g.yaw)
        self.poses.append(Pose(
            time=datetime.fromtimestamp(t, UTC), device_id=self.device_id, lat=lat, lon=lon,
            alt_rel_m=msg.relative_alt / 1000.0, alt_abs_m=None, yaw=yaw,
            pitch=att.pitch if att else None, roll=att.roll if att else None,
            gimbal_yaw=gimbal_yaw, gimbal_pitch=g.pitch if g else None, gimbal_roll=g.roll if g else None,
            source="mavlink", extra=extra,
        ))


def parse_tlog_file(path: Path, *, device_id: str, max_age_s: float = 2.0,
                    progress: Callable[[int, int], None] | None = None) -> ParsedTelemetry:
    """Poses from a tlog on disk; never raises for bad bytes inside the file."""
    reader = _Reader(device_id, max_age_s)
    with tempfile.TemporaryDirectory(prefix="enforcegw-tlog-") as tmp:
        # The timestamped-log reader itself: mavlink_connection picks a reader from the name and, since
        # pymavlink 2.4.50, gives any file its mmap reader, which pre-scans the whole file in its constructor
        # and raises on a truncated one before a single message could be kept.
        link = Path(tmp) / "telemetry.tlog"
        link.symlink_to(Path(path).resolve())
        conn = mavutil.mavlogfile(str(link), robust_parsing=True)
        # A MAVLink 2 parser reads v1 and v2 packets alike; pymavlink's own switch sets MAVLINK20 process-wide.
        conn.first_byte = False
        conn.mav = mavlink2.MAVLink(conn, srcSystem=conn.source_system, srcComponent=conn.source_component)
        conn.mav.robust_parsing = True
        total = max(int(conn.filesize), 1)
        n = 0
        try:
            while True:
                try:
                    msg = conn.recv_match(blocking=False)
                except Exception as exc:  # pymavlink raises assorted types on hostile bytes; keep what was read
                    reader.refusals.append(Refusal(n + 1, "unreadable", f"after message {n}: {type(exc).__name__}: "
                                                                        f"{exc}"))
                    break
                if msg is None:
                    break
                n += 1
                reader.feed(n, msg)
                if progress is not None and n % 2000 == 0:
                    progress(conn.f.tell(), total)
        finally:
            conn.close()
        if progress is not None:
            progress(total, total)
    return ParsedTelemetry(format=FORMAT, poses=reader.poses, refusals=reader.refusals)


def parse_tlog(data: bytes, *, device_id: str, max_age_s: float = 2.0,
               progress: Callable[[int, int], None] | None = None) -> ParsedTelemetry:
    """Poses from tlog bytes (pymavlink reads files only, so they pass through a temporary one)."""
    with tempfile.NamedTemporaryFile(prefix="enforcegw-", suffix=".tlog") as f:
        f.write(data)
        f.flush()
        return parse_tlog_file(Path(f.name), device_id=device_id, max_age_s=max_age_s, progress=progress)
