"""The standard in force at the reading's time, and alerts of rules a bureau has not confirmed.

A rule applies only to readings taken while its standard is in force (`Rule.valid_from` .. `valid_until`, local
days in Asia/Shanghai: national standards take effect on Beijing-time dates whatever the device's own zone). A
backlog from December 2025 replayed in 2026 is judged by GB 12523-2011, a reading of January 2026 by GB
12523-2025, whatever the wall clock says. An unconfirmed rule still raises alerts (an operator must see them)
but every event carries `standard_unconfirmed`, so it cannot become a case without a recorded override.

`bind_tracker` hands the engine a plain `RuleTracker` for a rule without validity bounds that is confirmed (no
cost on the hot path), else a `BoundedTracker` that filters readings and adds the reason.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from detectors.sensors.admissibility import STANDARD_UNCONFIRMED, DeviceInfo
from detectors.sensors.alerts import AlertEvent
from detectors.sensors.periods import DEFAULT_TZ, LocalClock
from detectors.sensors.permits import permit_spans, permitted
from detectors.sensors.rules import CompiledRule
from detectors.sensors.state import RuleTracker

LAW_TZ = ZoneInfo(DEFAULT_TZ)


def day_start(day: date | None, default: float) -> float:
    """POSIX seconds of local midnight (Asia/Shanghai) at the start of `day`; `default` when None."""
    if day is None:
        return default
    return datetime.combine(day, time.min, tzinfo=LAW_TZ).timestamp()


def validity_span(valid_from: date | None, valid_until: date | None) -> tuple[float, float]:
    """[start, end) in POSIX seconds: from local midnight of `valid_from` to local midnight after `valid_until`."""
    end = None if valid_until is None else valid_until + timedelta(days=1)
    return day_start(valid_from, float("-inf")), day_start(end, float("inf"))


class BoundedTracker(RuleTracker):
    """A tracker that sees only readings taken while its standard is in force (and, for a permit-suppressed rule,
    while no permit of its zone is valid) and marks unconfirmed rules.

    Leaving the validity span settles the tracker as leaving its period does (a pending tumbling window is
    evaluated, an open alert ends with `period_end`): the standard that judged it no longer applies.
    """

    __slots__ = ("_in_force", "permit_spans", "reasons", "valid_from_ts", "valid_until_ts")

    def __init__(self, rule: CompiledRule, device: DeviceInfo, zone_id: str | None, clock: LocalClock, *,
                 max_gap_s: float = 300.0, update_interval_s: float = 60.0) -> None:
        super().__init__(rule, device, zone_id, clock, max_gap_s=max_gap_s, update_interval_s=update_interval_s)
        self.valid_from_ts, self.valid_until_ts = validity_span(rule.rule.valid_from, rule.rule.valid_until)
        self.reasons: tuple[str, ...] = () if rule.rule.confirmed else (STANDARD_UNCONFIRMED,)
        self._in_force = False
        # a rule the law lifts for a permitted site (Noise Law art. 43): the permits of this binding's zone
        self.permit_spans = permit_spans(device.permits, zone_id) if rule.rule.permit_suppressed else ()

    def on_reading(self, t: float, v: float, r, sod: float, wd: int, offset: int, out: list) -> None:
        spans = self.permit_spans
        if self.valid_from_ts <= t < self.valid_until_ts and not (spans and permitted(spans, t)):
            self._in_force = True
            RuleTracker.on_reading(self, t, v, r, sod, wd, offset, out)
        elif self._in_force:
            self._in_force = False
            self.leave_period(t, out)

    def _event(self, kind: str, at: float, value: float, readings: tuple | None, end: datetime | None,
               reason: str | None) -> AlertEvent:
        ev = RuleTracker._event(self, kind, at, value, readings, end, reason)
        if not self.reasons:
            return ev
        reasons = ev.inadmissible_reasons + self.reasons
        return dataclasses.replace(ev, admissible=False, inadmissible_reasons=reasons)


def bind_tracker(rule: CompiledRule, device: DeviceInfo, zone_id: str | None, clock: LocalClock, *,
                 max_gap_s: float = 300.0, update_interval_s: float = 60.0) -> RuleTracker:
    """The tracker for one binding: bounded when the rule has validity dates or is unconfirmed."""
    src = rule.rule
    plain = src.valid_from is None and src.valid_until is None and src.confirmed and not src.permit_suppressed
    cls = RuleTracker if plain else BoundedTracker
    return cls(rule, device, zone_id, clock, max_gap_s=max_gap_s, update_interval_s=update_interval_s)
