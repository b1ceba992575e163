"""GB 18483-2001 by its own method: five consecutive 10-minute samples, the quarter-of-maximum rule, at least
three valid samples, and the concentration converted to the reference exhaust volume (C x Q / (n x 2000 m3/h))."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from detectors.sensors.admissibility import NO_EXHAUST_REFERENCE, ZoneRef
from detectors.sensors.catalogue import Catalogue, load_default_catalogue
from detectors.sensors.engine import RuleEngine
from detectors.sensors.fume_method import ExhaustReference, fume_average, parse_reference, to_reference
from gateway.alerts.clues import sensor_clue
from gateway.alerts.detail import SensorDetail
from gateway.alerts.evidence_entries import alert_entry
from gateway.alerts.store import AlertContext
from gateway.devices import validate_devices
from testkit.rules_helpers import T0, good_device, reading

CAT = load_default_catalogue()
FUME = Catalogue([CAT["gb18483_2001.oil_fume"]])
KITCHEN = (ZoneRef("cat-1", "catering"),)


@pytest.mark.parametrize(
    ("samples", "value", "valid"),
    [
        ([3.0, 3.0, 3.0, 3.0, 3.0], 3.0, 5),
        ([4.0, 0.9, 3.0, 3.0, 3.0], 3.25, 4),   # 0.9 < 4/4: invalid, left out
        ([4.0, 1.0, 3.0, 3.0, 3.0], 2.8, 5),    # exactly a quarter of the maximum is valid
        ([4.0, 0.5, 0.5, 3.0, 2.0], 3.0, 3),    # three valid: enough
        ([6.0, 6.0, 0.5, 0.5, 0.5], None, 2),   # two valid: no result (the plain mean, 2.7, would exceed)
    ],
)
def test_quarter_of_maximum_rule(samples: list[float], value: float | None, valid: int):
    got, n = fume_average(samples)
    assert n == valid
    assert got == (None if value is None else pytest.approx(value))


@pytest.mark.parametrize(
    ("c", "q", "n", "c_ref"),
    [
        (2.4, 16000, 8, 2.4),   # 8 heads at 2000 m3/h each: the reference volume itself
        (2.4, 4000, 4, 1.2),    # a weak fan for 4 heads: concentration higher than at reference volume
        (1.5, 8000, 2, 3.0),    # a strong fan dilutes: below the limit measured, above at reference volume
        (2.4, 6000, 1.5, 4.8),  # n may be fractional (converted from heat power or hood area)
    ],
)
def test_reference_volume_conversion(c: float, q: float, n: float, c_ref: float):
    assert to_reference(c, ExhaustReference(q, n)) == pytest.approx(c_ref)


def kitchen(q: float | None = None, n: float | None = None):
    extra = {} if q is None else {"exhaust_flow_m3h": q, "cooking_heads": n}
    return dataclasses.replace(good_device(zones=KITCHEN), extra=extra)


def fume_minutes(values: list[float]):
    """One value a minute from 12:00 local (a 10-minute boundary), metric oil_fume."""
    return [reading(60.0 * i, v, metric="oil_fume") for i, v in enumerate(values)]


def run(device, values: list[float]):
    engine = RuleEngine(FUME, [device])
    events = engine.feed_many(fume_minutes(values)) + engine.advance(T0 + timedelta(minutes=len(values) + 11))
    return engine, events


def samples(*levels: float) -> list[float]:
    return [v for lv in levels for v in [lv] * 10]


@pytest.mark.parametrize(
    ("q", "n", "levels", "opens", "value"),
    [
        (16000, 8, (2.4,) * 5, True, 2.4),
        (4000, 4, (2.4,) * 5, False, None),             # C_ref = 1.2
        (8000, 2, (1.5,) * 5, True, 3.0),               # C_ref = 3.0 although the monitor reads 1.5
        (16000, 8, (3.0, 0.5, 0.5, 3.0, 3.0), True, 3.0),  # two samples invalid: mean of three valid = 3.0
        (16000, 8, (3.0, 1.0, 1.0, 3.0, 2.0), False, None),  # all valid: mean 2.0 is not above 2.0
        (16000, 8, (6.0, 6.0, 0.5, 0.5, 0.5), False, None),  # only two valid: no result, no alert
    ],
)
def test_fume_alert_by_the_standards_method(q, n, levels, opens, value):
    _, events = run(kitchen(q, n), samples(*levels))
    opened = [e for e in events if e.type == "open"]
    assert bool(opened) is opens
    if opens:
        ev = opened[0]
        assert ev.value == pytest.approx(value) and ev.admissible and not ev.screening_only
        assert ev.reference.status == "converted" and ev.reference.factor == pytest.approx(q / (n * 2000))
        assert ev.start == T0 and ev.at == T0 + timedelta(minutes=50)
        assert len(ev.readings) == 50


@pytest.mark.parametrize(
    ("minutes", "hole"),
    [
        (6, None),         # six one-minute readings are not a GB 18483 result
        (40, None),        # nor four samples
        (56, (24, 28)),    # four minutes missing in the third sample break the run of consecutive samples
    ],
    ids=["six-minutes", "four-samples", "hole"],
)
def test_no_value_before_five_consecutive_full_samples(minutes: int, hole: tuple[int, int] | None):
    readings = [r for i, r in enumerate(fume_minutes([5.0] * minutes)) if hole is None or not hole[0] <= i < hole[1]]
    engine = RuleEngine(FUME, [kitchen(16000, 8)])
    events = engine.feed_many(readings) + engine.advance(T0 + timedelta(minutes=minutes))
    assert events == []
    assert engine.trackers()[0].last_eval is None  # never evaluated at all


def test_without_exhaust_reference_screening_only():
    _, events = run(kitchen(), samples(*(2.4,) * 5))
    (ev,) = [e for e in events if e.type == "open"]
    assert ev.screening_only and not ev.admissible and NO_EXHAUST_REFERENCE in ev.inadmissible_reasons
    assert ev.reference.status == NO_EXHAUST_REFERENCE and ev.value == pytest.approx(2.4)
    detail = SensorDetail.model_validate(sensor_clue(ev).detail)
    assert detail.screening_only and detail.reference.status == NO_EXHAUST_REFERENCE


def test_alert_detail_and_evidence_record_the_conversion():
    _, events = run(kitchen(8000, 2), samples(*(1.5,) * 5))
    ev = next(e for e in events if e.type == "open")
    detail = SensorDetail.model_validate(sensor_clue(ev).detail)
    assert detail.reference is not None
    assert (detail.reference.measured_value, detail.reference.factor, detail.reference.valid_samples) == (
        pytest.approx(1.5), 2.0, 5)
    assert detail.last_value == pytest.approx(3.0)
    entry = alert_entry(ev, AlertContext("440605", None, None, None, None), kind="oil_fume", clue="X-1",
                        calibration_cert=None, refs=[])
    assert entry.payload["reference"]["factor"] == 2.0 and entry.payload["coverage"]["count"] == 5


def test_fume_alert_ends_on_five_clean_samples():
    _, events = run(kitchen(16000, 8), samples(3.0, 3.0, 3.0, 3.0, 3.0, 0.4, 0.4, 0.4, 0.4, 0.4))
    assert [e.type for e in events if e.type != "update"] == ["open", "end"]
    assert events[-1].end_reason == "cleared"


@pytest.mark.parametrize(
    ("attrs", "ok"),
    [
        ({"exhaust_flow_m3h": 16000, "cooking_heads": 8}, True),
        ({"exhaust_flow_m3h": 6000, "cooking_heads": 1.5}, True),
        ({}, True),
        ({"exhaust_flow_m3h": 16000}, False),      # Q without n converts nothing
        ({"cooking_heads": 8}, False),
        ({"exhaust_flow_m3h": -1, "cooking_heads": 8}, False),
        ({"exhaust_flow_m3h": 16000, "cooking_heads": 0}, False),
        ({"exhaust_flow_m3h": "16000", "cooking_heads": 8}, False),
    ],
)
def test_exhaust_attrs_checked_on_import(attrs: dict, ok: bool):
    _, errors = validate_devices([{"id": "f-1", "kind": "sensor", "name": "fume", "attrs": attrs}])
    assert (not errors) is ok
    if ok:
        parse_reference(attrs)
