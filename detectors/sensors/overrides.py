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

from pydantic import BaseModel, ConfigDict, Field

from detectors.sensors.catalogue import WindowKind


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

    def resolve(self, rule_id: str, device_id: str, zone_id: str | None) -> RuleOverride | None:
        z = self.zones.get(zone_id, {}).get(rule_id) if zone_id is not None else None
        d = self.devices.get(device_id, {}).get(rule_id)
        if z is None:
            return d
        return z.merged(d)
