"""What the engine emits (AlertEvent) and what the store hands back after a restart (OpenAlert)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

EventType = Literal["open", "update", "end"]
EndReason = Literal["cleared", "period_end", "no_data"]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One transition of an alert; one open alert per (device_id, rule_id, zone_id) at a time.

    `start`..`end` is the exceedance: `end` is None on open, the latest exceeding time on update, and the
    final one on end. `value` is the window value at `at` (the evaluation time that caused the event).
    `readings` are the raw readings of the window behind `value` (detectors.sensors.samples.WindowReading), for the
    caller to hash into evidence. Times are tz-aware UTC.
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
