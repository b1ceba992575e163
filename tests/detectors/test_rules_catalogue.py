"""The shipped catalogue against sensor_limits.json, zone classes, local variants and overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from detectors.sensors.admissibility import ZoneRef
from detectors.sensors.catalogue import Catalogue, load_default_catalogue, load_offline_catalogue
from detectors.sensors.engine import RuleEngine
from detectors.sensors.overrides import OverrideConfig, RuleOverride
from testkit.rules_helpers import good_device

SENSOR_LIMITS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "sensor_limits.json"
NAMED = ("GB 12523", "GB 3096", "GB 22337", "GB 18483", "DB11/1488", "DB31/844", "Shenzhen", "Tianjin", "Shandong",
         "Chongqing", "DB44/1642", "DB13/2934", "DB21/2642", "DB61/1078", "DB31/964", "GB 3095", "GB 3838",
         "GB 8978", "GB/T 31962")
CAT = load_default_catalogue()
# with the limits on quantities no sensor measures (kept apart, never bound by the engine)
ALL = Catalogue([*CAT, *load_offline_catalogue()])


def entries():
    if not SENSOR_LIMITS.exists():
        pytest.skip(f"{SENSOR_LIMITS} not present")
    return [e for e in json.loads(SENSOR_LIMITS.read_text()) if e["standard"].startswith(NAMED)]


def printed_limit(r):
    if r.source_limit is not None:
        return r.source_limit
    return [r.limit_low, r.limit] if r.comparison == "range" else r.limit


def test_every_entry_represented_with_same_limit_and_unconfirmed_disabled():
    es = entries()
    assert len(es) == 138
    for e in es:
        # derived rules may split an all-day entry into day and night (GB 12523 indoor -10 dB(A))
        matches = [r for r in ALL if (r.standard, r.scope, r.source_metric) == (e["standard"], e["scope"], e["metric"])
                   and (r.period.name == e["period"]["name"] or r.source_limit is not None)
                   and e["averaging"].startswith("annual") == r.id.endswith(".annual")]  # GB 3095 24 h / annual
        assert matches, f"not in catalogue: {e['standard']} {e['scope']} {e['metric']}"
        for r in matches:
            lim = printed_limit(r)
            if e["limit"] is None:
                assert r.limit is None
            elif isinstance(e["limit"], list):
                assert lim == [float(x) for x in e["limit"]]
            else:
                assert lim == pytest.approx(float(e["limit"]))
            assert r.confirmed is e["confirmed"]
            if not e["confirmed"]:
                # a successor of a repealed standard runs unconfirmed (its alerts inadmissible): see test_rules_validity
                assert r.enabled is False or r.valid_from is not None, r.id


def test_rules_cite_standard_clause_and_units():
    for r in CAT:
        assert r.standard and r.clause and r.unit and r.source
        if r.metric in ("LAeq",):
            assert r.averaging == "leq"
        if r.unit.startswith(("mg", "ug")):
            assert r.averaging in ("mean", "sample")


def test_unconfirmed_rules_not_bound_by_default():
    dev = good_device(zones=(ZoneRef("z", "construction_site"), ZoneRef("c", "catering_guangdong")))
    ids = {t.rule.id for t in RuleEngine(CAT, [dev]).trackers()}
    assert "gb12523_2011.night.laeq" in ids
    assert "db44_1642.oil_fume" not in ids


@pytest.mark.parametrize(
    ("kind", "day", "night"),
    [("noise_class_0", 50, 40), ("noise_class_1", 55, 45), ("noise_class_2", 60, 50), ("noise_class_3", 65, 55),
     ("noise_class_4a", 70, 55), ("noise_class_4b", 70, 60)],
)
def test_zone_noise_class_picks_gb3096_limit(kind, day, night):
    eng = RuleEngine(CAT, [good_device(zones=(ZoneRef("zone-1", kind),))])
    laeq = {t.rule.period.name: t for t in eng.trackers() if t.rule.metric == "LAeq"}
    assert (laeq["day"].rule.limit, laeq["night"].rule.limit) == (day, night)
    assert all(t.rule.standard == "GB 3096-2008" and t.zone_id == "zone-1" for t in laeq.values())
    lamax = [t for t in eng.trackers() if t.rule.metric == "LAmax"]
    assert [t.rule.limit for t in lamax] == [night + 15]


@pytest.mark.parametrize(
    ("kind", "rule_id", "limit"),
    [("catering", "gb18483_2001.oil_fume", 2.0), ("catering_beijing", "db11_1488_2018.oil_fume", 1.0),
     ("catering_shanghai", "db31_844_2014.oil_fume", 1.0)],
)
def test_catering_fume_national_and_local_variants(kind, rule_id, limit):
    eng = RuleEngine(CAT, [good_device(zones=(ZoneRef("shop", kind),))])
    fume = [t for t in eng.trackers() if t.rule.metric == "oil_fume"]
    assert [(t.rule.id, t.rule.limit) for t in fume] == [(rule_id, limit)]


def test_zone_override_sets_local_limit_and_device_override_wins():
    ov = OverrideConfig(
        zones={"shop": {"gb18483_2001.oil_fume": RuleOverride(limit=1.0, sustained_s=60)}},
        devices={"d1": {"gb18483_2001.oil_fume": RuleOverride(sustained_s=30)}},
    )
    eng = RuleEngine(CAT, [good_device("d1", zones=(ZoneRef("shop", "catering"),)),
                           good_device("d2", zones=(ZoneRef("shop", "catering"),))], ov)
    by_dev = {t.device.id: t.rule for t in eng.trackers() if t.rule.metric == "oil_fume"}
    assert (by_dev["d1"].limit, by_dev["d1"].sustained_s) == (1.0, 30.0)
    assert (by_dev["d2"].limit, by_dev["d2"].sustained_s) == (1.0, 60.0)


def test_override_can_enable_and_disable():
    ov = OverrideConfig(zones={"z": {"gb12523_2025.night.laeq": RuleOverride(enabled=True),
                                     "gb12523_2011.night.laeq": RuleOverride(enabled=False)}})
    ids = {t.rule.id for t in RuleEngine(CAT, [good_device(zones=(ZoneRef("z", "construction_site"),))], ov)
           .trackers()}
    assert "gb12523_2025.night.laeq" in ids and "gb12523_2011.night.laeq" not in ids


def test_override_model_forbids_unknown_fields_and_documents_every_field():
    with pytest.raises(ValidationError):
        RuleOverride(limt=1.0)
    with pytest.raises(ValidationError):
        OverrideConfig(zone={})
    for model in (RuleOverride, OverrideConfig):
        assert all(f.description for f in model.model_fields.values())
