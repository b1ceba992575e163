"""The detection stage's handler: one `StreamPipeline` per stream, built on the stream's first frame, all writing
through one `VideoAlertWriter`.

A stream is a drone's when its frames carry poses (or its config says camera: drone): its objects are placed on
the ground and judged against the geofences; otherwise it is a fixed camera judged against the zones drawn on its
image (`detection.streams.<id>.image_zones`). A handler error on one frame is counted by the frame stage and the
stream goes on with the next.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psycopg
import structlog

from detectors.video.detector import Detector
from detectors.video.gate import GateConfig, InferenceGate
from detectors.video.redaction import FaceFinder
from detectors.video.video_alerts import VideoAlerts
from detectors.video.violations import ViolationEngine
from gateway.alerts import store
from gateway.alerts.devices import load_device_views
from gateway.alerts.sinks import SinkFanout
from gateway.video.alert_writer import VideoAlertWriter, Where
from gateway.video.clips import ClipBuffer
from gateway.video.detection_config import DetectionConfig
from gateway.video.detection_metrics import DetectionMetrics
from gateway.video.placement import GroundPlacement, ImagePlacement
from gateway.video.stream_pipeline import PipelineEvent, StreamPipeline
from geo.jurisdiction import UNASSIGNED_CODE, resolve
from geo.registry import ZoneRegistry
from ingest.video.frames import Frame, FrameTime

log = structlog.get_logger(__name__)


class VideoDetection:
    """A frame handler (FrameStage.handlers) for every stream of one gateway or one `analyze` run."""

    def __init__(self, config: DetectionConfig, *, database_url: str, evidence: object | None,
                 zones: ZoneRegistry, cameras: dict[str, str] | None = None, sinks: SinkFanout | None = None,
                 detector_factory: Callable[[], Detector] | None = None,
                 metrics: DetectionMetrics | None = None) -> None:
        self.config = config
        self.database_url = database_url
        self.zones = zones
        self.cameras = dict(cameras or {})
        self.metrics = metrics  # stream id -> fixed | drone, from the stream config
        self._factory = detector_factory or (lambda: Detector(config.detector))
        self._pipelines: dict[str, StreamPipeline] = {}
        self._lock = threading.Lock()
        faces = FaceFinder() if config.redact else None
        plates = None
        if config.plates:
            from detectors.video.plate_reader import PlateReader
            plates = PlateReader()
        self._plates = plates
        self.writer = VideoAlertWriter(database_url, evidence, detector_name=self._detector_name(), where=self._where,
                                       sinks=sinks, faces=faces, metrics=metrics)  # type: ignore[arg-type]
        self._devices: dict[str, store.AlertContext] = {}

    def _detector_name(self) -> str:
        return Path(self.config.detector.weights).name

    def __call__(self, frame: Frame) -> None:
        with self._lock:
            pipeline = self._pipelines.get(frame.stream_id)
            if pipeline is None:
                pipeline = self._pipelines[frame.stream_id] = self._pipeline(frame)
        pipeline.handle(frame)

    def finish(self, at: datetime | None = None) -> None:
        """End every stream's open alerts (the run or the gateway stops)."""
        with self._lock:
            pipelines = list(self._pipelines.values())
        for p in pipelines:
            p.finish(at or p.last_time or datetime.now().astimezone())

    def close(self) -> None:
        self.writer.close()

    @property
    def pipelines(self) -> dict[str, StreamPipeline]:
        return dict(self._pipelines)

    def _camera(self, frame: Frame) -> str:
        return self.cameras.get(frame.stream_id) or ("drone" if frame.pose is not None else "fixed")

    def _pipeline(self, frame: Frame) -> StreamPipeline:
        camera = self._camera(frame)
        per = self.config.streams.get(frame.stream_id)
        if per is not None and per.gate is not None:
            gate = per.gate
        elif frame.time_source == FrameTime.EXIF:  # a photo set: each photo is a scene of its own
            gate = GateConfig(mode="off", off_reason="still photos: every photo is a new scene, none is skipped")
        else:
            gate = GateConfig(mode="aligned") if camera == "drone" else GateConfig()
        rules = self.config.rules
        if camera == "drone":
            placement: GroundPlacement | ImagePlacement = GroundPlacement(self.zones.index,
                                                                          hfov_deg=self.config.hfov_deg)
            engine = ViolationEngine.for_zones(rules, self.zones.index.zones)
        else:
            image_zones = per.image_zones if per is not None else []
            placement = ImagePlacement(image_zones)
            engine = ViolationEngine(rules, {z.id: z.kind for z in image_zones},
                                     dict(per.schedules) if per is not None else {})
        clips = ClipBuffer(self.config.clip_before_s, self.config.clip_after_s) \
            if self.config.clip_before_s + self.config.clip_after_s > 0 else None
        log.info("video_detection.stream", stream=frame.stream_id, camera=camera, gate=gate.mode,
                 zones=len(engine.kinds))
        return StreamPipeline(frame.stream_id, frame.device_id, detector=self._factory(), gate=InferenceGate(gate),
                              placement=placement, engine=engine,
                              alerts=VideoAlerts(frame.stream_id, update_interval_s=self.config.update_interval_s),
                              on_event=self.writer, clips=clips, plates=self._plates, metrics=self.metrics)

    def _where(self, out: PipelineEvent) -> Where:
        ev = out.event
        assert ev is not None
        camera = self.cameras.get(ev.stream_id) or ("drone" if ev.best.ground is not None else "fixed")
        item = None
        if ev.zone_id is not None and (z := self.zones.get(ev.zone_id)) is not None and z.enforcement_items:
            item = z.enforcement_items[0]
        if ev.best.ground is not None:
            lon, lat = ev.best.ground
            j = resolve(self.zones, lon, lat, at=ev.start)
            subject = j.subject
            return Where(store.AlertContext(j.subject_code, subject.name if subject else None, item, lon, lat),
                         camera)
        ctx = self._device_context(out.device_id)
        return Where(store.AlertContext(ctx.subject_code, ctx.subject_name, item, ctx.lon, ctx.lat, ctx.tz), camera)

    def _device_context(self, device_id: str) -> store.AlertContext:
        if device_id not in self._devices:
            with psycopg.connect(self.database_url, connect_timeout=10) as conn:
                views = load_device_views(conn, self.zones)
            view = views.get(device_id)
            self._devices[device_id] = view.context if view is not None else store.AlertContext(
                UNASSIGNED_CODE, None, None, None, None)
        return self._devices[device_id]
