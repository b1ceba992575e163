"""Labelled objects drawn procedurally, seen from above (drone) or from the side (street camera).

`draw(kind, view, rng, size)` returns a Sprite; `size` is the object's length in pixels (top view) or its height
(side view). Shapes, colours and proportions are randomised within what the real things show, so the detector
learns the kind rather than one drawing of it.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from detectors.video.synthetic.canvas import Sprite, warp_affine_roi
from detectors.video.synthetic.textures import fractal_noise, jitter_colour

View = Literal["top", "side"]

CAR_COLOURS = ((0.95, 0.95, 0.95), (0.1, 0.1, 0.1), (0.6, 0.6, 0.62), (0.75, 0.75, 0.75), (0.15, 0.15, 0.6),
                (0.6, 0.3, 0.1), (0.2, 0.4, 0.2), (0.1, 0.6, 0.85), (0.35, 0.2, 0.15), (0.85, 0.85, 0.8))
SKIN = ((0.55, 0.7, 0.9), (0.45, 0.6, 0.8), (0.3, 0.45, 0.65), (0.2, 0.3, 0.45))
CLOTH = ((0.1, 0.1, 0.1), (0.8, 0.8, 0.8), (0.6, 0.2, 0.1), (0.2, 0.2, 0.7), (0.3, 0.5, 0.3), (0.2, 0.6, 0.9),
          (0.5, 0.5, 0.5), (0.6, 0.3, 0.6), (0.1, 0.2, 0.4))


def pick(rng: np.random.Generator, table: tuple[tuple[float, float, float], ...]) -> tuple[float, float, float]:
    return jitter_colour(rng, table[int(rng.integers(len(table)))])


def blank(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32)


def fill(bgr: np.ndarray, alpha: np.ndarray, pts: np.ndarray, colour: tuple[float, float, float]) -> None:
    p = [np.round(pts * 4).astype(np.int32)]  # 2 fractional bits: sub-pixel anti-aliased edges
    cv2.fillPoly(bgr, p, colour, cv2.LINE_AA, shift=2)
    cv2.fillPoly(alpha, p, 1.0, cv2.LINE_AA, shift=2)


def shade(bgr: np.ndarray, rng: np.random.Generator, amount: float = 0.15) -> None:
    h, w = bgr.shape[:2]
    bgr *= (1 - amount + 2 * amount * fractal_noise(rng, h, w, max(4, min(h, w) / 2), octaves=2))[..., None]


def rotate(sprite: Sprite, angle_deg: float) -> Sprite:
    """The sprite turned about its anchor; the frame grows to hold it."""
    m = cv2.getRotationMatrix2D((sprite.ax, sprite.ay), angle_deg, 1.0)
    bgr, x0, y0 = warp_affine_roi(sprite.bgr, m)
    alpha, _, _ = warp_affine_roi(sprite.alpha, m)
    glow = warp_affine_roi(sprite.glow, m)[0] if sprite.glow is not None else None
    return Sprite(bgr, alpha, sprite.ax - x0, sprite.ay - y0, glow)


# ---- seen from above ----------------------------------------------------------------------------------------


def vehicle_top(rng: np.random.Generator, length: float, truck: bool) -> Sprite:
    w = length * (rng.uniform(0.38, 0.46) if not truck else rng.uniform(0.33, 0.4))
    h, ww = int(length) + 3, int(w) + 3
    bgr, alpha = blank(h, ww)
    body = pick(rng, CAR_COLOURS)
    r = w * 0.2
    x0, y0, x1, y1 = 1.0, 1.0, w + 1, length + 1
    outline = np.array([[x0 + r, y0], [x1 - r, y0], [x1, y0 + r], [x1, y1 - r], [x1 - r, y1], [x0 + r, y1],
                        [x0, y1 - r], [x0, y0 + r]])
    fill(bgr, alpha, outline, body)
    glass = jitter_colour(rng, (0.12, 0.1, 0.08), 0.03)
    if truck:
        cab = length * rng.uniform(0.2, 0.28)
        fill(bgr, alpha, np.array([[x0 + 1, y0 + cab * 0.25], [x1 - 1, y0 + cab * 0.25], [x1 - 1, y0 + cab * 0.5],
                                    [x0 + 1, y0 + cab * 0.5]]), glass)
        cargo = pick(rng, ((0.7, 0.7, 0.7), (0.2, 0.4, 0.7), (0.3, 0.5, 0.3), (0.8, 0.8, 0.8), (0.1, 0.3, 0.6)))
        fill(bgr, alpha, np.array([[x0, y0 + cab + 1], [x1, y0 + cab + 1], [x1, y1], [x0, y1]]), cargo)
    else:
        f, b = length * rng.uniform(0.22, 0.3), length * rng.uniform(0.68, 0.78)
        fill(bgr, alpha, np.array([[x0 + w * .15, y0 + f], [x1 - w * .15, y0 + f], [x1 - w * .2, y0 + f + length * .1],
                                    [x0 + w * .2, y0 + f + length * .1]]), glass)
        fill(bgr, alpha, np.array([[x0 + w * .2, y0 + b], [x1 - w * .2, y0 + b], [x1 - w * .15, y0 + b + length * .08],
                                    [x0 + w * .15, y0 + b + length * .08]]), glass)
        roof = tuple(min(1.0, c * 1.12 + 0.03) for c in body)
        fill(bgr, alpha, np.array([[x0 + w * .2, y0 + f + length * .11], [x1 - w * .2, y0 + f + length * .11],
                                    [x1 - w * .2, y0 + b - 1], [x0 + w * .2, y0 + b - 1]]), roof)  # type: ignore[arg-type]
    shade(bgr, rng, 0.08)
    return Sprite(bgr, alpha, ww / 2, h / 2)


def boat_top(rng: np.random.Generator, length: float) -> Sprite:
    w = length * rng.uniform(0.25, 0.4)
    h, ww = int(length) + 3, int(w) + 3
    bgr, alpha = blank(h, ww)
    hull = pick(rng, ((0.9, 0.9, 0.9), (0.2, 0.3, 0.5), (0.15, 0.15, 0.55), (0.5, 0.35, 0.2), (0.3, 0.5, 0.3)))
    cx, bow = w / 2 + 1, length * rng.uniform(0.2, 0.35)
    outline = np.array([[cx, 1], [w + 1, bow], [w + 1 - w * 0.08, length], [1 + w * 0.08, length], [1, bow]])
    fill(bgr, alpha, outline, hull)
    deck = jitter_colour(rng, (0.35, 0.5, 0.6) if rng.random() < 0.5 else hull, 0.1)
    inner = (outline - (cx, length * 0.55)) * 0.78 + (cx, length * 0.55)
    fill(bgr, alpha, inner, deck)
    if rng.random() < 0.6:  # cabin or canopy
        c0 = length * rng.uniform(0.35, 0.55)
        fill(bgr, alpha, np.array([[w * .25 + 1, c0], [w * .75 + 1, c0], [w * .75 + 1, c0 + length * .25],
                                    [w * .25 + 1, c0 + length * .25]]), pick(rng, CLOTH))
    shade(bgr, rng, 0.1)
    return Sprite(bgr, alpha, ww / 2, h / 2)


def person_top(rng: np.random.Generator, size: float) -> Sprite:
    s = max(size, 3.0)
    n = int(s * 1.3) + 3
    bgr, alpha = blank(n, n)
    c = n / 2
    cv2.ellipse(bgr, (int(c), int(c)), (max(1, int(s * 0.45)), max(1, int(s * 0.25))), 0, 0, 360, pick(rng, CLOTH),
                -1, cv2.LINE_AA)
    cv2.ellipse(alpha, (int(c), int(c)), (max(1, int(s * 0.45)), max(1, int(s * 0.25))), 0, 0, 360, 1.0, -1,
                cv2.LINE_AA)
    hair = jitter_colour(rng, (0.08, 0.08, 0.1), 0.04)
    cv2.circle(bgr, (int(c), int(c)), max(1, int(s * 0.17)), hair, -1, cv2.LINE_AA)
    return Sprite(bgr, alpha, c, c)


def stall_top(rng: np.random.Generator, size: float) -> Sprite:
    n = int(size) + 3
    bgr, alpha = blank(n, n)
    c, r = n / 2, size / 2
    a, b = pick(rng, CLOTH), pick(rng, ((0.9, 0.9, 0.9), (0.1, 0.8, 0.9), (0.2, 0.2, 0.8), (0.7, 0.4, 0.1)))
    if rng.random() < 0.55:  # round umbrella with coloured panels
        k = int(rng.integers(6, 11))
        for i in range(k):
            t0, t1 = 2 * np.pi * i / k, 2 * np.pi * (i + 1) / k
            pts = np.array([[c, c], [c + r * np.cos(t0), c + r * np.sin(t0)], [c + r * np.cos(t1), c + r * np.sin(t1)]])
            fill(bgr, alpha, pts, a if i % 2 else b)
    else:  # rectangular tarp canopy with a ridge
        hw = r * rng.uniform(0.5, 0.8)
        fill(bgr, alpha, np.array([[c - r, c - hw], [c + r, c - hw], [c + r, c + hw], [c - r, c + hw]]), a)
        bgr[int(c - hw):int(c + hw), :] *= np.linspace(0.8, 1.1, n, dtype=np.float32)[None, :, None]
        cv2.line(bgr, (int(c - r), int(c)), (int(c + r), int(c)), b, 1, cv2.LINE_AA)
    shade(bgr, rng, 0.08)
    return Sprite(bgr, alpha, c, c)


def cart_top(rng: np.random.Generator, length: float) -> Sprite:
    w = length * rng.uniform(0.45, 0.6)
    h, ww = int(length) + 3, int(w) + 3
    bgr, alpha = blank(h, ww)
    box = pick(rng, ((0.3, 0.5, 0.7), (0.5, 0.5, 0.5), (0.2, 0.2, 0.6), (0.7, 0.7, 0.7), (0.2, 0.4, 0.2)))
    fill(bgr, alpha, np.array([[1, length * .3], [w + 1, length * .3], [w + 1, length], [1, length]]), box)
    cv2.line(bgr, (int(w / 2 + 1), 1), (int(w / 2 + 1), int(length * .3)), (0.15, 0.15, 0.15), max(1, int(w / 8)))
    cv2.line(alpha, (int(w / 2 + 1), 1), (int(w / 2 + 1), int(length * .3)), 1.0, max(1, int(w / 8)))
    goods = bgr[int(length * .38):int(length * .92), 2:max(3, int(w))]
    goods[:] = goods * 0.5 + np.asarray(pick(rng, CLOTH), np.float32) * 0.5
    shade(bgr, rng, 0.15)
    return Sprite(bgr, alpha, ww / 2, h / 2)


def pile(rng: np.random.Generator, w: float, h: float, palette: tuple[tuple[float, float, float], ...],
          chunk: float, mound: bool) -> Sprite:
    """An irregular heap of small pieces: bags for garbage, broken concrete and bricks for rubble."""
    hh, ww = int(h) + 3, int(w) + 3
    bgr, alpha = blank(hh, ww)
    yy, xx = np.mgrid[0:hh, 0:ww].astype(np.float32)
    if mound:  # side view: a heap rising from the ground line
        base = 1.0 - ((xx - ww / 2) / (w / 2)) ** 2 - 0.0
        shape = (hh - 1 - yy) < base * h * (0.75 + 0.5 * fractal_noise(rng, hh, ww, max(3, w / 4), 2))
    else:
        d = ((xx - ww / 2) / (w / 2)) ** 2 + ((yy - hh / 2) / (h / 2)) ** 2
        shape = d < 0.55 + 0.5 * fractal_noise(rng, hh, ww, max(3, w / 3), 2)
    base_colour = np.asarray(palette[int(rng.integers(len(palette)))], np.float32) * 0.6
    bgr[:] = base_colour * (0.7 + 0.6 * fractal_noise(rng, hh, ww, max(3, chunk * 2), 2))[..., None]
    pal = [tuple(float(v) * rng.uniform(0.6, 1.0) for v in jitter_colour(rng, c)) for c in palette for _ in (0, 1)]
    for _ in range(int(w * h / max(chunk * chunk, 1.0) * 1.2) + 3):
        cx, cy = rng.uniform(0, ww), rng.uniform(0, hh)
        r = chunk * rng.uniform(0.4, 1.0)
        cv2.ellipse(bgr, (int(cx), int(cy)), (max(1, int(r)), max(1, int(r * rng.uniform(0.5, 1)))),
                    float(rng.uniform(0, 180)), 0, 360, pal[int(rng.integers(len(pal)))], -1, cv2.LINE_AA)
    alpha[:] = shape
    alpha[:] = cv2.GaussianBlur(alpha, (3, 3), 0)
    shade(bgr, rng, 0.25)
    return Sprite(bgr, alpha, ww / 2, hh - 1 if mound else hh / 2)


GARBAGE = ((0.08, 0.08, 0.08), (0.1, 0.1, 0.12), (0.6, 0.35, 0.2), (0.8, 0.8, 0.8), (0.25, 0.4, 0.3),
            (0.35, 0.45, 0.55), (0.3, 0.5, 0.65), (0.5, 0.6, 0.7), (0.12, 0.12, 0.1))
RUBBLE = ((0.55, 0.55, 0.55), (0.45, 0.48, 0.5), (0.25, 0.35, 0.6), (0.35, 0.45, 0.55), (0.7, 0.7, 0.68),
           (0.3, 0.3, 0.32))


def smoke(rng: np.random.Generator, length: float, side: bool) -> Sprite:
    """A soft plume: noise shaped by a cone widening downwind; grey-white or dark, never fully opaque."""
    w, h = (length * rng.uniform(0.5, 0.8), length) if side else (length * rng.uniform(0.35, 0.6), length)
    hh, ww = int(h) + 4, int(w) + 4
    yy, xx = np.mgrid[0:hh, 0:ww].astype(np.float32)
    t = (hh - 1 - yy) / hh  # 0 at the source, 1 at the far end
    spread = 0.12 + 0.88 * t ** 0.7
    cx = ww / 2 + (t ** 1.5) * ww * 0.3 * float(rng.uniform(-1, 1))
    cone = np.clip(1 - np.abs(xx - cx) / (spread * ww / 2 + 1), 0, 1)
    density = cone * (0.35 + 0.9 * fractal_noise(rng, hh, ww, max(4, w / 3), 4, 0.6)) * (1 - t ** 3)
    dark = rng.random() < 0.35
    g = rng.uniform(0.15, 0.35) if dark else rng.uniform(0.65, 0.92)
    bgr = np.empty((hh, ww, 3), np.float32)
    bgr[:] = jitter_colour(rng, (g, g, g * rng.uniform(0.95, 1.1)), 0.03)
    bgr *= (0.85 + 0.3 * fractal_noise(rng, hh, ww, max(3, w / 5), 2))[..., None]
    alpha = np.clip(density * rng.uniform(0.7, 1.0), 0, 0.85).astype(np.float32)
    return Sprite(np.clip(bgr, 0, 1), cv2.GaussianBlur(alpha, (0, 0), max(0.5, w / 40)), ww / 2, hh - 2)


def fire(rng: np.random.Generator, size: float, side: bool) -> Sprite:
    """Flickering flames: hot white-yellow core, orange-red rim, and an additive glow around them."""
    h = size
    w = size * (rng.uniform(0.5, 0.9) if side else 1.0)
    pad = int(size * 0.4) + 2
    hh, ww = int(h) + 2 * pad, int(w) + 2 * pad
    yy, xx = np.mgrid[0:hh, 0:ww].astype(np.float32)
    n = fractal_noise(rng, hh, ww, max(3, w / 4), 3, 0.6)
    if side:
        t = np.clip((hh - pad - yy) / h, 0, 1.0)
        width = (1 - t ** 1.3) * w / 2 * (0.7 + 0.6 * n)  # flame tongues where the noise is high
        heat = np.clip(1.3 - np.abs(xx - ww / 2) / (width + 1), 0, 1) * (yy < hh - pad) * (0.5 + 0.8 * n)
    else:
        d = np.hypot(xx - ww / 2, yy - hh / 2) / (w / 2)
        heat = np.clip(1 - d, 0, 1) * (0.5 + 1.0 * n)
    heat = np.clip(heat, 0, 1).astype(np.float32)
    bgr = np.empty((hh, ww, 3), np.float32)
    bgr[..., 2] = 1.0
    bgr[..., 1] = np.clip(0.25 + 0.8 * heat, 0, 1)
    bgr[..., 0] = np.clip(heat ** 2 * 0.9 - 0.1, 0, 1)
    alpha = np.clip(heat * 2.2, 0, 1)
    glow_a = cv2.GaussianBlur(alpha, (0, 0), max(1.0, size / 5)) * rng.uniform(0.25, 0.6)
    glow = glow_a[..., None] * np.asarray((0.05, 0.35, 0.6), np.float32)
    return Sprite(bgr, alpha.astype(np.float32), ww / 2, hh - pad if side else hh / 2, glow.astype(np.float32))
