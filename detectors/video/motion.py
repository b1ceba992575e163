"""Motion detection on a downscaled running-average background, as Frigate gates its inference.

Per frame: downscale to `frame_height`, grayscale, optionally stretch contrast (4th-96th percentile, limits
averaged over about 50 frames), Gaussian blur, difference against a running average (`cv2.accumulateWeighted`,
`frame_alpha`), threshold, dilate, and keep contours above a minimum area. Their bounding boxes come back in
full-frame pixels.

A change over more than `lightning_threshold` of the (unmasked) frame is no motion but a new scene: lights
switched, an IR filter flipped, a camera moved. The background restarts from that frame and the result says
`recalibrated` instead of reporting motion everywhere. With a `FrameAligner` (drone video) the background is warped
into the current frame first; a frame the aligner cannot place also restarts the background.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.video.alignment import Alignment, FrameAligner, downscaled_size, rescale_affine, to_gray

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in full-frame pixels; x2/y2 exclusive

_CONTRAST_FRAMES = 50  # frames over which the contrast-stretch limits are averaged
_MIN_CONTRAST_SPAN = 8.0  # a flatter frame is left unstretched: stretching it would only amplify noise
_REFERENCE_HEIGHT = 100.0  # contour_area is given for a frame this high


class MotionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: int = Field(default=30, ge=1, le=255,
                           description="Smallest brightness difference (0-255) from the background that counts "
                           "as changed.")
    contour_area: float = Field(default=10.0, ge=0,
                                description="Smallest changed region, in pixels of a 100 px high motion frame "
                                "(scaled with frame_height so the setting keeps its meaning).")
    frame_height: int = Field(default=100, ge=16, le=720,
                              description="Height the frame is downscaled to for motion (never upscaled); "
                              "100-180 is usual.")
    frame_alpha: float = Field(default=0.01, gt=0, le=1,
                               description="Running-average weight of each new frame in the background; higher "
                               "forgets faster.")
    lightning_threshold: float = Field(default=0.8, gt=0, le=1,
                                       description="Changed fraction of the frame above which the change is taken "
                                       "as a new scene (lights, camera moved): background reset, no motion.")
    improve_contrast: bool = Field(default=True,
                                   description="Stretch each frame to the averaged 4th-96th percentile range, so "
                                   "motion is found in dim or hazy scenes.")
    blur_size: int = Field(default=5, ge=1, le=31,
                           description="Gaussian blur kernel side in motion-frame pixels (odd); hides sensor noise.")
    dilate_iterations: int = Field(default=2, ge=0, le=10,
                                   description="3x3 dilations joining the changed pixels of one object.")
    masks: list[list[tuple[float, float]]] = Field(
        default_factory=list,
        description="Polygons in full-frame pixels (x, y) where motion is ignored (a clock overlay, swaying trees).")

    @field_validator("blur_size")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError("must be odd")
        return v

    @field_validator("masks")
    @classmethod
    def _polygons(cls, v: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
        for i, poly in enumerate(v):
            if len(poly) < 3:
                raise ValueError(f"mask {i} has {len(poly)} points; a polygon needs at least 3")
        return v


@dataclass(frozen=True, slots=True)
class MotionResult:
    """What one frame showed. `cause` names a recalibration: `first_frame`, `frame_size`, `whole_frame_change`
    or `alignment_failed`; `changed_fraction` is the thresholded share of the unmasked motion frame."""

    boxes: tuple[Box, ...]
    changed_fraction: float
    recalibrated: bool = False
    cause: str | None = None
    alignment: Alignment | None = None

    @property
    def motion(self) -> bool:
        return bool(self.boxes) and not self.recalibrated


def check_image(image: object) -> np.ndarray:
    """The frame's image if it is one the detector takes (uint8, HxW, HxWx1, HxWx3 or HxWx4), else ValueError."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image is {type(image).__name__}, not a numpy array")
    if image.dtype != np.uint8:
        raise ValueError(f"image dtype {image.dtype}, expected uint8")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"image shape {image.shape}, expected (h, w) or (h, w, 1|3|4)")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image shape {image.shape} is empty")
    return image


def mask_raster(masks: list[list[tuple[float, float]]], full_size: tuple[int, int],
                size: tuple[int, int]) -> np.ndarray | None:
    """A uint8 raster at `size` (w, h), 0 inside the mask polygons and 255 elsewhere; None without masks."""
    if not masks:
        return None
    sx, sy = size[0] / full_size[0], size[1] / full_size[1]
    raster = np.full((size[1], size[0]), 255, dtype=np.uint8)
    polys = [np.round(np.array(p, dtype=np.float64) * (sx, sy)).astype(np.int32) for p in masks]
    cv2.fillPoly(raster, polys, 0)
    return raster


def boxes_to_full(rects: list[tuple[int, int, int, int]], full_size: tuple[int, int],
                  size: tuple[int, int]) -> tuple[Box, ...]:
    """Motion-frame rectangles (x, y, w, h) as full-frame boxes (x1, y1, x2, y2), rounded outwards and clipped."""
    sx, sy = full_size[0] / size[0], full_size[1] / size[1]
    out = []
    for x, y, w, h in rects:
        x1, y1 = max(0, int(np.floor(x * sx))), max(0, int(np.floor(y * sy)))
        x2, y2 = min(full_size[0], int(np.ceil((x + w) * sx))), min(full_size[1], int(np.ceil((y + h) * sy)))
        out.append((x1, y1, x2, y2))
    return tuple(out)


class MotionDetector:
    """Motion boxes per frame of one stream; keeps that stream's background."""

    def __init__(self, config: MotionConfig, aligner: FrameAligner | None = None) -> None:
        self._config = config
        self._aligner = aligner
        self._background: np.ndarray | None = None
        self._limits: np.ndarray | None = None
        self._full_size: tuple[int, int] | None = None
        self._mask: np.ndarray | None = None
        self._kernel = np.ones((3, 3), dtype=np.uint8)

    @property
    def config(self) -> MotionConfig:
        return self._config

    def reset(self) -> None:
        self._background = None
        self._limits = None
        self._full_size = None
        if self._aligner is not None:
            self._aligner.reset()

    def detect(self, image: np.ndarray) -> MotionResult:
        """Motion in this frame against the background so far; the frame then joins the background."""
        image = check_image(image)
        cfg = self._config
        height, width = image.shape[:2]
        size = downscaled_size(width, height, cfg.frame_height)
        alignment = self._aligner.update(image) if self._aligner is not None else None

        gray = to_gray(image)
        if size != (width, height):
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        gray_f = gray.astype(np.float32)
        fresh_limits = self._update_limits(gray_f) if cfg.improve_contrast else None
        current = self._prepare(gray_f, self._limits if cfg.improve_contrast else None)

        if self._background is None or self._full_size != (width, height):
            cause = "first_frame" if self._background is None else "frame_size"
            self._full_size = (width, height)
            self._mask = mask_raster(cfg.masks, (width, height), size)
            return self._restart(gray_f, fresh_limits, cause, alignment)
        if alignment is not None:
            if not alignment.ok or alignment.matrix is None:
                return self._restart(gray_f, fresh_limits, "alignment_failed", alignment)
            self._warp_background(alignment.matrix, (width, height), size, current)

        background = self._background
        changed = (cv2.absdiff(current, background) > cfg.threshold).astype(np.uint8) * 255
        if self._mask is not None:
            changed = cv2.bitwise_and(changed, self._mask)
        if cfg.dilate_iterations:
            changed = cv2.dilate(changed, self._kernel, iterations=cfg.dilate_iterations)
            if self._mask is not None:
                changed = cv2.bitwise_and(changed, self._mask)
        watched = changed.size if self._mask is None else int(np.count_nonzero(self._mask))
        fraction = float(np.count_nonzero(changed)) / watched if watched else 0.0
        if fraction > cfg.lightning_threshold:
            return self._restart(gray_f, fresh_limits, "whole_frame_change", alignment, fraction)

        min_area = cfg.contour_area * (size[1] / _REFERENCE_HEIGHT) ** 2
        contours, _ = cv2.findContours(changed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        rects = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) > min_area]
        cv2.accumulateWeighted(current, background, cfg.frame_alpha)
        return MotionResult(boxes=boxes_to_full(rects, (width, height), size), changed_fraction=fraction,
                            alignment=alignment)

    def _restart(self, gray: np.ndarray, fresh_limits: np.ndarray | None, cause: str,
                 alignment: Alignment | None, fraction: float = 0.0) -> MotionResult:
        if fresh_limits is not None:
            # Averaged limits would keep drifting towards the new scene and show that drift as motion.
            self._limits = fresh_limits
        self._background = self._prepare(gray, fresh_limits)
        return MotionResult(boxes=(), changed_fraction=fraction, recalibrated=True, cause=cause, alignment=alignment)

    def _update_limits(self, gray: np.ndarray) -> np.ndarray:
        """This frame's 4th-96th percentiles; the running limits move 1/50 of the way towards them."""
        fresh = np.percentile(gray, (4.0, 96.0)).astype(np.float32)
        if self._limits is None or self._background is None:
            self._limits = fresh
        else:
            self._limits = self._limits + (fresh - self._limits) / _CONTRAST_FRAMES
        return fresh

    def _prepare(self, gray: np.ndarray, limits: np.ndarray | None) -> np.ndarray:
        """Contrast-stretched (with `limits`) and blurred motion frame, float32."""
        out = gray
        if limits is not None and float(limits[1] - limits[0]) >= _MIN_CONTRAST_SPAN:
            low, high = float(limits[0]), float(limits[1])
            out = np.clip((gray - low) * (255.0 / (high - low)), 0.0, 255.0)
        size = self._config.blur_size
        if size > 1:
            out = cv2.GaussianBlur(out, (size, size), 0)
        return out

    def _warp_background(self, matrix: np.ndarray, full_size: tuple[int, int], size: tuple[int, int],
                         current: np.ndarray) -> None:
        assert self._background is not None
        local = rescale_affine(matrix, size[0] / full_size[0], size[1] / full_size[1])
        warped = cv2.warpAffine(self._background, local, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
        # Ground that has just come into view has no history: it starts from the current frame.
        unseen = np.isnan(warped)
        warped[unseen] = current[unseen]
        self._background = warped
