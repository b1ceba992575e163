"""Local overrides of catalogue rules, per zone or per device (part of the gateway's YAML config).

Precedence: catalogue < zone override < device override. A field left out (None) keeps the value from the
level below. Enabling a rule that ships disabled (e.g. unconfirmed) is an explicit local decision and must
come with a limit if the catalogue has none.

```yaml
alerts:
  overrides:
    zones:
      zone-hd-17: {gb18483_2001.oil_fume: {limit: 1.0}}   # a district that applies a stricter local value
    devices:
      noise-042: {gb12523_2011.night.laeq: {sustained_s: 120, clear_margin: 3}}
```
"""

from __future__ import annotations

from collections.abc import Collection

from pydantic import BaseModel, ConfigDict, Field, model_validator

from detectors.sensors.catalogue import WindowKind, ascending
from detectors.sensors.periods import DailyPeriod


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
        default=None, description="Local period HH:MM-HH:MM, e.g. a county that defines night as 22:00-07:00."
    )
    weekdays: list[int] | None = Field(default=None, description="ISO weekdays (1..7) on which the period starts.")
    note: str | None = Field(default=None, description="Why this override exists (local standard, decision ref).")

    @model_validator(mode="after")
    def _check(self) -> RuleOverride:
        # What an override decides on its own is checked as the catalogue checks it, so a config check finds it;
        # what depends on the rule and the other level (a limit for an enabled rule) is checked once merged.
        if self.period_hours is not None or self.weekdays is not None:
            DailyPeriod.parse("override", self.period_hours or "00:00-24:00", self.weekdays)
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

    def resolve(self, rule_id: str, device_id: str, zone_id: str | None) -> RuleOverride | None:
        z = self.zones.get(zone_id, {}).get(rule_id) if zone_id is not None else None
        d = self.devices.get(device_id, {}).get(rule_id)
        if z is None:
            return d
        return z.merged(d)
