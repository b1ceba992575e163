"""One stream's detection, frame by frame: gate, detect and track, place, judge, and what each alert needs kept.

    frame -> InferenceGate (infer or skip, and why)
          -> Detector.track (ByteTrack ids) on inferred frames; a skipped frame carries the last objects forward,
             since nothing moved (that is why it was skipped) and dwell clocks must go on
          -> placement (image zones, or ground point + geofences for a drone)
          -> ViolationEngine (parking, vending, boat, burning, dumping) -> VideoAlerts (open, update, end)

Per open alert the pipeline keeps the subject's track (box, score, ground point and, for a drone, the camera pose
per frame), the frame of the best snapshot (highest score with the anchor in the zone: the rules only report
in-zone objects) and, for parking, the plate read over the track. Each event goes to `on_event` with that
material; the writer (gateway/video/alert_writer.py) fixes it as evidence. Clips come from the stream's ring
buffer once their after-window has passed.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import structlog

from detectors.video.detector import Detector
from detectors.video.gate import InferenceGate
from detectors.video.plates import BestPlate, PlateReading
from detectors.video.tracks import TrackedObject
from detectors.video.video_alerts import VideoAlertEvent, VideoAlerts
from detectors.video.violations import PARKING, ViolationEngine
from gateway.video.clips import Clip, ClipBuffer
from gateway.video.detection_metrics import DetectionMetrics
from ingest.video.frames import Frame

log = structlog.get_logger(__name__)

MOVING_PX = 4.0  # an anchor that moved more than this between inferences is a moving track: keep inferring


class Placement(Protocol):
    def place(self, objects: list[TrackedObject], frame: Frame) -> tuple[list[TrackedObject], dict[str, set[str]]]:
        ...


class PlateSource(Protocol):
    def read(self, image: np.ndarray, vehicle: Any, at: float = 0.0) -> tuple[PlateReading, Any] | None: ...


@dataclass
class TrackPoint:
    time: datetime
    box: tuple[float, float, float, float]
    score: float
    ground: tuple[float, float] | None
    pose: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "box": [round(v, 1) for v in self.box], "score": round(self.score, 4),
                "ground": list(self.ground) if self.ground else None, "pose": self.pose}


@dataclass
class AlertMaterial:
    """What one open alert has gathered: the best snapshot's frame, the subject's track, its plate."""

    best_image: np.ndarray
    best_frame: Frame
    best_objects: list[TrackedObject]  # everything seen in the best frame: what the rendition hides
    track: list[TrackPoint] = field(default_factory=list)
    plate: BestPlate = field(default_factory=BestPlate)


@dataclass(frozen=True)
class PipelineEvent:
    """An alert event with the material to fix it as evidence (`clip` only on clip events)."""

    event: VideoAlertEvent | None
    device_id: str
    material: AlertMaterial | None
    clip: Clip | None = None
    # for a clip: the objects seen at each of its frames' times and the alert's subject track, which its
    # redacted rendition keeps while hiding everyone else
    clip_objects: dict[datetime, list[TrackedObject]] = field(default_factory=dict)
    clip_subject: str | None = None
    new_snapshot: bool = False  # the best snapshot changed with this event


def _pose(frame: Frame) -> dict[str, Any] | None:
    p = frame.pose
    if p is None:
        return None
    return {k: getattr(p, k) for k in ("lat", "lon", "alt_rel_m", "yaw", "gimbal_yaw", "gimbal_pitch", "gimbal_roll")
            if getattr(p, k, None) is not None}


class StreamPipeline:
    """Frames of one stream in time order (not thread-safe: the frame stage calls it from one thread)."""

    def __init__(self, stream_id: str, device_id: str, *, detector: Detector, gate: InferenceGate,
                 placement: Placement, engine: ViolationEngine, alerts: VideoAlerts,
                 on_event: Callable[[PipelineEvent], None], clips: ClipBuffer | None = None,
                 plates: PlateSource | None = None, metrics: DetectionMetrics | None = None) -> None:
        self.stream_id = stream_id
        self.device_id = device_id
        self.detector = detector
        self.gate = gate
        self.placement = placement
        self.engine = engine
        self.alerts = alerts
        self.on_event = on_event
        self.clips = clips
        self.plates = plates
        self.metrics = metrics
        self._last: list[TrackedObject] = []
        self._moving = 0
        self._material: dict[str, AlertMaterial] = {}
        self._seen: dict[datetime, list[TrackedObject]] = {}  # objects per frame time, as long as a clip may need
        self._subjects: dict[str, str] = {}  # alert id -> subject track, until its clip is out
        self.frames = 0
        self.events = 0
        self.failed = 0  # events the writer could not store
        self.last_time: datetime | None = None

    def handle(self, frame: Frame) -> None:
        self.frames += 1
        self.last_time = frame.time
        if self.clips is not None:
            for clip in self.clips.add(frame.time, frame.image):
                self._emit_clip(clip)
        decision = self.gate.decide(frame.image, frame.time, active_tracks=self._moving)
        if self.metrics is not None:
            self.metrics.observe_gate(self.stream_id, decision)
        if decision.infer:
            t0 = time.perf_counter()
            objects = self.detector.track(frame.image, frame.time)
            if self.metrics is not None:
                self.metrics.observe_inference(time.perf_counter() - t0)
            self._moving = self._count_moving(objects)
        else:
            objects = [dataclasses.replace(o, time=frame.time) for o in self._last]
        objects, zones = self.placement.place(objects, frame)
        self._last = objects
        if self.clips is not None:
            self._seen[frame.time] = objects
            horizon = frame.time - timedelta(seconds=self.clips.before_s + self.clips.after_s + 5)
            while self._seen and next(iter(self._seen)) < horizon:
                del self._seen[next(iter(self._seen))]
        result = self.engine.step(frame.time, objects, lambda o: zones.get(o.track_id, set()))
        for ev in self.alerts.apply(result):
            self._event(ev, frame)
        for f in result.active:  # the track: every frame each open alert's subject is seen in
            aid = self.alerts.alert_id(f.key)
            material = self._material.get(aid) if aid is not None else None
            if material is not None:
                o = f.obj
                material.track.append(TrackPoint(o.time, tuple(o.box), o.score, o.ground, _pose(frame)))

    def finish(self, at: datetime) -> None:
        """The stream ended: end its alerts and hand over the clips still being filled."""
        for ev in self.alerts.close_all(at):
            self._event(ev, None)
        if self.clips is not None:
            for clip in self.clips.flush():
                self._emit_clip(clip)

    def _count_moving(self, objects: list[TrackedObject]) -> int:
        before = {o.track_id: o.anchor for o in self._last}
        moving = 0
        for o in objects:
            prev = before.get(o.track_id)
            if prev is None or math.dist(prev, o.anchor) > MOVING_PX:
                moving += 1
        return moving

    def _event(self, ev: VideoAlertEvent, frame: Frame | None) -> None:
        material = self._material.get(ev.alert_id)
        new_snapshot = False
        if frame is not None:
            if material is None:
                material = self._material[ev.alert_id] = AlertMaterial(frame.image.copy(), frame, list(self._last))
                new_snapshot = True
            elif ev.best is ev.latest and ev.type == "update":
                material.best_image, material.best_frame = frame.image.copy(), frame
                material.best_objects = list(self._last)
                new_snapshot = True
            o = ev.latest
            if self.plates is not None and ev.rule_id == PARKING:
                found = self.plates.read(frame.image, o.box, frame.time.timestamp())
                material.plate.add(found[0] if found else None)
            if ev.type == "open" and self.clips is not None:
                self.clips.request(ev.alert_id, frame.time)
                self._subjects[ev.alert_id] = ev.subject
        if ev.type == "end":
            self._material.pop(ev.alert_id, None)
        self._emit(PipelineEvent(ev, self.device_id, material, new_snapshot=new_snapshot))

    def _emit_clip(self, clip: Clip) -> None:
        objects = {t: self._seen.get(t, []) for t, _ in clip.frames}
        self._emit(PipelineEvent(None, self.device_id, None, clip=clip, clip_objects=objects,
                                 clip_subject=self._subjects.pop(clip.key, None)))

    def _emit(self, out: PipelineEvent) -> None:
        """Hand one event on; a failure to write it is this event's alone, never the other events of the frame
        (each alert keeps its own lifecycle) nor the stream's."""
        self.events += 1
        try:
            self.on_event(out)
        except Exception as exc:
            self.failed += 1
            if self.metrics is not None:
                self.metrics.failed.labels(self.stream_id).inc()
            ev = out.event
            log.error("video_alerts.write_failed", stream=self.stream_id, error=f"{type(exc).__name__}: {exc}",
                      type=ev.type if ev else "clip", alert_id=ev.alert_id if ev else out.clip and out.clip.key)
