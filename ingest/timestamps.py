"""Device timestamps: RFC 3339 strings with a zone, or epoch seconds/milliseconds told apart by magnitude, inside
the plausible window of `ParseLimits` (the rules are stated in `ingest.decode`'s docstring). Every failure raises
`PayloadError("bad_timestamp" | "future_timestamp" | "wrong_type" | "not_finite", detail)`."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.decode import ParseLimits, short, type_name
from ingest.models import PayloadError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# RFC 3339 date-time; the zone group is optional here only so that a missing zone gets a precise message.
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?"
)


def _digits(v: int | float) -> int | str:
    try:
        return len(str(abs(int(v))))
    except (OverflowError, ValueError):
        return "too many"


def epoch_to_datetime(v: int | float, name: str, limits: ParseLimits) -> datetime:
    """Epoch seconds or milliseconds (by magnitude) inside the plausible window, as aware UTC datetime."""
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    lo, hi = limits.min_epoch_s, limits.max_epoch_s
    if lo <= f <= hi:
        seconds = f
    elif lo * 1000.0 <= f <= hi * 1000.0:
        seconds = f / 1000.0
    else:
        try:
            as_ms = f" (as ms it would be {(_EPOCH + timedelta(milliseconds=f)).isoformat()})"
        except (OverflowError, ValueError):
            as_ms = ""
        lo_y = datetime.fromtimestamp(lo, UTC).year
        hi_y = datetime.fromtimestamp(hi, UTC).year
        raise PayloadError(
            "bad_timestamp",
            f"{name} = {short(v)} ({_digits(v)} digits) is neither epoch milliseconds nor epoch seconds "
            f"in the plausible range {lo_y}..{hi_y} "
            f"(ms {int(lo * 1000)}..{int(hi * 1000)}, s {int(lo)}..{int(hi)}){as_ms}",
        )
    # timedelta arithmetic keeps microseconds exact (datetime.fromtimestamp rounds via float in some ranges)
    if type(v) is int and seconds != f:
        return _EPOCH + timedelta(milliseconds=v)
    return _EPOCH + timedelta(seconds=seconds)


def parse_rfc3339(s: str, name: str, limits: ParseLimits) -> datetime:
    # Fast path for the common canonical shape "YYYY-MM-DDTHH:MM:SS[.fff...](Z|+hh:mm)"; the exact shape check
    # (so that fromisoformat's extra ISO 8601 forms are not accepted) is done by the regex on the slow path.
    n = len(s)
    if (
        20 <= n <= 35
        and s[10] == "T"
        and s[4] == "-"
        and s[7] == "-"
        and s[13] == ":"
        and s[16] == ":"
        and (s[-1] == "Z" or s[-6] in "+-")
        and (n in (20, 25) or s[19] == ".")
        and s[:4].isdigit()
    ):
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            pass
        else:
            if dt.tzinfo is not None and 1 < dt.year < 9999:  # at the range edges an offset overflows
                if dt.utcoffset():
                    dt = dt.astimezone(UTC)
                elif dt.tzinfo is not UTC:
                    dt = dt.replace(tzinfo=UTC)
                lo, hi = _bounds(limits)
                if lo <= dt <= hi:
                    return dt
    return _parse_rfc3339_slow(s, name, limits)


_BOUNDS_CACHE: dict[tuple[float, float], tuple[datetime, datetime]] = {}


def _bounds(limits: ParseLimits) -> tuple[datetime, datetime]:
    key = (limits.min_epoch_s, limits.max_epoch_s)
    b = _BOUNDS_CACHE.get(key)
    if b is None:
        b = _BOUNDS_CACHE[key] = (_EPOCH + timedelta(seconds=key[0]), _EPOCH + timedelta(seconds=key[1]))
    return b


def _parse_rfc3339_slow(s: str, name: str, limits: ParseLimits) -> datetime:
    m = _RFC3339_RE.fullmatch(s)
    if m is None:
        raise PayloadError("bad_timestamp", f"{name} = {short(s)} is not an RFC 3339 date-time")
    if m.group(8) is None:
        raise PayloadError(
            "bad_timestamp",
            f"{name} = {short(s)} has no zone offset; add 'Z' or '+hh:mm' (naive local times are ambiguous)",
        )
    frac = m.group(7)
    iso = s
    if frac is not None and len(frac) > 7:  # fromisoformat takes at most 6 fractional digits portably
        iso = s[: m.start(7)] + frac[:7] + s[m.end(7) :]
    if iso[10] != "T" or iso[-1] == "z":
        iso = iso[:10] + "T" + iso[11:]
        if iso[-1] == "z":
            iso = iso[:-1] + "Z"
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError as exc:
        raise PayloadError("bad_timestamp", f"{name} = {short(s)} is not a valid date-time: {exc}") from None
    try:
        dt = dt.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00: outside datetime once in UTC
        dt = None
    ts = (dt - _EPOCH).total_seconds() if dt is not None else math.inf
    if not limits.min_epoch_s <= ts <= limits.max_epoch_s:
        raise PayloadError(
            "bad_timestamp",
            f"{name} = {short(s)} is outside the plausible range "
            f"{datetime.fromtimestamp(limits.min_epoch_s, UTC).year}.."
            f"{datetime.fromtimestamp(limits.max_epoch_s, UTC).year}",
        )
    return dt


def parse_timestamp(v: Any, name: str, limits: ParseLimits) -> datetime:
    """RFC 3339 string (zone required) or epoch s/ms number -> aware UTC datetime."""
    if isinstance(v, str):
        return parse_rfc3339(v, name, limits)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PayloadError(
            "wrong_type", f"{name} must be an RFC 3339 string or epoch number, got {type_name(v)} {short(v)}"
        )
    if isinstance(v, float) and not math.isfinite(v):
        raise PayloadError("not_finite", f"{name} is {v!r}")
    return epoch_to_datetime(v, name, limits)


def check_future(t: datetime, received_at: datetime, max_future_skew_s: float, name: str) -> None:
    ahead = (t - received_at).total_seconds()
    if ahead > max_future_skew_s:
        raise PayloadError(
            "future_timestamp",
            f"{name} = {t.isoformat()} is {ahead:.3f} s ahead of received_at {received_at.isoformat()} "
            f"(allowed skew {max_future_skew_s} s)",
        )


def check_received_at(received_at: datetime) -> None:
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        # a caller bug, not a payload problem: do not dead-letter the message for it
        raise ValueError("received_at must be timezone-aware")
