"""A fixed street camera: a road running to a vanishing point, pavements, shopfronts, and the sky above.

Objects stand on the ground plane: an object's pixel height is its real height times the scale at the row of its
ground contact (zero at the horizon), so people and stalls appear over a range of sizes. They are drawn far to
near so nearer things hide farther ones; each casts a flattened shadow away from the one sun.
"""

from __future__ import annotations

import cv2
import numpy as np

from detectors.video.synthetic import textures as tx
from detectors.video.synthetic.canvas import Canvas, Sprite
from detectors.video.synthetic.catalogue import DRAW_CAP_PX, draw, upscale
from detectors.video.synthetic.classes import CLASS_IDS, ObjectKind
from detectors.video.synthetic.layout import BuiltScene, Sun
from detectors.video.synthetic.textures import jitter_colour

_HEIGHT_M: dict[str, tuple[float, float]] = {
    "car": (1.35, 1.65), "truck": (2.4, 3.6), "person": (1.45, 1.9), "stall": (1.9, 2.6), "cart": (0.9, 1.5),
    "garbage": (0.35, 1.1), "rubble": (0.5, 1.6), "smoke": (3.0, 12.0), "fire": (0.4, 2.0),
}
_MIN_PX = 5.0  # smaller than this an object is not drawn: no camera resolves it


def _warp_into(img: np.ndarray, tex: np.ndarray, quad: np.ndarray) -> None:
    """Map the whole texture onto the image quad (tl, tr, br, bl), in place; pixels outside the quad are left as
    they are (transparent border), and the quad's corners meet the texture's outer pixel centres."""
    th, tw = tex.shape[:2]
    src = np.array([[0, 0], [tw - 1, 0], [tw - 1, th - 1], [0, th - 1]], np.float32)
    hgr = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    h, w = img.shape[:2]
    cv2.warpPerspective(tex, hgr, (w, h), dst=img, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)


def _facade(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A row of shopfronts: walls, windows, doors, awnings and signs with lettering."""
    img = tx.surface(tx.wall, rng, h, w, 0.5)
    x = 0
    while x < w:
        sw = int(rng.uniform(0.12, 0.35) * w)
        colour = jitter_colour(rng, tuple(rng.uniform(0.3, 0.9, 3)), 0.05)  # type: ignore[arg-type]
        img[:, x:x + sw] = img[:, x:x + sw] * 0.5 + np.asarray(colour, np.float32) * 0.5
        shop_top = int(h * rng.uniform(0.55, 0.7))
        cv2.rectangle(img, (x + 3, shop_top), (x + sw - 3, h - 1), jitter_colour(rng, (0.25, 0.22, 0.2), 0.1), -1)
        cv2.rectangle(img, (x + 6, shop_top + 6), (x + sw - 6, h - 4), jitter_colour(rng, (0.45, 0.4, 0.35), 0.1), -1)
        sign = jitter_colour(rng, tuple(rng.uniform(0.1, 0.95, 3)), 0.05)  # type: ignore[arg-type]
        cv2.rectangle(img, (x + 2, shop_top - int(h * .1)), (x + sw - 2, shop_top - 2), sign, -1)
        ink = (1 - sign[0], 1 - sign[1], 1 - sign[2])
        gx = x + 6
        while gx < x + sw - 12:  # lettering: glyph-sized strokes (putText draws on 8-bit images only)
            gw = int(rng.integers(4, 10))
            cv2.rectangle(img, (gx, shop_top - int(h * .085)), (gx + gw, shop_top - int(h * .025)), ink,
                          int(rng.choice([1, 2, -1])))
            gx += gw + int(rng.integers(3, 7))
        pane = jitter_colour(rng, (0.3, 0.25, 0.2))
        for wy in range(int(h * .08), shop_top - int(h * .15), int(h * .14)):
            for wx in range(x + 8, x + sw - 20, 28):
                lit = rng.random() < 0.2  # a lit or curtained window breaks the repetition
                cv2.rectangle(img, (wx, wy), (wx + 14, wy + int(h * .08)), (0.5, 0.7, 0.8) if lit else pane, -1)
        x += sw
    return img


def build_street(rng: np.random.Generator, size: int, *, shadows: bool = True, clutter: bool = True) -> BuiltScene:
    h = w = size
    hy = float(rng.uniform(0.25, 0.5) * h)  # horizon row
    vx = float(rng.uniform(0.25, 0.75) * w)  # vanishing point column
    person_px = rng.uniform(0.1, 0.5) * h  # a 1.7 m person at the bottom row
    scale_bottom = person_px / 1.7  # pixels per metre at the bottom row

    def ppm(y: float) -> float:
        return max(0.0, (y - hy) / (h - hy)) * scale_bottom

    def x_at(y: float, bottom_x: float) -> float:
        """Column at row y of the ground line through the vanishing point and (bottom_x, h)."""
        return vx + (bottom_x - vx) * (y - hy) / (h - hy)

    img = np.empty((h, w, 3), np.float32)
    sky_top, sky_low = jitter_colour(rng, (0.85, 0.6, 0.4), 0.06), jitter_colour(rng, (0.92, 0.85, 0.8), 0.04)
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img[:] = np.asarray(sky_top, np.float32) * (1 - ramp) + np.asarray(sky_low, np.float32) * ramp
    road_half = rng.uniform(3, 8) * scale_bottom  # half width at the bottom row
    walk = rng.uniform(2, 5) * scale_bottom
    lx, rx = vx - road_half, vx + road_half
    far = hy + 1
    # The ground in plan (pavement | road | pavement, centre dashes, kerbs), laid on the road plane in one warp.
    pw, ph = 384, 256
    ws = int(pw * walk / (2 * walk + 2 * road_half))
    plan = tx.surface(tx.asphalt, rng, ph, pw, 0.5)
    tiles = tx.tiles(rng, ph, ws)
    plan[:, :ws] = tiles
    plan[:, pw - ws:] = tiles[:, ::-1]
    kerb = max(1, pw // 80)
    plan[:, ws:ws + kerb] = plan[:, pw - ws - kerb:pw - ws] = jitter_colour(rng, (0.65, 0.65, 0.65), 0.05)
    if rng.random() < 0.8:
        for y0 in range(0, ph, 16):
            plan[y0:y0 + 6, pw // 2 - 1:pw // 2 + 2] = 0.85
    _warp_into(img, plan, np.array([[x_at(far, lx - walk), far], [x_at(far, rx + walk), far], [rx + walk, h],
                                    [lx - walk, h]]))
    wall_h = rng.uniform(5, 14)  # metres of facade
    for a, outer in ((lx - walk, -1), (rx + walk, 1)):  # building walls on either side
        top_b = h - wall_h * scale_bottom
        edge_x = 0.0 if outer < 0 else float(w)
        far_x = x_at(far, a)
        quad = np.array([[a, top_b], [far_x, hy - wall_h * 0.02 * scale_bottom], [far_x, far], [a, h]])
        ext = np.array([[edge_x, top_b - abs(a - edge_x) * (h - top_b) / max(h - hy, 1)], [a, top_b], [a, h],
                        [edge_x, h + abs(a - edge_x)]])
        fac = _facade(rng, 192, 384)
        if outer < 0:
            _warp_into(img, fac, np.array([quad[0], quad[1], quad[2], quad[3]]))
        else:
            _warp_into(img, fac[:, ::-1].copy(), np.array([quad[1], quad[0], quad[3], quad[2]]))
        if (outer < 0 and a > 0) or (outer > 0 and a < w):
            _warp_into(img, tx.wall(rng, 64, 64), ext if outer < 0 else ext[[1, 0, 3, 2]])

    canvas = Canvas(img)
    sun = Sun.random(rng)
    sun_k = sun.strength if shadows else 0.0
    shear = float(np.cos(sun.azimuth)) / np.tan(sun.elevation)
    squash = float(rng.uniform(0.08, 0.35))

    placements: list[tuple[float, float, ObjectKind | None]] = []

    def on_road(k: int, kind: ObjectKind) -> None:
        for _ in range(k):
            y = hy + (h - hy) * rng.uniform(0.02, 1.05) ** 0.7
            f = rng.uniform(-0.9, 0.9)
            placements.append((x_at(y, vx + f * road_half), y, kind))

    def on_walk(k: int, kind: ObjectKind | None, spread: float = 1.0) -> None:
        for _ in range(k):
            y = hy + (h - hy) * rng.uniform(0.02, 1.1) ** 0.7
            side = rng.choice([-1, 1])
            edge = (lx if side < 0 else rx) + side * walk * rng.uniform(0.05, 0.95 * spread)
            placements.append((x_at(y, edge), y, kind))

    on_road(int(rng.integers(0, 6)), "car")
    on_road(int(rng.choice([0, 0, 1, 2])), "truck")
    on_walk(int(rng.integers(0, 5)), "car", 0.4)  # parked on the pavement
    on_walk(int(rng.integers(0, 10)), "person")
    on_road(int(rng.integers(0, 3)), "person")
    on_walk(int(rng.integers(0, 4)), "stall")
    on_walk(int(rng.integers(0, 3)), "cart")
    on_road(int(rng.choice([0, 0, 1])), "cart")
    on_walk(int(rng.choice([0, 0, 1, 2])), "garbage")
    on_walk(int(rng.choice([0, 0, 1, 2])), "rubble")
    if rng.random() < 0.35:
        on_walk(int(rng.integers(1, 3)), "fire")
    if rng.random() < 0.35:
        on_walk(1, "smoke")
    if clutter:
        on_walk(int(rng.integers(0, 8)), None)
    placements.sort(key=lambda p: p[1])  # far to near

    for x, y, kind in placements:
        if kind is None:
            sprite = _street_clutter(rng, ppm(y))
            if sprite is None:
                continue
        else:
            lo, hi = _HEIGHT_M[kind]
            size_px = rng.uniform(lo, hi) * ppm(y)
            if size_px < _MIN_PX:
                continue
            sprite = draw(kind, "side", rng, size_px)
        if sun_k and kind not in ("smoke", "fire"):
            # Sprite (sx, sy) -> ground: the silhouette laid down behind the object, shortened and sheared.
            m = np.array([[1, shear * squash * 2, x - sprite.ax - shear * squash * 2 * sprite.ay],
                          [0, -squash, y + squash * sprite.ay]], np.float64)
            canvas.shadow(sprite.alpha, m, sun_k, blur=max(0.5, sprite.alpha.shape[0] / 60))
        canvas.paste(sprite, x, y, CLASS_IDS[kind] if kind is not None else None)
    return BuiltScene(canvas, "street", (hy, float(h)))


def _street_clutter(rng: np.random.Generator, ppm: float) -> Sprite | None:
    """Unlabelled things a street holds: lamp posts, bollards, bins, trees, signs."""
    kind = int(rng.integers(4))
    hm = (rng.uniform(4, 7), rng.uniform(0.6, 1.0), rng.uniform(0.8, 1.2), rng.uniform(3, 6))[kind]
    hp = hm * ppm
    if hp < _MIN_PX:
        return None
    if hp > DRAW_CAP_PX:
        small = _street_clutter_kind(rng, kind, DRAW_CAP_PX)
        return upscale(small, hp / DRAW_CAP_PX)
    return _street_clutter_kind(rng, kind, hp)


def _street_clutter_kind(rng: np.random.Generator, kind: int, hp: float) -> Sprite:
    wp = hp * (0.06, 0.25, 0.6, 0.5)[kind]
    hh, ww = int(hp) + 3, int(max(wp, 2)) + 3
    bgr = np.zeros((hh, ww, 3), np.float32)
    alpha = np.zeros((hh, ww), np.float32)
    colour = jitter_colour(rng, ((0.3, 0.3, 0.3), (0.6, 0.6, 0.6), (0.2, 0.45, 0.2), (0.12, 0.35, 0.2))[kind], 0.1)
    if kind == 3:  # tree: trunk and canopy
        cv2.rectangle(bgr, (ww // 2 - 1, int(hh * .5)), (ww // 2 + 1, hh - 1), (0.15, 0.2, 0.3), -1)
        cv2.rectangle(alpha, (ww // 2 - 1, int(hh * .5)), (ww // 2 + 1, hh - 1), 1.0, -1)
        cv2.ellipse(bgr, (ww // 2, int(hh * .32)), (ww // 2, int(hh * .3)), 0, 0, 360, colour, -1, cv2.LINE_AA)
        cv2.ellipse(alpha, (ww // 2, int(hh * .32)), (ww // 2, int(hh * .3)), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
        bgr *= (0.6 + 0.7 * tx.fractal_noise(rng, hh, ww, max(2, ww / 5), 2))[..., None]
    else:
        cv2.rectangle(bgr, (1, 1), (ww - 2, hh - 1), colour, -1)
        cv2.rectangle(alpha, (1, 1), (ww - 2, hh - 1), 1.0, -1)
        if kind == 0:  # lamp head
            cv2.rectangle(bgr, (0, 0), (ww - 1, max(1, hh // 25)), (0.8, 0.85, 0.9), -1)
    return Sprite(np.clip(bgr, 0, 1), alpha, ww / 2, hh - 1)
