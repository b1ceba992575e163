"""Illegal construction by change detection: two patrol passes over the same place, aligned, compared inside
the watched zones, and the changed regions above an area threshold reported.

The later image is aligned onto the earlier one with the same ORB + RANSAC partial affine the drone gate uses
(detectors.video.alignment): two passes at the same waypoint differ by a few metres of position and a few degrees
of heading, which that model covers. Both are then normalised for exposure (each grey image to zero mean and unit
spread over the pixels both cover) so an evening pass does not read as a changed city, differenced, blurred,
thresholded and opened to drop single-pixel noise. A region counts when its area inside a watched zone is at least
`min_area_px` (on the earlier image's pixels; `min_area_fraction` of the zone, when given, too).

What the rule cannot tell: a parked lorry and a new shed change the image alike. Objects the detector knows
(vehicles, people) are masked out by the caller through `ignore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detectors.video.alignment import AlignmentConfig, FrameAligner, to_gray
from detectors.video.tracks import Box

Polygon = Sequence[tuple[float, float]]


class ChangeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alignment: AlignmentConfig = Field(default_factory=lambda: AlignmentConfig(frame_height=480, max_features=2000),
                                       description="Alignment of the later pass onto the earlier one.")
    threshold: float = Field(default=1.2, gt=0, description="Normalised difference (in spreads of each image's "
                             "grey levels) above which a pixel has changed.")
    blur_px: int = Field(default=5, ge=1, description="Gaussian blur before the threshold (odd, pixels).")
    open_px: int = Field(default=5, ge=1, description="Morphological opening removing specks smaller than this.")
    min_area_px: float = Field(default=400.0, ge=1, description="Smallest changed area inside a zone that counts.")
    min_area_fraction: float = Field(default=0.0, ge=0, le=1,
                                     description="And at least this share of the zone's area (0: no share needed).")


@dataclass(frozen=True, slots=True)
class ChangedRegion:
    zone_id: str
    box: Box  # in the earlier image's pixels
    area_px: float  # changed pixels inside the zone
    zone_fraction: float


@dataclass(frozen=True, slots=True)
class ChangeResult:
    aligned: bool
    reason: str | None  # why alignment failed (then nothing is compared)
    inliers: int
    regions: list[ChangedRegion]


def _normalised(gray: np.ndarray, mask: np.ndarray) -> np.ndarray:
    values = gray[mask].astype(np.float32)
    mean, std = (float(values.mean()), float(values.std())) if values.size else (0.0, 1.0)
    return (gray.astype(np.float32) - mean) / max(std, 1.0)


def compare_passes(earlier: np.ndarray, later: np.ndarray, zones: dict[str, Polygon], *,
                   config: ChangeConfig | None = None, ignore: Sequence[Box] = ()) -> ChangeResult:
    """Changed regions inside each zone (polygons in the earlier image's pixels) from `earlier` to `later`."""
    c = config or ChangeConfig()
    aligner = FrameAligner(c.alignment)
    aligner.update(later)
    motion = aligner.update(earlier)  # later -> earlier: the later pass warped onto the earlier one's pixels
    if not motion.ok or motion.matrix is None:
        return ChangeResult(False, motion.reason, motion.inliers, [])
    h, w = earlier.shape[:2]
    warped = cv2.warpAffine(to_gray(later), motion.matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    covered = cv2.warpAffine(np.full(later.shape[:2], 255, np.uint8), motion.matrix, (w, h),
                             flags=cv2.INTER_NEAREST, borderValue=0) > 0
    covered = cv2.erode(covered.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)  # no edge seams
    base = to_gray(earlier)
    diff = np.abs(_normalised(base, covered) - _normalised(warped, covered))
    k = c.blur_px | 1
    diff = cv2.GaussianBlur(diff, (k, k), 0)
    changed = ((diff > c.threshold) & covered).astype(np.uint8)
    changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((c.open_px, c.open_px), np.uint8))
    for b in ignore:
        changed[max(0, int(b.y1)):max(0, int(np.ceil(b.y2))), max(0, int(b.x1)):max(0, int(np.ceil(b.x2)))] = 0
    regions: list[ChangedRegion] = []
    for zid, polygon in zones.items():
        zone_mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(zone_mask, [np.round(np.asarray(polygon, np.float64)).astype(np.int32)], 1)
        zone_area = float(zone_mask.sum())
        if zone_area == 0:
            continue
        inside = changed & zone_mask
        n, _labels, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=8)
        for i in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[i])
            if area < c.min_area_px or area < c.min_area_fraction * zone_area:
                continue
            regions.append(ChangedRegion(zid, Box(float(x), float(y), float(x + bw), float(y + bh)), float(area),
                                         area / zone_area))
    return ChangeResult(True, None, motion.inliers, sorted(regions, key=lambda r: -r.area_px))
