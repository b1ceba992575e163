"""Labelled objects seen from the side by a street camera: vehicles in side or end view, people, stalls, carts.

Each sprite's anchor is its ground contact (bottom centre), so the scene stands it on the pavement or road at the
row whose perspective scale gave its height.
"""

from __future__ import annotations

import cv2
import numpy as np

from detectors.video.synthetic.canvas import Sprite
from detectors.video.synthetic.objects import CAR_COLOURS, CLOTH, SKIN, blank, fill, pick, shade
from detectors.video.synthetic.textures import jitter_colour


def _wheel(bgr: np.ndarray, alpha: np.ndarray, cx: float, cy: float, r: float) -> None:
    c, rr = (int(cx), int(cy)), max(1, int(r))
    cv2.circle(bgr, c, rr, (0.05, 0.05, 0.05), -1, cv2.LINE_AA)
    cv2.circle(alpha, c, rr, 1.0, -1, cv2.LINE_AA)
    cv2.circle(bgr, c, max(1, int(r * 0.5)), (0.55, 0.55, 0.55), -1, cv2.LINE_AA)


def vehicle_side(rng: np.random.Generator, height: float, truck: bool) -> Sprite:
    end_view = rng.random() < 0.35  # seen from the front or rear instead of the side
    length = height * (rng.uniform(1.0, 1.35) if end_view else (rng.uniform(2.6, 3.2) if not truck
                                                                   else rng.uniform(2.0, 3.0)))
    hh, ww = int(height) + 3, int(length) + 3
    bgr, alpha = blank(hh, ww)
    body = pick(rng, CAR_COLOURS)
    glass = jitter_colour(rng, (0.2, 0.17, 0.14), 0.05)
    base, wr = height + 1, height * (0.17 if not truck else 0.14)
    if end_view:
        fill(bgr, alpha, np.array([[1, base - wr], [length + 1, base - wr], [length + 1, base - height * .7],
                                    [length * .88, base - height], [length * .12, base - height],
                                    [1, base - height * .7]]), body)
        fill(bgr, alpha, np.array([[length * .15, base - height * .68], [length * .85, base - height * .68],
                                    [length * .8, base - height * .93], [length * .2, base - height * .93]]), glass)
        for fx in (0.1, 0.78):  # lamps
            cv2.rectangle(bgr, (int(length * fx), int(base - height * .55)),
                          (int(length * (fx + .12)), int(base - height * .45)),
                          (0.1, 0.1, 0.8) if rng.random() < 0.5 else (0.9, 0.9, 0.9), -1)
        for fx in (0.08, 0.82):
            cv2.rectangle(bgr, (int(length * fx), int(base - wr)), (int(length * (fx + .1)), int(base) - 1),
                          (0.05, 0.05, 0.05), -1)
            cv2.rectangle(alpha, (int(length * fx), int(base - wr)), (int(length * (fx + .1)), int(base) - 1), 1.0, -1)
    elif truck:
        cab = length * rng.uniform(0.22, 0.3)
        cargo = pick(rng, ((0.7, 0.7, 0.7), (0.2, 0.4, 0.7), (0.3, 0.5, 0.3), (0.85, 0.85, 0.85), (0.1, 0.3, 0.6)))
        fill(bgr, alpha, np.array([[cab + 2, base - wr], [length + 1, base - wr], [length + 1, base - height],
                                    [cab + 2, base - height]]), cargo)
        fill(bgr, alpha, np.array([[1, base - wr], [cab, base - wr], [cab, base - height * .8],
                                    [cab * .3, base - height * .8], [1, base - height * .45]]), body)
        fill(bgr, alpha, np.array([[cab * .35, base - height * .75], [cab * .9, base - height * .75],
                                    [cab * .9, base - height * .5], [cab * .12, base - height * .5]]), glass)
        for fx in (0.15, 0.7, 0.87):
            _wheel(bgr, alpha, length * fx, base - wr, wr)
    else:
        fill(bgr, alpha, np.array([[1, base - wr], [length + 1, base - wr], [length + 1, base - height * .55],
                                    [length * .8, base - height * .6], [length * .65, base - height],
                                    [length * .3, base - height], [length * .17, base - height * .6],
                                    [1, base - height * .5]]), body)
        fill(bgr, alpha, np.array([[length * .22, base - height * .6], [length * .47, base - height * .6],
                                    [length * .47, base - height * .93], [length * .32, base - height * .93]]), glass)
        fill(bgr, alpha, np.array([[length * .5, base - height * .6], [length * .75, base - height * .6],
                                    [length * .63, base - height * .93], [length * .5, base - height * .93]]), glass)
        for fx in (0.2, 0.8):
            _wheel(bgr, alpha, length * fx, base - wr, wr)
    shade(bgr, rng, 0.08)
    bgr[: int(hh * 0.5)] *= 1.08  # light from above
    return Sprite(np.clip(bgr, 0, 1), alpha, ww / 2, base)


def person_side(rng: np.random.Generator, height: float) -> Sprite:
    h = height
    w = h * rng.uniform(0.28, 0.36)
    hh, ww = int(h) + 3, int(w * 1.6) + 3
    bgr, alpha = blank(hh, ww)
    cx, base = ww / 2, h + 1
    legs, shirt, skin = pick(rng, CLOTH), pick(rng, CLOTH), pick(rng, SKIN)
    stride = w * rng.uniform(0.0, 0.35)
    lw = max(1, int(w * 0.18))
    for dx in (-stride, stride):  # legs from the hips to the feet
        p = (int(cx), int(base - h * .48)), (int(cx + dx * 0.7), int(base - 1))
        cv2.line(bgr, *p, legs, lw, cv2.LINE_AA)
        cv2.line(alpha, *p, 1.0, lw, cv2.LINE_AA)
    fill(bgr, alpha, np.array([[cx - w / 2, base - h * .82], [cx + w / 2, base - h * .82],
                                [cx + w * .42, base - h * .45], [cx - w * .42, base - h * .45]]), shirt)
    if rng.random() < 0.3:  # a dress or long coat
        fill(bgr, alpha, np.array([[cx - w * .42, base - h * .47], [cx + w * .42, base - h * .47],
                                    [cx + w * .55, base - h * .2], [cx - w * .55, base - h * .2]]), shirt)
    aw = max(1, int(w * 0.14))
    for side in (-1, 1):
        p = (int(cx + side * w * .45), int(base - h * .8)), (int(cx + side * w * rng.uniform(.45, .8)),
                                                            int(base - h * rng.uniform(.45, .6)))
        cv2.line(bgr, *p, shirt, aw, cv2.LINE_AA)
        cv2.line(alpha, *p, 1.0, aw, cv2.LINE_AA)
    hr = max(1, int(h * 0.075))
    cv2.circle(bgr, (int(cx), int(base - h * .9)), hr, skin, -1, cv2.LINE_AA)
    cv2.circle(alpha, (int(cx), int(base - h * .9)), hr, 1.0, -1, cv2.LINE_AA)
    cv2.ellipse(bgr, (int(cx), int(base - h * .92)), (hr, max(1, int(hr * .7))), 0, 180, 360,
                jitter_colour(rng, (0.06, 0.06, 0.08), 0.04), -1, cv2.LINE_AA)
    shade(bgr, rng, 0.1)
    return Sprite(bgr, alpha, cx, base)


def stall_side(rng: np.random.Generator, height: float) -> Sprite:
    """A vending stall: a table with goods under an umbrella or awning on poles."""
    h = height
    w = h * rng.uniform(0.9, 1.5)
    hh, ww = int(h) + 3, int(w) + 3
    bgr, alpha = blank(hh, ww)
    base = h + 1
    pole = (0.2, 0.2, 0.2)
    cv2.line(bgr, (int(w / 2), int(base - h * .85)), (int(w / 2), int(base - 1)), pole, max(1, int(w / 40)))
    cv2.line(alpha, (int(w / 2), int(base - h * .85)), (int(w / 2), int(base - 1)), 1.0, max(1, int(w / 40)))
    canopy, stripe = pick(rng, CLOTH), pick(rng, ((0.9, 0.9, 0.9), (0.1, 0.8, 0.9), (0.2, 0.2, 0.8)))
    if rng.random() < 0.5:  # umbrella
        cv2.ellipse(bgr, (int(w / 2) + 1, int(base - h * .8)), (int(w / 2), max(1, int(h * .2))), 0, 180, 360,
                    canopy, -1, cv2.LINE_AA)
        cv2.ellipse(alpha, (int(w / 2) + 1, int(base - h * .8)), (int(w / 2), max(1, int(h * .2))), 0, 180, 360,
                    1.0, -1, cv2.LINE_AA)
    else:  # striped awning
        top, bot = base - h, base - h * .78
        for i in range(6):
            fill(bgr, alpha, np.array([[1 + w * i / 6, top], [1 + w * (i + 1) / 6, top], [1 + w * (i + 1) / 6, bot],
                                        [1 + w * i / 6, bot]]), canopy if i % 2 else stripe)
    table = jitter_colour(rng, (0.3, 0.4, 0.5) if rng.random() < 0.5 else pick(rng, CLOTH), 0.1)
    fill(bgr, alpha, np.array([[w * .05, base - h * .45], [w * .95, base - h * .45], [w * .95, base - h * .05],
                                [w * .05, base - h * .05]]), table)
    for fx in (0.08, 0.88):  # legs
        cv2.line(bgr, (int(w * fx), int(base - h * .1)), (int(w * fx), int(base - 1)), pole, max(1, int(w / 40)))
        cv2.line(alpha, (int(w * fx), int(base - h * .1)), (int(w * fx), int(base - 1)), 1.0, max(1, int(w / 40)))
    for _ in range(int(rng.integers(4, 12))):  # goods on the table
        gx, gw = rng.uniform(w * .08, w * .85), rng.uniform(w * .04, w * .12)
        gh = rng.uniform(h * .04, h * .14)
        fill(bgr, alpha, np.array([[gx, base - h * .45], [gx + gw, base - h * .45], [gx + gw, base - h * .45 - gh],
                                    [gx, base - h * .45 - gh]]), pick(rng, CLOTH))
    shade(bgr, rng, 0.1)
    return Sprite(bgr, alpha, ww / 2, base)


def cart_side(rng: np.random.Generator, height: float) -> Sprite:
    """A hand cart or tricycle cart: a box on two or three wheels with a handle or saddle."""
    h = height
    w = h * rng.uniform(1.2, 1.8)
    hh, ww = int(h) + 3, int(w) + 3
    bgr, alpha = blank(hh, ww)
    base, wr = h + 1, h * rng.uniform(0.15, 0.22)
    box = pick(rng, ((0.3, 0.5, 0.7), (0.5, 0.5, 0.5), (0.2, 0.2, 0.6), (0.7, 0.7, 0.7), (0.2, 0.4, 0.2)))
    x0 = w * (0.35 if rng.random() < 0.5 else 0.05)
    fill(bgr, alpha, np.array([[x0, base - wr * 1.5], [w, base - wr * 1.5], [w, base - h * .65],
                                [x0, base - h * .65]]), box)
    for _ in range(int(rng.integers(2, 6))):
        gx = rng.uniform(x0, w * .9)
        top = base - h * rng.uniform(.7, .85)
        box = np.array([[gx, base - h * .65], [gx + w * .1, base - h * .65], [gx + w * .1, top], [gx, top]])
        fill(bgr, alpha, box, pick(rng, CLOTH))
    _wheel(bgr, alpha, (x0 + w) / 2, base - wr, wr)
    if x0 > w * 0.2:  # tricycle front: frame, wheel and saddle
        _wheel(bgr, alpha, w * .1, base - wr, wr)
        for p, q in (((w * .1, base - wr), (x0, base - h * .5)), ((w * .12, base - wr), (w * .12, base - h * .85))):
            cv2.line(bgr, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), (0.15, 0.15, 0.15), max(1, int(h / 25)))
            cv2.line(alpha, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), 1.0, max(1, int(h / 25)))
    else:
        cv2.line(bgr, (int(w), int(base - h * .6)), (int(w), int(base - h * .95)), (0.15, 0.15, 0.15),
                 max(1, int(h / 25)))
        cv2.line(alpha, (int(w), int(base - h * .6)), (int(w), int(base - h * .95)), 1.0, max(1, int(h / 25)))
    shade(bgr, rng, 0.12)
    return Sprite(bgr, alpha, ww / 2, base)
