"""`detection:` settings: the detector, the gate, the violation rules, clips and plates, and per stream its gate
mode and (fixed cameras) the zones drawn on its image."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from detectors.video.detector import DetectorConfig
from detectors.video.gate import GateConfig
from detectors.video.image_zones import ImageZoneConfig
from detectors.video.violations import ViolationRules
from geo.schedule import Schedule


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamDetectionConfig(_Section):
    gate: GateConfig | None = Field(default=None, description="This stream's gate (default: motion for a fixed "
                                    "camera, aligned for a drone).")
    image_zones: list[ImageZoneConfig] = Field(
        default_factory=list, description="Zones drawn on a fixed camera's image (drone frames use geofences).")
    schedules: dict[str, Schedule] = Field(
        default_factory=dict, description="Image zone id -> when its rule applies (street vending in its "
        "hours); a zone without one applies always. Geofences carry their own schedule.")

    @model_validator(mode="after")
    def _scheduled_zones_exist(self) -> StreamDetectionConfig:
        unknown = sorted(set(self.schedules) - {z.id for z in self.image_zones})
        if unknown:
            raise ValueError(f"schedules for zones not among image_zones: {unknown}")
        return self


class DetectionConfig(_Section):
    enabled: bool = Field(default=False, description="Run object detection and the video violation rules on every "
                          "stream's frames (live streams, `analyze`, photo uploads).")
    detector: DetectorConfig = Field(default_factory=DetectorConfig, description="Weights and thresholds.")
    rules: ViolationRules = Field(default_factory=ViolationRules, description="The video violation rules.")
    update_interval_s: float = Field(default=10.0, gt=0, description="Longest time between updates of an open alert.")
    clip_before_s: float = Field(default=5.0, ge=0, description="Seconds of video kept before an alert opens.")
    clip_after_s: float = Field(default=5.0, ge=0, description="Seconds of video kept after it opens.")
    plates: bool = Field(default=True, description="Read plates of vehicles in parking alerts (rapidocr).")
    redact: bool = Field(default=True, description="Find faces for the redacted rendition (OpenCV cascades).")
    hfov_deg: float | None = Field(default=None, gt=0, lt=180,
                                   description="Drone camera horizontal field of view when the pose has none.")
    streams: dict[str, StreamDetectionConfig] = Field(
        default_factory=dict, description="Per stream id: gate and image zones.")

    @model_validator(mode="after")
    def _weights_exist(self) -> DetectionConfig:
        # A bare name (yolo11n.pt) is ultralytics' to download; a path must be there before the gateway starts.
        w = self.detector.weights
        if self.enabled and ("/" in w or "\\" in w) and not Path(w).exists():
            raise ValueError(f"detector.weights: {w} does not exist (a bare name such as yolo11n.pt is "
                             "downloaded by ultralytics when online)")
        return self
