"""When a zone's rule applies: IANA time zone, weekdays, daily hour ranges (may cross midnight).

Semantics (the same as OSM ``opening_hours`` and ED-269 ``DailyPeriod``):

* times are local wall-clock times in ``tz`` (default Asia/Shanghai), minute resolution;
* a range ``start-end`` with ``end <= start`` crosses midnight and belongs to the weekday it
  *starts* on: ``Fri 22:00-06:00`` covers Friday 22:00 to Saturday 06:00 (and not Friday 03:00);
  ``end == start`` means 24 hours from ``start``; ``24:00`` is a valid end;
* no ``hours`` means all day on the listed weekdays; ``start_date``/``end_date`` (inclusive) and
  ``exclude_dates`` also refer to the day a range starts on;
* ``is_active`` refuses naive datetimes: guessing a zone for evidence times is how off-by-8-hours
  bugs happen.

Activity only changes on whole minutes, so callers may cache ``is_active`` per minute.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

_DAY_NAMES = {
    "mon": 1,
    "mo": 1,
    "monday": 1,
    "tue": 2,
    "tu": 2,
    "tuesday": 2,
    "wed": 3,
    "we": 3,
    "wednesday": 3,
    "thu": 4,
    "th": 4,
    "thursday": 4,
    "fri": 5,
    "fr": 5,
    "friday": 5,
    "sat": 6,
    "sa": 6,
    "saturday": 6,
    "sun": 7,
    "su": 7,
    "sunday": 7,
}
_TIME_RE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def _minutes(text: str) -> int:
    m = _TIME_RE.match(text)
    if not m:
        raise ValueError(f"time {text!r} is not HH:MM")
    value = int(m.group(1)) * 60 + int(m.group(2))
    if value > 24 * 60:
        raise ValueError(f"time {text!r} is after 24:00")
    return value


class TimeRange(BaseModel):
    """A daily local-time range; crosses midnight when ``end <= start``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str = Field(description="Local start time HH:MM (inclusive).", examples=["07:00"])
    end: str = Field(description="Local end time HH:MM (exclusive); 24:00 allowed; <= start crosses midnight.")

    @field_validator("start", "end")
    @classmethod
    def _check_time(cls, value: str) -> str:
        _minutes(value)
        return value

    @field_validator("start")
    @classmethod
    def _start_before_24(cls, value: str) -> str:
        if _minutes(value) >= 24 * 60:
            raise ValueError("start must be before 24:00")
        return value

    @property
    def start_min(self) -> int:
        """Start as minutes since local midnight."""
        return _minutes(self.start)

    @property
    def end_min(self) -> int:
        """End as minutes since local midnight (1440 for 24:00)."""
        return _minutes(self.end)

    @property
    def crosses_midnight(self) -> bool:
        """True when the range continues into the next day."""
        return self.end_min <= self.start_min and self.end_min != 24 * 60


class Schedule(BaseModel):
    """Recurring activity window of a zone rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tz: str = Field(default="Asia/Shanghai", description="IANA time zone the times are expressed in.")
    weekdays: tuple[int, ...] = Field(
        default=(1, 2, 3, 4, 5, 6, 7),
        description="ISO weekdays (1 = Monday ... 7 = Sunday) on which ranges start; names like 'MON'/'Mo' "
        "are accepted on input.",
    )
    hours: tuple[TimeRange, ...] = Field(default=(), description="Daily local time ranges; empty means the whole day.")
    start_date: date | None = Field(default=None, description="First local date the schedule applies (inclusive).")
    end_date: date | None = Field(default=None, description="Last local date the schedule applies (inclusive).")
    exclude_dates: tuple[date, ...] = Field(
        default=(), description="Local dates on which no range starts (e.g. public holidays)."
    )

    @field_validator("tz")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("weekdays", mode="before")
    @classmethod
    def _parse_weekdays(cls, value: object) -> object:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            return value
        out: list[int] = []
        for item in value:
            if isinstance(item, str):
                key = item.strip().lower()
                if key not in _DAY_NAMES:
                    raise ValueError(f"unknown weekday {item!r}")
                out.append(_DAY_NAMES[key])
            elif isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= 7:
                out.append(item)
            else:
                raise ValueError(f"weekday {item!r} must be 1..7 (ISO, Monday = 1) or a name")
        if not out:
            raise ValueError("weekdays must not be empty")
        return tuple(sorted(set(out)))

    @cached_property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def _day_ok(self, d: date) -> bool:
        if d.isoweekday() not in self.weekdays:
            return False
        if self.start_date is not None and d < self.start_date:
            return False
        if self.end_date is not None and d > self.end_date:
            return False
        return d not in self.exclude_dates

    def is_active(self, at: datetime) -> bool:
        """Is the rule active at the (timezone-aware) instant ``at``?"""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("Schedule.is_active needs a timezone-aware datetime")
        local = at.astimezone(self._zone)
        today = local.date()
        minute = local.hour * 60 + local.minute
        if not self.hours:
            return self._day_ok(today)
        yesterday = today - timedelta(days=1)
        for r in self.hours:
            s, e = r.start_min, r.end_min
            if e > s:  # same-day range (24:00 end included)
                if s <= minute < e and self._day_ok(today):
                    return True
            else:  # crosses midnight (or 24 h when e == s)
                if minute >= s and self._day_ok(today):
                    return True
                if minute < e and self._day_ok(yesterday):
                    return True
        return False
