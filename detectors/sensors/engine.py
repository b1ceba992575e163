"""RuleEngine: readings in, alert events out; pure and in-process (no MQTT, no database).

Hot path: one dict lookup per reading for its (device, metric) stream, a cached local-time split, then each
bound tracker. Ordering: each stream keeps a reorder buffer of `lateness_s`; readings are evaluated in
event-time order once the stream's newest time has moved `lateness_s` past them (or `advance(now)` passes
them), so an out-of-order reading within the lateness gives exactly the result in-order delivery would.
With `lateness_s=0` readings are evaluated at once. Duplicates (same time, or same seq while still
buffered) are ignored; readings older than the lateness are not evaluated but counted per device and
handed to `on_late` - never silently dropped.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import datetime

from detectors.sensors.admissibility import DeviceInfo
from detectors.sensors.alerts import AlertEvent, OpenAlert
from detectors.sensors.catalogue import Catalogue
from detectors.sensors.overrides import OverrideConfig
from detectors.sensors.periods import LocalClock, clock_for
from detectors.sensors.rules import CompiledRule
from detectors.sensors.samples import SEQ, VALUE, pack
from detectors.sensors.state import RuleTracker
from detectors.sensors.validity import bind_tracker

LateHandler = Callable[[object, str], None]
RECENT = 256  # released times remembered per stream to classify a resent reading as duplicate, not late


class _Stream:
    __slots__ = (
        "clock", "heap", "last_seq", "off_from", "off_until", "offset", "pending_seqs", "pending_times", "recent",
        "released", "trackers", "watermark",
    )

    def __init__(self, clock: LocalClock) -> None:
        self.clock = clock
        self.trackers: list[RuleTracker] = []
        self.released = float("-inf")  # time of the last evaluated reading
        self.last_seq: int | None = None
        self.watermark = float("-inf")  # newest time accepted
        self.heap: list[tuple[float, int, object]] = []
        self.pending_times: set[float] = set()
        self.pending_seqs: set[int] = set()
        self.offset = 0
        self.off_from = self.off_until = float("-inf")
        # Last released times (lateness > 0): tells a duplicate from a late reading. Searched only when a reading
        # is rejected, so a bounded deque (no per-release set upkeep on the hot path).
        self.recent: deque[float] = deque(maxlen=RECENT)


class RuleEngine:
    """Evaluate catalogue rules over readings of registered devices.

    `feed(reading)` -> events; `advance(now)` releases buffered readings, closes tumbling windows and ends
    alerts whose period is over; `restore(device_id, readings, open_alerts, resume_after)` rebuilds state
    after a restart.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        devices: Iterable[DeviceInfo] = (),
        overrides: OverrideConfig | None = None,
        *,
        lateness_s: float = 0.0,
        max_gap_s: float = 300.0,
        update_interval_s: float = 60.0,
        stale_after_s: float | None = None,
        on_late: LateHandler | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.overrides = overrides or OverrideConfig()
        self.lateness_s = float(lateness_s)
        self.max_gap_s = max_gap_s
        self.update_interval_s = update_interval_s
        self.stale_after_s = stale_after_s
        self.on_late = on_late
        self.counters: Counter[str] = Counter()
        self.late_by_device: Counter[str] = Counter()
        self.evaluated = 0
        self.unbound_open_alerts: list[OpenAlert] = []
        self._devices: dict[str, DeviceInfo] = {}
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._device_streams: dict[str, list[tuple[str, str]]] = {}
        self._by_metric: dict[str, list] = {}
        for r in catalogue:
            self._by_metric.setdefault(r.metric, []).append(r)
        for d in devices:
            self.add_device(d)

    # --- registry -------------------------------------------------------------------------------------
    def add_device(self, device: DeviceInfo) -> list[RuleTracker]:
        """Bind the applicable rules to a device (replacing any previous binding and its state)."""
        self.remove_device(device.id)
        self._devices[device.id] = device
        clock = clock_for(device.tz)
        bound: list[RuleTracker] = []
        targets: list[str | None] = [z.id for z in device.zones]
        kinds = {z.id: z.kind for z in device.zones}
        for rule in self.catalogue:
            if rule.device_kinds and device.kind not in rule.device_kinds:
                continue
            zones = [None] if not rule.zone_kinds else [z for z in targets if kinds[z] in rule.zone_kinds]
            for zone_id in zones:
                o = self.overrides.resolve(rule.id, device.id, zone_id)
                enabled = rule.enabled if o is None or o.enabled is None else o.enabled
                if not enabled:
                    continue
                tracker = bind_tracker(CompiledRule(rule, o), device, zone_id, clock,
                                       max_gap_s=self.max_gap_s, update_interval_s=self.update_interval_s)
                key = (device.id, rule.metric)
                stream = self._streams.get(key)
                if stream is None:
                    stream = self._streams[key] = _Stream(clock)
                    self._device_streams.setdefault(device.id, []).append(key)
                stream.trackers.append(tracker)
                bound.append(tracker)
        return bound

    def remove_device(self, device_id: str) -> None:
        self._devices.pop(device_id, None)
        for key in self._device_streams.pop(device_id, ()):
            self._streams.pop(key, None)

    def trackers(self, device_id: str | None = None) -> list[RuleTracker]:
        keys = self._streams if device_id is None else self._device_streams.get(device_id, ())
        return [t for k in keys for t in self._streams[k].trackers]

    def open_alerts(self) -> list[tuple[str, str, str | None, str]]:
        """(device_id, rule_id, zone_id, alert_id) of every alert the engine holds open."""
        return [(t.device.id, t.rule.id, t.zone_id, t.alert.id) for t in self.trackers() if t.alert is not None]

    # --- hot path -------------------------------------------------------------------------------------
    def feed(self, reading) -> list[AlertEvent]:
        out: list[AlertEvent] = []
        stream = self._streams.get((reading.device_id, reading.metric))
        if stream is None:
            self.counters["unknown_device" if reading.device_id not in self._devices else "unrouted"] += 1
            return out
        t = reading.time.timestamp()
        if not self.lateness_s:
            if t > stream.released:
                stream.released = t
                self._process(stream, t, pack(reading), out)
            else:
                self._reject(reading, stream, t == stream.released)
            return out
        seq = reading.seq
        if t <= stream.released or t in stream.pending_times or (seq is not None and seq in stream.pending_seqs):
            self._reject(reading, stream, t in stream.recent or t in stream.pending_times
                         or (seq is not None and (seq in stream.pending_seqs or seq == stream.last_seq)))
            return out
        if t > stream.watermark:
            stream.watermark = t
        sample = pack(reading)
        heapq.heappush(stream.heap, (t, id(sample), sample))
        stream.pending_times.add(t)
        if seq is not None:
            stream.pending_seqs.add(seq)
        self._release(stream, stream.watermark - self.lateness_s, out)
        return out

    def feed_many(self, readings: Iterable) -> list[AlertEvent]:
        out: list[AlertEvent] = []
        for r in readings:
            out.extend(self.feed(r))
        return out

    def _reject(self, reading, stream: _Stream, duplicate: bool) -> None:
        if duplicate:
            self.counters["duplicate"] += 1
            return
        self.counters["late"] += 1
        self.late_by_device[reading.device_id] += 1
        if self.on_late is not None:
            self.on_late(reading, "late")

    def lag_s(self, reading) -> float | None:
        """How far the reading's stream had moved past it: `lateness_s` must exceed this for the reading to be
        evaluated. None when the engine has no stream for it."""
        stream = self._streams.get((reading.device_id, reading.metric))
        if stream is None:
            return None
        return max(stream.watermark, stream.released) - reading.time.timestamp()

    def _release(self, stream: _Stream, upto: float, out: list) -> None:
        heap = stream.heap
        while heap and heap[0][0] <= upto:
            t, _, r = heapq.heappop(heap)
            stream.pending_times.discard(t)
            seq = r[SEQ]
            if seq is not None:
                stream.pending_seqs.discard(seq)
                stream.last_seq = seq
            stream.released = t
            stream.recent.append(t)
            self._process(stream, t, r, out)

    def _process(self, stream: _Stream, t: float, sample: tuple, out: list) -> None:
        self.evaluated += 1
        if not (stream.off_from <= t < stream.off_until):
            q = t - t % 900
            stream.offset = stream.clock.offset(t)
            stream.off_from, stream.off_until = q, q + 900
        offset = stream.offset
        local = t + offset
        day = int(local // 86400)
        sod = local - day * 86400
        wd = (day + 3) % 7 + 1
        v = sample[VALUE]
        for tracker in stream.trackers:
            tracker.on_reading(t, v, sample, sod, wd, offset, out)

    # --- time -----------------------------------------------------------------------------------------
    def advance(self, now: datetime) -> list[AlertEvent]:
        """Move stream time to `now`: release buffered readings up to now - lateness, close tumbling windows
        that ended by then, end alerts whose period is over (and, with stale_after_s, those without data)."""
        out: list[AlertEvent] = []
        ts = now.timestamp()
        upto = ts - self.lateness_s
        for stream in self._streams.values():
            if stream.heap:
                self._release(stream, upto, out)
            sod, wd, _ = stream.clock.parts(upto)
            for tr in stream.trackers:
                tr.flush(upto, out)
                if tr.alert is None:
                    continue
                if not (tr.all_day or tr.rule.period.contains(sod, wd)):
                    tr.leave_period(upto, out)
                elif (self.stale_after_s is not None and tr.last_eval is not None
                      # a window refilling after a gap is not judged, but its device is not silent (prev_t)
                      and upto - max(tr.last_eval, tr.prev_t) > self.stale_after_s):
                    tr._end(tr.alert.last_exceed, "no_data", None, out)
        return out

    # --- restart --------------------------------------------------------------------------------------
    def restore(
        self,
        device_id: str,
        readings: Iterable,
        open_alerts: Iterable[OpenAlert] = (),
        resume_after: datetime | None = None,
    ) -> list[AlertEvent]:
        """Rebuild a device's state from stored readings after a restart; return the events the store lacks.

        Readings at or before `resume_after` (all of them when None) were already evaluated before the
        restart: they rebuild windows, runs and alerts silently. Then the state is reconciled with the store:
        an alert open in both keeps the stored id (no second open); open in the engine only -> an `open`
        event (the exceedance was never persisted; it must not be hidden); open in the store only -> adopted,
        so it ends through hysteresis like any other. Readings after `resume_after` are then evaluated live
        and their events returned. Pass at least the longest window (plus sustained_s) of history.
        """
        device = self._devices.get(device_id)
        if device is None:
            raise KeyError(f"device {device_id} is not registered")
        self.add_device(device)  # fresh state
        cut = resume_after.timestamp() if resume_after is not None else float("inf")
        ordered = sorted(readings, key=lambda r: r.time)
        silent: list[AlertEvent] = []
        live: list = []
        last_t = float("-inf")
        for r in ordered:
            stream = self._streams.get((device_id, r.metric))
            t = r.time.timestamp()
            if stream is None or r.device_id != device_id or t <= stream.released:
                continue
            if t > cut:
                live.append(r)
                continue
            stream.released = stream.watermark = t
            stream.last_seq = r.seq
            self._process(stream, t, pack(r), silent)
            last_t = max(last_t, t)
        out: list[AlertEvent] = []
        stored = {a.key: a for a in open_alerts if a.device_id == device_id}
        for tr in self.trackers(device_id):
            key = (device_id, tr.rule.id, tr.zone_id)
            if key in stored:
                tr.adopt(stored.pop(key))
            elif tr.alert is not None:
                ev = tr.snapshot_open(tr.last_eval if tr.last_eval is not None else last_t)
                if ev is not None:
                    out.append(ev)
        if stored:  # open in the store, but no enabled rule binds it any more: the caller must close them
            self.counters["restore_unbound_open_alert"] += len(stored)
            self.unbound_open_alerts.extend(stored.values())
        for r in live:
            stream = self._streams[(device_id, r.metric)]
            t = r.time.timestamp()
            if t <= stream.released:
                continue
            stream.released = stream.watermark = t
            stream.last_seq = r.seq
            self._process(stream, t, pack(r), out)
        return out
