"""DJI topics published under the gateway SN: drc/up (DRC poses and records), events, and status (topology).

Why a module of its own: these messages concern the gateway (dock or RC) and its link to the aircraft rather
than one device's property set; DRC poses are attributed to the aircraft through the topology that
`parse_dji_status` feeds into `DockStateMerger`.

    thing/product/{gw}/drc/up    parse_dji_drc     -> Pose (osd_info_push) or DjiDrcRecord (others)
    thing/product/{gw}/events    parse_dji_event   -> DjiEvent
    sys/product/{gw}/status      parse_dji_status  -> DjiTopology (method update_topo)

Failure reason codes, in addition to those of `ingest.dji.envelope`: `unsupported_method`, `bad_device_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest.decode import (
    DEFAULT_LIMITS,
    DEVICE_ID_RE,
    ParseLimits,
    norm_angle,
    opt_float,
    parse_lat_lon,
    short,
    type_name,
)
from ingest.dji.envelope import ALT_RANGE, opt_int, parse_dji_envelope
from ingest.dji.state import DjiSubDevice, DjiTopology, DockStateMerger
from ingest.models import PayloadError, Pose

__all__ = [
    "DjiDrcRecord",
    "DjiEvent",
    "parse_dji_drc",
    "parse_dji_event",
    "parse_dji_status",
]


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
        alt_abs_m=opt_float(data, "height", "data.height", *ALT_RANGE),
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
                type=opt_int(s, "type", f"{p}.type"),
                sub_type=opt_int(s, "sub_type", f"{p}.sub_type"),
                index=_str_or_int(s, "index", f"{p}.index"),
                thing_version=_str_or_int(s, "thing_version", f"{p}.thing_version"),
            )
        )
    topo = DjiTopology(
        gateway_sn=gateway_sn,
        time=env.time,
        domain=_str_or_int(data, "domain", "data.domain"),
        type=opt_int(data, "type", "data.type"),
        sub_type=opt_int(data, "sub_type", "data.sub_type"),
        thing_version=_str_or_int(data, "thing_version", "data.thing_version"),
        sub_devices=tuple(subs),
        received_at=received_at,
    )
    if merger is not None:
        merger.note_topology(topo)
    return topo
