"""A rule's parameters are checked by one definition: the catalogue refuses a rule that breaks it, and a local
override that would make a shipped rule break it is refused with the same message."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from detectors.sensors.overrides import RuleOverride
from detectors.sensors.rules import CompiledRule
from testkit.rules_helpers import rule

MEAN_5MIN = {"averaging": "mean", "window_s": 300}

# (fields that make the rule invalid, the same values as an override of a valid rule, its base fields, message)
CASES = [
    ({"severity_steps": [3.0, 2.0, 1.0]}, {"severity_steps": [3.0, 2.0, 1.0]}, {}, "severity_steps must ascend"),
    ({"enabled": True, "limit": None}, {"enabled": True}, {"enabled": False, "limit": None},
     "enabled without a limit"),
    ({"window_s": 60}, {"window_s": 60}, {}, "window_s=0 goes with averaging=sample"),
    ({"period": {"name": "night", "hours": "22:00-06:00", "weekdays": [0]}}, {"weekdays": [0]},
     {"period": {"name": "night", "hours": "22:00-06:00"}}, "weekdays must be ISO weekdays 1..7"),
    ({"period": {"name": "night", "hours": "22:00-25:00"}}, {"period_hours": "22:00-25:00"},
     {"period": {"name": "night", "hours": "22:00-06:00"}}, "period hours"),
    ({**MEAN_5MIN, "comparison": "range", "limit": 9.0, "limit_low": None}, {"limit": 9.0},
     {**MEAN_5MIN, "comparison": "range", "enabled": False, "limit": None}, "range comparison needs limit_low"),
]


@pytest.mark.parametrize(("invalid", "override", "base", "message"), CASES)
def test_catalogue_and_override_refuse_the_same_rule(invalid: dict, override: dict, base: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**{**base, **invalid})
    shipped = rule(**base)
    with pytest.raises(ValueError, match=message):
        CompiledRule(shipped, RuleOverride(**override))


@pytest.mark.parametrize(("override", "message"), [
    ({"severity_steps": [3.0, 2.0, 1.0]}, "severity_steps must ascend"),
    ({"weekdays": [0]}, "weekdays must be ISO weekdays 1..7"),
    ({"period_hours": "22:00-25:00"}, "period hours"),
    ({"period_hours": "22:00-22:00"}, "period hours"),
])
def test_what_an_override_decides_alone_is_refused_with_the_config(override: dict, message: str) -> None:
    """No rule needed: the config that holds the override is refused when it is read (`enforcegw config check`)."""
    with pytest.raises(ValidationError, match=message):
        RuleOverride(**override)


def test_a_valid_override_compiles() -> None:
    compiled = CompiledRule(rule(enabled=False, limit=None), RuleOverride(enabled=True, limit=5.0, weekdays=[6, 7]))
    assert (compiled.limit, compiled.period.weekdays) == (5.0, frozenset({6, 7}))
