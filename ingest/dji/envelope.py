"""DJI Cloud API envelope `{tid, bid, timestamp, gateway, data}`: decoding and the checks every DJI topic shares.

Why a module of its own: osd/state, drc/up, events and status messages all arrive in the same envelope, and its
time and safety checks must be identical for all of them (`ingest.dji.osd`, `ingest.dji.events` build on it).

`timestamp` is epoch ms; it must fall inside the plausible window (`ParseLimits`, 2015..2100) and not be more than
`max_future_skew_s` ahead of `received_at`, otherwise `bad_timestamp` / `future_timestamp`. `tid`/`bid` are opaque
strings: DJI's own published examples use `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxx`, which is not a UUID, so they are
never validated as UUIDs. `method` and `need_reply` are only present on some topics (events, status, drc/up).
Numbers that overflow to infinity anywhere in `data` are `not_finite`, so kept records are safe to store as jsonb.

Failure reason codes, in addition to those of `ingest.decode`: `bad_device_id` (envelope `gateway`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest.decode import DEFAULT_LIMITS, DEVICE_ID_RE, ParseLimits, decode_json, require_object, short, type_name
from ingest.models import PayloadError
from ingest.timestamps import check_future, check_received_at, epoch_to_datetime

__all__ = ["ALT_RANGE", "DjiEnvelope", "opt_int", "opt_str", "parse_dji_envelope"]

# Plausible window (metres) for DJI `height` / `elevation`, shared by the OSD and DRC pose mappings.
ALT_RANGE = (-2_000.0, 20_000.0)
_MAX_TREE_DEPTH = 64


@dataclass(frozen=True, slots=True)
class DjiEnvelope:
    time: datetime
    data: Any
    tid: str | None = None
    bid: str | None = None
    gateway: str | None = None
    method: str | None = None
    need_reply: int | None = None


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


def opt_str(obj: dict, key: str) -> str | None:
    v = obj.get(key)
    if v is None or type(v) is str:
        return v
    raise PayloadError("wrong_type", f"{key} must be a string, got {type_name(v)} {short(v)}")


def opt_int(obj: dict, key: str, name: str) -> int | None:
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
    gateway = opt_str(obj, "gateway")
    if gateway is not None and DEVICE_ID_RE.fullmatch(gateway) is None:
        raise PayloadError(
            "bad_device_id", f"gateway = {short(gateway)} does not match [A-Za-z0-9_.:-]{{1,64}}"
        )
    need_reply = opt_int(obj, "need_reply", "need_reply")
    return DjiEnvelope(
        time=t,
        data=data,
        tid=opt_str(obj, "tid"),
        bid=opt_str(obj, "bid"),
        gateway=gateway,
        method=opt_str(obj, "method"),
        need_reply=need_reply,
    )
