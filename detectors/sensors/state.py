"""The state machine of one (device, rule, zone): window, sustained run, open alert, hysteresis.

quiet --exceeding--> running --(exceeding for >= sustained_s)--> open --(clear beyond the margin for
>= clear_s)--> quiet.  A non-exceeding evaluation ends a run; a value between the limit and the clearing
margin neither extends nor clears an open alert. A gap in data longer than the tracker's `gap_s` restarts
both the sustained run and the clearing run (missing data proves neither). Leaving the rule's period ends an
open alert (`period_end`).

A window is evaluated only once it meets the rule's coverage (detectors.sensors.coverage): a sliding window once
the unbroken run of data reaches back over `min_span_s`, a tumbling one when it closes with enough data. Before
the comparison the value is corrected for the background (HJ 706-2014, detectors.sensors.background) or
converted to reference conditions (GB 18483, detectors.sensors.fume_method) where the rule asks for it; every
event records what was applied.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

from detectors.sensors.admissibility import (
    BACKGROUND_NOT_EVALUABLE,
    NO_EXHAUST_REFERENCE,
    SCREENING_ONLY,
    DeviceInfo,
    inadmissibility,
)
from detectors.sensors.alerts import AlertEvent, BackgroundApplied, OpenAlert, ReferenceApplied
from detectors.sensors.background import NONE_APPLIED, NOT_EVALUABLE, background_for, correct
from detectors.sensors.coverage import Coverage
from detectors.sensors.fume_method import METHOD as FUME_METHOD
from detectors.sensors.fume_method import FumeWindow, reference_for
from detectors.sensors.periods import LocalClock
from detectors.sensors.rules import CompiledRule, exceeds, excess, is_clear, rule_severity
from detectors.sensors.samples import TIME, unpack
from detectors.sensors.windows import TumblingWindow, make_window


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class _Alert:
    __slots__ = ("id", "last_emit", "last_exceed", "peak", "peak_over", "peak_t", "start")

    def __init__(self, id: str, start: float, peak: float, peak_t: float, peak_over: float, last: float) -> None:
        self.id = id
        self.start = start
        self.peak = peak
        self.peak_t = peak_t
        self.peak_over = peak_over
        self.last_exceed = last
        self.last_emit = last


class RuleTracker:
    """Evaluates one compiled rule for one device (and zone) over an in-order stream of readings."""

    __slots__ = (
        "_day",
        "_day_count",
        "_pin",
        "_pin_from",
        "_pin_until",
        "alert",
        "all_day",
        "bg",
        "bg_corr",
        "bg_diff",
        "bg_measured",
        "bg_on",
        "bg_status",
        "clear_since",
        "clock",
        "cov_gap",
        "cov_span",
        "device",
        "dirty",
        "flags",
        "gap_s",
        "incomplete",
        "last_eval",
        "last_value",
        "prev_t",
        "quiet_below",
        "ref",
        "ref_measured",
        "ref_on",
        "rule",
        "run_from",
        "run_peak",
        "run_peak_over",
        "run_peak_t",
        "run_start",
        "run_two",
        "tumbling",
        "update_interval_s",
        "window",
        "zone_id",
    )

    def __init__(
        self,
        rule: CompiledRule,
        device: DeviceInfo,
        zone_id: str | None,
        clock: LocalClock,
        *,
        max_gap_s: float = 300.0,
        update_interval_s: float = 60.0,
    ) -> None:
        self.rule = rule
        self.device = device
        self.zone_id = zone_id
        self.clock = clock
        cov = rule.coverage
        self.window = FumeWindow(cov.max_gap_s) if rule.method == FUME_METHOD else \
            make_window(rule.averaging, rule.window_s, rule.window_kind, cov.max_gap_s, cov.count_unit_s)
        self.tumbling = isinstance(self.window, TumblingWindow | FumeWindow)
        # sliding coverage: the unbroken run of data (prev_t: latest reading, run_from: how far back it reaches)
        self.cov_span = cov.min_span_s
        self.cov_gap = cov.max_gap_s
        self.prev_t = -math.inf
        self.run_from = math.inf
        self.run_two = False
        self.incomplete = 0  # windows not evaluated for want of coverage
        self.flags: frozenset[str] = frozenset()  # reasons from the evaluations of the current run / alert
        self.bg_on = rule.background
        self.bg = background_for(device.extra, zone_id) if rule.background else None
        self.bg_status, self.bg_measured, self.bg_corr, self.bg_diff = NONE_APPLIED, 0.0, None, None
        self.ref_on = rule.method == FUME_METHOD
        self.ref = reference_for(device.extra) if self.ref_on else None
        self.ref_measured = 0.0
        self.all_day = rule.period.is_all_day
        self.gap_s = max_gap_s + (rule.window_s if self.tumbling else 0.0)
        self.update_interval_s = update_interval_s
        self.alert: _Alert | None = None
        self.run_start: float | None = None
        self.run_peak = 0.0
        self.run_peak_t = 0.0
        self.run_peak_over = 0.0
        self.clear_since: float | None = None
        self.last_eval: float | None = None
        self.last_value: float | None = None
        self._day = -1
        self._day_count = 0
        self._pin = False
        self.dirty = False  # holds in-period state that leaving the period must settle
        self._pin_from = self._pin_until = float("-inf")
        simple = rule.comparison == "max" and rule.allowed_per_day is None
        self.quiet_below: float | None = rule.limit if simple else None

    # --- feeding ---------------------------------------------------------------------------------------
    def on_reading(self, t: float, v: float, r: Any, sod: float, wd: int, offset: int, out: list) -> None:
        if not self.all_day:
            # period membership is constant until the next period boundary: cache it (hot path)
            if t >= self._pin_until or t < self._pin_from:
                self._pin = self.rule.period.contains(sod, wd)
                self._pin_from = t
                self._pin_until = t + self.rule.period.seconds_to_boundary(sod)
            if not self._pin:
                if self.dirty:
                    self.leave_period(t, out)
                if self.tumbling:
                    self.window.seen(t)  # data ran on up to a window aligned to the period's start
                return
            self.dirty = True
        if self.tumbling:
            closed = self.window.add(t, v, r, offset)
            if closed is not None:
                self._closed(closed, out)
            return
        span = self.cov_span
        if span:
            prev = self.prev_t
            if t - prev > self.cov_gap:  # a gap, a period start or the first report: a new run of data
                self.run_from = t
                self.run_two = False
            elif not self.run_two:  # the run's first reading stands for the interval up to its second
                self.run_from -= t - prev
                self.run_two = True
            self.prev_t = t
            value = self.window.add(t, v, r)
            if t - self.run_from < span:
                return  # not a full window yet: no value to judge
        else:
            value = self.window.add(t, v, r)
        if self.quiet_below is not None and value <= self.quiet_below and self.alert is None \
                and self.run_start is None:
            self.last_eval = t  # fast path: compliant, nothing running, nothing open
            self.last_value = value
            return
        self.evaluate(t, t, value, None, out)

    def leave_period(self, t: float, out: list) -> None:
        """Outside the rule's period: evaluate a pending tumbling window, drop window state, end the alert."""
        self.dirty = False
        if self.tumbling:
            closed = self.window.close()
            if closed is not None:
                self._closed(closed, out)
        else:
            self.window.clear()
            self.prev_t = -math.inf  # the next period's window fills from its own first reading
        self.run_start = None
        self.clear_since = None
        if self.alert is not None:
            self._end(self.alert.last_exceed, "period_end", self.window.readings(), out)

    def flush(self, now: float, out: list) -> None:
        """Close a tumbling window whose end has passed (called from RuleEngine.advance)."""
        if self.tumbling:
            end = self.window.end
            if end is not None and end <= now:
                closed = self.window.close()
                if closed is not None:
                    self._closed(closed, out)

    def _closed(self, closed: tuple, out: list) -> None:
        """A closed tumbling (or GB 18483) window: evaluated only when it meets the rule's coverage."""
        w = self.window
        count = w.closed_count
        if not self.rule.coverage.met(w.closed_span_s, count or 0):
            self.incomplete += 1
            return
        value = closed[2]
        if self.ref_on:
            self.ref_measured = value
            if self.ref is not None:
                value *= self.ref.factor
        self.evaluate(closed[0], closed[1], value, closed[3], out)

    # --- the state machine -----------------------------------------------------------------------------
    def evaluate(self, t0: float, t1: float, value: float, readings: tuple | None, out: list) -> None:
        rule = self.rule
        flag = None
        if self.bg_on:
            self.bg_measured = value
            if self.bg is not None:
                value, self.bg_status, self.bg_corr, self.bg_diff = correct(value, self.bg.level_db)
                if self.bg_status == NOT_EVALUABLE:
                    flag = BACKGROUND_NOT_EVALUABLE
        if self.last_eval is not None and t1 - self.last_eval > self.gap_s:
            self.run_start = None
            self.clear_since = None
        self.last_eval = t1
        self.last_value = value
        exceeding = exceeds(rule.comparison, value, rule.limit, rule.limit_low)
        if exceeding and rule.allowed_per_day is not None:
            day = self.clock.parts(t0)[2]
            if day != self._day:
                self._day, self._day_count = day, 0
            self._day_count += 1
            exceeding = self._day_count > rule.allowed_per_day
        alert = self.alert
        if alert is None:
            if not exceeding:
                self.run_start = None
                return
            over = excess(rule.comparison, rule.severity_mode, value, rule.limit, rule.limit_low)
            if self.run_start is None:
                self.run_start = t0
                self.flags = frozenset()
                self.run_peak, self.run_peak_t, self.run_peak_over = value, t1, over
            elif over > self.run_peak_over:
                self.run_peak, self.run_peak_t, self.run_peak_over = value, t1, over
            if flag is not None:
                self.flags = self.flags | {flag}
            if t1 - self.run_start >= rule.sustained_s:
                self.alert = _Alert(uuid.uuid4().hex, self.run_start, self.run_peak, self.run_peak_t,
                                    self.run_peak_over, t1)
                self.run_start = None
                self.clear_since = None
                out.append(self._event("open", t1, value, readings, None, None))
            return
        if exceeding:
            self.clear_since = None
            if flag is not None:
                self.flags = self.flags | {flag}
            over = excess(rule.comparison, rule.severity_mode, value, rule.limit, rule.limit_low)
            if over > alert.peak_over:
                alert.peak, alert.peak_t, alert.peak_over = value, t1, over
            alert.last_exceed = t1
            if t1 - alert.last_emit >= self.update_interval_s:
                alert.last_emit = t1
                out.append(self._event("update", t1, value, readings, _dt(t1), None))
        elif is_clear(rule.comparison, value, rule.limit, rule.clear_margin, rule.limit_low):
            if self.clear_since is None:
                self.clear_since = t0
            if t1 - self.clear_since >= rule.clear_s:
                self._end(alert.last_exceed, "cleared", readings, out, t1, value)
        else:
            self.clear_since = None

    def _end(self, end: float, reason: str, readings: tuple | None, out: list,
             at: float | None = None, value: float | None = None) -> None:
        a = self.alert
        assert a is not None
        at = end if at is None else at
        ev = self._event("end", at, a.peak if value is None else value, readings, _dt(end), reason)
        self.alert = None
        self.clear_since = None
        self.flags = frozenset()
        out.append(ev)

    def _event(self, kind: str, at: float, value: float, readings: tuple | None,
               end: datetime | None, reason: str | None) -> AlertEvent:
        a = self.alert
        assert a is not None
        rule = self.rule
        if readings is None:
            readings = self.window.readings()
        last = max((r[TIME] for r in readings), default=_dt(at))
        reasons = inadmissibility(self.device, last)
        unconverted = self.ref_on and self.ref is None
        screening = unconverted or rule.screening_only
        if self.flags or screening:
            reasons = (reasons + tuple(sorted(self.flags)) + ((NO_EXHAUST_REFERENCE,) if unconverted else ())
                       + ((SCREENING_ONLY,) if rule.screening_only else ()))
        return AlertEvent(
            type=kind, alert_id=a.id, device_id=self.device.id, rule_id=rule.id, zone_id=self.zone_id,  # type: ignore[arg-type]
            metric=rule.metric, unit=rule.unit, standard=rule.standard, clause=rule.clause,
            averaging=rule.averaging, window_s=rule.window_s, comparison=rule.comparison, limit=rule.limit,
            limit_low=rule.limit_low, start=_dt(a.start), end=end, peak_time=_dt(a.peak_t), peak_value=a.peak,
            value=value, at=_dt(at), severity=rule_severity(rule, a.peak), admissible=not reasons,
            inadmissible_reasons=reasons, readings=unpack(readings), end_reason=reason,  # type: ignore[arg-type]
            coverage=self._coverage(), background=self._background(), reference=self._reference(),
            screening_only=screening,
        )

    # --- what the value rests on (events only) ---------------------------------------------------------------
    def _coverage(self) -> Coverage | None:
        rule, cov = self.rule, self.rule.coverage
        if self.tumbling:
            w = self.window
            return Coverage(w.closed_span_s, cov.min_span_s, w.window_s, w.closed_gaps, w.closed_count,
                            cov.min_count)
        if not self.cov_span or self.last_eval is None:
            return None
        span = min(self.last_eval - self.run_from, rule.window_s)
        return Coverage(span, cov.min_span_s, rule.window_s, 0 if span >= rule.window_s else 1)

    def _background(self) -> BackgroundApplied | None:
        if not self.bg_on:
            return None
        bg = self.bg
        if bg is None:
            return BackgroundApplied(NONE_APPLIED, self.bg_measured)
        return BackgroundApplied(self.bg_status, self.bg_measured, bg.level_db, self.bg_diff, self.bg_corr, bg.ref,
                                 bg.measured_on.isoformat() if bg.measured_on else None)

    def _reference(self) -> ReferenceApplied | None:
        if not self.ref_on:
            return None
        ref, valid = self.ref, self.window.closed_count
        if ref is None:
            return ReferenceApplied(NO_EXHAUST_REFERENCE, self.ref_measured, valid_samples=valid)
        return ReferenceApplied("converted", self.ref_measured, ref.exhaust_flow_m3h, ref.cooking_heads, ref.factor,
                                valid)

    # --- restart -----------------------------------------------------------------------------------------
    def adopt(self, stored: OpenAlert) -> None:
        """Take over an alert the store says is open (keep the stored id, start and the higher peak)."""
        rule = self.rule
        over = excess(rule.comparison, rule.severity_mode, stored.peak_value, rule.limit, rule.limit_low)
        last = (stored.last_exceed or stored.peak_time).timestamp()
        a = self.alert
        if a is None:
            self.alert = _Alert(stored.alert_id, stored.start.timestamp(), stored.peak_value,
                                stored.peak_time.timestamp(), over, last)
            self.run_start = None
            return
        a.id = stored.alert_id
        a.start = min(a.start, stored.start.timestamp())
        if over > a.peak_over:
            a.peak, a.peak_t, a.peak_over = stored.peak_value, stored.peak_time.timestamp(), over
        a.last_exceed = max(a.last_exceed, last)

    def snapshot_open(self, at: float) -> AlertEvent | None:
        """An `open` event for the current alert (restore: open in the engine but unknown to the store)."""
        if self.alert is None:
            return None
        return self._event("open", at, self.last_value if self.last_value is not None else self.alert.peak,
                           None, None, None)
