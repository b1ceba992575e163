"""Which telemetry format a file is, from its bytes (never its name), and the parser for it.

`parse_telemetry(data, tz=, start=, device_id=)` is what the import command and the video `analyze` command call:
a `.SRT` beside a video keeps each cue's start offset in `Pose.extra["video_offset_s"]`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from ingest.telemetry import srt, tlog
from ingest.telemetry.records import ParsedTelemetry, TelemetryFileError

__all__ = ["DEFAULT_TZ", "detect_format", "parse_telemetry"]

DEFAULT_TZ = "Asia/Shanghai"  # DJI writes the aircraft's local time; most of our flights are in China
_SNIFF = 64 * 1024


def detect_format(data: bytes) -> str | None:
    """"mavlink_tlog", "dji_srt_bracketed", "dji_srt", or None when the bytes are none of them."""
    if tlog.looks_like_tlog(data):
        return tlog.FORMAT
    head = data[:_SNIFF].decode("utf-8", errors="replace").removeprefix("\ufeff")
    if not srt.looks_like_srt(head.replace("\r\n", "\n").replace("\r", "\n")):
        return None
    low = head.lower()
    return srt.BRACKETED if any(f"[{k}" in low.replace(" ", "") for k in ("latitude", "longitude", "longtitude")) \
        else srt.PLAIN


def parse_telemetry(data: bytes, *, tz: tzinfo, start: datetime | None, device_id: str,
                    progress: Callable[[int, int], None] | None = None) -> ParsedTelemetry:
    """Poses and refusals from a telemetry file of any supported format.

    `tz` places DJI's local times (SRT only; tlog times are UTC); `start` is the local start of the recording for
    an SRT without dates. Raises `TelemetryFileError` (`unknown_format`, `no_date`) when the file is refused whole;
    bad records inside a file are refusals, never exceptions."""
    fmt = detect_format(data)
    if fmt is None:
        raise TelemetryFileError("unknown_format", f"not a DJI SRT or a MAVLink tlog (first bytes {data[:16]!r})")
    if fmt == tlog.FORMAT:
        return tlog.parse_tlog(data, device_id=device_id, progress=progress)
    return srt.parse_srt(data, tz=tz, start=start, device_id=device_id, progress=progress)
