"""What the engine emits (AlertEvent) and what the store hands back after a restart (OpenAlert)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from detectors.sensors.coverage import Coverage

EventType = Literal["open", "update", "end"]
EndReason = Literal["cleared", "period_end", "no_data"]


@dataclass(frozen=True, slots=True)
class BackgroundApplied:
    """The background correction (HJ 706-2014) behind an event's value; see detectors.sensors.background.

    `status`: none_applied (no background known), not_required (> 10 dB), corrected (3-10 dB), not_evaluable
    (< 3 dB: the value is the measured one and the alert is inadmissible)."""

    status: str
    measured_value: float
    background_db: float | None = None
    difference_db: int | None = None
    correction_db: int | None = None
    ref: str | None = None
    measured_on: str | None = None


@dataclass(frozen=True, slots=True)
class ReferenceApplied:
    """The conversion to reference conditions behind an event's value (GB 18483: C_ref = C x Q / (n x 2000)).

    `status`: converted, or no_exhaust_reference (the value is the unconverted one: screening only)."""

    status: str
    measured_value: float
    exhaust_flow_m3h: float | None = None
    cooking_heads: float | None = None
    factor: float | None = None
    valid_samples: int | None = None


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One transition of an alert; one open alert per (device_id, rule_id, zone_id) at a time.

    `start`..`end` is the exceedance: `end` is None on open, the latest exceeding time on update, and the
    final one on end. `value` is the window value at `at` (the evaluation time that caused the event).
    `readings` are the raw readings of the window behind `value` (detectors.sensors.samples.WindowReading), for the
    caller to hash into evidence. Times are tz-aware UTC. `coverage`, `background` and `reference` record what
    the value rests on and how it was corrected, so the alert shows it.
    """

    type: EventType
    alert_id: str
    device_id: str
    rule_id: str
    zone_id: str | None
    metric: str
    unit: str
    standard: str
    clause: str
    averaging: str
    window_s: float
    comparison: str
    limit: float
    limit_low: float | None
    start: datetime
    end: datetime | None
    peak_time: datetime
    peak_value: float
    value: float
    at: datetime
    severity: str
    admissible: bool
    inadmissible_reasons: tuple[str, ...]
    readings: tuple[Any, ...]
    end_reason: EndReason | None = None
    coverage: Coverage | None = None  # the data behind `value`; None for per-sample rules
    background: BackgroundApplied | None = None  # None: the rule takes no background correction
    reference: ReferenceApplied | None = None  # None: the rule converts to no reference conditions
    screening_only: bool = False  # the value is not the quantity the limit applies to (e.g. unconverted)

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.device_id, self.rule_id, self.zone_id)


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """An alert the store holds as open, as `RuleEngine.restore` needs it."""

    alert_id: str
    device_id: str
    rule_id: str
    zone_id: str | None
    start: datetime
    peak_value: float
    peak_time: datetime
    last_exceed: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.device_id, self.rule_id, self.zone_id)
