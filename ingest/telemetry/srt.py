"""DJI `.SRT` flight subtitles to poses, every variant DJI has written.

Two families, told apart by content:

* bracketed (`dji_srt_bracketed`; Mavic 2/3, Air 2S, Mini 3, M30, Dock 2): `FrameCnt`/`SrtCnt`, a local time line
  (`2021-12-25 12:27:52.373`, `2020-04-02 15:19:58,720,764` = ms then µs), then `[key: value]` groups:
  `latitude`, `longitude` (or the misspelled `longtitude`), `rel_alt: .. abs_alt: ..`, `altitude`,
  `gb_yaw: .. gb_pitch: .. gb_roll: ..`, and the camera settings.
* plain (`dji_srt`; Mavic Pro, Mavic Mini, Phantom 4 RTK, M300): `GPS(a,b,c)`, `HOME(..)`, `BAROMETER:1.9`,
  `H 85.80m`, `D 698.70m`, `F.PRY (p°, r°, y°)`, `G.PRY (..)`, with or without a `2017.08.05 14:11:51` date.
  GPS is longitude first with the satellite count third, except where the third value is an altitude with a
  unit (`GPS(36.6146,-6.1120,0.0M)`, M300), which is latitude first; a coordinate beyond ±90 settles it.

Times are local without a zone: the caller's `tz` places them; a file with no date at all needs `start` (the
video's start, local when naive), to which each cue's start offset is added. Every pose keeps its cue's own
timing in `extra` (`cue`, `frame`, `cue_start_ms`, `cue_end_ms`, `video_offset_s`) and the camera settings found.

Reason codes: whole records `unparsable_cue`, `bad_time`, `no_time`; positions only (the pose is kept without
a fix) `no_position` (0,0 or empty), `bad_position` (out of range); whole file `no_date` (raises).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from ingest.models import Pose
from ingest.telemetry.records import ParsedTelemetry, Refusal, TelemetryFileError

__all__ = ["BRACKETED", "PLAIN", "looks_like_srt", "parse_srt"]

BRACKETED = "dji_srt_bracketed"
PLAIN = "dji_srt"

_TIMING = re.compile(r"^\s*(\d{1,3}):(\d{2}):(\d{2})[,.](\d{1,3})\s*-->\s*(\d{1,3}):(\d{2}):(\d{2})[,.](\d{1,3})")
_INDEX = re.compile(r"^\s*\d+\s*$")
_TAG = re.compile(r"<[^>]*>")
_DATE = re.compile(r"(?<!\d)(\d{4})[-./](\d{1,2})[-./](\d{1,2})[ T]+(\d{1,2}):(\d{2}):(\d{2})"
                   r"(?:[.,](\d{1,6})(?:,(\d{1,3}))?)?(?!\d)")
_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\s*:")
_BRACKETED_HINT = re.compile(r"\[\s*(?:latitude|longitude|longtitude)\s*:", re.IGNORECASE)
_COUNTER = re.compile(r"\b(FrameCnt|SrtCnt)\s*:\s*(\d+)")
_DIFF = re.compile(r"\bDiffTime\s*:\s*(\d+)\s*ms")
_GPS = re.compile(r"\bGPS\s*\(([^()]*)\)")
_HOME = re.compile(r"\bHOME\s*\(([^()]*)\)")
_PRY = re.compile(r"\b([FG])\.PRY\s*\(([^()]*)\)")
_PLAIN_FIELDS: dict[str, re.Pattern[str]] = {
    "barometer_m": re.compile(r"\bBAROMETER\s*:\s*([-+.\d]+)"),
    "height_m": re.compile(r"(?<![\w.])H\s+([-+.\d]+)\s*m\b"),
    "distance_m": re.compile(r"(?<![\w.])D\s+([-+.\d]+)\s*m\b"),
    "h_speed_ms": re.compile(r"\bH\.S\s+([-+.\d]+)"),
    "v_speed_ms": re.compile(r"\bV\.S\s+([-+.\d]+)"),
    "fnum": re.compile(r"(?:\bF/|\bFnum\s*:\s*)([\d.]+)"),
    "shutter": re.compile(r"(?:\bSS\s+|\bShutter\s*:\s*)([\d./]+)"),
    "iso": re.compile(r"\bISO\s*:?\s*(\d+)"),
    "ev": re.compile(r"\bEV\s*:?\s*([-+]?[\d./]+)"),
    "dzoom": re.compile(r"\bDZOOM\s+([\d.]+)"),
}


@dataclass
class _Cue:
    """One cue as read, before the file-level decisions (GPS order, time base) are made."""

    line: int
    number: int | None
    start_ms: int
    end_ms: int
    body: str
    bracketed: bool
    local_time: datetime | None = None
    time_error: str | None = None
    gps: list[str] | None = None  # plain format: the raw GPS(...) values
    values: dict[str, str] = field(default_factory=dict)  # bracketed keys, lower case


def looks_like_srt(text: str) -> bool:
    """True when the text has a SubRip timing line in its first lines (format detection, not validation)."""
    return any(_TIMING.match(line) for line in text.splitlines()[:200])


def _decode(data: bytes | str) -> str:
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _blocks(text: str) -> list[list[tuple[int, str]]]:
    """Runs of non-blank lines, each line with its 1-based number."""
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for n, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            current.append((n, line))
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _ms(h: str, m: str, s: str, frac: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(frac.ljust(3, "0"))


def _local_time(body: str) -> tuple[datetime | None, str | None]:
    m = _DATE.search(body)
    if m is None:
        return None, None
    y, mo, d, h, mi, s, frac, micro = m.groups()
    if micro is not None:  # `,720,764`: milliseconds then microseconds
        us = int(frac[:3].ljust(3, "0")) * 1000 + int(micro.ljust(3, "0"))
    else:
        us = int(frac.ljust(6, "0")[:6]) if frac else 0
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), us), None
    except ValueError as exc:
        return None, f"time {m.group(0)!r}: {exc}"


def _split_cues(block: list[tuple[int, str]]) -> tuple[list[_Cue], list[tuple[int, str]]]:
    """The cues of one block (usually one) and the lines that belong to none."""
    timing_at = [i for i, (_, line) in enumerate(block) if _TIMING.match(line)]
    if not timing_at:
        return [], block
    cues: list[_Cue] = []
    stray: list[tuple[int, str]] = []
    first = timing_at[0]
    lead = block[:first]
    number: int | None = None
    if lead and _INDEX.match(lead[-1][1]):
        number = int(lead[-1][1])
        lead = lead[:-1]
    stray.extend(lead)
    for k, t in enumerate(timing_at):
        end = timing_at[k + 1] if k + 1 < len(timing_at) else len(block)
        body_lines = block[t + 1:end]
        next_number: int | None = None
        if k + 1 < len(timing_at) and body_lines and _INDEX.match(body_lines[-1][1]):
            next_number = int(body_lines[-1][1])
            body_lines = body_lines[:-1]
        g = _TIMING.match(block[t][1]).groups()  # type: ignore[union-attr]
        body = _TAG.sub(" ", " ".join(line for _, line in body_lines))
        cues.append(_Cue(line=block[t][0], number=number, start_ms=_ms(*g[:4]), end_ms=_ms(*g[4:]), body=body,
                         bracketed=bool(_BRACKETED_HINT.search(body))))
        number = next_number
    return cues, stray


def _bracket_values(body: str) -> dict[str, str]:
    """`[iso : 100] [rel_alt: 1.3 abs_alt: 132.8]` -> {"iso": "100", "rel_alt": "1.3", "abs_alt": "132.8"}."""
    out: dict[str, str] = {}
    for group in _BRACKET.findall(body):
        keys = list(_KEY.finditer(group))
        for i, k in enumerate(keys):
            end = keys[i + 1].start() if i + 1 < len(keys) else len(group)
            out.setdefault(k.group(1).lower(), group[k.end():end].strip().rstrip(","))
    return out


def _num(s: str | None) -> float | None:
    """The number a DJI value starts with (`-57.98m`, `2.7°`, `0.0M`), None when there is none or it is not finite."""
    if s is None:
        return None
    m = _NUM.match(s.strip())
    if m is None:
        return None
    v = float(m.group(0))
    return v if math.isfinite(v) else None


def _wrap180(a: float | None) -> float | None:
    """Yaw into -180..180; values already there are returned as written (no float noise from the modulo)."""
    if a is None or -180.0 <= a <= 180.0:
        return a
    return (a + 180.0) % 360.0 - 180.0


def _scaled(raw: str | None, factor: float, threshold: float) -> float | None:
    """Older firmware writes `fnum : 280` (f/2.8 x100) and `focal_len : 240` (24 mm x10); newer `2.8`, `24.00`."""
    v = _num(raw)
    if v is None or raw is None:
        return None
    return v / factor if "." not in raw and v >= threshold else v


def _camera(values: dict[str, str]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for key in ("iso", "ct"):
        v = _num(values.get(key))
        if v is not None:
            extra[key] = int(v)
    if values.get("shutter"):
        extra["shutter"] = values["shutter"]
    ev = _num(values.get("ev"))
    if ev is not None:
        extra["ev"] = ev
    fnum = _scaled(values.get("fnum"), 100.0, 50.0)
    if fnum is not None:
        extra["fnum"] = fnum
    focal = _scaled(values.get("focal_len"), 10.0, 100.0)
    if focal is not None:
        extra["focal_len"] = focal
    dzoom = _num(values.get("dzoom_ratio", values.get("dzoom")))
    if dzoom is not None:
        extra["dzoom"] = dzoom
    if values.get("color_md"):
        extra["color_md"] = values["color_md"]
    return extra


def _position(lat: float | None, lon: float | None, raw: str) -> tuple[float | None, float | None, str | None, str]:
    """(lat, lon) or (None, None) with the position refusal's reason and detail."""
    if lat is None or lon is None:
        return None, None, "no_position", f"no GPS position ({raw})"
    if lat == 0.0 and lon == 0.0:
        return None, None, "no_position", f"GPS 0,0 is DJI's no-fix value ({raw})"
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None, None, "bad_position", f"latitude {lat} / longitude {lon} out of range ({raw})"
    return lat, lon, None, ""


def _lat_first(cues: list[_Cue]) -> bool:
    """The plain format's GPS order for this file: a value beyond ±90 settles it, else the unit on the third."""
    firsts = [_num(c.gps[0]) for c in cues if c.gps and len(c.gps) >= 2]
    seconds = [_num(c.gps[1]) for c in cues if c.gps and len(c.gps) >= 2]
    if any(v is not None and abs(v) > 90.0 for v in firsts):
        return False
    if any(v is not None and abs(v) > 90.0 for v in seconds):
        return True
    thirds = [c.gps[2] for c in cues if c.gps and len(c.gps) >= 3]
    return any(re.search(r"\d\s*[mM]\s*$", t) for t in thirds)


def _bracketed_pose(cue: _Cue) -> tuple[dict[str, Any], str]:
    v = cue.values
    lat_raw = v.get("latitude")
    lon_raw = v.get("longitude", v.get("longtitude"))
    fields: dict[str, Any] = {
        "lat": _num(lat_raw), "lon": _num(lon_raw),
        "alt_rel_m": _num(v.get("rel_alt")), "alt_abs_m": _num(v.get("abs_alt")),
        "gimbal_yaw": _wrap180(_num(v.get("gb_yaw"))), "gimbal_pitch": _num(v.get("gb_pitch")),
        "gimbal_roll": _num(v.get("gb_roll")),
    }
    extra = _camera(v)
    # `[altitude: 213.98]` (Mavic 2, Air 2S) reads about the ground's elevation at take-off, but DJI does not say
    # whether above the geoid or the ellipsoid, so it is kept as written rather than passed off as alt_abs_m.
    altitude = _num(v.get("altitude"))
    if altitude is not None:
        extra["altitude_m"] = altitude
    return {**fields, "extra": extra}, f"latitude {lat_raw!r}, longitude {lon_raw!r}"


def _plain_pose(cue: _Cue, lat_first: bool) -> tuple[dict[str, Any], str]:
    body = cue.body
    gps = cue.gps or []
    a, b = (_num(gps[0]), _num(gps[1])) if len(gps) >= 2 else (None, None)
    lat, lon = (a, b) if lat_first else (b, a)
    found = {k: m.group(1) for k, p in _PLAIN_FIELDS.items() if (m := p.search(body))}
    extra = _camera({"iso": found.get("iso", ""), "shutter": found.get("shutter", ""), "ev": found.get("ev", ""),
                     "fnum": found.get("fnum", ""), "dzoom": found.get("dzoom", "")})
    for key in ("distance_m", "h_speed_ms", "v_speed_ms"):
        val = _num(found.get(key))
        if val is not None:
            extra[key] = val
    if len(gps) >= 3:
        third = gps[2].strip()
        if re.search(r"\d\s*[mM]$", third):
            extra["gps_alt_m"] = _num(third)
        elif (sats := _num(third)) is not None:
            extra["satellites"] = int(sats)
    if home := _HOME.search(body):
        parts = home.group(1).split(",")
        h1, h2 = (_num(parts[0]), _num(parts[1])) if len(parts) >= 2 else (None, None)
        extra["home_lat"], extra["home_lon"] = (h1, h2) if lat_first else (h2, h1)
        if len(parts) >= 3 and (home_alt := _num(parts[2])) is not None:
            extra["home_alt_m"] = home_alt
    # BAROMETER (Mavic Pro, M300) and `H` (Mini, Phantom 4) are both the height above the take-off point.
    alt_rel = _num(found.get("barometer_m"))
    if alt_rel is None:
        alt_rel = _num(found.get("height_m"))
    fields: dict[str, Any] = {"lat": lat, "lon": lon, "alt_rel_m": alt_rel, "extra": extra}
    for kind, inner in _PRY.findall(body):
        p, r, y = ([_num(x) for x in inner.split(",")] + [None, None, None])[:3]
        prefix = "" if kind == "F" else "gimbal_"
        fields.update({f"{prefix}pitch": p, f"{prefix}roll": r, f"{prefix}yaw": _wrap180(y)})
    return fields, f"GPS({','.join(gps)})"


def _read(text: str) -> tuple[list[_Cue], list[Refusal]]:
    cues: list[_Cue] = []
    refusals: list[Refusal] = []
    for block in _blocks(text):
        found, stray = _split_cues(block)
        if stray:
            sample = stray[0][1].strip()[:60]
            refusals.append(Refusal(stray[0][0], "unparsable_cue",
                                    f"line {stray[0][0]}: {len(stray)} line(s) outside any cue, first {sample!r}"))
        for cue in found:
            cue.local_time, cue.time_error = _local_time(cue.body)
            if cue.bracketed:
                cue.values = _bracket_values(cue.body)
            elif (g := _GPS.search(cue.body)) is not None:
                cue.gps = g.group(1).split(",")
            cues.append(cue)
    return cues, refusals


def parse_srt(data: bytes | str, *, tz: tzinfo, start: datetime | None, device_id: str,
              progress: Callable[[int, int], None] | None = None) -> ParsedTelemetry:
    """Poses from a DJI SRT file (bytes in any line ending, with or without a BOM); never raises for a bad cue.

    Raises `TelemetryFileError("no_date")` when no cue carries a date and `start` is None."""
    cues, refusals = _read(_decode(data))
    kinds = Counter(c.bracketed for c in cues if c.bracketed or c.gps is not None)
    fmt = BRACKETED if kinds[True] > kinds[False] else PLAIN
    dated = any(c.local_time is not None or c.time_error is not None for c in cues)
    if cues and not dated and start is None:
        raise TelemetryFileError("no_date", "the file's cues carry no date, only offsets from the video start: "
                                            "give the local start time of the recording (--start)")
    base = None if start is None else (start if start.tzinfo is not None else start.replace(tzinfo=tz))
    lat_first = _lat_first(cues)
    poses: list[Pose] = []
    for i, cue in enumerate(cues):
        if progress is not None and i % 1000 == 0:
            progress(i, len(cues))
        if not cue.bracketed and cue.gps is None:
            refusals.append(Refusal(cue.line, "unparsable_cue",
                                    f"line {cue.line}: cue has no GPS(...) or [latitude: ...] telemetry"))
            continue
        if cue.time_error is not None:
            refusals.append(Refusal(cue.line, "bad_time", f"line {cue.line}: {cue.time_error}"))
            continue
        if cue.local_time is not None:
            when = cue.local_time.replace(tzinfo=tz).astimezone(UTC)
        elif not dated and base is not None:
            when = (base + timedelta(milliseconds=cue.start_ms)).astimezone(UTC)
        else:
            refusals.append(Refusal(cue.line, "no_time", f"line {cue.line}: cue has no date while others do"))
            continue
        fields, raw = _bracketed_pose(cue) if cue.bracketed else _plain_pose(cue, lat_first)
        lat, lon, reason, detail = _position(fields.pop("lat"), fields.pop("lon"), raw)
        if reason is not None:
            refusals.append(Refusal(cue.line, reason, f"line {cue.line}: {detail}", position_only=True))
        extra: dict[str, Any] = fields.pop("extra")
        counter = _COUNTER.search(cue.body)
        diff = _DIFF.search(cue.body)
        extra.update({"cue": cue.number, "cue_start_ms": cue.start_ms, "cue_end_ms": cue.end_ms,
                      "video_offset_s": cue.start_ms / 1000.0})
        if counter:
            extra["frame"] = int(counter.group(2))
        if diff:
            extra["diff_time_ms"] = int(diff.group(1))
        poses.append(Pose(time=when, device_id=device_id, lat=lat, lon=lon, source="srt", extra=extra, **fields))
    if progress is not None:
        progress(len(cues), len(cues))
    refusals.sort(key=lambda r: r.index)
    return ParsedTelemetry(format=fmt, poses=poses, refusals=refusals)
