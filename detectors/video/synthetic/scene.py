"""One generated frame: a view built, optionally tilted to an oblique drone view, passed through the camera, and
labelled from the objects' visible masks.

`render_scene(rng, imgsz, view, options)` -> RenderedScene with the uint8 image, one LabelledObject per visible
object (class id, pixel box, mask) and the JPEG quality the writer should use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detectors.video.synthetic.aerial import build_aerial
from detectors.video.synthetic.canvas import ObjectMask
from detectors.video.synthetic.shading import CameraEffects, apply_camera
from detectors.video.synthetic.street import build_street

ViewKind = Literal["aerial", "street"]


class RenderOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_effects: bool = Field(default=True, description="Apply exposure, haze, blur, resolution loss and noise; "
                                 "off renders the bare scene (tests).")
    shadows: bool = Field(default=True, description="Cast shadows along the scene's sun direction.")
    clutter: bool = Field(default=True, description="Draw unlabelled distractors (trees, posts, bins, markings).")
    oblique_probability: float = Field(default=0.5, ge=0, le=1,
                                       description="Share of aerial frames tilted from nadir to an oblique view.")
    min_visible_px: int = Field(default=6, ge=1, description="An object with fewer visible pixels gets no label.")
    min_visible_fraction: float = Field(default=0.25, ge=0, le=1,
                                        description="An object with less of its drawn area visible (occluded or "
                                        "outside the frame) gets no label.")


@dataclass(frozen=True)
class LabelledObject:
    class_id: int
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels, x2/y2 exclusive
    mask: ObjectMask  # visible pixels after occlusion and clipping

    def yolo(self, w: int, h: int) -> tuple[float, float, float, float]:
        """Normalised centre x, centre y, width, height."""
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h


@dataclass(frozen=True)
class RenderedScene:
    image: np.ndarray  # uint8 H x W x 3 BGR
    objects: list[LabelledObject]
    view: ViewKind
    jpeg_quality: int
    unlabelled: int  # objects drawn but too hidden or small to label


def _oblique(rng: np.random.Generator, size: int) -> np.ndarray:
    """Homography from the nadir render to a tilted view: the far (top) edge takes in a wider strip of ground."""
    k = rng.uniform(0.12, 0.3) * size
    src = np.float32([[0, 0], [size, 0], [size - k, size], [k, size]])
    dst = np.float32([[0, 0], [size, 0], [size, size], [0, size]])
    return cv2.getPerspectiveTransform(src, dst)


def _warp_mask(obj: ObjectMask, hgr: np.ndarray, size: int) -> ObjectMask:
    mh, mw = obj.mask.shape
    corners = np.float32([[0, 0], [mw, 0], [0, mh], [mw, mh]]) + np.float32([obj.x0, obj.y0])
    dst = cv2.perspectiveTransform(corners[None], hgr)[0]
    x0, y0 = np.clip(np.floor(dst.min(axis=0)).astype(int), 0, size)
    x1, y1 = np.clip(np.ceil(dst.max(axis=0)).astype(int) + 1, 0, size)
    if x1 <= x0 or y1 <= y0:
        return ObjectMask(obj.class_id, 0, 0, np.zeros((1, 1), bool), obj.drawn_px)
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ hgr @ \
        np.array([[1, 0, obj.x0], [0, 1, obj.y0], [0, 0, 1]], np.float64)
    m = cv2.warpPerspective(obj.mask.astype(np.float32), shift, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR)
    cx, cy = obj.x0 + mw / 2, obj.y0 + mh / 2
    return ObjectMask(obj.class_id, int(x0), int(y0), m >= 0.5,
                      max(1, round(obj.drawn_px * area_scale(hgr, cx, cy))))


def area_scale(hgr: np.ndarray, x: float, y: float) -> float:
    """Local area magnification of the homography at (x, y): the Jacobian determinant, det(H) / w^3."""
    h = np.asarray(hgr, np.float64) / hgr[2, 2]
    w = h[2, 0] * x + h[2, 1] * y + 1.0
    return float(abs(np.linalg.det(h)) / abs(w) ** 3)


def render_scene(rng: np.random.Generator, imgsz: int, view: ViewKind,
                 options: RenderOptions | None = None) -> RenderedScene:
    opts = options or RenderOptions()
    builder = build_aerial if view == "aerial" else build_street
    built = builder(rng, imgsz, shadows=opts.shadows, clutter=opts.clutter)
    img, masks = built.canvas.image, built.canvas.objects
    if view == "aerial" and rng.random() < opts.oblique_probability:
        hgr = _oblique(rng, imgsz)
        img = cv2.warpPerspective(img, hgr, (imgsz, imgsz), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        masks = [_warp_mask(m, hgr, imgsz) for m in masks]
        far_row: float | None = 0.0
    else:
        far_row = built.depth_rows[0] if built.depth_rows else None
    fx = CameraEffects.random(rng) if opts.camera_effects else CameraEffects.none()
    image = apply_camera(img, fx, rng, far_row if (view == "street" or far_row is not None) else None)
    objects: list[LabelledObject] = []
    dropped = 0
    for m in masks:
        vis = m.visible_px()
        box = m.box()
        if box is None or vis < opts.min_visible_px or vis < opts.min_visible_fraction * m.drawn_px:
            dropped += 1
            continue
        objects.append(LabelledObject(m.class_id, box, m))
    return RenderedScene(image, objects, view, fx.jpeg_quality, dropped)
