"""Full windows only: a rule is judged once its window holds the data its averaging needs (at a period start,
after a gap, when a device first reports), and an alert says what its value rests on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detectors.sensors.admissibility import ZoneRef
from detectors.sensors.averaging import leq
from detectors.sensors.catalogue import Catalogue, load_default_catalogue
from detectors.sensors.coverage import default_max_gap_s, default_min_span_s, resolve
from detectors.sensors.engine import RuleEngine
from gateway.alerts.clues import sensor_clue
from gateway.alerts.detail import SensorDetail
from ingest.models import Reading
from testkit.rules_helpers import T0, catalogue, good_device, reading, rule

CAT = load_default_catalogue()
SITE = (ZoneRef("site-1", "construction_site"),)
NIGHT_2025 = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)  # 22:00 Asia/Shanghai: the GB 12523-2011 night starts
QUIET = 45.06  # 2 min at 60 dB(A) and 18 min at this level make a 20-minute LAeq of 51.1 dB(A)


def minutes(values: list[float], start: datetime, metric: str = "LAeq", first: int = 1) -> list[Reading]:
    """One-minute LAeq values stamped at the end of their minute: `first` minutes after `start` onwards."""
    return [Reading(start + timedelta(minutes=first + i), "d1", metric, v, None) for i, v in enumerate(values)]


def gb12523_night(**update) -> Catalogue:
    return Catalogue([CAT["gb12523_2011.night.laeq"].model_copy(update=update)])


def test_the_2200_burst_is_a_compliant_20_minute_laeq():
    burst = minutes([60.0, 60.0] + [QUIET] * 18, NIGHT_2025)  # 22:01 .. 22:20
    assert round(leq([r.value for r in burst]), 1) == 51.1
    # the same readings, judged as the engine did before: a "20-minute LAeq" of two readings opened at 22:02
    partial = RuleEngine(gb12523_night(min_span_s=0), [good_device(zones=SITE)]).feed_many(burst)
    assert [(e.type, e.value) for e in partial][:1] == [("open", 60.0)]
    events = RuleEngine(gb12523_night(), [good_device(zones=SITE)]).feed_many(burst)
    assert events == []


@pytest.mark.parametrize(("before", "after"), [(0, 0), (30, 0), (0, 5)], ids=["first-report", "day-before", "after"])
def test_night_laeq_is_judged_from_its_first_full_window(before: int, after: int):
    # day readings before 22:00 belong to the day window: the night window fills from 22:00 on
    day = minutes([50.0] * before, NIGHT_2025 - timedelta(minutes=before), first=0)
    loud = minutes([62.0] * (20 + after), NIGHT_2025)
    engine = RuleEngine(gb12523_night(), [good_device(zones=SITE)])
    events = engine.feed_many(day + loud)
    opened = [e for e in events if e.type == "open"]
    if after == 0:
        assert opened == []  # 22:20 is the first full window; sustained_s (60 s) is not reached yet
        return
    (ev,) = opened
    assert ev.at == NIGHT_2025 + timedelta(minutes=21) and ev.start == NIGHT_2025 + timedelta(minutes=20)
    assert len(ev.readings) == 20 and ev.readings[0].time == NIGHT_2025 + timedelta(minutes=2)
    assert (ev.coverage.span_s, ev.coverage.required_s, ev.coverage.gaps) == (1200, 1200, 0)


@pytest.mark.parametrize(
    ("segments", "opens_at"),
    [
        ([(0, 1000)], 590),                 # first report at 0 (every 10 s): (t-600, t] full at 590
        ([(0, 300), (350, 1000)], 590),     # 50 s without data is within max_gap_s (60 s): unbroken
        ([(0, 300), (700, 1400)], 1290),    # a 400 s gap: the window refills from 700 (standing for 690-700)
        ([(0, 550)], None),                 # never 600 s of data
    ],
)
def test_sliding_window_waits_for_its_span_after_a_gap(segments, opens_at):
    cat = catalogue(rule(averaging="leq", window_s=600, sustained_s=0, min_span_s=None))
    engine = RuleEngine(cat, [good_device()])
    readings = [reading(float(t), 20.0) for a, b in segments for t in range(a, b, 10)]
    opened = [e for e in engine.feed_many(readings) if e.type == "open"]
    assert [e.at for e in opened][:1] == ([] if opens_at is None else [T0 + timedelta(seconds=opens_at)])


HOUR = 3600.0


def hourly_rule(min_span_s: float | None):
    return rule(averaging="leq", window_s=3600, window_kind="tumbling", sustained_s=0, clear_s=0,
                min_span_s=min_span_s)


@pytest.mark.parametrize(
    ("first_min", "hole", "min_span_s", "judged_hours", "gaps"),
    [
        (0, None, None, [0, 1], 0),       # reports from the top of the hour: both hours are full
        (10, None, None, [1], 0),         # first report at :10: that hour is not an hourly LAeq
        (0, (80, 90), None, [0], 0),      # a 10-minute hole in the second hour: not evaluated
        (0, (80, 90), 3000, [0, 1], 1),   # a rule that accepts 50 minutes judges it, and says it was cut
    ],
)
def test_tumbling_hour_needs_the_full_hour(first_min, hole, min_span_s, judged_hours, gaps):
    engine = RuleEngine(catalogue(hourly_rule(min_span_s)), [good_device()])
    ts = [m for m in range(first_min, 120) if hole is None or not hole[0] < m < hole[1]]
    events = engine.feed_many([reading(m * 60.0, 20.0) for m in ts]) + engine.advance(T0 + timedelta(hours=3))
    # every judged hour exceeds (20 > 10): the first opens the alert, the next one updates it
    assert [int((e.at - T0).total_seconds() // HOUR) - 1 for e in events] == judged_hours
    assert engine.trackers()[0].incomplete == 2 - len(judged_hours)
    cov = events[-1].coverage
    assert (cov.gaps, cov.span_s) == (gaps, 3600.0 - 600.0 * gaps)


@pytest.mark.parametrize(("hours", "opens"), [(19, False), (20, True), (24, True)])
def test_gb3095_daily_mean_needs_20_hourly_values(hours: int, opens: bool):
    zone = (ZoneRef("air-1", "ambient_air_class_2"),)
    cat = Catalogue([CAT["gb3095_2012.class2.pm10.24h"]])
    day = T0.replace(hour=16)  # local midnight (Asia/Shanghai) starting 2025-03-04
    engine = RuleEngine(cat, [good_device(zones=zone)])
    readings = [Reading(day + timedelta(hours=h, minutes=30), "d1", "PM10", 200.0, None) for h in range(hours)]
    events = engine.feed_many(readings) + engine.advance(day + timedelta(days=1, hours=1))
    opened = [e for e in events if e.type == "open"]
    assert bool(opened) is opens
    if opens:
        cov = opened[0].coverage
        assert (cov.count, cov.required_count) == (hours, 20)
        assert cov.cut_by_gap  # the day was not covered from end to end: the alert says so


def test_alert_detail_carries_the_coverage():
    loud = minutes([62.0] * 22, NIGHT_2025)
    (ev,) = [e for e in RuleEngine(gb12523_night(), [good_device(zones=SITE)]).feed_many(loud) if e.type == "open"]
    detail = SensorDetail.model_validate(sensor_clue(ev).detail)
    assert detail.coverage is not None
    assert (detail.coverage.span_s, detail.coverage.required_s, detail.coverage.gaps) == (1200, 1200, 0)


@pytest.mark.parametrize(
    ("averaging", "window_s", "span", "gap"),
    [("leq", 1200, 1200, 60), ("leq", 3600, 3600, 180), ("mean", 86400, 86400, 4320), ("sample", 0, 0, 60)],
)
def test_coverage_defaults_per_averaging_kind(averaging, window_s, span, gap):
    assert (default_min_span_s(averaging, window_s), default_max_gap_s(window_s)) == (span, gap)
    assert resolve(averaging, window_s, None, None, None, None).min_span_s == span


@pytest.mark.parametrize(
    "fields",
    [{"min_count": 20}, {"count_unit_s": 3600}, {"min_count": 20, "count_unit_s": 3600, "window_kind": "sliding"},
     {"method": "gb18483", "averaging": "mean", "window_s": 600}],
)
def test_coverage_fields_refused_when_inconsistent(fields):
    base = {"averaging": "mean", "window_s": 86400, "window_kind": "tumbling"}
    with pytest.raises(ValueError):
        rule(**{**base, **fields})


def test_open_alert_is_not_stale_while_its_window_refills_after_a_gap():
    cat = catalogue(rule(averaging="leq", window_s=1200, sustained_s=0, clear_s=60, min_span_s=None))
    engine = RuleEngine(cat, [good_device()], stale_after_s=900)
    loud = [reading(float(t), 20.0) for t in [*range(0, 1500, 10), *range(1900, 3400, 10)]]  # a 400 s gap
    events = []
    for r in loud:
        events += engine.feed(r)
        events += engine.advance(r.time)
    assert [e.type for e in events if e.type != "update"] == ["open"]  # one alert across the gap, still open
