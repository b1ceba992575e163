"""Camera-motion compensation for drone video: the global motion between consecutive frames.

A drone camera pans, yaws and climbs, so every pixel changes between frames even over a still scene. The motion
detector warps its background into the current frame with the transform estimated here before differencing, so
only what moves against the scene is left.

Method: ORB keypoints on a downscaled grayscale frame, brute-force Hamming matching with cross-check, then
`cv2.estimateAffinePartial2D` with RANSAC (rotation, uniform scale and translation: 4 degrees of freedom).
Chosen over `cv2.findTransformECC` because feature matching copes with shifts of many pixels per frame without an
initial guess, costs a fixed few milliseconds instead of an iterative optimisation that may not converge, and
RANSAC sets the features on a moving object aside as outliers, where ECC's global intensity fit is pulled by them.
The partial affine model fits a distant, near-planar ground seen from above; a full homography would need more
inliers and overfits small frames. When too few inliers agree, the estimate is refused (`ok` False with a reason)
and the caller treats the frame as "the camera moved": the background restarts from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class AlignmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    frame_height: int = Field(default=240, ge=32, le=1080,
                              description="Height in pixels the frame is downscaled to before finding features "
                              "(never upscaled); the transform is returned in full-frame pixels.")
    max_features: int = Field(default=600, ge=20, le=10000, description="Most ORB keypoints kept per frame.")
    min_inliers: int = Field(default=15, ge=4,
                             description="Fewest RANSAC inliers for an accepted estimate; fewer means alignment "
                             "failed and the frame counts as the camera having moved.")
    ransac_reproj_px: float = Field(default=2.0, gt=0, le=20,
                                    description="RANSAC inlier distance in pixels at the downscaled feature size.")
    fast_threshold: int = Field(default=12, ge=1, le=100,
                                description="ORB FAST corner threshold; lower finds features on flatter ground.")


@dataclass(frozen=True, slots=True)
class Alignment:
    """The estimated motion from the previous frame to this one.

    `matrix` is a 2x3 affine transform taking previous-frame full-resolution pixel coordinates to current ones
    (None when `ok` is False). `reason` names why the estimate was refused: `first_frame`, `frame_size`,
    `too_few_features`, `too_few_matches`, `too_few_inliers` or `no_estimate`.
    """

    ok: bool
    matrix: np.ndarray | None
    matches: int
    inliers: int
    reason: str | None = None


def to_gray(image: np.ndarray) -> np.ndarray:
    """A uint8 single-channel view of a BGR, BGRA or already gray frame."""
    if image.ndim == 2:
        return image
    channels = image.shape[2]
    if channels == 1:
        return image[:, :, 0]
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def downscaled_size(width: int, height: int, target_height: int) -> tuple[int, int]:
    """(width, height) scaled to `target_height`, never upscaled, at least one pixel each way."""
    if height <= target_height:
        return width, height
    scale = target_height / height
    return max(1, round(width * scale)), max(1, round(height * scale))


def rescale_affine(matrix: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """The same motion expressed in coordinates scaled by (sx, sy): S @ A @ S^-1."""
    s = np.diag([sx, sy, 1.0])
    s_inv = np.diag([1.0 / sx, 1.0 / sy, 1.0])
    full = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    return (s @ full @ s_inv)[:2]


def estimate_affine(prev_pts: np.ndarray, prev_desc: np.ndarray | None, pts: np.ndarray, desc: np.ndarray | None,
                    min_inliers: int, reproj_px: float) -> tuple[np.ndarray | None, int, int, str | None]:
    """(matrix, matches, inliers, refusal reason) from matching two keypoint sets, in their own pixel frame."""
    if prev_desc is None or desc is None or len(prev_pts) < min_inliers or len(pts) < min_inliers:
        return None, 0, 0, "too_few_features"
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
    matches = matcher.match(prev_desc, desc)
    if len(matches) < min_inliers:
        return None, len(matches), 0, "too_few_matches"
    src = np.float32([prev_pts[m.queryIdx] for m in matches]).reshape(-1, 1, 2)
    dst = np.float32([pts[m.trainIdx] for m in matches]).reshape(-1, 1, 2)
    matrix, inlier_mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=reproj_px,
                                                      maxIters=2000, confidence=0.995)
    if matrix is None or inlier_mask is None:
        return None, len(matches), 0, "no_estimate"
    inliers = int(inlier_mask.sum())
    if inliers < min_inliers:
        return None, len(matches), inliers, "too_few_inliers"
    return matrix, len(matches), inliers, None


class FrameAligner:
    """Estimates each frame's global motion against the one before (one aligner per stream)."""

    def __init__(self, config: AlignmentConfig) -> None:
        self._config = config
        # Small frames need small ORB patches, or the border the descriptor needs leaves no room for keypoints.
        self._orb = cv2.ORB_create(nfeatures=config.max_features, scaleFactor=1.2, nlevels=4, edgeThreshold=15,
                                   patchSize=15, fastThreshold=config.fast_threshold)
        self._prev: tuple[np.ndarray, np.ndarray | None] | None = None
        self._prev_shape: tuple[int, int] | None = None

    def reset(self) -> None:
        self._prev = None
        self._prev_shape = None

    def update(self, image: np.ndarray) -> Alignment:
        """Motion from the previous frame given to `update` to this one; this frame becomes the reference."""
        height, width = image.shape[:2]
        small_w, small_h = downscaled_size(width, height, self._config.frame_height)
        gray = to_gray(image)
        if (small_w, small_h) != (width, height):
            gray = cv2.resize(gray, (small_w, small_h), interpolation=cv2.INTER_AREA)
        keypoints, desc = self._orb.detectAndCompute(gray, None)
        pts = np.float32([k.pt for k in keypoints]).reshape(-1, 2)
        prev, prev_shape = self._prev, self._prev_shape
        self._prev, self._prev_shape = (pts, desc), (width, height)
        if prev is None:
            return Alignment(ok=False, matrix=None, matches=0, inliers=0, reason="first_frame")
        if prev_shape != (width, height):
            return Alignment(ok=False, matrix=None, matches=0, inliers=0, reason="frame_size")
        matrix, matches, inliers, reason = estimate_affine(prev[0], prev[1], pts, desc, self._config.min_inliers,
                                                           self._config.ransac_reproj_px)
        if matrix is None:
            return Alignment(ok=False, matrix=None, matches=matches, inliers=inliers, reason=reason)
        full = rescale_affine(matrix, width / small_w, height / small_h)
        return Alignment(ok=True, matrix=full, matches=matches, inliers=inliers)
