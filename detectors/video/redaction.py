"""The rendition operators, parties and case systems get: everyone but the alert's subject hidden.

The original frame stays sealed in the evidence log for auditors; this copy pixelates
  - every face found outside the boxes kept (the alert's own track: the vendor, the driver at the car),
  - every person box outside them (a passer-by is hidden whole, face or not),
  - the plates of uninvolved vehicles: a plate box where the plate reader found one, else the lower middle band
    of the vehicle box where a plate sits.
Pixelation to blocks of at least 1/8 of the region, then a blur, leaves nothing a deblurring tool can restore.

Faces are found with OpenCV's bundled Haar cascades (frontal and profile, in `cv2.data.haarcascades` of the
opencv-python 4.x wheels): weights that ship in a registry package, no download.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from detectors.video.tracks import Box

RegionKind = Literal["face", "person", "plate"]


@dataclass(frozen=True, slots=True)
class Region:
    kind: RegionKind
    box: Box


def _cascade_dir() -> Path:
    data = getattr(cv2, "data", None)
    path = Path(getattr(data, "haarcascades", "")) if data is not None else Path()
    return path


class FaceFinder:
    """Frontal and profile faces (the profile cascade run on the image and its mirror, for both sides)."""

    def __init__(self, *, min_size_px: int = 16, min_neighbours: int = 5, scale: float = 1.1,
                 max_side_px: int = 960) -> None:
        folder = _cascade_dir()
        frontal = folder / "haarcascade_frontalface_default.xml"
        profile = folder / "haarcascade_profileface.xml"
        if not hasattr(cv2, "CascadeClassifier") or not frontal.exists():
            raise RuntimeError(f"OpenCV's face cascades are not installed (looked in {folder or '?'}); "
                               "opencv-python-headless 4.x ships them")
        self._frontal = cv2.CascadeClassifier(str(frontal))
        self._profile = cv2.CascadeClassifier(str(profile)) if profile.exists() else None
        self.min_size_px = min_size_px
        self.min_neighbours = min_neighbours
        self.scale = scale
        self.max_side_px = max_side_px  # larger frames are searched downscaled: the cascades cost grows with area

    def find(self, image: np.ndarray) -> list[Box]:
        h, w = image.shape[:2]
        k = min(1.0, self.max_side_px / max(h, w))
        if k < 1.0:
            image = cv2.resize(image, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
        return [Box(b.x1 / k, b.y1 / k, b.x2 / k, b.y2 / k) for b in self._find(image)]

    def _find(self, image: np.ndarray) -> list[Box]:
        gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image)
        size = (self.min_size_px, self.min_size_px)
        found = [Box(float(x), float(y), float(x + w), float(y + h)) for x, y, w, h in
                 self._frontal.detectMultiScale(gray, self.scale, self.min_neighbours, minSize=size)]
        if self._profile is not None:
            width = gray.shape[1]
            for flipped, img in ((False, gray), (True, cv2.flip(gray, 1))):
                for x, y, w, h in self._profile.detectMultiScale(img, self.scale, self.min_neighbours, minSize=size):
                    x1 = width - (x + w) if flipped else x
                    found.append(Box(float(x1), float(y), float(x1 + w), float(y + h)))
        return _merge(found)


def _merge(boxes: list[Box]) -> list[Box]:
    """One box per face: overlapping finds (frontal and profile of one face) become their union."""
    out: list[Box] = []
    for b in sorted(boxes, key=lambda b: -b.area):
        for i, o in enumerate(out):
            if b.x1 < o.x2 and o.x1 < b.x2 and b.y1 < o.y2 and o.y1 < b.y2:
                out[i] = Box(min(o.x1, b.x1), min(o.y1, b.y1), max(o.x2, b.x2), max(o.y2, b.y2))
                break
        else:
            out.append(b)
    return out


def _inside(inner: Box, outer: Box, share: float = 0.6) -> bool:
    """Whether at least `share` of `inner`'s area lies in `outer`."""
    iw = min(inner.x2, outer.x2) - max(inner.x1, outer.x1)
    ih = min(inner.y2, outer.y2) - max(inner.y1, outer.y1)
    return iw > 0 and ih > 0 and iw * ih >= share * inner.area


def plate_band(vehicle: Box) -> Box:
    """Where a plate sits on a vehicle seen from the front or back: the lower middle of its box."""
    w, h = vehicle.width, vehicle.height
    return Box(vehicle.x1 + 0.2 * w, vehicle.y1 + 0.6 * h, vehicle.x2 - 0.2 * w, vehicle.y2)


def regions_to_hide(*, keep: Sequence[Box], faces: Sequence[Box] = (), people: Sequence[Box] = (),
                    vehicles: Sequence[Box] = (), plates: Sequence[Box] = ()) -> list[Region]:
    """What a rendition hides: faces and people outside `keep`, plates of vehicles outside `keep`."""
    def kept(b: Box) -> bool:
        return any(_inside(b, k) for k in keep)

    out = [Region("face", f) for f in faces if not kept(f)]
    out += [Region("person", p) for p in people if not kept(p)]
    for v in vehicles:
        if kept(v):
            continue
        on_it = [p for p in plates if _inside(p, v)]
        out += [Region("plate", p) for p in on_it] or [Region("plate", plate_band(v))]
    out += [Region("plate", p) for p in plates
            if not kept(p) and not any(_inside(p, v) for v in vehicles)]
    return out


def pixelate(image: np.ndarray, regions: Sequence[Region]) -> np.ndarray:
    """A copy of `image` with each region pixelated beyond recovery (the input is not changed)."""
    out = image.copy()
    h, w = out.shape[:2]
    for r in regions:
        x1, y1 = max(0, int(r.box.x1)), max(0, int(r.box.y1))
        x2, y2 = min(w, int(np.ceil(r.box.x2))), min(h, int(np.ceil(r.box.y2)))
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        patch = out[y1:y2, x1:x2]
        bw, bh = max(1, (x2 - x1) // 8), max(1, (y2 - y1) // 8)
        small = cv2.resize(patch, (max(1, (x2 - x1) // bw), max(1, (y2 - y1) // bh)), interpolation=cv2.INTER_AREA)
        blocky = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
        k = max(3, (min(x2 - x1, y2 - y1) // 4) | 1)
        out[y1:y2, x1:x2] = cv2.GaussianBlur(blocky, (k, k), 0)
    return out
