"""The inference gate: per frame of one stream, run the detector or skip it, and say why.

Inference runs on a stream's first frame, while the caller has active (moving) tracked objects, when motion is
seen, and as a recheck every `recheck_interval_s` since the last inference (stationary objects, and anything that
arrived unseen while the background was recalibrating; the first settled frame after a recalibration is also
rechecked). Otherwise it is skipped: `no_motion`, or `recalibrating` while the frame is a new scene.

Modes per stream: `motion` for fixed cameras; `aligned` for drone video (motion after camera-motion compensation,
a frame that cannot be aligned counts as the camera moved: recalibrating); `off` infers every frame and keeps the
configured reason, for streams where gating cannot work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from detectors.video.alignment import AlignmentConfig, FrameAligner
from detectors.video.motion import MotionConfig, MotionDetector, MotionResult, check_image

# A moving camera sees each patch of ground briefly, and a long background memory also blurs under repeated
# warping; contrast stretching follows the changing view and shows as motion. Used in `aligned` mode for every
# motion field the configuration leaves unset.
ALIGNED_MOTION_DEFAULTS: dict[str, Any] = {"frame_alpha": 0.3, "improve_contrast": False}


class GateReason(StrEnum):
    FIRST_FRAME = "first_frame"
    ACTIVE_TRACKS = "active_tracks"
    MOTION = "motion"
    RECHECK = "recheck"
    GATE_OFF = "gate_off"
    NO_MOTION = "no_motion"
    RECALIBRATING = "recalibrating"
    INVALID_FRAME = "invalid_frame"


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["motion", "aligned", "off"] = Field(
        default="motion", description="motion: fixed camera; aligned: drone video, motion after compensating the "
        "camera's own motion; off: every frame inferred (off_reason required).")
    off_reason: str | None = Field(default=None, description="Why gating is off for this stream (required with "
                                   "mode off); kept in every decision.")
    recheck_interval_s: float = Field(default=10.0, gt=0, description="Longest time between inferences on a stream "
                                      "without motion, so stationary objects are re-checked.")
    recheck_after_recalibration: bool = Field(
        default=True, description="Infer the first settled frame after a recalibration (something may have "
        "appeared while the scene changed).")
    motion: MotionConfig = Field(default_factory=MotionConfig, description="Motion detection settings.")
    alignment: AlignmentConfig = Field(default_factory=AlignmentConfig,
                                       description="Camera-motion compensation settings (mode aligned).")

    @model_validator(mode="before")
    @classmethod
    def _aligned_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("mode") == "aligned" and not isinstance(data.get("motion"),
                                                                                       MotionConfig):
            return {**data, "motion": {**ALIGNED_MOTION_DEFAULTS, **(data.get("motion") or {})}}
        return data

    @model_validator(mode="after")
    def _off_needs_reason(self) -> GateConfig:
        if self.mode == "off" and not (self.off_reason and self.off_reason.strip()):
            raise ValueError("mode off needs off_reason: say why this stream is not motion-gated")
        return self


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Whether to run inference on this frame, why, the motion seen (None when not computed) and a detail: the
    off reason, a recalibration's cause or an invalid frame's message."""

    infer: bool
    reason: GateReason
    motion: MotionResult | None = None
    detail: str | None = None


@dataclass
class GateCounters:
    """Frames seen, inferred and skipped on one stream, and the count per reason; the gateway exports them as
    metrics. `alignment_failures` counts aligned-mode frames the aligner could not place."""

    frames_seen: int = 0
    inferred: int = 0
    skipped: int = 0
    first_frame: int = 0
    active_tracks: int = 0
    motion: int = 0
    recheck: int = 0
    gate_off: int = 0
    no_motion: int = 0
    recalibrating: int = 0
    invalid_frame: int = 0
    alignment_failures: int = 0

    def record(self, decision: GateDecision) -> None:
        self.frames_seen += 1
        if decision.infer:
            self.inferred += 1
        else:
            self.skipped += 1
        setattr(self, decision.reason.value, getattr(self, decision.reason.value) + 1)
        if decision.motion is not None and decision.motion.cause == "alignment_failed":
            self.alignment_failures += 1

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class InferenceGate:
    """Decides per frame of one stream whether inference runs (one gate per stream; not thread-safe)."""

    def __init__(self, config: GateConfig) -> None:
        self._config = config
        aligner = FrameAligner(config.alignment) if config.mode == "aligned" else None
        self._motion = MotionDetector(config.motion, aligner) if config.mode != "off" else None
        self._counters = GateCounters()
        self._last_inferred: datetime | None = None
        self._seen_first = False
        self._recheck_pending = False

    @property
    def config(self) -> GateConfig:
        return self._config

    @property
    def counters(self) -> GateCounters:
        return self._counters

    def reset(self) -> None:
        """Forget the stream's history (a reconnect): the next frame is a first frame again. Counters stay."""
        if self._motion is not None:
            self._motion.reset()
        self._last_inferred = None
        self._seen_first = False
        self._recheck_pending = False

    def decide(self, image: object, time: datetime, active_tracks: int = 0) -> GateDecision:
        """The decision for a frame (its BGR image and capture time); `active_tracks` is how many tracked objects
        the caller has that are still moving (stationary ones are left to the recheck). Detectors take the image
        and time rather than ingest's Frame: the layering keeps `detectors` free of `ingest`."""
        decision = self._decide(image, time, active_tracks)
        if decision.infer:
            self._last_inferred = time
        self._counters.record(decision)
        return decision

    def _decide(self, raw: object, time: datetime, active_tracks: int) -> GateDecision:
        try:
            image = check_image(raw)
        except ValueError as exc:
            return GateDecision(infer=False, reason=GateReason.INVALID_FRAME, detail=str(exc))
        if self._motion is None:
            return GateDecision(infer=True, reason=GateReason.GATE_OFF, detail=self._config.off_reason)
        result = self._motion.detect(image)
        if not self._seen_first:
            self._seen_first = True
            return GateDecision(infer=True, reason=GateReason.FIRST_FRAME, motion=result, detail=result.cause)
        if active_tracks > 0:
            return GateDecision(infer=True, reason=GateReason.ACTIVE_TRACKS, motion=result)
        if result.recalibrated:
            self._recheck_pending = self._config.recheck_after_recalibration
            if self._recheck_due(time):
                return GateDecision(infer=True, reason=GateReason.RECHECK, motion=result, detail=result.cause)
            return GateDecision(infer=False, reason=GateReason.RECALIBRATING, motion=result, detail=result.cause)
        if result.motion:
            self._recheck_pending = False
            return GateDecision(infer=True, reason=GateReason.MOTION, motion=result)
        if self._recheck_pending or self._recheck_due(time):
            self._recheck_pending = False
            return GateDecision(infer=True, reason=GateReason.RECHECK, motion=result)
        return GateDecision(infer=False, reason=GateReason.NO_MOTION, motion=result)

    def _recheck_due(self, now: datetime) -> bool:
        last = self._last_inferred
        if last is None:
            return True
        elapsed = (now - last).total_seconds()
        if elapsed < 0:
            # The stream's clock went back: count from now rather than recheck on every frame until it catches up.
            self._last_inferred = now
            return False
        return elapsed >= self._config.recheck_interval_s
