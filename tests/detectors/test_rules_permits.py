"""Night construction without a permit (Noise Law art. 43): flagged whatever the level, unless a registered
night-work permit of the site zone is valid at the reading's time; GB 12348-2008 ships unconfirmed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detectors.sensors.admissibility import DeviceInfo, ZoneRef
from detectors.sensors.catalogue import load_default_catalogue, load_offline_catalogue
from detectors.sensors.engine import RuleEngine
from detectors.sensors.overrides import OverrideConfig, RuleOverride
from detectors.sensors.permits import NightWorkPermit
from testkit.rules_helpers import good_device, series

CAT = load_default_catalogue()
NIGHT_WORK = "noise_law_2022.art43.night_construction"
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 23:00 local
ENABLED = OverrideConfig(zones={"site-1": {NIGHT_WORK: RuleOverride(enabled=True, limit=45.0)}})


def permit(start: datetime, days: float, zone: str = "site-1") -> NightWorkPermit:
    return NightWorkPermit(zone, start, start + timedelta(days=days), "佛山市南海区住房城乡建设和水利局",
                           "南建夜证〔2026〕12号")


def night_work_events(permits: tuple[NightWorkPermit, ...], level: float = 50.0) -> list:
    base = good_device(zones=(ZoneRef("site-1", "construction_site"),))
    dev = DeviceInfo(base.id, base.kind, base.zones, legal_review_ref=base.legal_review_ref,
                     technical_review_ref=base.technical_review_ref, calibration_cert=base.calibration_cert,
                     calibration_valid_until=base.calibration_valid_until, permits=permits)
    eng = RuleEngine(CAT, [dev], ENABLED)
    return [e for e in eng.feed_many(series([level] * 240, metric="LAeq", step=10.0, t0=T0)) if e.rule_id == NIGHT_WORK]


@pytest.mark.parametrize(
    ("permits", "flagged"),
    [
        ((), True),  # no permit: flagged although 50 dB(A) is under GB 12523's night limit of 55
        ((permit(T0 - timedelta(hours=1), 30),), False),  # a valid permit of the site suppresses it
        ((permit(T0 - timedelta(days=31), 30),), True),  # expired the day before
        ((permit(T0 - timedelta(hours=1), 30, zone="other-site"),), True),  # another site's permit
    ],
)
def test_night_work_flagged_unless_a_valid_permit_of_the_site(permits, flagged):
    assert any(e.type == "open" for e in night_work_events(permits)) is flagged


def test_permit_ending_mid_night_ends_the_suppression():
    # valid until 23:20 local: the rule resumes after it
    events = night_work_events((permit(T0 - timedelta(days=1), 1 + 20 / 1440),))
    opened = [e for e in events if e.type == "open"]
    assert opened and opened[0].start >= T0 + timedelta(minutes=20)


def test_permit_needs_body_reference_and_a_span():
    with pytest.raises(ValueError):
        NightWorkPermit("site-1", T0, T0, "body", "ref")
    with pytest.raises(ValueError):
        NightWorkPermit("site-1", T0, T0 + timedelta(days=1), " ", "ref")


def test_night_work_rule_ships_disabled_with_its_reason():
    r = CAT[NIGHT_WORK]
    assert not r.enabled and r.permit_suppressed and r.disabled_reason and "art. 43" in r.clause


def test_gb12348_entries_ship_unconfirmed_and_disabled():
    rules = [r for r in CAT if r.standard == "GB 12348-2008"]
    assert len(rules) == 20
    assert all(not r.confirmed and not r.enabled for r in rules)
    night = {r.id.rsplit(".", 1)[1]: r.limit for r in rules if r.id.startswith("gb12348_2008.class2.night")}
    assert night == {"laeq": 50.0, "lmax_frequent": 60.0, "lmax_occasional": 65.0}


def test_quantities_no_sensor_measures_are_out_of_the_sensor_catalogue():
    offline = {r.metric for r in load_offline_catalogue()}
    assert offline == {"purifier_efficiency", "odour"}
    assert not any(r.metric in offline for r in CAT)
