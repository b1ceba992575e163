"""The canvas a scene is composed on: sprites blended in z-order, cast shadows, and one mask per labelled object.

Each labelled object keeps the mask of its pixels that are still visible: a later opaque sprite (alpha above
`OCCLUDE_ALPHA`) removes the pixels it covers from every earlier object's mask, and anything outside the image is
clipped away. Labels are the bounding boxes of these masks, so a box never covers more than what can be seen.
Semi-transparent smoke labels its own denser part but hides only what its opaque core covers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

LABEL_ALPHA = 0.35  # a sprite pixel this opaque belongs to the object's label mask
OCCLUDE_ALPHA = 0.6  # a sprite pixel this opaque hides what was drawn before it


@dataclass
class Sprite:
    """A drawn object: float32 BGR colour and alpha of the same size; (ax, ay) is its anchor in sprite pixels
    (the centre for top-down sprites, the ground contact for street ones)."""

    bgr: np.ndarray
    alpha: np.ndarray
    ax: float
    ay: float
    glow: np.ndarray | None = None  # additive light (fire) spread over the sprite's frame, not part of the mask


@dataclass
class ObjectMask:
    """A labelled object's visible pixels: `mask` (bool) placed with its top-left corner at (x0, y0)."""

    class_id: int
    x0: int
    y0: int
    mask: np.ndarray
    drawn_px: int  # pixels of the whole sprite above LABEL_ALPHA, including any outside the image

    def visible_px(self) -> int:
        return int(self.mask.sum())

    def box(self) -> tuple[int, int, int, int] | None:
        """x1, y1, x2, y2 (x2/y2 exclusive) of the visible pixels, or None if none is left."""
        ys, xs = np.nonzero(self.mask)
        if len(xs) == 0:
            return None
        x0, y0 = self.x0 + int(xs.min()), self.y0 + int(ys.min())
        return x0, y0, self.x0 + int(xs.max()) + 1, self.y0 + int(ys.max()) + 1

    def full_mask(self, h: int, w: int) -> np.ndarray:
        out = np.zeros((h, w), bool)
        mh, mw = self.mask.shape
        out[self.y0:self.y0 + mh, self.x0:self.x0 + mw] = self.mask
        return out


def clip_roi(x0: int, y0: int, sw: int, sh: int, w: int, h: int) -> tuple[slice, slice, slice, slice] | None:
    """Canvas and sprite slices of a sw x sh sprite at (x0, y0) on a w x h canvas; None when fully outside."""
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + sw, w), min(y0 + sh, h)
    if cx0 >= cx1 or cy0 >= cy1:
        return None
    return slice(cy0, cy1), slice(cx0, cx1), slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0)


def warp_affine_roi(src: np.ndarray, m: np.ndarray, interp: int = cv2.INTER_LINEAR) -> tuple[np.ndarray, int, int]:
    """`src` mapped by the 2x3 affine `m` into the smallest image holding it; returns it and its top-left corner."""
    sh, sw = src.shape[:2]
    corners = np.array([[0, 0, 1], [sw, 0, 1], [0, sh, 1], [sw, sh, 1]], np.float64) @ np.asarray(m, np.float64).T
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    shifted = np.asarray(m, np.float64).copy()
    shifted[:, 2] -= (x0, y0)
    out = cv2.warpAffine(src, shifted, (max(1, x1 - x0), max(1, y1 - y0)), flags=interp,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, int(x0), int(y0)


@dataclass
class Canvas:
    image: np.ndarray  # float32 H x W x 3 BGR in [0, 1]
    objects: list[ObjectMask] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return w, h

    def shadow(self, alpha: np.ndarray, m: np.ndarray, strength: float, blur: float) -> None:
        """Darken the ground under a silhouette `alpha` mapped by the affine `m` (sprite to canvas pixels)."""
        if strength <= 0:
            return
        warped, x0, y0 = warp_affine_roi(alpha, m)
        if blur > 0.3:
            pad = int(blur * 3) + 1
            warped = cv2.GaussianBlur(np.pad(warped, pad), (0, 0), blur)
            x0, y0 = x0 - pad, y0 - pad
        w, h = self.size
        roi = clip_roi(x0, y0, warped.shape[1], warped.shape[0], w, h)
        if roi is None:
            return
        cy, cx, sy, sx = roi
        self.image[cy, cx] *= (1.0 - strength * np.clip(warped[sy, sx], 0, 1))[..., None]

    def paste(self, sprite: Sprite, x: float, y: float, class_id: int | None) -> None:
        """Blend `sprite` with its anchor at canvas (x, y); `class_id` None draws unlabelled clutter."""
        sh, sw = sprite.alpha.shape
        x0, y0 = round(x - sprite.ax), round(y - sprite.ay)
        w, h = self.size
        roi = clip_roi(x0, y0, sw, sh, w, h)
        if roi is None:
            return
        cy, cx, sy, sx = roi
        a = sprite.alpha[sy, sx]
        dst = self.image[cy, cx]
        dst += (sprite.bgr[sy, sx] - dst) * a[..., None]
        if sprite.glow is not None:
            dst += sprite.glow[sy, sx]
            np.minimum(dst, 1.0, out=dst)
        opaque = a >= OCCLUDE_ALPHA
        if opaque.any():
            oy0, ox0 = cy.start, cx.start
            for obj in self.objects:
                mh, mw = obj.mask.shape
                ix0, iy0 = max(obj.x0, ox0), max(obj.y0, oy0)
                ix1, iy1 = min(obj.x0 + mw, cx.stop), min(obj.y0 + mh, cy.stop)
                if ix0 < ix1 and iy0 < iy1:
                    obj.mask[iy0 - obj.y0:iy1 - obj.y0, ix0 - obj.x0:ix1 - obj.x0] &= \
                        ~opaque[iy0 - oy0:iy1 - oy0, ix0 - ox0:ix1 - ox0]
        if class_id is not None:
            drawn = int((sprite.alpha >= LABEL_ALPHA).sum())
            self.objects.append(ObjectMask(class_id, cx.start, cy.start, a >= LABEL_ALPHA, drawn))
