"""Reading a vehicle's plate with PP-OCRv4 (the Chinese detection and recognition models that ship inside the
`rapidocr-onnxruntime` wheel): crop the vehicle, read every text line, keep what validates as a plate.

Two-row plates (large vehicles: 粤B on top, 12345 below) come out of OCR as two lines; neighbouring lines are
also tried joined top to bottom. The result is a `PlateReading` (detectors.video.plates) and the plate's box in
the frame, which the redaction uses to hide exactly the plate of an uninvolved vehicle.
"""

from __future__ import annotations

import threading
from itertools import pairwise
from typing import Any

import cv2
import numpy as np

from detectors.video.plates import PlateReading, reading
from detectors.video.tracks import Box

MIN_CROP_HEIGHT_PX = 96  # PP-OCR's detector wants text a few tens of pixels high


class PlateReader:
    """One OCR engine (loaded on first use; rapidocr-onnxruntime is part of the vision extra)."""

    def __init__(self, *, margin: float = 0.08) -> None:
        self.margin = margin
        self._engine: Any = None
        self._lock = threading.Lock()

    def _ocr(self) -> Any:
        if self._engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise RuntimeError("plate reading needs rapidocr-onnxruntime (the vision extra)") from exc
            self._engine = RapidOCR()
        return self._engine

    def lines(self, image: np.ndarray) -> list[tuple[str, float, Box]]:
        """Every text line OCR reads in `image`: (text, confidence, box), top to bottom."""
        with self._lock:
            result, _ = self._ocr()(image)
        out = []
        for points, text, score in result or []:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            out.append((str(text), float(score), Box(min(xs), min(ys), max(xs), max(ys))))
        return sorted(out, key=lambda t: (t[2].y1, t[2].x1))

    def read(self, image: np.ndarray, vehicle: Box | None, at: float = 0.0) -> tuple[PlateReading, Box] | None:
        """The best valid plate on `vehicle` (the whole image when None) and its box in `image`'s pixels."""
        h, w = image.shape[:2]
        if vehicle is None:
            vehicle = Box(0.0, 0.0, float(w), float(h))
        mx, my = vehicle.width * self.margin, vehicle.height * self.margin
        x1, y1 = max(0, int(vehicle.x1 - mx)), max(0, int(vehicle.y1 - my))
        x2, y2 = min(w, int(vehicle.x2 + mx)), min(h, int(vehicle.y2 + my))
        if x2 - x1 < 8 or y2 - y1 < 8:
            return None
        crop = image[y1:y2, x1:x2]
        scale = max(1.0, MIN_CROP_HEIGHT_PX / crop.shape[0])
        if scale > 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        found = self.lines(crop)
        candidates: list[tuple[PlateReading, Box]] = []
        for text, score, box in found:
            r = reading(text, score, at)
            if r is not None:
                candidates.append((r, box))
        for (t1, s1, b1), (t2, s2, b2) in pairwise(found):
            r = reading(t1 + t2, min(s1, s2), at)
            if r is not None:
                candidates.append((r, Box(min(b1.x1, b2.x1), b1.y1, max(b1.x2, b2.x2), b2.y2)))
        if not candidates:
            return None
        best, box = max(candidates, key=lambda c: c[0].confidence)
        frame_box = Box(x1 + box.x1 / scale, y1 + box.y1 / scale, x1 + box.x2 / scale, y1 + box.y2 / scale)
        return best, frame_box
