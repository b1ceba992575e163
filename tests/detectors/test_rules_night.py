"""Day and night under the Noise Pollution Prevention Law (2022) art. 88: only a city-level government may move
night, and night stays 8 hours (so day 16)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from detectors.sensors.catalogue import load_default_catalogue
from detectors.sensors.overrides import OverrideConfig, RuleOverride, period_seconds

CAT = load_default_catalogue()
PERIODS = {r.id: r.period.name for r in CAT}
NIGHT = "gb3096_2008.class2.night.laeq"
DAY_RULE = "gb3096_2008.class2.day.laeq"
REF = "X市人民政府关于调整夜间时段的公告（2023年第5号）"


@pytest.mark.parametrize(("hours", "seconds"), [("22:00-06:00", 8 * 3600), ("22:00-07:00", 9 * 3600),
                                                ("06:00-22:00", 16 * 3600), ("23:30-07:30", 8 * 3600)])
def test_period_seconds_crosses_midnight(hours, seconds):
    assert period_seconds(hours) == seconds


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"period_hours": "22:00-07:00", "decision_ref": REF}, "8 hours"),  # 9-hour night: unlawful
        ({"period_hours": "23:00-07:00"}, "decision_ref"),  # 8 hours, but no city decision cited
        ({"period_hours": "23:00-07:00", "decision_ref": "  "}, "decision_ref"),
    ],
)
def test_unlawful_night_override_refused(override, error):
    with pytest.raises(ValidationError, match=error):
        RuleOverride(**override)


def test_eight_hour_night_with_the_city_decision_accepted_and_applied():
    ov = OverrideConfig(zones={"z": {NIGHT: RuleOverride(period_hours="23:00-07:00", decision_ref=REF)}})
    assert ov.unlawful_periods(PERIODS) == []
    assert ov.resolve(NIGHT, "d1", "z").decision_ref == REF


@pytest.mark.parametrize(
    ("rule_id", "hours", "lawful"),
    [(NIGHT, "23:00-07:00", True), (NIGHT, "07:00-23:00", False), (DAY_RULE, "07:00-23:00", True),
     (DAY_RULE, "23:00-07:00", False)],
)
def test_period_length_checked_against_the_rules_period(rule_id, hours, lawful):
    ov = OverrideConfig(devices={"d1": {rule_id: RuleOverride(period_hours=hours, decision_ref=REF)}})
    problems = ov.unlawful_periods(PERIODS)
    assert (problems == []) is lawful
    if not lawful:
        assert problems[0].startswith(f"devices.d1.{rule_id}: period_hours {hours}")
