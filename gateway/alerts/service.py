"""AlertService: committed readings -> rule engine -> alert rows, MQTT `enf/alerts/{kind}`, evidence.

Runs in its own thread so a slow evidence append never holds up ingest. Readings reach it only after their
batch committed, so every alert's window can be re-read from the store. Stream time, not wall-clock time,
drives period ends: a backlog replayed after an outage must not end a night alert because it is now day.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import structlog

from detectors.alerts import AlertEvent
from detectors.engine import RuleEngine
from evidence.log import EvidenceLog, MediaInput
from gateway.alerts import store
from gateway.alerts.devices import DeviceView, enforcement_item, load_device_views
from gateway.alerts.evidence_entries import WINDOW_MIME, WINDOW_ROLE, alert_entry, window_ndjson
from gateway.alerts.naming import alert_kind
from gateway.metrics import Metrics
from geo.registry import ZoneRegistry
from ingest.models import Pose, Reading

log = structlog.get_logger(__name__)

Publish = Callable[[str, dict], object]
_TYPE_NAMES = {"open": "new", "update": "update", "end": "end"}  # Frigate's message types


class AlertService:
    def __init__(self, database_url: str, engine: RuleEngine, zones: ZoneRegistry, evidence: EvidenceLog | None,
                 publish: Publish, metrics: Metrics, *, topic_prefix: str = "enf/alerts",
                 max_history_s: float = 6 * 3600, advance_every_s: float = 1.0) -> None:
        self.database_url = database_url
        self.engine = engine
        self.zones = zones
        self.evidence = evidence
        self.publish = publish
        self.metrics = metrics
        self.topic_prefix = topic_prefix
        self.max_history_s = max_history_s
        self.advance_every_s = advance_every_s
        self.devices: dict[str, DeviceView] = {}
        self._in: queue.Queue[tuple[float, list[Reading]]] = queue.Queue()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection | None = None
        self._watermark: datetime | None = None  # newest reading time seen: stream time

    # lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._conn = psycopg.connect(self.database_url, autocommit=True)
        self._sync_devices()
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        if self._conn:
            self._conn.close()

    def on_stored(self, readings: list[Reading], _poses: list[Pose]) -> None:
        """Ingest writer hook (its thread): hand over committed readings."""
        if readings:
            self._in.put((time.monotonic(), readings))

    def request_device_reload(self) -> None:
        self._reload.set()

    # the thread -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        last_advance = time.monotonic()
        while not (self._stop.is_set() and self._in.empty()):
            try:
                queued_at, batch = self._in.get(timeout=0.2)
                self.metrics.alert_queue_wait.observe(time.monotonic() - queued_at)
            except queue.Empty:
                batch = None
            try:
                if self._reload.is_set():
                    self._reload.clear()
                    self._sync_devices()
                events: list[AlertEvent] = []
                if batch:
                    events += self.engine.feed_many(batch)
                    newest = max(r.time for r in batch)
                    if self._watermark is None or newest > self._watermark:
                        self._watermark = newest
                if self._watermark is not None and time.monotonic() - last_advance >= self.advance_every_s:
                    events += self.engine.advance(self._watermark)
                    last_advance = time.monotonic()
                for ev in events:
                    self._handle(ev)
            except Exception:
                log.exception("alerts.processing_failed")
                self.metrics.alert_errors.inc()
            finally:
                if batch is not None:
                    self._in.task_done()
            self.metrics.alert_queue_depth.set(self._in.qsize())

    # devices and restart -------------------------------------------------------------------------------
    def _sync_devices(self) -> None:
        """(Re)bind rules for new or changed devices and rebuild their windows from the store, so a restart
        or a registry change neither hides an exceedance nor opens a duplicate."""
        assert self._conn is not None
        views = load_device_views(self._conn, self.zones)
        for gone in set(self.devices) - set(views):
            self.engine.remove_device(gone)
        changed = [v for d, v in views.items() if d not in self.devices or self.devices[d].info != v.info]
        self.devices = views
        if not changed:
            return
        open_alerts = store.load_open(self._conn)
        for view in changed:
            self.engine.add_device(view.info)
            history = self._history_s(view.info.id)
            latest = self._conn.execute("SELECT max(time) FROM readings WHERE device_id = %s",
                                        (view.info.id,)).fetchone()[0]
            rows = store.recent_readings(self._conn, view.info.id, latest - timedelta(seconds=history)) \
                if latest else []
            readings = [Reading(t, d, m, v, s) for t, d, m, v, s in rows]
            mine = [a for a in open_alerts if a.device_id == view.info.id]
            for ev in self.engine.restore(view.info.id, readings, mine):
                self._handle(ev)
            if latest and (self._watermark is None or latest > self._watermark):
                self._watermark = latest
        for orphan in self.engine.unbound_open_alerts:
            row = store.end_unbound(self._conn, orphan, self._watermark or datetime.now(UTC))
            if row:
                self._publish("end", row, row)
        self.engine.unbound_open_alerts.clear()
        log.info("alerts.devices_bound", devices=len(views), rebound=len(changed),
                 trackers=len(self.engine.trackers()))

    def _history_s(self, device_id: str) -> float:
        spans = [t.rule.window_s + t.rule.sustained_s + t.rule.clear_s for t in self.engine.trackers(device_id)]
        return min(max(spans, default=0.0) + 60.0, self.max_history_s)

    # events ---------------------------------------------------------------------------------------------
    def _handle(self, ev: AlertEvent) -> None:
        assert self._conn is not None
        view = self.devices.get(ev.device_id)
        if view is None:
            return
        ctx = view.context
        ctx = store.AlertContext(ctx.subject_code, ctx.subject_name, enforcement_item(self.zones, ev.zone_id),
                                 ctx.lon, ctx.lat, view.info.tz)
        kind = alert_kind(ev.standard, ev.metric)
        t0 = time.perf_counter()
        with self._conn.transaction():
            if ev.type == "open":
                code = store.next_clue_code(self._conn, ctx.subject_code, ev.start, ctx.tz)
                idx = self._append(ev, ctx, kind, code, view, refs=[])
                before = after = store.insert_open(self._conn, ev, ctx, code, idx)
            else:
                before = store.current(self._conn, ev.alert_id)
                if before is None:
                    log.warning("alerts.unknown_alert", alert_id=ev.alert_id, type=ev.type)
                    return
                if ev.type == "update":
                    after = store.apply_update(self._conn, ev)
                else:
                    refs = [before["evidence_open_idx"]] if before["evidence_open_idx"] is not None else []
                    idx = self._append(ev, ctx, kind, before["clue_code"], view, refs=refs)
                    after = store.apply_end(self._conn, ev, idx)
        self.metrics.alert_handle_seconds.labels(_TYPE_NAMES[ev.type]).observe(time.perf_counter() - t0)
        if after is None:
            return
        self.metrics.alert_events.labels(kind, _TYPE_NAMES[ev.type]).inc()
        self._publish(_TYPE_NAMES[ev.type], before, after)
        if ev.type == "open" and ev.readings:
            newest = max(ev.readings, key=lambda r: r.time)
            if newest.received_at is not None:  # None for readings re-read from the store after a restart
                self.metrics.alert_latency.observe(time.time() - newest.received_at.timestamp())
        log.info("alerts.event", type=ev.type, clue_code=after["clue_code"], kind=kind, device=ev.device_id,
                 rule=ev.rule_id, value=round(ev.value, 2), limit=ev.limit, admissible=ev.admissible)

    def _append(self, ev: AlertEvent, ctx: store.AlertContext, kind: str, code: str, view: DeviceView,
                refs: list[int]) -> int | None:
        """Fix the event as evidence inside the alert's transaction: the row and its entry commit together."""
        if self.evidence is None:
            return None
        entry = alert_entry(ev, ctx, kind=kind, clue=code, calibration_cert=view.info.calibration_cert, refs=refs)
        media = [MediaInput(WINDOW_ROLE, WINDOW_MIME, window_ndjson(ev.readings))]
        (appended,) = self.evidence.append_with(self._conn, [(entry, media)])
        return appended.index

    def _publish(self, type_: str, before: dict, after: dict) -> None:
        self.publish(f"{self.topic_prefix}/{after['kind']}",
                     {"type": type_, "before": store.public_view(before), "after": store.public_view(after)})
