"""Day/night periods in Asia/Shanghai, crossing midnight, and weekday schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from detectors.sensors.engine import RuleEngine
from detectors.sensors.periods import DailyPeriod, LocalClock, parse_hours
from ingest.models import Reading
from testkit.rules_helpers import catalogue, good_device, rule

SH = ZoneInfo("Asia/Shanghai")
NIGHT = DailyPeriod.parse("night", "22:00-06:00")
DAY = DailyPeriod.parse("day", "06:00-22:00")


def at(y, mo, d, h, mi, s=0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=SH).timestamp()


@pytest.mark.parametrize(
    ("local", "night"),
    [
        ((21, 59, 59), False),
        ((22, 0, 0), True),  # start inclusive
        ((23, 30, 0), True),
        ((0, 0, 0), True),
        ((5, 59, 59), True),
        ((6, 0, 0), False),  # end exclusive
        ((12, 0, 0), False),
    ],
)
def test_night_across_22_and_06_shanghai(local, night):
    clock = LocalClock("Asia/Shanghai")
    ts = at(2025, 3, 4, *local)
    sod, wd, _ = clock.parts(ts)
    assert NIGHT.contains(sod, wd) is night
    assert DAY.contains(sod, wd) is (not night)


def test_local_time_not_utc():
    # 14:30 UTC is 22:30 in Shanghai: night there, though it is afternoon in UTC
    ts = datetime(2025, 3, 4, 14, 30, tzinfo=UTC).timestamp()
    sod, wd, _ = LocalClock("Asia/Shanghai").parts(ts)
    assert NIGHT.contains(sod, wd)
    sod_utc, wd_utc, _ = LocalClock("UTC").parts(ts)
    assert not NIGHT.contains(sod_utc, wd_utc)


def test_weekday_schedule_night_belongs_to_start_day():
    # night work banned only on nights starting Friday (5) and Saturday (6)
    weekend_nights = DailyPeriod.parse("night", "22:00-06:00", [5, 6])
    clock = LocalClock("Asia/Shanghai")
    cases = [
        (at(2025, 3, 7, 23, 0), True),  # Friday 23:00
        (at(2025, 3, 8, 2, 0), True),  # Saturday 02:00: Friday's night
        (at(2025, 3, 9, 2, 0), True),  # Sunday 02:00: Saturday's night
        (at(2025, 3, 9, 23, 0), False),  # Sunday 23:00: Sunday's night
        (at(2025, 3, 7, 2, 0), False),  # Friday 02:00: Thursday's night
        (at(2025, 3, 10, 2, 0), False),  # Monday 02:00: Sunday's night
    ]
    for ts, expected in cases:
        assert weekend_nights.contains(*clock.parts(ts)[:2]) is expected, datetime.fromtimestamp(ts, SH)


def test_weekday_daytime_schedule():
    workdays = DailyPeriod.parse("day", "08:00-18:00", [1, 2, 3, 4, 5])
    clock = LocalClock("Asia/Shanghai")
    assert workdays.contains(*clock.parts(at(2025, 3, 3, 9, 0))[:2])  # Monday
    assert not workdays.contains(*clock.parts(at(2025, 3, 8, 9, 0))[:2])  # Saturday
    assert not workdays.contains(*clock.parts(at(2025, 3, 3, 18, 0))[:2])


@pytest.mark.parametrize("bad", ["22-06", "25:00-06:00", "06:00-06:00", "06:00"])
def test_bad_hours_rejected(bad):
    with pytest.raises(ValueError):
        parse_hours(bad)


def test_engine_applies_night_rule_only_at_night_and_ends_at_period_end():
    """A night rule sees 21:59 and 06:00 readings as out of period; an open alert ends at 06:00."""
    cat = catalogue(rule(period={"name": "night", "hours": "22:00-06:00"}, sustained_s=0, clear_s=0))
    eng = RuleEngine(cat, [good_device()])
    def r(h, mi, day, v):
        return Reading(datetime(2025, 3, day, h, mi, tzinfo=SH).astimezone(UTC), "d1", "x", v)

    assert eng.feed(r(21, 59, 3, 50.0)) == []  # loud, but day time
    opened = eng.feed(r(22, 0, 3, 50.0))
    assert [e.type for e in opened] == ["open"]
    assert {e.type for e in eng.feed(r(5, 59, 4, 50.0))} <= {"update"}  # still open
    ended = eng.feed(r(6, 0, 4, 50.0))
    assert [(e.type, e.end_reason) for e in ended] == [("end", "period_end")]
    assert ended[0].end == datetime(2025, 3, 4, 5, 59, tzinfo=SH)
    assert eng.feed(r(7, 0, 4, 50.0)) == []
