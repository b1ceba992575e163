"""One entry point for every labelled kind in either view: `draw(kind, view, rng, size) -> Sprite`."""

from __future__ import annotations

import cv2
import numpy as np

from detectors.video.synthetic import objects as top
from detectors.video.synthetic import street_objects as side
from detectors.video.synthetic.canvas import Sprite
from detectors.video.synthetic.classes import ObjectKind
from detectors.video.synthetic.objects import View

DRAW_CAP_PX = 160.0  # larger sprites are drawn at this size and upscaled: the detail would be lost to blur anyway


def draw(kind: ObjectKind, view: View, rng: np.random.Generator, size: float) -> Sprite:
    """`size`: length in pixels seen from above, height in pixels seen from the side."""
    s = max(float(size), 3.0)
    if s <= DRAW_CAP_PX:
        return _draw(kind, view, rng, s)
    return upscale(_draw(kind, view, rng, DRAW_CAP_PX), s / DRAW_CAP_PX)


def upscale(sprite: Sprite, k: float) -> Sprite:
    h, w = sprite.alpha.shape
    size = (max(1, round(w * k)), max(1, round(h * k)))
    kx, ky = size[0] / w, size[1] / h

    def up(a: np.ndarray) -> np.ndarray:
        return cv2.resize(a, size, interpolation=cv2.INTER_LINEAR)

    glow = up(sprite.glow) if sprite.glow is not None else None
    return Sprite(up(sprite.bgr), up(sprite.alpha), sprite.ax * kx, sprite.ay * ky, glow)


def _draw(kind: ObjectKind, view: View, rng: np.random.Generator, s: float) -> Sprite:
    if view == "top":
        match kind:
            case "car" | "truck":
                return top.vehicle_top(rng, s, kind == "truck")
            case "boat":
                return top.boat_top(rng, s)
            case "person":
                return top.person_top(rng, s)
            case "stall":
                return top.stall_top(rng, s)
            case "cart":
                return top.cart_top(rng, s)
            case "garbage":
                return top.pile(rng, s, s * rng.uniform(0.5, 1.0), top.GARBAGE, max(1.0, s / 7), False)
            case "rubble":
                return top.pile(rng, s, s * rng.uniform(0.5, 1.0), top.RUBBLE, max(1.0, s / 9), False)
            case "smoke":
                return top.smoke(rng, s, False)
            case "fire":
                return top.fire(rng, s, False)
    match kind:
        case "car" | "truck" | "boat":
            return side.vehicle_side(rng, s, kind == "truck")
        case "person":
            return side.person_side(rng, s)
        case "stall":
            return side.stall_side(rng, s)
        case "cart":
            return side.cart_side(rng, s)
        case "garbage":
            return top.pile(rng, s * rng.uniform(1.5, 2.5), s, top.GARBAGE, max(1.0, s / 5), True)
        case "rubble":
            return top.pile(rng, s * rng.uniform(1.8, 3.0), s, top.RUBBLE, max(1.0, s / 7), True)
        case "smoke":
            return top.smoke(rng, s, True)
        case "fire":
            return top.fire(rng, s, True)
    raise ValueError(f"unknown kind {kind!r}")
