"""DJI Cloud API adapter (dock / Pilot 2 to cloud over MQTT): envelope, OSD -> Pose, DRC, events, topology.

Topics handled (the router resolves them; `{sn}` is the device's own SN for osd/state, else the gateway SN):

    thing/product/{sn}/osd | /state   parse_dji_osd     -> DjiOsdResult(pose | None, state record)
    thing/product/{gw}/drc/up         parse_dji_drc     -> Pose (osd_info_push) or DjiDrcRecord (others)
    thing/product/{gw}/events         parse_dji_event   -> DjiEvent
    sys/product/{gw}/status           parse_dji_status  -> DjiTopology (method update_topo)

Envelope `{tid, bid, timestamp, gateway, data}` (+ `method`, `need_reply` on events). `timestamp` is epoch ms;
it must fall inside the plausible window (`ParseLimits`, 2015..2100) and not be more than `max_future_skew_s`
ahead of `received_at`, otherwise `bad_timestamp` / `future_timestamp`. `tid`/`bid` are opaque strings: DJI's
own published examples use `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxx`, which is not a UUID, so they are never
validated as UUIDs.

Conventions (shared/reference/iot-reference.md section 1.2):
* `latitude`/`longitude` degrees (WGS84 inferred); exactly 0/0 is "no fix" (aircraft in the dock) -> lat/lon
  None and `extra["no_fix"] = "lat_lon_zero"`; never a position at 0,0.
* `height` is above the WGS84 ellipsoid -> `alt_abs_m`; `elevation` is above take-off -> `alt_rel_m`.
* `attitude_head` -> yaw (-180..180, clockwise from north), `attitude_pitch`/`attitude_roll` -> pitch/roll.
* Gimbal angles come from the payload entries keyed `"{type}-{subtype}-{gimbalindex}"` (e.g. `"52-0-0"`).
  The primary payload is chosen deterministically: entries carrying gimbal angles first, then the lowest
  gimbal index, then the lowest type and subtype. The others are kept in `extra["payloads"]`.
* Whether `gimbal_yaw` is north- or body-referenced is NOT stated by DJI (UNCONFIRMED); it is passed through.

Failure reason codes, in addition to those of `ingest.payloads`: `unsupported_method`, `bad_device_id`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest.models import PayloadError, Pose
from ingest.payloads import (
    DEFAULT_LIMITS,
    DEVICE_ID_RE,
    ParseLimits,
    check_future,
    check_received_at,
    decode_json,
    epoch_to_datetime,
    norm_angle,
    opt_float,
    parse_lat_lon,
    require_object,
    short,
    type_name,
)

__all__ = [
    "PAYLOAD_KEY_RE",
    "DjiDeviceState",
    "DjiDrcRecord",
    "DjiEnvelope",
    "DjiEvent",
    "DjiOsdResult",
    "DjiSubDevice",
    "DjiTopology",
    "DockStateMerger",
    "parse_dji_drc",
    "parse_dji_envelope",
    "parse_dji_event",
    "parse_dji_osd",
    "parse_dji_status",
]

PAYLOAD_KEY_RE = re.compile(r"^(\d+)-(\d+)-(\d+)$")

_ALT = (-2_000.0, 20_000.0)
_MAX_TREE_DEPTH = 64


# ----------------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True, slots=True)
class DjiEnvelope:
    time: datetime
    data: Any
    tid: str | None = None
    bid: str | None = None
    gateway: str | None = None
    method: str | None = None
    need_reply: int | None = None


@dataclass(frozen=True, slots=True)
class DjiDeviceState:
    """An osd/state message as a status record: always produced, with or without a pose.

    `data` is this message's (possibly partial) property set; `merged` is the latest full state of the device
    after merging this message, when a `DockStateMerger` was supplied.
    """

    device_id: str
    time: datetime
    kind: str  # "osd" | "state"
    role: str  # "aircraft" | "gateway" (dock or RC: topic SN == envelope gateway)
    data: dict
    gateway_sn: str | None = None
    merged: dict | None = None
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DjiOsdResult:
    pose: Pose | None
    state: DjiDeviceState


@dataclass(frozen=True, slots=True)
class DjiDrcRecord:
    """A drc/up message that is not a pose (hsi_info_push obstacle distances, delay_info_push, ...)."""

    gateway_sn: str
    method: str
    time: datetime
    data: Any
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DjiEvent:
    gateway_sn: str
    method: str
    time: datetime
    data: Any
    need_reply: int | None = None
    tid: str | None = None
    bid: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DjiSubDevice:
    sn: str
    domain: str | None = None
    type: int | None = None
    sub_type: int | None = None
    index: str | None = None
    thing_version: str | None = None


@dataclass(frozen=True, slots=True)
class DjiTopology:
    """`update_topo` on sys/product/{gw}/status. `device_secret`/`nonce` are credentials and are dropped."""

    gateway_sn: str
    time: datetime
    domain: str | None
    type: int | None
    sub_type: int | None
    thing_version: str | None
    sub_devices: tuple[DjiSubDevice, ...] = ()
    received_at: datetime | None = None


# ----------------------------------------------------------------------------------------------------
# state merging


@dataclass(slots=True)
class _DeviceEntry:
    state: dict = field(default_factory=dict)
    updated: dict = field(default_factory=dict)  # top-level key -> time of the message that last set it
    last_time: datetime | None = None


def _deep_merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        cur = dst.get(k)
        if isinstance(v, dict) and isinstance(cur, dict):
            _deep_merge(cur, v)
        else:
            dst[k] = _copy_tree(v)


def _copy_tree(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _copy_tree(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy_tree(x) for x in v]
    return v


class DockStateMerger:
    """Merges partial osd/state messages per device SN into the latest full state.

    A dock pushes its osd as several partial messages (dock2_osd.json has three: counters, link,
    environment and position); each is merged into the device's state (nested objects merged key by key,
    arrays and scalars replaced). A message older than the newest already merged for the same key does not
    overwrite it (MQTT QoS 1 redelivery / reordering). Also remembers gateway -> aircraft SN from
    `update_topo` and from the dock's `sub_device`, so DRC poses (published under the gateway SN) can be
    attributed to the aircraft.

    Bounded: at most `max_devices` SNs are kept (least recently updated evicted). Thread-safe.
    """

    def __init__(self, max_devices: int = 10_000) -> None:
        self._max = max_devices
        self._devices: OrderedDict[str, _DeviceEntry] = OrderedDict()
        self._aircraft: dict[str, str] = {}
        self._lock = threading.Lock()

    def update(self, sn: str, data: dict, time: datetime) -> dict:
        """Merge `data` into the state of `sn`; returns a copy of the merged full state."""
        with self._lock:
            entry = self._devices.get(sn)
            if entry is None:
                entry = self._devices[sn] = _DeviceEntry()
                while len(self._devices) > self._max:
                    self._devices.popitem(last=False)
            else:
                self._devices.move_to_end(sn)
            for k, v in data.items():
                prev = entry.updated.get(k)
                if prev is not None and prev > time:
                    continue  # stale redelivery: keep the newer value
                cur = entry.state.get(k)
                if isinstance(v, dict) and isinstance(cur, dict):
                    _deep_merge(cur, v)
                else:
                    entry.state[k] = _copy_tree(v)
                entry.updated[k] = time
            if entry.last_time is None or time > entry.last_time:
                entry.last_time = time
            return _copy_tree(entry.state)

    def get(self, sn: str) -> dict | None:
        with self._lock:
            entry = self._devices.get(sn)
            return None if entry is None else _copy_tree(entry.state)

    def updated_at(self, sn: str) -> dict[str, datetime]:
        with self._lock:
            entry = self._devices.get(sn)
            return {} if entry is None else dict(entry.updated)

    def note_aircraft(self, gateway_sn: str, aircraft_sn: str | None) -> None:
        with self._lock:
            if aircraft_sn:
                self._aircraft[gateway_sn] = aircraft_sn
            else:
                self._aircraft.pop(gateway_sn, None)

    def note_topology(self, topo: DjiTopology) -> None:
        aircraft = [d.sn for d in topo.sub_devices]
        self.note_aircraft(topo.gateway_sn, aircraft[0] if len(aircraft) == 1 else None)

    def aircraft_for(self, gateway_sn: str) -> str | None:
        with self._lock:
            return self._aircraft.get(gateway_sn)

    def __len__(self) -> int:
        return len(self._devices)


# ----------------------------------------------------------------------------------------------------
# envelope


def _check_finite_tree(v: Any, path: str, depth: int = 0) -> None:
    """Numbers overflowing to +-inf (e.g. 1e400) anywhere in a kept JSON tree -> not_finite (NaN/Infinity
    literals are already refused by the decoder). Keeps records safe to store as JSON/jsonb."""
    t = type(v)
    if t is float:
        if v - v != 0.0:
            raise PayloadError("not_finite", f"{path} is {v!r}; must be a finite number")
    elif t is dict:
        if depth > _MAX_TREE_DEPTH:
            raise PayloadError("invalid_json", f"{path} is nested deeper than {_MAX_TREE_DEPTH}")
        for k, x in v.items():
            if type(x) in (float, dict, list):
                _check_finite_tree(x, f"{path}.{k}", depth + 1)
    elif t is list:
        if depth > _MAX_TREE_DEPTH:
            raise PayloadError("invalid_json", f"{path} is nested deeper than {_MAX_TREE_DEPTH}")
        for i, x in enumerate(v):
            if type(x) in (float, dict, list):
                _check_finite_tree(x, f"{path}[{i}]", depth + 1)


def _opt_str(obj: dict, key: str) -> str | None:
    v = obj.get(key)
    if v is None or type(v) is str:
        return v
    raise PayloadError("wrong_type", f"{key} must be a string, got {type_name(v)} {short(v)}")


def _opt_int(obj: dict, key: str, name: str) -> int | None:
    v = obj.get(key)
    if v is None:
        return None
    if type(v) is not int:
        raise PayloadError("wrong_type", f"{name} must be an integer, got {type_name(v)} {short(v)}")
    return v


def parse_dji_envelope(
    payload: bytes,
    received_at: datetime,
    limits: ParseLimits = DEFAULT_LIMITS,
    *,
    data_kind: str = "object",  # "object" | "any"
) -> DjiEnvelope:
    check_received_at(received_at)
    obj = decode_json(payload, limits.max_bytes)
    require_object(obj, "DJI envelope")
    if "timestamp" not in obj or obj["timestamp"] is None:
        raise PayloadError(
            "missing_field", "timestamp is missing" if "timestamp" not in obj else "timestamp is null"
        )
    ts = obj["timestamp"]
    if type(ts) is not int:
        raise PayloadError(
            "wrong_type", f"timestamp must be an integer (epoch ms), got {type_name(ts)} {short(ts)}"
        )
    t = epoch_to_datetime(ts, "timestamp", limits)
    check_future(t, received_at, limits.max_future_skew_s, "timestamp")
    if "data" not in obj or obj["data"] is None:
        raise PayloadError("missing_field", "data is missing" if "data" not in obj else "data is null")
    data = obj["data"]
    if data_kind == "object":
        if type(data) is not dict:
            raise PayloadError("wrong_type", f"data must be an object, got {type_name(data)}")
    elif type(data) not in (dict, list):
        raise PayloadError(
            "wrong_type", f"data must be an object or an array, got {type_name(data)} {short(data)}"
        )
    _check_finite_tree(data, "data")
    gateway = _opt_str(obj, "gateway")
    if gateway is not None and DEVICE_ID_RE.fullmatch(gateway) is None:
        raise PayloadError(
            "bad_device_id", f"gateway = {short(gateway)} does not match [A-Za-z0-9_.:-]{{1,64}}"
        )
    need_reply = _opt_int(obj, "need_reply", "need_reply")
    return DjiEnvelope(
        time=t,
        data=data,
        tid=_opt_str(obj, "tid"),
        bid=_opt_str(obj, "bid"),
        gateway=gateway,
        method=_opt_str(obj, "method"),
        need_reply=need_reply,
    )


# ----------------------------------------------------------------------------------------------------
# osd / state


def _payload_entries(data: dict) -> list[tuple[tuple[int, int, int, int], str, dict]]:
    out = []
    for k, v in data.items():
        if k[:1].isdigit() and type(v) is dict:
            m = PAYLOAD_KEY_RE.match(k)
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
    mode = _opt_int(data, "mode_code", "data.mode_code")
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
        alt_rel_m=opt_float(data, "elevation", "data.elevation", *_ALT),
        alt_abs_m=opt_float(data, "height", "data.height", *_ALT),
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
        v = _opt_int(data, key, f"data.{key}")
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
        alt_abs_m=opt_float(data, "height", "data.height", *_ALT),
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


# ----------------------------------------------------------------------------------------------------
# drc/up


def parse_dji_drc(
    gateway_sn: str,
    payload: bytes,
    received_at: datetime,
    limits: ParseLimits = DEFAULT_LIMITS,
    *,
    merger: DockStateMerger | None = None,
) -> Pose | DjiDrcRecord:
    """`thing/product/{gateway_sn}/drc/up`: `osd_info_push` -> Pose (source "dji_drc"); other methods ->
    DjiDrcRecord. DJI's published osd_info_push example has no `method`: a message without `method` whose data
    carries latitude and longitude is taken as osd_info_push (`extra["method_inferred"] = True`).

    The topic carries the gateway SN; the pose is attributed to the aircraft when the merger knows it (from
    update_topo or the dock's sub_device), else to the gateway SN with `extra["device_id_is_gateway"] = True`.
    DRC `height` is assumed to have the OSD meaning (ellipsoidal) -- the DRC page does not say (UNCONFIRMED).
    """
    env = parse_dji_envelope(payload, received_at, limits, data_kind="any")
    method = env.method
    inferred = False
    if method is None:
        if type(env.data) is dict and "latitude" in env.data and "longitude" in env.data:
            method, inferred = "osd_info_push", True
        else:
            raise PayloadError("missing_field", "method is missing and data is not an osd_info_push position")
    if method != "osd_info_push":
        return DjiDrcRecord(
            gateway_sn=gateway_sn, method=method, time=env.time, data=env.data, received_at=received_at
        )
    data = env.data
    if type(data) is not dict:
        raise PayloadError("wrong_type", f"osd_info_push data must be an object, got {type_name(data)}")
    lat, lon, zero = parse_lat_lon(data, "latitude", "longitude", "data.")
    extra: dict[str, Any] = {"device_role": "aircraft", "height_ref": "assumed_ellipsoidal"}
    if inferred:
        extra["method_inferred"] = True
    if zero:
        extra["no_fix"] = "lat_lon_zero"
    for key in ("speed_x", "speed_y", "speed_z"):
        f = opt_float(data, key, f"data.{key}")
        if f is not None:
            extra[key] = f
    aircraft = merger.aircraft_for(gateway_sn) if merger is not None else None
    if aircraft is None:
        extra["device_id_is_gateway"] = True
    yaw = opt_float(data, "attitude_head", "data.attitude_head", -180.0, 360.0)
    gy = opt_float(data, "gimbal_yaw", "data.gimbal_yaw", -180.0, 360.0)
    return Pose(
        time=env.time,
        device_id=aircraft or gateway_sn,
        lat=lat,
        lon=lon,
        alt_abs_m=opt_float(data, "height", "data.height", *_ALT),
        yaw=norm_angle(yaw) if yaw is not None else None,
        gimbal_yaw=norm_angle(gy) if gy is not None else None,
        gimbal_pitch=opt_float(data, "gimbal_pitch", "data.gimbal_pitch", -180.0, 180.0),
        gimbal_roll=opt_float(data, "gimbal_roll", "data.gimbal_roll", -180.0, 180.0),
        source="dji_drc",
        gateway_sn=gateway_sn,
        extra=extra,
        received_at=received_at,
    )


# ----------------------------------------------------------------------------------------------------
# events and status


def parse_dji_event(
    gateway_sn: str, payload: bytes, received_at: datetime, limits: ParseLimits = DEFAULT_LIMITS
) -> DjiEvent:
    """`thing/product/{gateway_sn}/events`: `{method, data (object or array), need_reply?}` -> DjiEvent."""
    env = parse_dji_envelope(payload, received_at, limits, data_kind="any")
    if env.method is None:
        raise PayloadError("missing_field", "method is missing")
    if not env.method:
        raise PayloadError("missing_field", "method is empty")
    if env.need_reply is not None and env.need_reply not in (0, 1):
        raise PayloadError("out_of_range", f"need_reply = {env.need_reply} must be 0 or 1")
    return DjiEvent(
        gateway_sn=gateway_sn,
        method=env.method,
        time=env.time,
        data=env.data,
        need_reply=env.need_reply,
        tid=env.tid,
        bid=env.bid,
        received_at=received_at,
    )


def _str_or_int(obj: dict, key: str, name: str) -> str | None:
    v = obj.get(key)
    if v is None:
        return None
    if type(v) is str:
        return v
    if type(v) is int:
        return str(v)
    raise PayloadError("wrong_type", f"{name} must be a string, got {type_name(v)} {short(v)}")


def parse_dji_status(
    gateway_sn: str,
    payload: bytes,
    received_at: datetime,
    limits: ParseLimits = DEFAULT_LIMITS,
    *,
    merger: DockStateMerger | None = None,
) -> DjiTopology:
    """`sys/product/{gateway_sn}/status`, method `update_topo` -> DjiTopology (gateway + sub_devices).
    An empty `sub_devices` means the aircraft went offline. Credentials (device_secret, nonce) are dropped."""
    env = parse_dji_envelope(payload, received_at, limits)
    if env.method is None:
        raise PayloadError("missing_field", "method is missing")
    if env.method != "update_topo":
        raise PayloadError(
            "unsupported_method", f"method {short(env.method)} on status topic; only update_topo"
        )
    data: dict = env.data
    subs_v = data.get("sub_devices")
    if subs_v is None:
        raise PayloadError("missing_field", "data.sub_devices is missing")
    if type(subs_v) is not list:
        raise PayloadError("wrong_type", f"data.sub_devices must be an array, got {type_name(subs_v)}")
    subs = []
    for i, s in enumerate(subs_v):
        p = f"data.sub_devices[{i}]"
        if type(s) is not dict:
            raise PayloadError("wrong_type", f"{p} must be an object, got {type_name(s)}")
        sn = s.get("sn")
        if sn is None:
            raise PayloadError("missing_field", f"{p}.sn is missing")
        if type(sn) is not str:
            raise PayloadError("wrong_type", f"{p}.sn must be a string, got {type_name(sn)} {short(sn)}")
        if DEVICE_ID_RE.fullmatch(sn) is None:
            raise PayloadError(
                "bad_device_id", f"{p}.sn = {short(sn)} does not match [A-Za-z0-9_.:-]{{1,64}}"
            )
        subs.append(
            DjiSubDevice(
                sn=sn,
                domain=_str_or_int(s, "domain", f"{p}.domain"),
                type=_opt_int(s, "type", f"{p}.type"),
                sub_type=_opt_int(s, "sub_type", f"{p}.sub_type"),
                index=_str_or_int(s, "index", f"{p}.index"),
                thing_version=_str_or_int(s, "thing_version", f"{p}.thing_version"),
            )
        )
    topo = DjiTopology(
        gateway_sn=gateway_sn,
        time=env.time,
        domain=_str_or_int(data, "domain", "data.domain"),
        type=_opt_int(data, "type", "data.type"),
        sub_type=_opt_int(data, "sub_type", "data.sub_type"),
        thing_version=_str_or_int(data, "thing_version", "data.thing_version"),
        sub_devices=tuple(subs),
        received_at=received_at,
    )
    if merger is not None:
        merger.note_topology(topo)
    return topo
