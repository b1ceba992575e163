"""The standard in force at the reading's time (GB 12523-2011 until 2025-12-31, GB 12523-2025 from 2026-01-01),
and unconfirmed rules raising inadmissible alerts until a bureau confirms them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from detectors.sensors.admissibility import STANDARD_UNCONFIRMED, ZoneRef
from detectors.sensors.catalogue import in_force, load_default_catalogue
from detectors.sensors.engine import RuleEngine
from detectors.sensors.validity import BoundedTracker, validity_span
from testkit.rules_helpers import catalogue, good_device, rule, series

CAT = load_default_catalogue()
SITE = (ZoneRef("site-1", "construction_site"),)


def night_noise(t0: datetime, minutes: int = 40, level: float = 62.0):
    """Construction noise above the night limit (55 dB(A)) every 10 s from t0 for `minutes`."""
    return series([level] * (minutes * 6), metric="LAeq", step=10.0, t0=t0)


def opened(engine: RuleEngine, readings) -> list:
    return [e for e in engine.feed_many(readings) if e.type == "open"]


@pytest.mark.parametrize(
    ("t0", "rule_id", "reasons"),
    [
        # a December 2025 backlog, replayed whenever, is judged by the 2011 rule
        (datetime(2025, 12, 15, 15, 0, tzinfo=UTC), "gb12523_2011.night.laeq", ()),
        # a reading of January 2026 by the 2025 one, unconfirmed: raised, but inadmissible
        (datetime(2026, 1, 15, 15, 0, tzinfo=UTC), "gb12523_2025.night.laeq", (STANDARD_UNCONFIRMED,)),
    ],
)
def test_reading_judged_by_the_standard_in_force_at_its_time(t0, rule_id, reasons):
    events = opened(RuleEngine(CAT, [good_device(zones=SITE)]), night_noise(t0))  # 23:00 local
    laeq = [e for e in events if e.metric == "LAeq"]
    assert [e.rule_id for e in laeq] == [rule_id]
    assert laeq[0].inadmissible_reasons == reasons
    assert laeq[0].admissible is (not reasons)


def test_bureau_confirmation_makes_the_2025_rule_admissible():
    cat = CAT.with_confirmations({"gb12523_2025.night.laeq": "粤环函〔2026〕1号"})
    assert cat["gb12523_2025.night.laeq"].confirmed_by == "粤环函〔2026〕1号"
    events = opened(RuleEngine(cat, [good_device(zones=SITE)]), night_noise(datetime(2026, 1, 15, 15, 0, tzinfo=UTC)))
    assert [(e.rule_id, e.admissible) for e in events if e.metric == "LAeq"] == [("gb12523_2025.night.laeq", True)]


def test_confirming_an_unknown_rule_is_refused():
    with pytest.raises(KeyError):
        CAT.with_confirmations({"gb12523_2099.night.laeq": "ref"})


def test_alert_of_the_repealed_rule_ends_when_its_standard_does():
    # 23:20 local on 2025-12-31 to 00:40 on 2026-01-01: the 2011 alert ends at the repeal, the 2025 rule takes over
    events = RuleEngine(CAT, [good_device(zones=SITE)]).feed_many(
        night_noise(datetime(2025, 12, 31, 15, 20, tzinfo=UTC), minutes=80))
    old = [e for e in events if e.rule_id == "gb12523_2011.night.laeq"]
    assert old[0].type == "open" and old[-1].type == "end"
    assert old[-1].end < datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
    new = [e for e in events if e.rule_id == "gb12523_2025.night.laeq"]
    assert new and all(e.start >= datetime(2025, 12, 31, 16, 0, tzinfo=UTC) for e in new)


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "span"),
    [
        (date(2026, 1, 1), None, (datetime(2025, 12, 31, 16, tzinfo=UTC).timestamp(), float("inf"))),
        (None, date(2025, 12, 31), (float("-inf"), datetime(2025, 12, 31, 16, tzinfo=UTC).timestamp())),
        (None, None, (float("-inf"), float("inf"))),
    ],
)
def test_validity_span_is_local_days_in_beijing_time(valid_from, valid_until, span):
    assert validity_span(valid_from, valid_until) == span


@pytest.mark.parametrize(
    ("day", "ids"),
    [
        (date(2025, 12, 31), {"gb12523_2011.day.laeq", "gb12523_2011.night.laeq", "gb12523_2011.night.lamax"}),
        (date(2026, 1, 1), {"gb12523_2025.day.laeq", "gb12523_2025.night.laeq"}),
    ],
)
def test_catalogue_in_force_at_a_date(day, ids):
    enabled = {r.id for r in CAT.in_force(day) if r.enabled and r.standard.startswith("GB 12523")}
    assert enabled == ids


def test_every_rule_states_edition_and_category_and_unbounded_confirmed_rules_cost_nothing():
    assert all(r.edition and r.category in ("emission", "quality") for r in CAT)
    eng = RuleEngine(catalogue(rule()), [good_device()])
    assert not any(isinstance(t, BoundedTracker) for t in eng.trackers())
    eng = RuleEngine(catalogue(rule(confirmed=False)), [good_device()])
    assert all(isinstance(t, BoundedTracker) for t in eng.trackers())


def test_valid_until_before_valid_from_is_refused():
    with pytest.raises(ValueError, match="valid_until"):
        rule(valid_from="2026-01-01", valid_until="2025-12-31")
    assert in_force(rule(valid_from="2026-01-01"), date(2026, 1, 1))
