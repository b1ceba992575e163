"""Gateway lifecycle: store and broker (configured or embedded), migrations, MQTT ingest, HTTP.

Start order: store, migrations, broker, writer, MQTT source, HTTP. Stop order is the reverse, except that
the writer flushes and acknowledges everything already queued *before* the MQTT client disconnects, so a
SIGTERM never loses a batch; anything that arrives after that stays unacknowledged and is redelivered.

Every long-lived worker is supervised (gateway/workers.py): a dead one turns `/healthz` red and is restarted
with back-off; one that keeps dying stops the gateway with exit code 70 for the service manager to restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import queue
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime

import psycopg
import structlog
from aiohttp import web

from detectors.sensors.catalogue import Catalogue
from detectors.sensors.engine import RuleEngine
from evidence.log import EvidenceLog
from gateway.alerts import store as alert_store
from gateway.alerts.late_readings import LateReadings
from gateway.alerts.service import AlertService
from gateway.alerts.sinks import AlertSink, MqttAlertSink, SinkFanout
from gateway.cases.metrics import CaseMetrics
from gateway.cases.outbox import OUTBOX_CHANNEL
from gateway.cases.service import CaseService
from gateway.catalogue import load_catalogue
from gateway.config import Settings
from gateway.embedded import EmbeddedBroker
from gateway.gc_watch import GcPauseWatch
from gateway.health import HttpServer, build_app
from gateway.ingest_writer import IngestWriter, StoredHook
from gateway.logs import configure_logging
from gateway.metrics import Metrics
from gateway.no_fly_monitor import NoFlyMonitor, NoFlyTransition
from gateway.pg_notify import NotifyListener
from gateway.publisher import Publisher
from gateway.store.connect import StoreLocation
from gateway.store.devices_cache import KnownDevices
from gateway.store.migrate import MigrationResult, apply_migrations
from gateway.video.detection import VideoDetection
from gateway.video.detection_metrics import DetectionMetrics
from gateway.video.frame_stage import FrameStage
from gateway.video.live_poses import LivePoses
from gateway.video.service import VideoService
from gateway.workers import EXIT_WORKER_FAILED, RestartPolicy, ThreadWorker, WorkerRegistry
from gateway.zone_service import ZoneService
from ingest.decode import ParseLimits
from ingest.device_events import DeviceEvent, device_events
from ingest.dji.live import DjiLiveController
from ingest.dji.state import DockStateMerger
from ingest.models import Pose, Reading
from ingest.mqtt import MqttSource, RawMessage
from ingest.mqtt_process import ProcessMqttSource
from ingest.router import parse_message
from ingest.video.metrics import VideoMetrics
from ingest.video.zlmediakit import ZlmClient

log = structlog.get_logger(__name__)

# Adds routes to the gateway's HTTP application before it starts serving, with the running gateway at hand.
HttpMount = Callable[[web.Application, "Gateway"], None]

# A worker thread that has not heartbeaten for this long is reported stalled. Generous: the alert service
# beats between events and the sequencer between steps, and one step can wait out a store pool timeout.
STALL_AFTER_S = 300.0
SUPERVISE_EVERY_S = 0.5


def make_parser(settings: Settings):
    limits = ParseLimits(max_bytes=settings.ingest.max_payload_bytes,
                         max_future_skew_s=settings.ingest.max_future_skew_s)
    merger = DockStateMerger()

    def parse(topic: str, payload: bytes, received_at: datetime
              ) -> tuple[str, list[Reading], list[Pose], list[DeviceEvent]]:
        msg = parse_message(topic, payload, received_at, limits, merger=merger)
        return msg.route.kind, msg.readings, msg.poses, device_events(msg)

    return parse


class Gateway:
    def __init__(self, settings: Settings, *, on_stored: list[StoredHook] | None = None,
                 restart_policy: RestartPolicy | None = None, alert_sinks: list[AlertSink] | None = None,
                 http_mounts: list[HttpMount] | None = None) -> None:
        self.settings = settings
        self.extra_alert_sinks = alert_sinks or []
        self.http_mounts = http_mounts or []
        self.metrics = Metrics()
        self.workers = WorkerRegistry(self.metrics, restart_policy, on_fatal=self._worker_failed)
        self.exit_code = 0  # what `enforcegw run` returns: EXIT_WORKER_FAILED once a worker is beyond restarting
        self.failed = asyncio.Event()
        self.late = LateReadings(self.metrics.readings_late, settings.alerts.lateness_s)
        self.gc_watch = GcPauseWatch(self.metrics.gc_pause)
        self.on_stored = on_stored or []
        self.store = StoreLocation(settings)
        self.broker: EmbeddedBroker | None = None
        self.database_url = ""
        self.mqtt_url = ""
        self.migration: MigrationResult | None = None
        self.writer: IngestWriter | None = None
        self.source: MqttSource | ProcessMqttSource | None = None
        self.http: HttpServer | None = None
        self.zones: ZoneService | None = None
        self.publisher: Publisher | None = None
        self.no_fly: NoFlyMonitor | None = None
        self.evidence: EvidenceLog | None = None
        self.alerts: AlertService | None = None
        self.alert_sinks: SinkFanout | None = None
        self.notify: NotifyListener | None = None
        self.cases: CaseService | None = None  # case tasks: the API's review decisions call cases.on_ready
        self.video: VideoService | None = None  # video streams (issue 16); None when none is configured
        # The detection stage's entry: live streams, photo uploads and the like hand their frames here.
        self.frames = FrameStage(settings.video.frame_queue)
        self.detection: VideoDetection | None = None  # object detection and video rules (settings.detection)
        self.live_poses: LivePoses | None = None
        self.live_video: DjiLiveController | None = None  # DJI docks told to push over the Cloud API
        self.mqtt_protocol = "5"
        self._sequencer_stop = threading.Event()
        self._sequencer: ThreadWorker | None = None
        self._supervisor: asyncio.Task | None = None

    async def start(self) -> None:
        s = self.settings
        # Several threads share the GIL (paho's network loop, the ingest writer, alerts, the sequencer). Each
        # DB round trip releases it and must win it back; at the default 5 ms switch interval an alert's
        # dozen round trips queued behind the busy ingest threads. Measured here under 5,000 readings/s:
        # mean alert handling 53 ms at 5 ms, 33 ms at 1 ms.
        sys.setswitchinterval(0.001)
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.database_url = await asyncio.to_thread(self.store.__enter__)
        self.migration = await asyncio.to_thread(
            apply_migrations, self.database_url, allow_timescale=s.database.timescaledb
        )
        log.info("gateway.store_mode", timeseries=self.migration.mode,
                 embedded=self.store.embedded is not None)
        protocol = s.mqtt.protocol
        if s.mqtt.url:
            self.mqtt_url = s.mqtt.url
        else:
            self.broker = EmbeddedBroker(s.data_dir, s.mqtt.embedded_port)
            self.mqtt_url = await self.broker.start()
            protocol = "3.1.1"  # amqtt speaks MQTT 3.1.1 only
        self.mqtt_protocol = protocol
        catalogue = load_catalogue(s)  # before zones load: it declares the zone kinds its rules use
        self.zones = ZoneService(self.database_url, on_reload=self.metrics.zones_loaded.set)
        await self.zones.reload_async()
        self.publisher = Publisher(self.mqtt_url, client_id=s.mqtt.client_id, protocol=protocol)
        self.publisher.start()
        self.workers.watch("publisher", self.publisher.alive, restart=self.publisher.restart_loop,
                           error=lambda: "paho network thread ended")
        self.no_fly = NoFlyMonitor(self.zones.registry, [self._publish_no_fly])
        self.evidence = await asyncio.to_thread(EvidenceLog.open, self.database_url, s.evidence, s.data_dir)
        self._sequencer = ThreadWorker("evidence-sequencer", self._run_sequencer, stopping=self._sequencer_stop.is_set,
                                       registry=self.workers, stall_after_s=STALL_AFTER_S)
        self._sequencer.start()
        self.cases = CaseService(self.database_url, s.cases, s.enforcement, evidence=self.evidence,
                                 base_url=f"http://{s.api.host}:{s.api.port}",
                                 metrics=CaseMetrics(self.metrics.registry))
        self.cases.start(self.workers)
        hooks = [self.no_fly.on_stored, *self.on_stored]
        if any(st.enabled for st in s.video.streams):
            self.video = self._video_service()
            if self.live_poses is not None:
                hooks.append(self.live_poses.on_stored)
        if s.alerts.enabled:
            self.alert_sinks = self._alert_sinks()
            self.alerts = AlertService(
                self.database_url, self._rule_engine(catalogue), self.zones.registry, self.evidence,
                self.alert_sinks, self.metrics, max_history_s=s.alerts.max_history_s,
            )
            await asyncio.to_thread(self.alerts.start, self.workers, stall_after_s=STALL_AFTER_S)
            hooks.append(self.alerts.on_stored)
        self.notify = NotifyListener(self.database_url, {
            "enforcegw_zones": self._zones_changed, "enforcegw_devices": self._devices_changed,
            OUTBOX_CHANNEL: self._outbox_changed})
        self.notify.start()
        self.workers.watch("pg-notify", self.notify.alive, restart=self.notify.start, error=self.notify.last_error)
        q: queue.Queue[RawMessage] = queue.Queue(maxsize=s.ingest.queue_max)
        options = dict(client_id=s.mqtt.client_id, shared_group=s.mqtt.shared_group, protocol=protocol,
                       session_expiry_s=s.mqtt.session_expiry_s, keepalive_s=s.mqtt.keepalive_s,
                       receive_maximum=s.mqtt.max_inflight)
        if s.mqtt.receive_process:
            self.source = ProcessMqttSource(
                self.mqtt_url, s.mqtt.topics, q, on_connected=self._on_mqtt_connected,
                on_queue_full=self.metrics.queue_full.inc,
                setup=(configure_logging, (s.log.level, s.log.json_format)), **options)
        else:
            self.source = MqttSource(self.mqtt_url, s.mqtt.topics, q, on_connected=self._on_mqtt_connected,
                                     on_queue_full=self.metrics.queue_full.inc, **options)
        self.writer = IngestWriter(
            self.database_url, q, self.source.ack, make_parser(s), KnownDevices(), self.metrics,
            batch_max_rows=s.ingest.batch_max_rows, batch_max_ms=s.ingest.batch_max_ms,
            batch_linger_ms=s.ingest.batch_linger_ms,
            accept_unknown_devices=s.ingest.accept_unknown_devices, on_stored=hooks,
        )
        self.writer.start(self.workers)
        if s.detection.enabled:  # before the frame stage starts: every frame goes through it
            self.detection = VideoDetection(
                s.detection, database_url=self.database_url, evidence=self.evidence, zones=self.zones.registry,
                cameras={st.id: st.camera for st in s.video.streams}, sinks=self.alert_sinks,
                metrics=DetectionMetrics(self.metrics.registry))
            self.frames.handlers.append(self.detection)
        if self.video is not None:
            self.video.start(self.workers)  # starts and watches the frame stage too
        else:
            self.frames.start()
            self.workers.watch("frame-stage", self.frames.alive, restart=self.frames.start)
        self.source.start()
        source = self.source
        self.workers.watch("mqtt-source", source.alive, restart=source.restart_loop,
                           error=lambda: source.last_error or "paho network thread ended")
        self._supervisor = asyncio.create_task(self._supervise(), name="worker-supervisor")
        checks = {"store": self._check_store, "mqtt": self._check_mqtt}
        if self.video is not None:
            checks["video"] = self._check_video
        app = build_app(self.metrics, checks,
                        workers=self.workers, vkey=self.evidence.vkey if self.evidence else None)
        for mount in self.http_mounts:  # the console API (api/) adds its routes here; the gateway never imports it
            mount(app, self)
        self.http = HttpServer(app, s.api.host, s.api.port, metrics=self.metrics)
        await self.http.start()
        if s.cases.public_base_url is None:  # links name the port actually bound (api.listen may say :0)
            self.cases.links.base_url = f"http://{s.api.host}:{self.http.port}"
        # Everything built so far (catalogue, zones, modules) lives as long as the process: keep it out of the
        # cyclic GC's full collections, whose pauses otherwise land on alert latency.
        gc.freeze()
        self.gc_watch.install()
        log.info("gateway.started", mqtt=self.mqtt_url, http=f"{s.api.host}:{self.http.port}")

    def _video_service(self) -> VideoService:
        """Stream workers for the enabled streams; drone streams' frames paired with their drone's MQTT poses."""
        v = self.settings.video
        metrics = VideoMetrics(self.metrics.registry)
        drones = {st.device_id for st in v.streams if st.enabled and st.camera == "drone"}
        self.live_poses = LivePoses(drones, v.pose) if drones else None
        stage = self.frames
        stage.on_dropped = metrics.dropped_queue
        enabled = [st for st in v.streams if st.enabled]
        proxy = ZlmClient(v.zlmediakit) if v.zlmediakit and any(st.via_zlmediakit for st in enabled) else None
        if any(st.live for st in enabled):
            self.live_video = DjiLiveController(self.mqtt_url, client_id=self.settings.mqtt.client_id,
                                                protocol=self.mqtt_protocol)
            live = self.live_video
            self.workers.watch("dji-live", live.alive, restart=live.client.loop_start,
                               error=lambda: "paho network thread ended")
        return VideoService(v, stage, database_url=self.database_url, metrics=metrics, proxy=proxy,
                            pusher=self.live_video, pair=self.live_poses.pair if self.live_poses else None)

    async def _check_video(self) -> tuple[bool, str]:
        """Up while the frame stage runs: a camera that is down is its stream's state (listed here), not a
        gateway to restart."""
        assert self.video is not None
        states: dict[str, list[str]] = {}
        for row in self.video.statuses():
            states.setdefault(row["state"], []).append(row["id"])
        text = "; ".join(f"{state}: {', '.join(sorted(ids))}" for state, ids in sorted(states.items()))
        ok = self.video.stage.alive()
        return ok, (text or "no streams") if ok else f"frame stage not running; {text}"

    def _alert_sinks(self) -> SinkFanout:
        """Every consumer of committed alert changes, each behind its own queue and thread."""
        assert self.publisher is not None
        m = self.metrics
        mqtt = MqttAlertSink(self.publisher.publish, topic_prefix=self.settings.alerts.topic_prefix,
                             view=alert_store.public_view)
        fanout = SinkFanout([mqtt, *self.extra_alert_sinks],
                            on_drop=lambda name: m.alert_sink_dropped.labels(name).inc(),
                            on_error=lambda name: m.alert_sink_errors.labels(name).inc())
        fanout.start()
        for name, alive, restart in fanout.probes():
            self.workers.watch(f"alert-sink-{name}", alive, restart=restart)
        return fanout

    def _rule_engine(self, catalogue: Catalogue) -> RuleEngine:
        a = self.settings.alerts
        engine = RuleEngine(catalogue, overrides=a.overrides, lateness_s=a.lateness_s, max_gap_s=a.max_gap_s,
                            update_interval_s=a.update_interval_s, stale_after_s=a.stale_after_s,
                            on_late=self.late.on_late)
        self.late.lag = engine.lag_s
        return engine

    async def _supervise(self) -> None:
        while True:
            self.workers.check()
            self.late.flush()
            await asyncio.sleep(SUPERVISE_EVERY_S)

    def _worker_failed(self, worker: str, error: str) -> None:
        """A worker died more often than the restart policy allows: stop, and exit non-zero (run_until_signal)."""
        self.exit_code = EXIT_WORKER_FAILED
        log.critical("gateway.exiting", reason="worker_failed", worker=worker, error=error,
                     exit_code=EXIT_WORKER_FAILED)
        self.failed.set()

    def _run_sequencer(self) -> None:
        """Integrate appended evidence and sign checkpoints on schedule; a store outage only delays it."""
        assert self.evidence is not None and self._sequencer is not None
        self.evidence.run_sequencer(self._sequencer_stop, on_beat=self._sequencer.beat)

    async def _zones_changed(self) -> None:
        if self.zones:
            await self.zones.reload_async()
        if self.alerts:  # zone kinds decide which rules bind to a device
            self.alerts.request_device_reload()

    async def _outbox_changed(self) -> None:
        if self.cases is not None:
            self.cases.wake()

    async def _devices_changed(self) -> None:
        if self.alerts:
            self.alerts.request_device_reload()

    def _publish_no_fly(self, t: NoFlyTransition) -> None:
        self.metrics.no_fly_events.labels(t.type).inc()
        e = t.event
        log.warning("geo.no_fly", type=t.type, device=t.device_id, zone=t.zone_id)
        if self.publisher:
            self.publisher.publish("enf/events/no_fly", {
                "type": t.type, "device_id": t.device_id, "zone_id": t.zone_id, "time": t.pose.time,
                "lat": t.pose.lat, "lon": t.pose.lon, "alt_rel_m": t.pose.alt_rel_m,
                "zone_name": e.zone_name if e else None,
                "enforcement_subject": e.enforcement_subject.model_dump() if e and e.enforcement_subject else None,
                "enforcement_items": list(e.enforcement_items) if e else [],
            })

    def _on_mqtt_connected(self, connected: bool) -> None:
        self.metrics.mqtt_connected.set(1 if connected else 0)
        if connected:
            self.metrics.mqtt_reconnects.inc()

    async def _check_store(self) -> tuple[bool, str]:
        async with await psycopg.AsyncConnection.connect(self.database_url, connect_timeout=3) as conn:
            await conn.execute("SELECT 1")
        return True, f"reachable ({self.migration.mode if self.migration else '?'} time series)"

    async def _check_mqtt(self) -> tuple[bool, str]:
        ok = bool(self.source and self.source.connected.is_set())
        return ok, f"{'connected to' if ok else 'not connected to'} {self.mqtt_url}"

    async def stop(self) -> None:
        log.info("gateway.stopping")
        if self._supervisor:  # first: nothing is restarted while the gateway takes its workers down
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        self.gc_watch.remove()
        if self.http:
            await self.http.stop()
        if self.video:  # streams first: nothing new comes in while the rest stops
            await asyncio.to_thread(self.video.stop)
        if self.live_video:  # after the streams: their live_stop_push went out through it
            await asyncio.to_thread(self.live_video.close)
        await asyncio.to_thread(self.frames.stop)
        if self.detection is not None:  # the frames are in: end what is open, then let go of the store
            await asyncio.to_thread(self.detection.finish)
            self.detection.close()
        if self.cases:  # after the HTTP server: no decision makes a task any more
            await asyncio.to_thread(self.cases.stop)
        if self.writer:
            await asyncio.to_thread(self.writer.stop)
        if self.source:
            await asyncio.to_thread(self.source.stop)
        if self.notify:
            await self.notify.stop()
        if self.alerts:
            await asyncio.to_thread(self.alerts.stop)
        if self.alert_sinks:  # after the service: the last changes it committed are still delivered
            await asyncio.to_thread(self.alert_sinks.stop)
        if self._sequencer:
            self._sequencer_stop.set()
            await asyncio.to_thread(self._sequencer.join, 30)
        if self.evidence:
            await asyncio.to_thread(self.evidence.sequence_once)  # sign what the last alerts appended
            self.evidence.close()
        if self.publisher:
            await asyncio.to_thread(self.publisher.stop)
        if self.broker:
            await self.broker.stop()
        await asyncio.to_thread(self.store.__exit__, None, None, None)
        self.late.flush(force=True)
        log.info("gateway.stopped", exit_code=self.exit_code)

    async def run_until_signal(self) -> int:
        """Run until SIGINT/SIGTERM (exit code 0) or until a worker is beyond restarting (EXIT_WORKER_FAILED)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
            waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self.failed.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
        finally:
            await self.stop()
        return self.exit_code
