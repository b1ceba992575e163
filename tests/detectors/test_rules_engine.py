"""Engine behaviour: sustained and hysteresis edges, ordering, restart, admissibility, severity."""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime, timedelta

import pytest

from detectors.sensors.admissibility import DeviceInfo
from detectors.sensors.alerts import OpenAlert
from detectors.sensors.engine import RuleEngine
from detectors.sensors.samples import WindowReading, unpack
from testkit.rules_helpers import T0, catalogue, good_device, reading, rule, series


def types(events):
    return [e.type for e in events]


def run(values, eng=None, **kw):
    eng = eng or RuleEngine(catalogue(rule(**kw)), [good_device()], update_interval_s=1e9)
    return eng, eng.feed_many(series(values))


# --- sustained_s (limit 10, sample averaging, one reading per second) --------------------------------------
def test_opens_exactly_at_sustained_s():
    _, ev = run([11.0] * 11, sustained_s=10)  # exceeding at t=0..10: 10 s sustained at t=10
    assert types(ev) == ["open"]
    assert ev[0].start == T0 and ev[0].at == T0 + timedelta(seconds=10)


def test_one_second_short_does_not_open():
    _, ev = run([11.0] * 10 + [9.0], sustained_s=10)  # exceeding t=0..9 only: 9 s
    assert ev == []


def test_run_restarts_after_a_compliant_reading():
    _, ev = run([11.0] * 6 + [10.0] + [11.0] * 10, sustained_s=10)  # equal to the limit complies
    assert ev == []


# --- hysteresis (clear_margin 2 -> clear strictly below 8, for clear_s 5) ---------------------------------
def open_engine(**kw):
    eng, ev = run([11.0], sustained_s=0, **kw)
    assert types(ev) == ["open"]
    return eng


def feed(eng, start, values):
    return eng.feed_many(series(values, start=start))


def test_clear_exactly_at_margin_does_not_clear():
    eng = open_engine()
    assert feed(eng, 1, [8.0] * 20) == []  # 8 == limit - margin: not below


def test_clear_below_margin_for_clear_s_ends():
    eng = open_engine()
    assert feed(eng, 1, [7.9] * 5) == []  # clear at t=1..5: 4 s
    ev = feed(eng, 6, [7.9])  # t=6: 5 s clear
    assert [(e.type, e.end_reason) for e in ev] == [("end", "cleared")]
    assert ev[0].end == T0  # last exceeding time
    assert ev[0].peak_value == 11.0


def test_value_in_hysteresis_band_resets_clear_timer():
    eng = open_engine()
    assert feed(eng, 1, [7.0, 7.0, 7.0, 9.0, 7.0, 7.0, 7.0, 7.0, 7.0]) == []  # 9 resets; t=5..9 is 4 s
    assert types(feed(eng, 10, [7.0])) == ["end"]


def test_update_on_new_peak_and_extended_end():
    eng = RuleEngine(catalogue(rule(sustained_s=0)), [good_device()], update_interval_s=5)
    ev = eng.feed_many(series([11.0, 12.0, 15.0, 13.0, 12.0, 12.0, 12.0]))
    assert types(ev) == ["open", "update"]
    up = ev[1]
    assert up.at == T0 + timedelta(seconds=5) and up.end == up.at
    assert (up.peak_value, up.peak_time) == (15.0, T0 + timedelta(seconds=2))
    assert up.alert_id == ev[0].alert_id


@pytest.mark.parametrize(
    ("value", "severity"), [(10.5, "low"), (14.9, "low"), (15.0, "medium"), (19.9, "medium"), (20.0, "high")]
)
def test_severity_by_how_far_over(value, severity):
    # ratio mode, steps 1 / 1.5 / 2 x the limit of 10
    _, ev = run([value], sustained_s=0)
    assert ev[0].severity == severity


def test_severity_difference_mode_for_db():
    _, ev = run([60.0], sustained_s=0, limit=50.0, severity_mode="difference", severity_steps=[0, 5, 10])
    assert ev[0].severity == "high"


def test_min_comparison_dissolved_oxygen():
    _, ev = run([6.0, 4.0], sustained_s=0, comparison="min", limit=5.0, clear_margin=0.0)
    assert types(ev) == ["open"] and ev[0].peak_value == 4.0


# --- ordering: duplicates, late within lateness, later than lateness -------------------------------------
def test_out_of_order_within_lateness_equals_in_order():
    values = [11.0] * 12 + [1.0] * 8
    ordered = series(values)
    shuffled = ordered[:]
    for i in range(0, len(shuffled) - 1, 2):  # swap neighbours: each arrives up to 1 s late
        shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
    results = []
    for stream in (ordered, shuffled):
        eng = RuleEngine(catalogue(rule()), [good_device()], lateness_s=3, update_interval_s=1e9)
        ev = eng.feed_many(stream) + eng.advance(T0 + timedelta(seconds=60))
        results.append([(e.type, e.start, e.at, e.end) for e in ev])
        assert eng.counters["late"] == 0
    assert results[0] == results[1]
    assert [r[0] for r in results[0]] == ["open", "end"]


def test_duplicates_ignored_and_late_beyond_lateness_counted_and_reported():
    seen = []
    eng = RuleEngine(catalogue(rule(sustained_s=3)), [good_device()], lateness_s=2,
                     on_late=lambda r, why: seen.append((r.time, why)))
    rs = series([11.0] * 3)
    eng.feed_many(rs)
    eng.feed(reading(1, 11.0))  # same time as a buffered one: duplicate
    eng.feed_many(series([11.0] * 5, start=3))  # up to t=7, releases up to t=5
    eng.feed(reading(2, 11.0))  # already evaluated time: duplicate
    eng.feed(reading(2.5, 99.0))  # older than the lateness allows: late
    assert eng.counters["duplicate"] == 2
    assert eng.counters["late"] == 1 and eng.late_by_device["d1"] == 1
    assert seen == [(T0 + timedelta(seconds=2.5), "late")]
    assert all(r.value != 99.0 for t in eng.trackers() for r in unpack(t.window.readings()))


def test_duplicate_seq_while_buffered_ignored():
    eng = RuleEngine(catalogue(rule()), [good_device()], lateness_s=5)
    eng.feed(reading(0, 1.0, seq=7))
    eng.feed(reading(0.5, 1.0, seq=7))  # resent with another timestamp
    assert eng.counters["duplicate"] == 1


def test_zero_lateness_rejects_older_readings():
    eng = RuleEngine(catalogue(rule()), [good_device()])
    eng.feed_many(series([1.0, 1.0]))
    eng.feed(reading(0.5, 1.0))
    eng.feed(reading(1, 1.0))
    assert (eng.counters["late"], eng.counters["duplicate"]) == (1, 1)


# --- restart ---------------------------------------------------------------------------------------------
def stored_from(ev) -> OpenAlert:
    return OpenAlert(ev.alert_id, ev.device_id, ev.rule_id, ev.zone_id, ev.start, ev.peak_value, ev.peak_time)


def test_restart_mid_exceedance_one_alert_not_two():
    values = [11.0] * 30 + [1.0] * 10
    live = RuleEngine(catalogue(rule()), [good_device()], update_interval_s=1e9)
    before = live.feed_many(series(values[:20]))
    assert types(before) == ["open"]
    # crash; new process rebuilds from the store: readings so far + the open alert
    eng = RuleEngine(catalogue(rule()), [good_device()], update_interval_s=1e9)
    assert eng.restore("d1", series(values[:20]), [stored_from(before[0])]) == []
    after = eng.feed_many(series(values[20:], start=20))
    assert [(e.type, e.alert_id) for e in after] == [("end", before[0].alert_id)]
    assert after[0].start == T0 and after[0].end == T0 + timedelta(seconds=29)


def test_restart_never_hides_an_exceedance_the_store_missed():
    values = [11.0] * 15
    eng = RuleEngine(catalogue(rule()), [good_device()])
    ev = eng.restore("d1", series(values), [])  # store has readings but never got the open event
    assert types(ev) == ["open"] and ev[0].start == T0


def test_restart_replays_unprocessed_readings_live():
    eng = RuleEngine(catalogue(rule()), [good_device()])
    rs = series([11.0] * 15)
    ev = eng.restore("d1", rs, [], resume_after=rs[5].time)  # evaluated up to t=5 before the crash
    assert types(ev) == ["open"] and ev[0].at == T0 + timedelta(seconds=10)


def test_restart_adopts_open_alert_without_history_and_clears_by_hysteresis():
    eng = RuleEngine(catalogue(rule()), [good_device()])
    stored = OpenAlert("A-1", "d1", "test.max", None, T0, 12.0, T0)
    assert eng.restore("d1", [], [stored]) == []
    assert set(types(eng.feed_many(series([11.0] * 3, start=100)))) <= {"update"}  # no second open
    ev = eng.feed_many(series([1.0] * 6, start=103))
    assert [(e.type, e.alert_id, e.peak_value) for e in ev] == [("end", "A-1", 12.0)]


# --- admissibility ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("device", "reasons"),
    [
        (DeviceInfo("d1"), ("no_legal_review", "no_technical_review", "no_calibration")),
        (DeviceInfo("d1", legal_review_ref="L", technical_review_ref="T", calibration_cert="C",
                    calibration_valid_until=datetime(2025, 3, 3, 3, 59, tzinfo=UTC)), ("calibration_expired",)),
        (DeviceInfo("d1", legal_review_ref="L", technical_review_ref="T", calibration_cert="C",
                    calibration_valid_until=date(2025, 3, 3)), ()),  # valid through the local day
        (DeviceInfo("d1", legal_review_ref="L", technical_review_ref="T", calibration_cert="C",
                    calibration_valid_until=date(2025, 3, 2)), ("calibration_expired",)),
        (DeviceInfo("d1", legal_review_ref="L", calibration_cert="C",
                    calibration_valid_until=date(2030, 1, 1)), ("no_technical_review",)),
        (DeviceInfo("d1", legal_review_ref="L", technical_review_ref="T", calibration_cert="C",
                    calibration_valid_until=date(2030, 1, 1), location_published=False), ("location_not_published",)),
    ],
)
def test_inadmissible_device_still_evaluated_but_flagged(device, reasons):
    eng = RuleEngine(catalogue(rule(sustained_s=0)), [device])
    ev = eng.feed_many(series([11.0] * 10))
    assert types(ev) == ["open"]
    assert ev[0].admissible is (not reasons)
    assert ev[0].inadmissible_reasons == reasons


def test_calibration_judged_at_reading_time_not_open_time():
    dev = DeviceInfo("d1", legal_review_ref="L", technical_review_ref="T", calibration_cert="C",
                     calibration_valid_until=T0 + timedelta(seconds=30))
    eng = RuleEngine(catalogue(rule(sustained_s=0, clear_s=0)), [dev], update_interval_s=1e9)
    ev = eng.feed_many(series([11.0] * 40 + [1.0]))
    assert [(e.type, e.admissible) for e in ev] == [("open", True), ("end", False)]


# --- events carry what the evidence needs; tumbling windows; daily exceedance allowance -------------------
def test_event_fields_and_window_readings():
    cat = catalogue(rule(averaging="mean", window_s=5, sustained_s=0))
    eng = RuleEngine(cat, [good_device()])
    rs = series([1.0, 1.0, 1.0, 40.0])
    ev = eng.feed_many(rs)
    e = ev[0]
    assert (e.type, e.rule_id, e.standard, e.clause, e.limit, e.unit) == ("open", "test.max", "TEST 1-2025",
                                                                          "Table 1", 10.0, "u")
    assert e.value == pytest.approx(43 / 4)
    assert [(r.time, r.value, r.seq) for r in e.readings] == [(r.time, r.value, r.seq) for r in rs]
    assert e.key == ("d1", "test.max", None)


def test_hebei_style_tumbling_hour_with_two_tolerated_exceedances():
    cat = catalogue(rule(averaging="mean", window_s=3600, window_kind="tumbling", sustained_s=0, clear_s=0,
                         clear_margin=0, limit=80.0, allowed_exceedances_per_day=2))
    eng = RuleEngine(cat, [good_device()])
    ev = []
    for hour, v in enumerate([100.0, 100.0, 100.0, 50.0]):  # 12:00..15:00 local
        ev += eng.feed_many(series([v] * 4, step=900, start=hour * 3600))
    ev += eng.advance(T0 + timedelta(hours=5))
    assert [(e.type, e.start, e.end) for e in ev] == [
        ("open", T0 + timedelta(hours=2), None),  # the third exceeding hour of the day counts
        ("end", T0 + timedelta(hours=2), T0 + timedelta(hours=3)),
    ]
    assert len(ev[0].readings) == 4


def test_zones_give_one_alert_per_zone():
    from detectors.sensors.admissibility import ZoneRef

    cat = catalogue(rule(zone_kinds=["k"], sustained_s=0))
    dev = good_device(zones=(ZoneRef("z1", "k"), ZoneRef("z2", "k"), ZoneRef("z3", "other")))
    ev = RuleEngine(cat, [dev]).feed_many(series([11.0, 11.0]))
    assert sorted(e.zone_id for e in ev) == ["z1", "z2"]


def test_window_state_is_invisible_to_the_cyclic_gc() -> None:
    """Window samples must be plain tuples of atomic values: CPython untracks those, so full collections do
    not walk the (large) window state. A dataclass or namedtuple here brings back 100+ ms GC pauses."""
    cat = catalogue(rule(averaging="mean", window_s=3600, sustained_s=0))
    eng = RuleEngine(cat, [good_device()])
    eng.feed_many(series([1.0] * 50))
    gc.collect()
    held = [s for t in eng.trackers() for s in t.window.readings()]
    assert held and not any(gc.is_tracked(s) for s in held)
    assert all(isinstance(r, WindowReading) for r in unpack(tuple(held)))
