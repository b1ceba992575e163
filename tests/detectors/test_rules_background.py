"""Background correction (HJ 706-2014) of GB 12523 / GB 22337 LAeq: the table, its rounding, and what an alert
records when a background was applied, not required, not evaluable or not known."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from detectors.sensors.admissibility import BACKGROUND_NOT_EVALUABLE, ZoneRef
from detectors.sensors.background import (
    CORRECTED,
    NOT_EVALUABLE,
    NOT_REQUIRED,
    correct,
    correction_db,
    parse_background,
    rounded_difference,
)
from detectors.sensors.catalogue import Catalogue, load_default_catalogue
from detectors.sensors.engine import RuleEngine
from detectors.sensors.rules import background_applies
from gateway.alerts.clues import sensor_clue
from gateway.alerts.detail import SensorDetail
from gateway.alerts.devices import method_attrs
from gateway.devices import validate_devices
from geo.registry import ZoneRegistry
from geo.zones import Zone
from testkit.rules_helpers import good_device, series

CAT = load_default_catalogue()
SITE = (ZoneRef("site-1", "construction_site"),)
NIGHT_2025 = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)  # 22:00 Asia/Shanghai, GB 12523-2011 in force


@pytest.mark.parametrize(
    ("difference", "rounded", "status", "correction"),
    [
        (2.4, 2, NOT_EVALUABLE, None),
        (2.5, 2, NOT_EVALUABLE, None),  # half to even (GB/T 8170)
        (2.9, 3, CORRECTED, 3),         # rounded first: 2.9 dB is a 3 dB difference
        (3.0, 3, CORRECTED, 3),
        (3.5, 4, CORRECTED, 2),
        (5.0, 5, CORRECTED, 2),
        (6.0, 6, CORRECTED, 1),
        (10.0, 10, CORRECTED, 1),       # the table's 6-10 dB row includes 10
        (10.5, 10, CORRECTED, 1),
        (10.6, 11, NOT_REQUIRED, 0),
        (12.0, 12, NOT_REQUIRED, 0),
    ],
)
def test_hj706_table(difference: float, rounded: int, status: str, correction: int | None):
    measured = 60.0
    background = measured - difference
    assert rounded_difference(measured, background) == rounded
    assert correction_db(rounded) == correction
    value, got_status, got_correction, diff = correct(measured, background)
    assert (got_status, got_correction, diff) == (status, correction, rounded)
    assert value == measured - (correction or 0)


def night(level: float, minutes: int = 22):
    return series([level] * (minutes * 6), metric="LAeq", step=10.0, t0=NIGHT_2025)


def site_device(background: float | None = None, zone_background: float | None = None):
    extra: dict = {}
    if background is not None:
        extra["background_db"] = {"value": background, "ref": "HJ706-BG-2025-01", "measured_on": "2025-02-20"}
    if zone_background is not None:
        extra["zone_background_db"] = {"site-1": {"value": zone_background, "ref": "ZONE-BG-1"}}
    return dataclasses.replace(good_device(zones=SITE), extra=extra)


NIGHT_LAEQ = Catalogue([CAT["gb12523_2011.night.laeq"]])


MEASURED = 56.9  # the site's 20-minute LAeq, above the 55 dB(A) night limit before correction


@pytest.mark.parametrize(
    ("background", "alert", "status", "value", "admissible"),
    [
        (54.0, False, CORRECTED, 53.9, True),      # 2.9 -> 3 dB: -3, complies with 55
        (53.9, False, CORRECTED, 53.9, True),      # 3 dB: -3
        (51.9, False, CORRECTED, 54.9, True),      # 5 dB: -2
        (46.9, True, CORRECTED, 55.9, True),       # 10 dB: -1, still above
        (44.9, True, NOT_REQUIRED, 56.9, True),    # 12 dB: no correction
        (54.9, True, NOT_EVALUABLE, 56.9, False),  # 2 dB: the source cannot be told from the background
        (None, True, "none_applied", 56.9, True),  # no background known: the measured value, recorded as such
    ],
)
def test_night_laeq_corrected_for_the_background(background, alert, status, value, admissible):
    engine = RuleEngine(NIGHT_LAEQ, [site_device(background)])
    opened = [e for e in engine.feed_many(night(MEASURED)) if e.type == "open"]
    assert bool(opened) is alert
    tracker = engine.trackers()[0]
    if not alert:
        assert tracker.last_value is not None and tracker.last_value < 55.0
        return
    ev = opened[0]
    assert ev.background.status == status and ev.background.measured_value == pytest.approx(MEASURED)
    assert ev.value == pytest.approx(value)
    assert ev.admissible is admissible
    assert (BACKGROUND_NOT_EVALUABLE in ev.inadmissible_reasons) is (status == NOT_EVALUABLE)
    detail = SensorDetail.model_validate(sensor_clue(ev).detail)
    assert detail.background is not None and detail.background.status == status
    if background is not None:
        assert detail.background.background_db == background and detail.background.ref == "HJ706-BG-2025-01"


def test_zone_background_applies_where_the_device_has_none():
    ev = next(e for e in RuleEngine(NIGHT_LAEQ, [site_device(zone_background=47.0)]).feed_many(night(57.0))
          if e.type == "open")
    assert (ev.background.status, ev.background.correction_db, ev.background.ref) == (CORRECTED, 1, "ZONE-BG-1")
    own = next(e for e in RuleEngine(NIGHT_LAEQ, [site_device(45.0, zone_background=47.0)]).feed_many(night(57.0))
           if e.type == "open")
    assert own.background.status == NOT_REQUIRED  # the device's own measurement comes first


@pytest.mark.parametrize(
    ("rule_id", "applies"),
    [("gb12523_2011.night.laeq", True), ("gb22337_2008.boundary.class1.night.laeq", True),
     ("gb12523_2011.night.lamax", False), ("gb3096_2008.class1.night.laeq", False)],
)
def test_background_correction_is_for_gb12523_and_gb22337_laeq(rule_id: str, applies: bool):
    assert background_applies(CAT[rule_id]) is applies


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ({"value": 48.5, "ref": "R-1", "measured_on": date(2026, 3, 1)}, True),
        ({"value": 48.5, "ref": "R-1"}, True),
        ({"value": 48.5}, False),                          # a background needs the report it comes from
        ({"value": "48", "ref": "R-1"}, False),
        ({"value": 48.5, "ref": "R-1", "measured_on": "yesterday"}, False),
        ({"value": 48.5, "ref": "R-1", "by": "x"}, False),
        (48.5, False),
    ],
)
def test_background_attr_checked_on_import(value, ok: bool):
    row = {"id": "n-1", "kind": "sensor", "name": "noise", "attrs": {"background_db": value}}
    specs, errors = validate_devices([row])
    assert (not errors) is ok
    if ok:
        parse_background(specs[0].attrs["background_db"])
        assert isinstance(specs[0].attrs["background_db"].get("measured_on"), str | None)  # JSON-storable
    else:
        assert errors[0].field == "attrs"


def test_background_flag_survives_to_the_end_event():
    readings = night(57.0, minutes=25) + series([40.0] * 240, metric="LAeq", step=10.0,
                                                t0=NIGHT_2025 + timedelta(minutes=25))
    events = RuleEngine(NIGHT_LAEQ, [site_device(55.0)]).feed_many(readings)
    assert next(e.type for e in events) == "open" and events[-1].type == "end"
    assert all(BACKGROUND_NOT_EVALUABLE in e.inadmissible_reasons for e in events)


def test_registry_hands_device_and_zone_backgrounds_to_the_engine():
    ring = [[113.1, 23.0], [113.11, 23.0], [113.11, 23.01], [113.1, 23.01], [113.1, 23.0]]
    site = Zone(id="cs-1", kind="construction_site", geometry={"type": "Polygon", "coordinates": [ring]},
                attributes={"background_db": {"value": 47.0, "ref": "ZONE-BG-1"}})
    attrs = {"model": "AWA6228+", "exhaust_flow_m3h": 16000, "cooking_heads": 8}
    extra = method_attrs(attrs, ZoneRegistry([site]), ["cs-1", "gone"])
    assert extra == {"exhaust_flow_m3h": 16000, "cooking_heads": 8,
                     "zone_background_db": {"cs-1": {"value": 47.0, "ref": "ZONE-BG-1"}}}
