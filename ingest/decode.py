"""Shared decoding for every ingest parser: JSON, timestamps, numbers, limits and id/metric patterns.

Why a module of its own: the generic topics (`ingest.payloads`), the DJI adapter (`ingest.dji_*`) and the router
all decode the same way, and the evidence rules below must hold identically for all of them. Hot path: these
helpers run on up to ~50k messages/s, so they use the stdlib C JSON decoder and hand-written checks, not pydantic.

Every failure raises `PayloadError(reason, detail)`. Reason codes raised here:

    oversize, invalid_json, number_too_long, bad_string, duplicate_key, not_an_object, missing_field,
    wrong_type, not_finite, bad_timestamp, future_timestamp, out_of_range

Decisions (documented because devices and other engineers depend on them):

* `ts` accepts an RFC 3339 string WITH a zone (`Z` or `+hh:mm`), or an epoch number. Epoch numbers are
  seconds or milliseconds, told apart by magnitude: inside the plausible window (2015-01-01 .. 2100-01-01,
  `ParseLimits.min_epoch_s/max_epoch_s`) seconds are 1.42e9..4.1e9 and milliseconds 1.42e12..4.1e12, so the
  two ranges never overlap and the unit is unambiguous. Anything else is `bad_timestamp`.
* A timestamp without a zone is `bad_timestamp`: a naive local time is ambiguous (which zone? DST folds),
  and a wrong guess shifts evidence by hours -- for an enforcement record that is worse than refusing it.
* Timestamps more than `max_future_skew_s` ahead of `received_at` are `future_timestamp` (clock is off).
  Old timestamps are accepted (store-and-forward devices replay backlogs), down to the plausibility floor.
* All times are returned as timezone-aware UTC datetimes.
* JSON `NaN`/`Infinity`/`-Infinity` literals (accepted by Python's json, not by RFC 8259) and numbers that
  overflow to infinity (`1e400`) are `not_finite`. JSON `true`/`false` are never numbers (`wrong_type`).
* An integer literal longer than Python's integer-string limit (`sys.get_int_max_str_digits()`, 4,300 digits)
  is `number_too_long`, wherever it sits (even under a key the parser ignores): no field of ours needs one.
* A string (value or object key, anywhere in the payload) holding U+0000 or a lone UTF-16 surrogate (only
  reachable through `\\u0000` / unpaired `\\ud800` escapes) is `bad_string`: PostgreSQL text and jsonb cannot
  hold either, and a payload that carries them is malformed whether or not the field is kept.
* Duplicate object keys are `duplicate_key`: `{"LAeq": 1, "LAeq": 99}` is ambiguous and an evidence
  system must not silently pick one.
* A lat/lon pair is both-or-neither; exactly 0/0 means "no fix", never a position at 0,0.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from ingest.models import PayloadError

__all__ = [
    "DEFAULT_LIMITS",
    "DEVICE_ID_RE",
    "METRIC_RE",
    "ParseLimits",
    "as_float",
    "decode_json",
    "norm_angle",
    "opt_float",
    "parse_lat_lon",
    "require_object",
    "short",
    "type_name",
]

UTC = UTC


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Limits shared by all parsers; config builds one and passes it to `router.parse_message`."""

    max_bytes: int = 64 * 1024
    max_future_skew_s: float = 300.0
    # Plausible time window for any device timestamp (also used to tell epoch s from ms).
    min_epoch_s: float = 1_420_070_400.0  # 2015-01-01T00:00:00Z
    max_epoch_s: float = 4_102_444_800.0  # 2100-01-01T00:00:00Z


DEFAULT_LIMITS = ParseLimits()

# Device ids / serial numbers (topic segment or payload field).
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
# Metric names: start with a letter, then letters/digits/_ . -  (e.g. LAeq, PM10, PM2.5, fume_mg_m3), max 64.
METRIC_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")


# ----------------------------------------------------------------------------------------------------
# JSON decoding


def _pairs_no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise PayloadError("duplicate_key", f"object key {k!r} appears more than once")
            seen.add(k)
    return d


class _NonFiniteLiteral(Exception):
    def __init__(self, literal: str) -> None:
        self.literal = literal


def _reject_constant(literal: str) -> Any:
    raise _NonFiniteLiteral(literal)


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_no_duplicates, parse_constant=_reject_constant)


class _Marker:
    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _find_marker(obj: Any, path: str) -> tuple[str, str] | None:
    if isinstance(obj, _Marker):
        return path, obj.literal
    if isinstance(obj, dict):
        for k, v in obj.items():
            found = _find_marker(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found = _find_marker(v, f"{path}[{i}]")
            if found:
                return found
    return None


def _locate_non_finite(text: str) -> str:
    """Slow path (errors only): find where the NaN/Infinity literal sits, for a precise detail."""
    try:
        tree = json.loads(text, parse_constant=_Marker)
        found = _find_marker(tree, "")
    except (ValueError, RecursionError):
        found = None
    if found is None:
        return "JSON contains a NaN/Infinity literal"
    path, literal = found
    return f"{path or '<root>'} is {literal} (JSON NaN/Infinity literals are not finite numbers)"


def decode_json(payload: bytes | bytearray | memoryview, max_bytes: int) -> Any:
    """Size-check, UTF-8-decode and JSON-decode a payload. Raises PayloadError only."""
    n = len(payload)
    if n > max_bytes:
        raise PayloadError("oversize", f"payload is {n} bytes, limit is {max_bytes}")
    try:
        text = payload.decode("utf-8") if not isinstance(payload, memoryview) else payload.tobytes().decode()
    except UnicodeDecodeError as exc:
        raise PayloadError(
            "invalid_json", f"payload is not UTF-8: {exc.reason} at byte {exc.start}"
        ) from None
    try:
        obj = _DECODER.decode(text)
    except _NonFiniteLiteral:
        raise PayloadError("not_finite", _locate_non_finite(text)) from None
    except PayloadError:
        raise
    except json.JSONDecodeError as exc:
        raise PayloadError("invalid_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise PayloadError("invalid_json", "JSON nesting too deep") from None
    except ValueError as exc:
        # The C decoder raises a bare ValueError for an integer literal over the int-string limit.
        raise PayloadError(*_value_error_reason(text, exc)) from None
    if "\\u" in text:  # NUL and lone surrogates can only come from escapes: the common payload skips the walk
        _check_strings(obj)
    return obj


def _value_error_reason(text: str, exc: ValueError) -> tuple[str, str]:
    limit = sys.get_int_max_str_digits()
    m = re.search("[0-9]{" + str(limit + 1) + ",}", text) if limit else None
    if m is None:
        return "invalid_json", f"JSON could not be decoded: {exc}"
    line = text.count("\n", 0, m.start()) + 1
    col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    return "number_too_long", (
        f"a number of {m.end() - m.start()} digits at line {line} column {col}; at most {limit} digits are accepted"
    )


_BAD_CHAR_RE = re.compile("[\x00\ud800-\udfff]")


def _bad_string(s: str) -> str | None:
    m = _BAD_CHAR_RE.search(s)
    if m is None:
        return None
    c = m.group()
    what = "a NUL character (U+0000)" if c == "\x00" else f"a lone surrogate (\\u{ord(c):04x})"
    return f"contains {what} at position {m.start()}"


def _check_strings(obj: Any) -> None:
    """Refuse NUL / lone surrogates in any key or string value. Iterative: the tree may be nested as deep as the
    decoder allows, deeper than a Python recursion would survive."""
    stack: list[tuple[Any, str]] = [(obj, "")]
    while stack:
        v, path = stack.pop()
        t = type(v)
        if t is str:
            problem = _bad_string(v)
            if problem:
                raise PayloadError("bad_string", f"{path or '<root>'} {problem}")
        elif t is dict:
            for k, x in v.items():
                problem = _bad_string(k)
                if problem:
                    raise PayloadError("bad_string", f"object key {short(k)} under {path or '<root>'} {problem}")
                stack.append((x, f"{path}.{k}" if path else k))
        elif t is list:
            stack.extend((x, f"{path}[{i}]") for i, x in enumerate(v))


# ----------------------------------------------------------------------------------------------------
# field helpers


def type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def short(v: Any, limit: int = 80) -> str:
    r = repr(v)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def as_float(v: Any, name: str) -> float:
    """A JSON number (int or float, not bool) that is finite, as float."""
    t = type(v)
    if t is float:
        if v - v != 0.0:  # NaN or +-inf, cheaper than math.isfinite on the hot path
            raise PayloadError("not_finite", f"{name} is {v!r}; must be a finite number")
        return v
    if t is int:
        f = float(v) if -(2**1023) < v < 2**1023 else math.inf
        if f - f != 0.0:
            raise PayloadError("not_finite", f"{name} integer is too large to be a finite number")
        return f
    if isinstance(v, (int, float)) and not isinstance(v, bool):  # subclasses, unlikely from json
        return as_float(float(v), name)
    raise PayloadError("wrong_type", f"{name} must be a number, got {type_name(v)} {short(v)}")


def opt_float(
    obj: dict, key: str, name: str, lo: float | None = None, hi: float | None = None
) -> float | None:
    v = obj.get(key)
    if v is None:
        return None
    f = as_float(v, name)
    if (lo is not None and f < lo) or (hi is not None and f > hi):
        raise PayloadError("out_of_range", f"{name} = {v!r} is outside [{lo}, {hi}]")
    return f


def norm_angle(v: float) -> float:
    """Degrees into -180..180 (accepts 0..360 headings)."""
    if v > 180.0:
        return v - 360.0
    return v


def require_object(obj: Any, what: str) -> dict:
    if type(obj) is not dict:
        raise PayloadError(
            "not_an_object", f"{what} must be a JSON object, got {type_name(obj)} {short(obj, 40)}"
        )
    return obj


def parse_lat_lon(
    obj: dict, lat_key: str, lon_key: str, prefix: str = ""
) -> tuple[float | None, float | None, bool]:
    """Returns (lat, lon, zero_fix). Both-or-neither; exact 0/0 means "no fix" (None, None, True)."""
    lat_v, lon_v = obj.get(lat_key), obj.get(lon_key)
    if lat_v is None and lon_v is None:
        return None, None, False
    if lat_v is None or lon_v is None:
        missing = lat_key if lat_v is None else lon_key
        present = lon_key if lat_v is None else lat_key
        raise PayloadError(
            "missing_field", f"{prefix}{missing} is missing while {prefix}{present} is present"
        )
    lat = as_float(lat_v, prefix + lat_key)
    lon = as_float(lon_v, prefix + lon_key)
    if not -90.0 <= lat <= 90.0:
        raise PayloadError("out_of_range", f"{prefix}{lat_key} = {lat_v!r} is outside [-90, 90]")
    if not -180.0 <= lon <= 180.0:
        raise PayloadError("out_of_range", f"{prefix}{lon_key} = {lon_v!r} is outside [-180, 180]")
    if lat == 0.0 and lon == 0.0:
        return None, None, True
    return lat, lon, False
