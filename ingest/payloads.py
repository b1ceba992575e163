"""Payload parsing for the generic enforcegw topics (sensor readings, generic drone pose).

Hot path: up to ~50k messages/s reach these functions, so they use the stdlib C JSON decoder and
hand-written checks, not pydantic. `SensorReadingPayload` / `GenericPosePayload` below document the schema
(and can produce a JSON Schema for device vendors); they are NOT called per message.

The shared decoding rules (JSON strictness, timestamps, numbers, `ParseLimits`) live in `ingest.decode` and are
documented there.

Every failure raises `PayloadError(reason, detail)`. `reason` is a short stable code (a Prometheus label and
the dead-letter `reason`); `detail` names the field and the offending value. Reason codes: those of
`ingest.decode`, plus `empty_readings` and `bad_metric` raised here.

Decisions (documented because devices and other engineers depend on them):

* A message is all-or-nothing: one bad metric rejects the whole message (nothing is half-stored silently).
* Unknown top-level keys are ignored (forward compatibility); `null` for an optional field means absent.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from ingest.decode import (
    DEFAULT_LIMITS,
    METRIC_RE,
    ParseLimits,
    as_float,
    decode_json,
    norm_angle,
    opt_float,
    parse_lat_lon,
    require_object,
    short,
    type_name,
)
from ingest.models import PayloadError, Pose, Reading
from ingest.timestamps import check_future, check_received_at, parse_timestamp

__all__ = ["GenericPosePayload", "SensorReadingPayload", "parse_generic_pose", "parse_sensor_reading"]


# ----------------------------------------------------------------------------------------------------
# enf/sensor/{device_id}/reading

_INT64_MAX = 2**63 - 1


def _knobs(limits: ParseLimits, skew: float | None, max_bytes: int | None) -> tuple[float, int]:
    """The two tunable bounds: explicit arguments win, else `limits` (one source of truth, so a caller that
    passes only `limits` is never silently held to the defaults)."""
    return (limits.max_future_skew_s if skew is None else skew,
            limits.max_bytes if max_bytes is None else max_bytes)


def parse_sensor_reading(
    device_id: str,
    payload: bytes,
    received_at: datetime,
    *,
    max_future_skew_s: float | None = None,
    max_bytes: int | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
    topic: str | None = None,
) -> list[Reading]:
    """`{"ts": ..., "seq": int?, "readings": {"LAeq": 72.4, ...}}` -> one Reading per metric, in order.

    `device_id` is trusted (the router validated it). `limits` supplies every bound; `max_future_skew_s` and
    `max_bytes`, when given, override its two that operators tune.
    """
    check_received_at(received_at)
    max_future_skew_s, max_bytes = _knobs(limits, max_future_skew_s, max_bytes)
    obj = decode_json(payload, max_bytes)
    if type(obj) is not dict:
        require_object(obj, "payload")

    ts = obj.get("ts")
    if ts is None:
        raise PayloadError("missing_field", "ts is missing" if "ts" not in obj else "ts is null")
    t = parse_timestamp(ts, "ts", limits)
    check_future(t, received_at, max_future_skew_s, "ts")

    seq = obj.get("seq")
    if seq is not None:
        if type(seq) is not int:
            if type(seq) is float and seq.is_integer() and math.isfinite(seq):
                raise PayloadError("wrong_type", f"seq must be an integer, got float {seq!r}")
            raise PayloadError("wrong_type", f"seq must be an integer, got {type_name(seq)} {short(seq)}")
        if not 0 <= seq <= _INT64_MAX:
            raise PayloadError("out_of_range", f"seq = {seq} is outside [0, 2^63-1]")

    readings = obj.get("readings")
    if readings is None:
        raise PayloadError(
            "missing_field", "readings is missing" if "readings" not in obj else "readings is null"
        )
    if type(readings) is not dict:
        raise PayloadError(
            "wrong_type", f"readings must be an object of metric -> number, got {type_name(readings)}"
        )
    if not readings:
        raise PayloadError("empty_readings", "readings is an empty object; at least one metric is required")

    out: list[Reading] = []
    match = METRIC_RE.fullmatch
    for metric, value in readings.items():
        if match(metric) is None:
            raise PayloadError(
                "bad_metric", f"metric name {short(metric)} must match [A-Za-z][A-Za-z0-9_.-]{{0,63}}"
            )
        tv = type(value)
        if tv is float:
            if value - value != 0.0:
                raise PayloadError("not_finite", f"readings.{metric} is {value!r}; must be a finite number")
        else:
            value = as_float(value, f"readings.{metric}")
        out.append(Reading(t, device_id, metric, value, seq, received_at, topic))
    return out


# ----------------------------------------------------------------------------------------------------
# enf/drone/{device_id}/pose

# (field, lower, upper); angles accept 0..360 headings and are normalised to -180..180.
_POSE_FIELDS: tuple[tuple[str, float, float], ...] = (
    ("alt_rel_m", -2_000.0, 20_000.0),
    ("alt_abs_m", -2_000.0, 20_000.0),
    ("yaw", -180.0, 360.0),
    ("pitch", -180.0, 180.0),
    ("roll", -180.0, 180.0),
    ("gimbal_yaw", -180.0, 360.0),
    ("gimbal_pitch", -180.0, 180.0),
    ("gimbal_roll", -180.0, 180.0),
    ("hfov_deg", 0.0, 180.0),
)
_YAWS = frozenset({"yaw", "gimbal_yaw"})


def parse_generic_pose(
    device_id: str,
    payload: bytes,
    received_at: datetime,
    *,
    max_future_skew_s: float | None = None,
    max_bytes: int | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> Pose:
    """Generic pose: `{"ts", "lat", "lon", "alt_rel_m", "alt_abs_m", "yaw", "pitch", "roll", "gimbal_yaw",
    "gimbal_pitch", "gimbal_roll", "hfov_deg"}`; only `ts` is required. lat/lon both or neither;
    exactly 0/0 is treated as "no fix" (lat/lon None, `extra["no_fix"] = "lat_lon_zero"`).
    """
    check_received_at(received_at)
    max_future_skew_s, max_bytes = _knobs(limits, max_future_skew_s, max_bytes)
    obj = decode_json(payload, max_bytes)
    require_object(obj, "payload")
    ts = obj.get("ts")
    if ts is None:
        raise PayloadError("missing_field", "ts is missing" if "ts" not in obj else "ts is null")
    t = parse_timestamp(ts, "ts", limits)
    check_future(t, received_at, max_future_skew_s, "ts")

    lat, lon, zero = parse_lat_lon(obj, "lat", "lon")
    vals: dict[str, float | None] = {}
    for key, lo, hi in _POSE_FIELDS:
        f = opt_float(obj, key, key, lo, hi)
        if f is not None and key in _YAWS:
            f = norm_angle(f)
        vals[key] = f
    return Pose(
        time=t,
        device_id=device_id,
        lat=lat,
        lon=lon,
        source="generic",
        extra={"no_fix": "lat_lon_zero"} if zero else {},
        received_at=received_at,
        **vals,
    )


# ----------------------------------------------------------------------------------------------------
# Schema documentation (pydantic; not used on the hot path).
# `SensorReadingPayload.model_json_schema()` gives a JSON Schema to hand to device vendors.


class SensorReadingPayload(BaseModel):
    """Payload of `enf/sensor/{device_id}/reading`."""

    ts: str | int | float = Field(
        description="RFC 3339 date-time with zone ('Z' or '+hh:mm'), or epoch s/ms (2015..2100)"
    )
    seq: int | None = Field(default=None, ge=0, le=_INT64_MAX, description="device message sequence number")
    readings: dict[Annotated[str, StringConstraints(pattern=rf"^{METRIC_RE.pattern}$")], float] = Field(
        min_length=1, description="metric name ([A-Za-z][A-Za-z0-9_.-]{0,63}) -> finite number",
        json_schema_extra={"additionalProperties": False},  # a name outside the pattern is refused (bad_metric)
    )


class GenericPosePayload(BaseModel):
    """Payload of `enf/drone/{device_id}/pose`. Angles in degrees; yaw clockwise from true north."""

    ts: str | int | float
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    alt_rel_m: float | None = Field(default=None, description="metres above take-off point")
    alt_abs_m: float | None = Field(default=None, description="metres above the WGS84 ellipsoid")
    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    gimbal_yaw: float | None = None
    gimbal_pitch: float | None = None
    gimbal_roll: float | None = None
    hfov_deg: float | None = Field(default=None, gt=0, le=180)
