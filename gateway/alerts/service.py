"""AlertService: committed readings -> rule engine -> alert rows and evidence -> the alert sinks.

Runs in its own thread so a slow evidence append never holds up ingest. Readings reach it only after their
batch committed, so every alert's window can be re-read from the store. Each event becomes a source-neutral
`Clue` (gateway/alerts/clues.py) before the store sees it; once committed, the change goes to the sinks
(gateway/alerts/sinks.py: MQTT now, the live stream and case outbox later), none of which can hold it up.
Stream time, not wall-clock time, drives period ends: a backlog replayed after an outage must not end a night
alert because it is now day.

Each event is stored on its own, in order: the engine has moved on once it emitted them, so a failing event
must not take the ones behind it down with it. While the store is unreachable an event is retried (back-off
up to 10 s) until it answers; any other failure is retried `RetryPolicy.attempts` times, then the event is
logged, counted (`enforcegw_alert_events_failed_total`) and kept whole in `alert_failures`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import structlog

from detectors.sensors.alerts import AlertEvent, OpenAlert
from detectors.sensors.engine import RuleEngine
from evidence.log import EvidenceLog, MediaInput
from gateway.alerts import store
from gateway.alerts.clues import sensor_clue
from gateway.alerts.devices import DeviceView, enforcement_item, load_device_views
from gateway.alerts.evidence_entries import WINDOW_MIME, WINDOW_ROLE, alert_entry, window_ndjson
from gateway.alerts.retry import GaveUp, RetryPolicy, with_retries
from gateway.alerts.sinks import AlertChange, ChangeType, SinkFanout
from gateway.metrics import Metrics
from gateway.workers import ThreadWorker, WorkerRegistry
from geo.registry import ZoneRegistry
from ingest.models import Pose, Reading

_TYPE_NAMES: dict[str, ChangeType] = {"open": "new", "update": "update", "end": "end"}  # Frigate's types


@dataclass(frozen=True)
class _Stored:
    ev: AlertEvent
    kind: str
    before: dict
    after: dict


class AlertService:
    def __init__(self, database_url: str, engine: RuleEngine, zones: ZoneRegistry, evidence: EvidenceLog | None,
                 sinks: SinkFanout, metrics: Metrics, *, max_history_s: float = 6 * 3600, advance_every_s: float = 1.0,
                 retry: RetryPolicy | None = None) -> None:
        self.database_url = database_url
        self.engine = engine
        self.zones = zones
        self.evidence = evidence
        self.sinks = sinks
        self.metrics = metrics
        self.max_history_s = max_history_s
        self.advance_every_s = advance_every_s
        self.retry = retry or RetryPolicy()
        self.devices: dict[str, DeviceView] = {}
        self._in: queue.Queue[tuple[float, list[Reading]]] = queue.Queue()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._worker: ThreadWorker | None = None
        self._conn: psycopg.Connection | None = None
        self._watermark: datetime | None = None  # newest reading time seen: stream time
        self._sync_after = 0.0  # time.monotonic() before which a failed registry reload is not retried
        # Bound when the service is built, so the logging configured by then applies (tests capture it).
        self._log = structlog.get_logger(__name__)

    # lifecycle ------------------------------------------------------------------------------------------
    def start(self, workers: WorkerRegistry | None = None, *, stall_after_s: float | None = None) -> None:
        self._connection()
        self._sync_devices()
        self._worker = ThreadWorker("alerts", self._run, stopping=self._stop.is_set, registry=workers,
                                    stall_after_s=stall_after_s)
        self._worker.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._worker:
            self._worker.join(timeout)
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
            self._beat()
            try:
                queued_at, batch = self._in.get(timeout=0.2)
                self.metrics.alert_queue_wait.observe(time.monotonic() - queued_at)
            except queue.Empty:
                batch = None
            try:
                if self._reload.is_set() and time.monotonic() >= self._sync_after:
                    self._reload.clear()
                    self._sync_devices_or_retry_later()
                events: list[AlertEvent] = []
                try:
                    if batch:
                        events += self.engine.feed_many(batch)
                        newest = max(r.time for r in batch)
                        if self._watermark is None or newest > self._watermark:
                            self._watermark = newest
                    if self._watermark is not None and time.monotonic() - last_advance >= self.advance_every_s:
                        events += self.engine.advance(self._watermark)
                        last_advance = time.monotonic()
                except Exception:
                    self._log.exception("alerts.engine_failed")
                    self.metrics.alert_errors.inc()
                self._handle_all(events)
            finally:
                if batch is not None:
                    self._in.task_done()
            self.metrics.alert_queue_depth.set(self._in.qsize())

    def _beat(self) -> None:
        if self._worker is not None:
            self._worker.beat()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=10)
        return self._conn

    # devices and restart -------------------------------------------------------------------------------
    def _sync_devices_or_retry_later(self) -> None:
        try:
            self._sync_devices()
        except Exception as exc:
            # The registry change is not lost: the reload is tried again, and readings go on meanwhile.
            self._reload.set()
            self._sync_after = time.monotonic() + self.retry.sync_retry_s
            self.metrics.alert_errors.inc()
            if isinstance(exc, psycopg.OperationalError):
                self._log.warning("alerts.device_reload_failed", error=str(exc).strip(),
                                  retry_in_s=self.retry.sync_retry_s)
            else:
                self._log.exception("alerts.device_reload_failed", retry_in_s=self.retry.sync_retry_s)

    def _sync_devices(self) -> None:
        """(Re)bind rules for new or changed devices and rebuild their windows from the store, so a restart
        or a registry change neither hides an exceedance nor opens a duplicate."""
        conn = self._connection()
        views = load_device_views(conn, self.zones)
        for gone in set(self.devices) - set(views):
            self.engine.remove_device(gone)
        changed = [v for d, v in views.items() if d not in self.devices or self.devices[d].info != v.info]
        open_alerts = store.load_open(conn) if changed else []
        restored: list[tuple[DeviceView, list[Reading]]] = []
        for view in changed:
            self._beat()
            self.engine.add_device(view.info)
            history = self._history_s(view.info.id)
            latest = conn.execute("SELECT max(time) FROM readings WHERE device_id = %s",
                                  (view.info.id,)).fetchone()[0]
            rows = store.recent_readings(conn, view.info.id, latest - timedelta(seconds=history)) if latest else []
            restored.append((view, [Reading(t, d, m, v, s) for t, d, m, v, s in rows]))
            if latest and (self._watermark is None or latest > self._watermark):
                self._watermark = latest
        # Everything read: from here on nothing fails for want of the store, so the new bindings hold.
        self.devices = views
        for view, readings in restored:
            mine = [a for a in open_alerts if a.device_id == view.info.id]
            self._handle_all(self.engine.restore(view.info.id, readings, mine))
        for orphan in self.engine.unbound_open_alerts:
            at = self._watermark or datetime.now(UTC)
            try:
                row = self._with_retries(orphan, lambda a=orphan, t=at: self._end_unbound(a, t))
            except GaveUp as gave_up:  # stays open in the store; the next reload or restart tries again
                self._log.error("alerts.end_unbound_failed", error=str(gave_up), **_about(orphan))
                continue
            if row:
                self._publish("end", row, row)  # type: ignore[arg-type]
        self.engine.unbound_open_alerts.clear()
        if changed:
            self._log.info("alerts.devices_bound", devices=len(views), rebound=len(changed),
                           trackers=len(self.engine.trackers()))

    def _end_unbound(self, alert: OpenAlert, at: datetime) -> dict | None:
        conn = self._connection()
        with conn.transaction():
            row = store.end_unbound(conn, alert, at)
            if row is not None:
                store.record_change(conn, "end", row)
        return row

    def _history_s(self, device_id: str) -> float:
        spans = [t.rule.window_s + t.rule.sustained_s + t.rule.clear_s for t in self.engine.trackers(device_id)]
        return min(max(spans, default=0.0) + 60.0, self.max_history_s)

    # events ---------------------------------------------------------------------------------------------
    def _handle_all(self, events: list[AlertEvent]) -> None:
        for ev in events:
            try:
                stored = self._with_retries(ev, lambda e=ev: self._store_event(e))
            except GaveUp as gave_up:
                self._dead_letter(ev, gave_up)
                continue
            if stored is not None:
                self._announce(stored)

    def _with_retries(self, ev: AlertEvent | object, action: Callable[[], object]) -> object:
        def on_retry(reason: str, attempt: int, exc: BaseException, delay: float) -> None:
            self._beat()
            self.metrics.alert_retries.labels(reason).inc()
            self._log.warning("alerts.store_retry", reason=reason, attempt=attempt, retry_in_s=delay,
                              error=f"{type(exc).__name__}: {str(exc).strip()}", **_about(ev))

        return with_retries(action, self.retry, unavailable=self._unavailable, stopping=self._stop.is_set,
                            on_retry=on_retry)

    def _unavailable(self, exc: BaseException) -> bool:
        """The store is unreachable (no connection, or it broke): wait for it. Anything the store said while
        reachable is a refusal of this event."""
        return isinstance(exc, psycopg.OperationalError) and (
            self._conn is None or self._conn.closed or self._conn.broken)

    def _dead_letter(self, ev: AlertEvent, gave_up: GaveUp) -> None:
        self.metrics.alert_failed.inc()
        error = f"{type(gave_up.error).__name__}: {str(gave_up.error).strip()}"
        record_id = None
        if not gave_up.unavailable:
            try:
                record_id = store.record_failure(self._connection(), ev, gave_up.attempts, error)
            except Exception as exc:
                self._log.error("alerts.failure_not_recorded", error=f"{type(exc).__name__}: {exc}",
                                event=store.event_record(ev))
        # Without a record (store down while stopping) the full event is logged; a restart rebuilds it from
        # the stored readings in any case.
        self._log.error("alerts.event_failed", attempts=gave_up.attempts, error=error, alert_failure_id=record_id,
                        **_about(ev), **({} if record_id is not None else {"event": store.event_record(ev)}))

    def _store_event(self, ev: AlertEvent) -> _Stored | None:
        """The event's row and evidence entry, in one transaction (all or nothing, so it can be retried)."""
        conn = self._connection()
        view = self.devices.get(ev.device_id)
        if view is None:
            return None
        ctx = view.context
        ctx = store.AlertContext(ctx.subject_code, ctx.subject_name, enforcement_item(self.zones, ev.zone_id),
                                 ctx.lon, ctx.lat, view.info.tz)
        rule = self.engine.catalogue.get(ev.rule_id)
        clue = sensor_clue(ev, rule.category if rule is not None else None)
        kind = clue.kind
        t0 = time.perf_counter()
        with conn.transaction():
            if ev.type == "open":
                code = store.next_clue_code(conn, ctx.subject_code, ev.start, ctx.tz)
                idx = self._append(conn, ev, ctx, kind, code, view, refs=[])
                before = after = store.insert_open(conn, clue, ctx, code, idx)
            else:
                before = store.current(conn, ev.alert_id)
                if before is None:
                    self._log.warning("alerts.unknown_alert", alert_id=ev.alert_id, type=ev.type)
                    return None
                if ev.type == "update":
                    after = store.apply_update(conn, clue)
                else:
                    refs = [before["evidence_open_idx"]] if before["evidence_open_idx"] is not None else []
                    idx = self._append(conn, ev, ctx, kind, before["clue_code"], view, refs=refs)
                    after = store.apply_end(conn, clue, ev.end_reason, idx)
            if after is not None:
                store.record_change(conn, _TYPE_NAMES[ev.type], after)
        self.metrics.alert_handle_seconds.labels(_TYPE_NAMES[ev.type]).observe(time.perf_counter() - t0)
        return None if after is None else _Stored(ev, kind, before, after)

    def _announce(self, s: _Stored) -> None:
        """After the commit: count, publish, log. A failure here is not retried (the row is stored)."""
        ev = s.ev
        try:
            self.metrics.alert_events.labels(s.kind, _TYPE_NAMES[ev.type]).inc()
            self._publish(_TYPE_NAMES[ev.type], s.before, s.after)
            if ev.type == "open" and ev.readings:
                newest = max(ev.readings, key=lambda r: r.time)
                if newest.received_at is not None:  # None for readings re-read from the store after a restart
                    self.metrics.alert_latency.observe(time.time() - newest.received_at.timestamp())
        except Exception:
            self.metrics.alert_errors.inc()
            self._log.exception("alerts.announce_failed", clue_code=s.after["clue_code"], **_about(ev))
            return
        self._log.info("alerts.event", type=ev.type, clue_code=s.after["clue_code"], kind=s.kind,
                       device=ev.device_id, rule=ev.rule_id, value=round(ev.value, 2), limit=ev.limit,
                       admissible=ev.admissible)

    def _append(self, conn: psycopg.Connection, ev: AlertEvent, ctx: store.AlertContext, kind: str, code: str,
                view: DeviceView, refs: list[int]) -> int | None:
        """Fix the event as evidence inside the alert's transaction: the row and its entry commit together."""
        if self.evidence is None:
            return None
        entry = alert_entry(ev, ctx, kind=kind, clue=code, calibration_cert=view.info.calibration_cert, refs=refs)
        media = [MediaInput(WINDOW_ROLE, WINDOW_MIME, window_ndjson(ev.readings))]
        (appended,) = self.evidence.append_with(conn, [(entry, media)])
        return appended.index

    def _publish(self, type_: ChangeType, before: dict, after: dict) -> None:
        self.sinks.dispatch(AlertChange(type_, after["kind"], before, after))


def _about(ev: object) -> dict[str, object]:
    """What names an event (or an alert being ended) in a log line."""
    return {k: getattr(ev, a) for k, a in (("type", "type"), ("alert_id", "alert_id"), ("device", "device_id"),
                                            ("rule", "rule_id")) if hasattr(ev, a)}
