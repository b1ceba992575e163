"""DJI osd/state topics (`thing/product/{sn}/osd | /state`) -> Pose and a device state record.

Why a module of its own: this is the mapping from DJI's property names and frames to the gateway's `Pose`,
including the choice of the primary payload/gimbal; the conventions below are decisions other code relies on.

Conventions (DJI Cloud API device properties; tests/ingest/test_ingest_dji.py holds them against real messages):
* `latitude`/`longitude` degrees (WGS84 inferred); exactly 0/0 is "no fix" (aircraft in the dock) -> lat/lon
  None and `extra["no_fix"] = "lat_lon_zero"`; never a position at 0,0.
* `height` is above the WGS84 ellipsoid -> `alt_abs_m`; `elevation` is above take-off -> `alt_rel_m`.
* `attitude_head` -> yaw (-180..180, clockwise from north), `attitude_pitch`/`attitude_roll` -> pitch/roll.
* Gimbal angles come from the payload entries keyed `"{type}-{subtype}-{gimbalindex}"` (e.g. `"52-0-0"`).
  The primary payload is chosen deterministically: entries carrying gimbal angles first, then the lowest
  gimbal index, then the lowest type and subtype. The others are kept in `extra["payloads"]`.
* Whether `gimbal_yaw` is north- or body-referenced is NOT stated by DJI (UNCONFIRMED); it is passed through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest.decode import DEFAULT_LIMITS, DEVICE_ID_RE, ParseLimits, norm_angle, opt_float, parse_lat_lon
from ingest.dji.envelope import ALT_RANGE, DjiEnvelope, opt_int, parse_dji_envelope
from ingest.dji.state import DjiDeviceState, DockStateMerger
from ingest.models import Pose

__all__ = ["PAYLOAD_KEY_RE", "DjiOsdResult", "parse_dji_osd"]

# ASCII digits, bounded: `\d` would take other scripts' digits, and an unbounded run becomes an int too long to
# convert (Python's int-string limit raises ValueError, not a payload refusal).
PAYLOAD_KEY_RE = re.compile(r"([0-9]{1,9})-([0-9]{1,9})-([0-9]{1,9})")


@dataclass(frozen=True, slots=True)
class DjiOsdResult:
    pose: Pose | None
    state: DjiDeviceState


def _payload_entries(data: dict) -> list[tuple[tuple[int, int, int, int], str, dict]]:
    out = []
    for k, v in data.items():
        if k[:1].isdigit() and type(v) is dict:
            m = PAYLOAD_KEY_RE.fullmatch(k)
            if m:
                no_angles = 0 if any(a in v for a in ("gimbal_pitch", "gimbal_roll", "gimbal_yaw")) else 1
                typ, sub, idx = int(m.group(1)), int(m.group(2)), int(m.group(3))
                out.append(((no_angles, idx, typ, sub), k, v))
    out.sort()
    return out


def _gimbal(entry: dict, key: str) -> tuple[float | None, float | None, float | None]:
    p = f"data.{key}."
    yaw = opt_float(entry, "gimbal_yaw", p + "gimbal_yaw", -180.0, 360.0)
    pitch = opt_float(entry, "gimbal_pitch", p + "gimbal_pitch", -180.0, 180.0)
    roll = opt_float(entry, "gimbal_roll", p + "gimbal_roll", -180.0, 180.0)
    return (norm_angle(yaw) if yaw is not None else None), pitch, roll


_LASER_KEYS = (
    "measure_target_latitude",
    "measure_target_longitude",
    "measure_target_altitude",
    "measure_target_distance",
    "measure_target_error_state",
)


def _payload_extra(entry: dict) -> dict:
    out = {k: entry[k] for k in ("gimbal_pitch", "gimbal_roll", "gimbal_yaw", "zoom_factor") if k in entry}
    laser = {k: entry[k] for k in _LASER_KEYS if k in entry}
    if laser:
        # error_state 0 = NORMAL: only then is the target a usable ground point
        # (1 TOO_CLOSE, 2 TOO_FAR, 3 NO_SIGNAL)
        laser["valid"] = laser.get("measure_target_error_state") == 0 and not (
            laser.get("measure_target_latitude") == 0 and laser.get("measure_target_longitude") == 0
        )
        out["laser"] = laser
    return out


_AIRCRAFT_POSE_KEYS = ("latitude", "longitude", "height", "elevation", "attitude_head", "attitude_pitch")


def _aircraft_pose(sn: str, env: DjiEnvelope, data: dict, kind: str, received_at: datetime) -> Pose | None:
    if not any(k in data for k in _AIRCRAFT_POSE_KEYS):
        return None  # partial state message without position/attitude
    lat, lon, zero = parse_lat_lon(data, "latitude", "longitude", "data.")
    yaw = opt_float(data, "attitude_head", "data.attitude_head", -180.0, 360.0)
    extra: dict[str, Any] = {"device_role": "aircraft", "osd_kind": kind}
    if zero:
        extra["no_fix"] = "lat_lon_zero"
    for key in ("horizontal_speed", "vertical_speed", "wind_speed"):
        f = opt_float(data, key, f"data.{key}")
        if f is not None:
            extra[key] = f
    mode = opt_int(data, "mode_code", "data.mode_code")
    if mode is not None:
        extra["mode_code"] = mode
    battery = data.get("battery")
    if type(battery) is dict and "capacity_percent" in battery:
        pct = opt_float(battery, "capacity_percent", "data.battery.capacity_percent", 0.0, 100.0)
        if pct is not None:
            extra["battery_percent"] = pct
    ps = data.get("position_state")
    if type(ps) is dict:
        extra["position_state"] = dict(ps)

    gy = gp = gr = None
    entries = _payload_entries(data)
    if entries:
        _, pkey, pentry = entries[0]
        gy, gp, gr = _gimbal(pentry, pkey)
        extra["payload_index"] = pkey
        extra.update(_payload_extra(pentry))
        if len(entries) > 1:
            others = {}
            for _, k, e in entries[1:]:
                _gimbal(e, k)  # validate
                others[k] = _payload_extra(e)
            extra["payloads"] = others
    return Pose(
        time=env.time,
        device_id=sn,
        lat=lat,
        lon=lon,
        alt_rel_m=opt_float(data, "elevation", "data.elevation", *ALT_RANGE),
        alt_abs_m=opt_float(data, "height", "data.height", *ALT_RANGE),
        yaw=norm_angle(yaw) if yaw is not None else None,
        pitch=opt_float(data, "attitude_pitch", "data.attitude_pitch", -180.0, 180.0),
        roll=opt_float(data, "attitude_roll", "data.attitude_roll", -180.0, 180.0),
        gimbal_yaw=gy,
        gimbal_pitch=gp,
        gimbal_roll=gr,
        source="dji_osd",
        gateway_sn=env.gateway,
        extra=extra,
        received_at=received_at,
    )


def _gateway_pose(sn: str, env: DjiEnvelope, data: dict, kind: str, received_at: datetime) -> Pose | None:
    """Dock (or RC) osd: a pose only when this (partial) message carries latitude/longitude."""
    if "latitude" not in data and "longitude" not in data:
        return None
    lat, lon, zero = parse_lat_lon(data, "latitude", "longitude", "data.")
    extra: dict[str, Any] = {"device_role": "gateway", "osd_kind": kind}
    if zero:
        extra["no_fix"] = "lat_lon_zero"
    for key in ("mode_code", "drone_in_dock"):
        v = opt_int(data, key, f"data.{key}")
        if v is not None:
            extra[key] = v
    ps = data.get("position_state")
    if type(ps) is dict:
        extra["position_state"] = dict(ps)
    sub = data.get("sub_device")
    if type(sub) is dict and type(sub.get("device_sn")) is str:
        extra["sub_device_sn"] = sub["device_sn"]
    return Pose(
        time=env.time,
        device_id=sn,
        lat=lat,
        lon=lon,
        alt_abs_m=opt_float(data, "height", "data.height", *ALT_RANGE),
        source="dji_osd",
        gateway_sn=env.gateway or sn,
        extra=extra,
        received_at=received_at,
    )


def parse_dji_osd(
    sn: str,
    payload: bytes,
    received_at: datetime,
    limits: ParseLimits = DEFAULT_LIMITS,
    *,
    kind: str = "osd",
    merger: DockStateMerger | None = None,
) -> DjiOsdResult:
    """`thing/product/{sn}/osd` (kind "osd") or `/state` (kind "state").

    Role: the topic SN equals the envelope `gateway` for the gateway's own properties (dock/RC); otherwise the
    message is the aircraft's (published under its own SN through the gateway). Without `gateway`, the content
    decides (attitude/elevation/payload keys -> aircraft).
    """
    env = parse_dji_envelope(payload, received_at, limits)
    data: dict = env.data
    if env.gateway is not None:
        role = "gateway" if env.gateway == sn else "aircraft"
    else:
        aircraft_like = "attitude_head" in data or "elevation" in data or bool(_payload_entries(data))
        role = "aircraft" if aircraft_like else "gateway"
    if role == "aircraft":
        pose = _aircraft_pose(sn, env, data, kind, received_at)
    else:
        pose = _gateway_pose(sn, env, data, kind, received_at)
    merged = None
    if merger is not None:
        merged = merger.update(sn, data, env.time)
        if role == "gateway":
            sub = data.get("sub_device")
            if type(sub) is dict and "device_sn" in sub:
                dsn = sub.get("device_sn")
                merger.note_aircraft(sn, dsn if type(dsn) is str and DEVICE_ID_RE.fullmatch(dsn) else None)
    state = DjiDeviceState(
        device_id=sn,
        time=env.time,
        kind=kind,
        role=role,
        data=data,
        gateway_sn=env.gateway,
        merged=merged,
        received_at=received_at,
    )
    return DjiOsdResult(pose=pose, state=state)
