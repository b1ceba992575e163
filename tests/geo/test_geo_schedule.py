"""Schedules in Asia/Shanghai: weekdays, ranges crossing midnight, dates, validation (table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from geo.schedule import Schedule

CST = timezone(timedelta(hours=8))
# 2025-01-06 is a Monday.
MON, TUE, FRI, SAT, SUN = 6, 7, 10, 11, 12


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2025, 1, day, hh, mm, tzinfo=CST)


WEEKDAY_DAYTIME = Schedule(weekdays=["Mo", "Tu", "We", "Th", "Fr"], hours=[{"start": "07:00", "end": "21:00"}])
NIGHT = Schedule(hours=[{"start": "22:00", "end": "06:00"}])  # every day, across midnight
FRI_NIGHT = Schedule(weekdays=["FRI"], hours=[{"start": "22:00", "end": "06:00"}])
TWO_RANGES = Schedule(weekdays=[6, 7], hours=[{"start": "08:00", "end": "12:00"}, {"start": "14:00", "end": "24:00"}])

TABLE = [
    # schedule, instant, expected, why
    (WEEKDAY_DAYTIME, at(MON, 7, 0), True, "start is inclusive"),
    (WEEKDAY_DAYTIME, at(MON, 6, 59), False, "before start"),
    (WEEKDAY_DAYTIME, at(MON, 20, 59), True, "last minute"),
    (WEEKDAY_DAYTIME, at(MON, 21, 0), False, "end is exclusive"),
    (WEEKDAY_DAYTIME, at(SAT, 12, 0), False, "weekend"),
    (WEEKDAY_DAYTIME, at(FRI, 12, 0), True, "Friday"),
    (NIGHT, at(TUE, 23, 30), True, "before midnight"),
    (NIGHT, at(TUE, 3, 0), True, "after midnight"),
    (NIGHT, at(TUE, 6, 0), False, "end exclusive after midnight"),
    (NIGHT, at(TUE, 21, 59), False, "before start"),
    (NIGHT, at(TUE, 12, 0), False, "midday"),
    (FRI_NIGHT, at(FRI, 23, 0), True, "Friday night"),
    (FRI_NIGHT, at(SAT, 5, 59), True, "Saturday early morning belongs to Friday's range"),
    (FRI_NIGHT, at(FRI, 3, 0), False, "Friday early morning belongs to Thursday, not listed"),
    (FRI_NIGHT, at(SAT, 23, 0), False, "Saturday night not listed"),
    (TWO_RANGES, at(SAT, 13, 0), False, "gap between ranges"),
    (TWO_RANGES, at(SUN, 23, 59), True, "24:00 end covers the last minute"),
    (TWO_RANGES, at(MON, 0, 0), False, "24:00 end does not spill into Monday"),
    (TWO_RANGES, at(SAT, 9, 0), True, "morning range"),
    # the time zone matters: 23:00 UTC Monday is 07:00 Tuesday in Shanghai
    (WEEKDAY_DAYTIME, datetime(2025, 1, 6, 23, 0, tzinfo=UTC), True, "UTC instant converted"),
    (WEEKDAY_DAYTIME, datetime(2025, 1, 10, 13, 30, tzinfo=UTC), False, "Fri 13:30 UTC = Fri 21:30 CST"),
    (Schedule(), at(SUN, 3, 0), True, "default: always"),
    (Schedule(weekdays=[7]), at(SUN, 23, 59), True, "all day Sunday"),
    (Schedule(weekdays=[7]), at(MON, 0, 0), False, "not Monday"),
    (Schedule(hours=[{"start": "08:00", "end": "08:00"}]), at(TUE, 7, 59), True, "start == end: 24 h"),
    (Schedule(tz="Europe/Berlin", hours=[{"start": "09:00", "end": "17:00"}]), at(MON, 16, 30), True, "Berlin 09:30"),
]


@pytest.mark.parametrize(("schedule", "instant", "expected", "why"), TABLE, ids=[t[3] for t in TABLE])
def test_schedule_table(schedule: Schedule, instant: datetime, expected: bool, why: str) -> None:
    assert schedule.is_active(instant) is expected, why


def test_dates_and_exclusions_apply_to_the_start_day() -> None:
    s = Schedule(
        hours=[{"start": "22:00", "end": "02:00"}],
        start_date="2025-01-07",
        end_date="2025-01-09",
        exclude_dates=["2025-01-08"],
    )
    assert not s.is_active(at(6, 23))  # before start_date
    assert s.is_active(at(7, 23))
    assert s.is_active(at(8, 1))  # belongs to the 7th
    assert not s.is_active(at(8, 23))  # excluded date
    assert not s.is_active(at(9, 1))  # belongs to the excluded 8th
    assert s.is_active(at(10, 1))  # belongs to the 9th (end_date inclusive)
    assert not s.is_active(at(10, 23))


def test_naive_datetime_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Schedule().is_active(datetime(2025, 1, 6, 12, 0))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"weekdays": ["Funday"]}, "unknown weekday"),
        ({"weekdays": [0]}, "1..7"),
        ({"weekdays": []}, "must not be empty"),
        ({"hours": [{"start": "7:00", "end": "21:00"}]}, "HH:MM"),
        ({"hours": [{"start": "24:00", "end": "01:00"}]}, "before 24:00"),
        ({"hours": [{"start": "07:00", "end": "25:00"}]}, "HH:MM"),
        ({"hours": [{"start": "07:00"}]}, "end"),
        ({"every": "day"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_schedules(data: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Schedule.model_validate(data)


def test_json_roundtrip_and_descriptions() -> None:
    s = Schedule(weekdays=["sat", "Sun"], hours=[{"start": "22:00", "end": "06:00"}])
    assert s.weekdays == (6, 7)
    assert Schedule.model_validate_json(s.model_dump_json()) == s
    for name, field in Schedule.model_fields.items():
        assert field.description, name
