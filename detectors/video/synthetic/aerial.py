"""A drone's view at 30-120 m: ground, roads, roofs and rivers with boats on the water, seen from straight above.

Sizes follow the ground sampling distance of a 70-85 degree lens at the drawn altitude, so a car is 15-60 px on a
640 px frame. Every shadow falls along the one sun; clutter (trees, roof units, markings, manholes) is drawn
unlabelled so the detector learns to pass it by.
"""

from __future__ import annotations

import cv2
import numpy as np

from detectors.video.synthetic import textures as tx
from detectors.video.synthetic.canvas import Canvas, Sprite
from detectors.video.synthetic.catalogue import draw
from detectors.video.synthetic.classes import CLASS_IDS, ObjectKind
from detectors.video.synthetic.layout import BuiltScene, Sun, sample_in
from detectors.video.synthetic.objects import rotate

# Real size in metres (length seen from above) and height for the shadow.
_SIZE_M: dict[str, tuple[float, float, float]] = {  # min length, max length, height
    "car": (3.8, 5.0, 1.5), "truck": (6.0, 11.0, 3.2), "boat": (4.0, 14.0, 1.2), "person": (0.5, 0.65, 1.7),
    "stall": (1.8, 3.2, 2.3), "cart": (1.4, 2.2, 1.1), "garbage": (1.0, 4.0, 0.7), "rubble": (2.0, 7.0, 1.2),
    "smoke": (6.0, 30.0, 0.0), "fire": (0.8, 3.0, 0.0),
}


def _band(h: int, w: int, rng: np.random.Generator, width: float) -> tuple[np.ndarray, float]:
    """A straight or gently curved band across the frame (road or river) and its direction in radians."""
    a = float(rng.uniform(0, np.pi))
    c = np.array([rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h])
    d, n = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    t = np.linspace(-1.5 * max(h, w), 1.5 * max(h, w), 24)
    bend = rng.uniform(-0.15, 0.15) * max(h, w) * np.sin(t / max(h, w) * np.pi * rng.uniform(0.5, 1.5))
    pts = c + t[:, None] * d + bend[:, None] * n
    mask = np.zeros((h, w), np.uint8)
    cv2.polylines(mask, [pts.astype(np.int32)], False, 1, max(1, int(width)), cv2.LINE_AA)
    return mask.astype(bool), a


def _paste_textured(img: np.ndarray, mask: np.ndarray, tex: np.ndarray) -> None:
    cv2.copyTo(tex, mask.view(np.uint8), img)


def _building_shadow(img: np.ndarray, base: np.ndarray, top: np.ndarray, footprint: np.ndarray, k: float) -> None:
    """Darken the ground between a building's footprint and its roof outline shifted along the sun, in the
    bounding box of the two only."""
    h, w = footprint.shape
    both = np.vstack([base, top])
    x0, y0 = np.clip(np.floor(both.min(axis=0)).astype(int), 0, [w, h])
    x1, y1 = np.clip(np.ceil(both.max(axis=0)).astype(int) + 1, 0, [w, h])
    if x1 <= x0 or y1 <= y0:
        return
    sh = np.zeros((y1 - y0, x1 - x0), np.uint8)
    hull = cv2.convexHull(np.vstack([base, top]).astype(np.float32) - np.float32([x0, y0]))
    cv2.fillPoly(sh, [hull.astype(np.int32)], 1)
    dark = sh.astype(bool) & ~footprint[y0:y1, x0:x1]
    img[y0:y1, x0:x1] *= (1 - k * dark.astype(np.float32))[..., None]


def _tree(rng: np.random.Generator, r: float) -> Sprite:
    n = int(2 * r) + 3
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    d = np.hypot(xx - n / 2, yy - n / 2) / r
    noise = tx.fractal_noise(rng, n, n, max(3, r / 2), 2)
    alpha = np.clip((1.0 - d + 0.35 * noise) * 4, 0, 1).astype(np.float32)
    g = tx.jitter_colour(rng, (0.12, rng.uniform(0.28, 0.42), 0.18), 0.05)
    bgr = np.empty((n, n, 3), np.float32)
    bgr[:] = g
    bgr *= (0.55 + 0.7 * tx.fractal_noise(rng, n, n, max(2, r / 4), 3))[..., None]
    return Sprite(np.clip(bgr, 0, 1), alpha, n / 2, n / 2)


def build_aerial(rng: np.random.Generator, size: int, *, shadows: bool = True, clutter: bool = True) -> BuiltScene:
    h = w = size
    altitude = rng.uniform(30, 120)
    gsd = 2 * altitude * np.tan(np.radians(rng.uniform(70, 85)) / 2) / size  # metres per pixel
    px = 1.0 / gsd
    sun = Sun.random(rng)
    sun_k = sun.strength if shadows else 0.0

    ground = tx.surface(tx.grass, rng, h, w, 0.4)
    mix = tx.fractal_noise(rng, h, w, size * rng.uniform(0.3, 0.8), 2) > rng.uniform(0.35, 0.8)
    _paste_textured(ground, mix, tx.surface(tx.soil, rng, h, w, 0.4))
    if rng.random() < 0.35:  # paved square or yard
        plaza = np.zeros((h, w), np.uint8)
        x0, y0 = rng.uniform(-0.2, 0.7, 2) * size
        cv2.rectangle(plaza, (int(x0), int(y0)), (int(x0 + rng.uniform(0.2, 0.6) * size),
                                                  int(y0 + rng.uniform(0.2, 0.6) * size)), 1, -1)
        _paste_textured(ground, plaza.astype(bool), tx.surface(tx.tiles, rng, h, w, 1.0))
    canvas = Canvas(ground)
    free = np.ones((h, w), bool)

    water = np.zeros((h, w), bool)
    river_dir = 0.0
    if rng.random() < 0.45:
        water, river_dir = _band(h, w, rng, rng.uniform(20, 80) * px)
        grow = np.ones((5, 5), np.uint8)
        bank = cv2.dilate(water.astype(np.uint8), grow, iterations=max(1, int(2 * px))).astype(bool)
        _paste_textured(ground, bank & ~water, tx.surface(tx.soil, rng, h, w, 0.4))
        _paste_textured(ground, water, tx.surface(tx.water, rng, h, w, 0.5))
        free &= ~bank

    roads: list[tuple[np.ndarray, float]] = []
    road_any = np.zeros((h, w), bool)
    asphalt = tx.surface(tx.asphalt, rng, h, w, 0.5)
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3]))):
        m, a = _band(h, w, rng, rng.uniform(6, 16) * px)
        m &= ~water
        _paste_textured(ground, m, asphalt)
        roads.append((m, a))
        road_any |= m
    for m, _ in roads:  # dashed centre and edge lines, painted after all asphalt so crossings stay clean
        if rng.random() < 0.7:
            core = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=max(1, int(px * 2.5)))
            edge = m & ~core.astype(bool)
            edge_line = cv2.dilate(edge.astype(np.uint8), np.ones((2, 2), np.uint8)) & core
            ground[edge_line.astype(bool)] = 0.85
    free &= ~road_any

    # Buildings, aligned with the main road, with shadows cast away from the sun.
    align = roads[0][1] if roads else float(rng.uniform(0, np.pi))
    roof_tex = [tx.surface(tx.roof, rng, h, w, 0.5) for _ in range(2)]
    for _ in range(int(rng.integers(0, 9))):
        c = sample_in(rng, free, 1)
        if len(c) == 0:
            break
        bw, bl = rng.uniform(6, 25, 2) * px
        box = cv2.boxPoints(((float(c[0, 0]), float(c[0, 1])), (float(bw), float(bl)),
                             float(np.degrees(align) + rng.choice([0, 90]))))
        poly = np.zeros((h, w), np.uint8)
        cv2.fillPoly(poly, [box.astype(np.int32)], 1)
        pm = poly.astype(bool) & free
        if pm.sum() < 16:
            continue
        dx, dy = sun.offset(rng.uniform(3, 15) * px)
        if sun_k:
            _building_shadow(ground, box, box + np.array([dx, dy]), pm, sun_k)
        _paste_textured(ground, pm, roof_tex[int(rng.integers(2))])
        if rng.random() < 0.5:  # ridge line catching the light
            p = box.mean(axis=0)
            p0, p1 = ((box[0] + box[1]) / 2).astype(int), ((box[2] + box[3]) / 2).astype(int)
            cv2.line(ground, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])),
                     (0.9, 0.9, 0.9) if p[0] % 2 else (0.3, 0.3, 0.3), 1, cv2.LINE_AA)
        free &= ~cv2.dilate(poly, np.ones((3, 3), np.uint8), iterations=2).astype(bool)

    def put(kind: ObjectKind, x: float, y: float, angle_deg: float, labelled: bool = True) -> None:
        lo, hi, height = _SIZE_M[kind]
        sprite = draw(kind, "top", rng, rng.uniform(lo, hi) * px)
        if kind not in ("person", "smoke", "fire"):
            sprite = rotate(sprite, angle_deg)
        if height and sun_k:
            dx, dy = sun.offset(height * px)
            m = np.array([[1, 0, x - sprite.ax + dx * 0.5], [0, 1, y - sprite.ay + dy * 0.5]], np.float64)
            canvas.shadow(sprite.alpha, m, sun_k * 0.9, blur=0.6)
        canvas.paste(sprite, x, y, CLASS_IDS[kind] if labelled else None)

    ground_ok = ~water
    if clutter:
        for x, y in sample_in(rng, free & ground_ok, int(rng.integers(0, 25))):
            t = _tree(rng, rng.uniform(1.5, 4.5) * px)
            if sun_k:
                dx, dy = sun.offset(rng.uniform(4, 10) * px)
                m = np.array([[1, 0, x - t.ax + dx], [0, 1, y - t.ay + dy]], np.float64)
                canvas.shadow(t.alpha, m, sun_k, blur=1.0)
            canvas.paste(t, x, y, None)
        for x, y in sample_in(rng, road_any, int(rng.integers(0, 6))):  # manholes and patches
            cv2.circle(ground, (int(x), int(y)), max(1, int(0.35 * px)), (0.2, 0.2, 0.2), -1, cv2.LINE_AA)

    for m, a in roads:
        for x, y in sample_in(rng, m, int(rng.integers(0, 9))):
            kind: ObjectKind = "truck" if rng.random() < 0.2 else "car"
            put(kind, x, y, -np.degrees(a) + 90 + (180 if rng.random() < 0.5 else 0) + rng.normal(0, 4))
    if water.any():
        for x, y in sample_in(rng, water, int(rng.integers(0, 5))):
            put("boat", x, y, -np.degrees(river_dir) + 90 + rng.choice([0, 180]) + rng.normal(0, 15))
    walk = (free | road_any) & ground_ok
    near_road = cv2.dilate(road_any.astype(np.uint8), np.ones((3, 3), np.uint8),
                           iterations=max(1, int(3 * px))).astype(bool) & ~road_any & ground_ok
    spots = near_road if near_road.any() else walk
    for x, y in sample_in(rng, spots, int(rng.integers(0, 4))):  # vending stalls with people about them
        put("stall", x, y, rng.uniform(0, 360))
        for _ in range(int(rng.integers(0, 4))):
            put("person", x + rng.normal(0, 2.5 * px), y + rng.normal(0, 2.5 * px), 0)
        if rng.random() < 0.4:
            put("cart", x + rng.normal(0, 3 * px), y + rng.normal(0, 3 * px), rng.uniform(0, 360))
    for x, y in sample_in(rng, walk, int(rng.integers(0, 12))):
        put("person", x, y, 0)
    for x, y in sample_in(rng, walk, int(rng.integers(0, 3))):
        put("cart", x, y, rng.uniform(0, 360))
    for kind in ("garbage", "rubble"):
        for x, y in sample_in(rng, free & ground_ok, int(rng.choice([0, 0, 1, 2, 3]))):
            put(kind, x, y, rng.uniform(0, 360))  # type: ignore[arg-type]
    if rng.random() < 0.4:  # a fire, usually with its smoke blown downwind
        for x, y in sample_in(rng, free & ground_ok, int(rng.integers(1, 3))):
            put("fire", x, y, 0)
            if rng.random() < 0.8:
                _smoke_top(canvas, rng, x, y, px)
    elif rng.random() < 0.2:
        for x, y in sample_in(rng, ground_ok, 1):
            _smoke_top(canvas, rng, x, y, px)
    return BuiltScene(canvas, "aerial")


def _smoke_top(canvas: Canvas, rng: np.random.Generator, x: float, y: float, px: float) -> None:
    """A plume from (x, y) drifting downwind: the sprite is drawn along +y from its anchor and turned."""
    lo, hi, _ = _SIZE_M["smoke"]
    sprite = rotate(draw("smoke", "top", rng, rng.uniform(lo, hi) * px), rng.uniform(0, 360))
    canvas.paste(sprite, x, y, CLASS_IDS["smoke"])
