"""Local overrides of catalogue rules, per zone or per device (part of the gateway's YAML config).

Precedence: catalogue < zone override < device override. A field left out (None) keeps the value from the
level below. Enabling a rule that ships disabled (e.g. unconfirmed) is an explicit local decision and must
come with a limit if the catalogue has none.

Day and night are the law's, not the bureau's: under the Noise Pollution Prevention Law (2022) art. 88 night is
22:00-06:00 and only a government at city level (设区的市级以上人民政府) may move it, keeping it 8 hours long. So
a period override must carry `decision_ref` (that government's decision) and keep the period's length: 8 hours
for a night rule, 16 for a day rule (`OverrideConfig.unlawful_periods` checks it against the rules).

```yaml
alerts:
  overrides:
    zones:
      zone-hd-17: {gb18483_2001.oil_fume: {limit: 1.0}}   # a district that applies a stricter local value
    devices:
      noise-042: {gb12523_2011.night.laeq: {sustained_s: 120, clear_margin: 3}}
    zones:
      city-zone-3:   # a city that moved night to 23:00-07:00 (still 8 hours), by its published decision
        gb3096_2008.class2.night.laeq: {period_hours: "23:00-07:00", decision_ref: "X市人民政府公告〔2023〕5号"}
```
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from detectors.sensors.catalogue import WindowKind, ascending
from detectors.sensors.periods import DAY, DailyPeriod, parse_hours

# The lawful length of each period a rule may name (Noise Law art. 88: night is 8 hours, so day is 16).
LAWFUL_SECONDS = {"night": 8 * 3600, "day": 16 * 3600}


def period_seconds(hours: str) -> int:
    """Length of a local period `HH:MM-HH:MM` in seconds (crossing midnight when the start is after the end)."""
    start, end = parse_hours(hours)
    return (end - start) % DAY or DAY


class RuleOverride(BaseModel):
    """Local changes to one catalogue rule; every field is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = Field(default=None, description="Turn the rule on or off here.")
    limit: float | None = Field(default=None, description="Local limit (upper bound for range rules).")
    limit_low: float | None = Field(default=None, description="Local lower bound for range rules.")
    window_s: int | None = Field(default=None, ge=1, description="Averaging window in seconds (not for sample rules).")
    window_kind: WindowKind | None = Field(default=None, description="sliding or tumbling.")
    sustained_s: float | None = Field(default=None, ge=0, description="Seconds of exceedance before an alert opens.")
    clear_margin: float | None = Field(default=None, ge=0, description="Hysteresis margin beyond the limit to clear.")
    clear_s: float | None = Field(default=None, ge=0, description="Seconds clear (beyond the margin) before ending.")
    severity_steps: list[float] | None = Field(
        default=None, min_length=3, max_length=3, description="Excess thresholds for low, medium, high."
    )
    allowed_exceedances_per_day: int | None = Field(
        default=None, ge=0, description="Exceeding windows tolerated per local day before they count."
    )
    period_hours: str | None = Field(
        default=None, description="Local period HH:MM-HH:MM as a city-level government redefined it (night 8 hours, "
        "e.g. 23:00-07:00; day 16 hours); needs decision_ref."
    )
    decision_ref: str | None = Field(
        default=None, description="Reference of the city-level government's decision that moved day/night "
        "(Noise Law art. 88); required with period_hours."
    )
    weekdays: list[int] | None = Field(default=None, description="ISO weekdays (1..7) on which the period starts.")
    note: str | None = Field(default=None, description="Why this override exists (local standard, decision ref).")

    @model_validator(mode="after")
    def _check(self) -> RuleOverride:
        # What an override decides on its own is checked as the catalogue checks it, so a config check finds it;
        # what depends on the rule and the other level (a limit for an enabled rule) is checked once merged.
        if self.period_hours is not None or self.weekdays is not None:
            DailyPeriod.parse("override", self.period_hours or "00:00-24:00", self.weekdays)
        if self.period_hours is not None:
            if not (self.decision_ref or "").strip():
                raise ValueError("period_hours needs decision_ref: only a city-level government may move day and "
                                 "night (Noise Law art. 88), so the override must cite its decision")
            if period_seconds(self.period_hours) not in LAWFUL_SECONDS.values():
                raise ValueError(f"period_hours {self.period_hours}: night stays 8 hours (day 16) under the Noise "
                                 "Law art. 88")
        if self.severity_steps is not None and not ascending(self.severity_steps):
            raise ValueError("severity_steps must ascend")
        return self

    def merged(self, upper: RuleOverride | None) -> RuleOverride:
        """This override with the non-None fields of `upper` on top."""
        if upper is None:
            return self
        return self.model_copy(update=upper.model_dump(exclude_none=True))


class OverrideConfig(BaseModel):
    """Overrides keyed by zone id and by device id, each a map of rule id -> RuleOverride."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zones: dict[str, dict[str, RuleOverride]] = Field(
        default_factory=dict, description="zone id -> rule id -> override (applies to devices in that zone)."
    )
    devices: dict[str, dict[str, RuleOverride]] = Field(
        default_factory=dict, description="device id -> rule id -> override (wins over zone overrides)."
    )

    def unknown_rules(self, rule_ids: Collection[str]) -> list[str]:
        """Where an override names a rule not in `rule_ids` (`zones.<zone>.<rule>`, `devices.<device>.<rule>`):
        such an override would never apply, so a mistyped id must not pass silently."""
        return [f"{level}.{key}.{rule_id}" for level, table in (("zones", self.zones), ("devices", self.devices))
                for key, rules in table.items() for rule_id in rules if rule_id not in rule_ids]

    def unlawful_periods(self, period_names: Mapping[str, str]) -> list[str]:
        """Where a period override does not keep the length the law gives the rule's period (`period_names`:
        rule id -> period name), as `zones.<zone>.<rule>: ...` messages; overrides of unknown rules are
        `unknown_rules`' concern."""
        out = []
        for level, table in (("zones", self.zones), ("devices", self.devices)):
            for key, rules in table.items():
                for rule_id, o in rules.items():
                    lawful = LAWFUL_SECONDS.get(period_names.get(rule_id, ""))
                    if o.period_hours is None or rule_id not in period_names:
                        continue
                    if lawful is None or period_seconds(o.period_hours) != lawful:
                        out.append(f"{level}.{key}.{rule_id}: period_hours {o.period_hours} is not a lawful "
                                   f"{period_names[rule_id]} period (night 8 hours, day 16; Noise Law art. 88)")
        return out

    def resolve(self, rule_id: str, device_id: str, zone_id: str | None) -> RuleOverride | None:
        z = self.zones.get(zone_id, {}).get(rule_id) if zone_id is not None else None
        d = self.devices.get(device_id, {}).get(rule_id)
        if z is None:
            return d
        return z.merged(d)
