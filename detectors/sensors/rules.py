"""Compiled rules: plain objects with resolved parameters for the hot path, and the pure rule predicates.

`compile_rule(rule, override)` merges a catalogue `Rule` with a local `RuleOverride`; the predicates
(`exceeds`, `is_clear`, `severity`) are plain functions of numbers so they test without any engine.
"""

from __future__ import annotations

import math

from detectors.sensors.catalogue import Rule, check_parameters
from detectors.sensors.coverage import resolve
from detectors.sensors.overrides import RuleOverride
from detectors.sensors.periods import DailyPeriod

SEVERITIES = ("low", "medium", "high")


class CompiledRule:
    """A rule with overrides applied: plain attributes for the hot path, checked once here by the catalogue's
    `check_parameters`."""

    __slots__ = (
        "allowed_per_day", "averaging", "background", "clause", "clear_margin", "clear_s", "comparison", "coverage",
        "id", "limit", "limit_low", "method", "metric", "period", "rule", "screening_only", "severity_mode",
        "severity_steps", "standard", "sustained_s", "unit", "window_kind", "window_s",
    )

    def __init__(self, rule: Rule, override: RuleOverride | None = None) -> None:
        o = override.model_dump(exclude_none=True) if override is not None else {}
        get = lambda name: o.get(name, getattr(rule, name))  # noqa: E731
        self.rule = rule
        self.id = rule.id
        self.standard = rule.standard
        self.clause = rule.clause
        self.metric = rule.metric
        self.unit = rule.unit
        self.averaging = rule.averaging
        self.window_s = float(get("window_s"))
        self.window_kind = get("window_kind")
        self.comparison = rule.comparison
        self.limit = get("limit")
        self.limit_low = get("limit_low")
        self.sustained_s = float(get("sustained_s"))
        self.clear_margin = float(get("clear_margin"))
        self.clear_s = float(get("clear_s"))
        self.severity_mode = rule.severity_mode
        self.severity_steps = tuple(get("severity_steps"))
        self.allowed_per_day = get("allowed_exceedances_per_day")
        hours = o.get("period_hours", rule.period.hours)
        weekdays = o.get("weekdays", rule.period.weekdays)
        self.period = DailyPeriod.parse(rule.period.name, hours, weekdays)
        # Overrides change parameters the catalogue checked together: the merged rule must pass the same check.
        check_parameters(rule.id, enabled=True, averaging=self.averaging, window_s=self.window_s,
                         comparison=self.comparison, limit=self.limit, limit_low=self.limit_low,
                         severity_steps=self.severity_steps)
        self.method = rule.method
        self.screening_only = rule.screening_only
        self.coverage = resolve(self.averaging, self.window_s, rule.min_span_s, rule.max_gap_s, rule.min_count,
                                rule.count_unit_s)
        self.background = background_applies(rule)


# HJ 706-2014 background correction is part of the measurement procedure of these standards' LAeq.
BACKGROUND_STANDARDS = ("GB 12523", "GB 22337")


def background_applies(rule: Rule) -> bool:
    """The rule's own setting, else on for the leq rules of GB 12523 and GB 22337."""
    if rule.background_correction is not None:
        return rule.background_correction
    return rule.averaging == "leq" and rule.standard.startswith(BACKGROUND_STANDARDS)


def exceeds(comparison: str, value: float, limit: float, limit_low: float | None = None) -> bool:
    """max: value > limit; min: value < limit; range: outside [limit_low, limit]. Equal to the limit complies."""
    if comparison == "max":
        return value > limit
    if comparison == "min":
        return value < limit
    return value > limit or value < limit_low  # type: ignore[operator]


def is_clear(comparison: str, value: float, limit: float, margin: float, limit_low: float | None = None) -> bool:
    """Hysteresis: clear only strictly beyond the limit by `margin` (value < limit - margin for max)."""
    if comparison == "max":
        return value < limit - margin
    if comparison == "min":
        return value > limit + margin
    return limit_low + margin < value < limit - margin  # type: ignore[operator]


def excess(comparison: str, mode: str, value: float, limit: float, limit_low: float | None = None) -> float:
    """How far over: value-limit (difference) or value/limit (ratio), mirrored for min; 0/1 when compliant."""
    if comparison == "range":
        if value > limit:
            comparison = "max"
        elif value < limit_low:  # type: ignore[operator]
            comparison, limit = "min", limit_low  # type: ignore[assignment]
        else:
            return 0.0 if mode == "difference" else 1.0
    if mode == "difference":
        return value - limit if comparison == "max" else limit - value
    if comparison == "max":
        return value / limit if limit else math.inf
    return limit / value if value > 0 else math.inf


def severity(steps: tuple[float, ...], over: float) -> str:
    """low for any exceedance, medium from steps[1], high from steps[2] (thresholds inclusive)."""
    if over >= steps[2]:
        return "high"
    if over >= steps[1]:
        return "medium"
    return "low"


def rule_severity(rule: CompiledRule, value: float) -> str:
    over = excess(rule.comparison, rule.severity_mode, value, rule.limit, rule.limit_low)
    return severity(rule.severity_steps, over)
