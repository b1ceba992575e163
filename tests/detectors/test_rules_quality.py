"""Quality standards are not violations: a GB 3096 / GB 3095 / GB 3838 exceedance is a quality exceedance, stored and
shown, never a violation clue; GB 3096 5.3 (existing railways) does not fire on night trains; citations."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from detectors.sensors.admissibility import ZoneRef
from detectors.sensors.catalogue import load_default_catalogue, standard_category
from detectors.sensors.engine import RuleEngine
from gateway.alerts.clues import sensor_clue
from testkit.rules_helpers import good_device, rule, series

CAT = load_default_catalogue()


@pytest.mark.parametrize(
    ("standard", "category"),
    [("GB 3096-2008", "quality"), ("GB 3095-2012", "quality"), ("GB 3838-2002", "quality"),
     ("GB 12523-2011", "emission"), ("GB 8978-1996", "emission"), ("GB 18483-2001", "emission")],
)
def test_catalogue_classes_quality_standards_apart(standard, category):
    assert standard_category(standard) == category
    rules = [r for r in CAT if r.standard == standard]
    assert rules and {r.category for r in rules} == {category}


def test_a_quality_standard_rule_cannot_be_declared_an_emission_limit():
    with pytest.raises(ValueError, match="quality"):
        rule(standard="GB 3096-2008", category="emission")


def test_gb3096_exceedance_is_a_quality_exceedance_never_a_violation_clue():
    # class-2 area, night 23:00 local: 70 dB(A) over an hour, far above the 50 dB(A) night limit
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    eng = RuleEngine(CAT, [good_device(zones=(ZoneRef("res-1", "noise_class_2"),))])
    events = eng.feed_many(series([70.0] * 420, metric="LAeq", step=10.0, t0=t0))
    events += eng.advance(datetime(2026, 3, 2, 16, 20, tzinfo=UTC))
    opened = [e for e in events if e.type == "open"]
    assert opened and all(e.standard == "GB 3096-2008" for e in opened)
    assert {sensor_clue(e).category for e in opened} == {"quality_exceedance"}
    assert {sensor_clue(e, "quality").category for e in opened} == {"quality_exceedance"}


def test_construction_noise_is_a_violation_clue():
    t0 = datetime(2025, 12, 15, 15, 0, tzinfo=UTC)
    eng = RuleEngine(CAT, [good_device(zones=(ZoneRef("site", "construction_site"),))])
    opened = [e for e in eng.feed_many(series([62.0] * 240, metric="LAeq", step=10.0, t0=t0)) if e.type == "open"]
    assert opened and {sensor_clue(e).category for e in opened} == {"violation"}


def test_existing_railway_background_rules_do_not_fire_on_night_trains():
    rail = (ZoneRef("rail", "noise_class_4b_existing_rail"),)
    bound = {t.rule.id for t in RuleEngine(CAT, [good_device(zones=rail)]).trackers()}
    assert not any(rid.startswith("gb3096_2008.class4b_existing_rail.") for rid in bound)
    for r in CAT:
        if r.id.startswith("gb3096_2008.class4b_existing_rail."):
            assert not r.enabled and "5.3" in (r.disabled_reason or "")


@pytest.mark.parametrize(
    ("prefix", "suffix", "clause"),
    [("gb3096_2008.", ".night.lamax", "5.4"), ("gb3095_2012.", ".tsp.24h", "Table 2")],
)
def test_citations(prefix, suffix, clause):
    rules = [r for r in CAT if r.id.startswith(prefix) and r.id.endswith(suffix)]
    assert rules and all(r.clause.startswith(clause) for r in rules)


def test_gb8978_concentrations_compared_as_daily_means():
    rules = [r for r in CAT if r.standard == "GB 8978-1996" and r.metric != "pH"]
    assert rules and all((r.averaging, r.window_s, r.window_kind) == ("mean", 86400, "tumbling") for r in rules)


@pytest.mark.integration
@pytest.mark.parametrize(("category", "status", "refused"), [
    ("quality_exceedance", "confirmed", True),
    ("quality_exceedance", "dismissed", False),
    ("quality_exceedance", "in_review", False),
    ("violation", "confirmed", False),
])
def test_store_refuses_to_confirm_a_quality_exceedance(db_url: str, category: str, status: str,
                                                       refused: bool) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO devices (id, kind, name) VALUES ('n1', 'sensor', 'n1')")
        conn.execute(
            "INSERT INTO alerts (clue_code, engine_alert_id, source, kind, rule_id, device_id, subject_code,"
            " start_time, peak_time, severity, admissible, category) VALUES ('C-1', 'e1', 'sensor', 'noise',"
            " 'r', 'n1', 'unassigned', now(), now(), 'low', true, %s)", (category,))
        update = "UPDATE alerts SET status = %s WHERE clue_code = 'C-1'"
        if refused:
            with pytest.raises(psycopg.errors.CheckViolation, match="alerts_quality_never_confirmed"):
                conn.execute(update, (status,))
        else:
            conn.execute(update, (status,))
            assert conn.execute("SELECT status FROM alerts").fetchone()[0] == status


def test_guangdong_db44_26_ships_without_values_and_binds_only_guangdong_discharge_zones():
    rules = [r for r in CAT if r.standard.startswith("DB44/26-2001")]
    assert rules and all(not r.enabled and r.limit is None and not r.confirmed for r in rules)
    assert all(k.startswith("discharge_guangdong_grade_") for r in rules for k in r.zone_kinds)
    assert all((r.averaging, r.window_s) == ("mean", 86400) for r in rules)  # a daily mean, as GB 8978
    gd = (ZoneRef("outfall", "discharge_guangdong_grade_2"),)
    assert not {t.rule.standard for t in RuleEngine(CAT, [good_device(zones=gd)]).trackers()} & {"GB 8978-1996"}


def test_gb8978_per_sample_ph_is_screening_only() -> None:
    ph = CAT["gb8978_1996.all.ph"]
    assert ph.screening_only and ph.averaging == "sample"
    device = good_device(zones=(ZoneRef("outfall", "discharge_grade_1"),))
    engine = RuleEngine(CAT, [device])
    events = engine.feed_many(series([5.0] * 5, metric="pH"))
    opened = [e for e in events if e.type == "open" and e.rule_id == ph.id]
    assert opened and all("screening_only" in e.inadmissible_reasons and not e.admissible for e in opened)
    assert all(e.screening_only for e in opened)
