"""Periods of the day in a device's local time zone (default Asia/Shanghai).

Chinese noise rules split the day into 昼间 06:00-22:00 and 夜间 22:00-06:00 local time. Everything here works
on POSIX seconds (float) plus a cached UTC offset, so the engine never builds datetimes per reading.
A period crossing midnight (22:00-06:00) belongs to the weekday it *started* on: Saturday 02:00 is part of
Friday's night.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Shanghai"
DAY = 86400


def parse_hours(hours: str) -> tuple[int, int]:
    """`"22:00-06:00"` -> (79200, 21600) seconds of the local day; `"00:00-24:00"` -> (0, 86400)."""
    try:
        a, b = hours.split("-")
        start = _clock(a)
        end = _clock(b)
    except ValueError as exc:
        raise ValueError(f"period hours must look like HH:MM-HH:MM, got {hours!r}") from exc
    if start >= DAY or end > DAY or start == end:
        raise ValueError(f"period hours {hours!r} out of range or empty")
    return start, end


def _clock(s: str) -> int:
    hh, mm = s.strip().split(":")
    h, m = int(hh), int(mm)
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise ValueError(s)
    return h * 3600 + m * 60


class DailyPeriod:
    """A period of the local day, optionally restricted to the ISO weekdays on which it starts."""

    __slots__ = ("crosses", "end", "name", "start", "weekdays")

    def __init__(self, name: str, start: int, end: int, weekdays: frozenset[int] | None = None) -> None:
        self.name = name
        self.start = start
        self.end = end
        self.crosses = start > end
        self.weekdays = weekdays

    @classmethod
    def parse(cls, name: str, hours: str, weekdays: list[int] | None = None) -> DailyPeriod:
        """The period `hours` (see `parse_hours`) starting on ISO `weekdays` (1=Monday..7; None or empty: every
        day); ValueError when either is out of range."""
        s, e = parse_hours(hours)
        if weekdays is not None and not all(1 <= d <= 7 for d in weekdays):
            raise ValueError(f"weekdays must be ISO weekdays 1..7, got {weekdays}")
        return cls(name, s, e, frozenset(weekdays) if weekdays else None)

    @property
    def is_all_day(self) -> bool:
        return self.start == 0 and self.end == DAY and self.weekdays is None

    def contains(self, sod: float, weekday: int) -> bool:
        """`sod`: seconds since local midnight; `weekday`: ISO weekday of that local date."""
        if self.crosses:
            if sod >= self.start:
                inside, start_day = True, weekday
            elif sod < self.end:
                inside, start_day = True, 7 if weekday == 1 else weekday - 1
            else:
                return False
        else:
            inside, start_day = self.start <= sod < self.end, weekday
        if not inside:
            return False
        return self.weekdays is None or start_day in self.weekdays


    def seconds_to_boundary(self, sod: float) -> float:
        """Seconds from `sod` until membership may next change (a start/end mark, midnight for weekday
        periods), capped at 900 s so a UTC-offset change is picked up."""
        marks = [self.start, self.end % DAY]
        if self.weekdays is not None:
            marks.append(0)
        delta = min((m - sod) % DAY or DAY for m in marks)
        return min(delta, 900.0)


def local_parts(ts: float, offset: int) -> tuple[float, int, int]:
    """POSIX seconds + UTC offset -> (seconds of local day, ISO weekday, local day number since 1970-01-01)."""
    local = ts + offset
    day = int(local // DAY)
    return local - day * DAY, (day + 3) % 7 + 1, day  # 1970-01-01 was a Thursday (ISO 4)


class LocalClock:
    """UTC offset of one time zone, cached per UTC quarter hour (offsets change only on quarter hours)."""

    __slots__ = ("_cache", "tz")

    def __init__(self, tz: str | ZoneInfo = DEFAULT_TZ) -> None:
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self._cache: dict[int, int] = {}

    def offset(self, ts: float) -> int:
        q = int(ts // 900)
        off = self._cache.get(q)
        if off is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            dt = datetime.fromtimestamp(q * 900, UTC).astimezone(self.tz)
            off = int((dt.utcoffset() or timedelta(0)).total_seconds())
            self._cache[q] = off
        return off

    def parts(self, ts: float) -> tuple[float, int, int]:
        return local_parts(ts, self.offset(ts))


_CLOCKS: dict[str, LocalClock] = {}


def clock_for(tz: str) -> LocalClock:
    """A shared LocalClock per zone name."""
    c = _CLOCKS.get(tz)
    if c is None:
        c = _CLOCKS[tz] = LocalClock(tz)
    return c
