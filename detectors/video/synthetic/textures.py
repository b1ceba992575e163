"""Procedural textures: fractal value noise and the ground, water and building surfaces built from it.

Every texture is float32 BGR in [0, 1], drawn from the caller's generator so a scene is reproducible. Noise is
made by upsampling small random grids (one `cv2.resize` per octave), which keeps a 640 px texture at about a
millisecond.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

Image = np.ndarray  # float32 H x W x 3 BGR in [0, 1]
TextureFn = Callable[[np.random.Generator, int, int], Image]


def fractal_noise(rng: np.random.Generator, h: int, w: int, scale: float, octaves: int = 4,
                  persistence: float = 0.5) -> np.ndarray:
    """Value noise in [0, 1], features about `scale` px across at the coarsest octave."""
    out = np.zeros((h, w), np.float32)
    amp, total, cell = 1.0, 0.0, max(scale, 2.0)
    for _ in range(octaves):
        gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
        grid = rng.random((gh, gw), dtype=np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)
        total += amp
        amp *= persistence
        cell /= 2.0
        if cell < 1.5:
            break
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


_GRAIN_SIDE = 1024


@lru_cache(maxsize=1)
def _grain_bank() -> np.ndarray:
    return np.random.default_rng(0x6A41).standard_normal((_GRAIN_SIDE, _GRAIN_SIDE), dtype=np.float32)


def _grain(rng: np.random.Generator, h: int, w: int, sigma: float) -> np.ndarray:
    """Per-pixel grain: a crop of a fixed normal field at a drawn offset (as random per texture, far cheaper)."""
    if h > _GRAIN_SIDE or w > _GRAIN_SIDE:
        return rng.standard_normal((h, w), dtype=np.float32) * np.float32(sigma)
    oy, ox = int(rng.integers(0, _GRAIN_SIDE - h + 1)), int(rng.integers(0, _GRAIN_SIDE - w + 1))
    return _grain_bank()[oy:oy + h, ox:ox + w] * np.float32(sigma)


def surface(fn: TextureFn, rng: np.random.Generator, h: int, w: int, detail: float = 0.5) -> Image:
    """`fn` drawn at `detail` of the size and upsampled: ground seen from a camera is never sharper than the
    sensor's own noise, which the camera stage adds at full resolution."""
    sh, sw = max(8, int(h * detail)), max(8, int(w * detail))
    img = fn(rng, sh, sw)
    return img if (sh, sw) == (h, w) else cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)


def _tint(base: tuple[float, float, float], shade: np.ndarray) -> Image:
    """Colour `base` (BGR) modulated by a single-channel shading field around 1 (the camera stage saturates)."""
    return shade[..., None] * np.asarray(base, np.float32)


def jitter_colour(rng: np.random.Generator, bgr: tuple[float, float, float], amount: float = 0.08
                  ) -> tuple[float, float, float]:
    c = np.clip(np.asarray(bgr) * rng.uniform(1 - amount * 2, 1 + amount * 2) + rng.normal(0, amount, 3), 0, 1)
    return float(c[0]), float(c[1]), float(c[2])


def asphalt(rng: np.random.Generator, h: int, w: int) -> Image:
    g = rng.uniform(0.22, 0.48)
    shade = 0.8 + 0.35 * fractal_noise(rng, h, w, rng.uniform(40, 160))
    shade += _grain(rng, h, w, 0.05)
    img = _tint(jitter_colour(rng, (g, g, g * rng.uniform(0.95, 1.05)), 0.03), shade)
    for _ in range(int(rng.integers(0, 4))):  # cracks and tar seams
        pts = np.cumsum(rng.normal(0, 12, (6, 2)), axis=0) + rng.uniform(0, [w, h])
        cv2.polylines(img, [pts.astype(np.int32)], False, (g * 0.5,) * 3, 1, cv2.LINE_AA)
    return img


def grass(rng: np.random.Generator, h: int, w: int) -> Image:
    base = jitter_colour(rng, (0.18, rng.uniform(0.35, 0.55), rng.uniform(0.25, 0.42)), 0.06)
    shade = 0.65 + 0.5 * fractal_noise(rng, h, w, rng.uniform(30, 120), persistence=0.6)
    shade += _grain(rng, h, w, 0.06)
    img = _tint(base, shade)
    dry = fractal_noise(rng, h, w, rng.uniform(60, 200)) > rng.uniform(0.6, 0.9)
    img[dry] = img[dry] * 0.5 + np.asarray((0.3, 0.45, 0.5), np.float32) * 0.5  # dry, trodden patches
    return img


def soil(rng: np.random.Generator, h: int, w: int) -> Image:
    base = jitter_colour(rng, (0.3, rng.uniform(0.38, 0.5), rng.uniform(0.5, 0.62)), 0.06)
    shade = 0.7 + 0.45 * fractal_noise(rng, h, w, rng.uniform(20, 90)) + _grain(rng, h, w, 0.05)
    return _tint(base, shade)


def water(rng: np.random.Generator, h: int, w: int) -> Image:
    base = jitter_colour(rng, (rng.uniform(0.35, 0.55), rng.uniform(0.35, 0.5), rng.uniform(0.2, 0.35)), 0.05)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = float(rng.uniform(0, np.pi))
    warp = fractal_noise(rng, h, w, 50) * rng.uniform(4, 12)
    phase = (xx * float(np.cos(a)) + yy * float(np.sin(a))) * float(rng.uniform(0.15, 0.5)) + warp
    ripple = 0.5 + 0.5 * np.sin(phase)
    shade = 0.8 + 0.25 * fractal_noise(rng, h, w, rng.uniform(60, 200)) + 0.12 * ripple
    img = _tint(base, shade)
    glint = (ripple > 0.985) & (fractal_noise(rng, h, w, 30) > 0.65)  # specular sun glints on ripple crests
    img[glint] = np.minimum(img[glint] + 0.35, 1.0)
    return img


def tiles(rng: np.random.Generator, h: int, w: int) -> Image:
    """Paving slabs: a grid with jittered slab brightness and darker joints."""
    g = rng.uniform(0.45, 0.75)
    img = _tint(jitter_colour(rng, (g, g, g), 0.06), 0.9 + 0.2 * fractal_noise(rng, h, w, 60))
    step = int(rng.integers(6, 18))
    ny, nx = h // step + 1, w // step + 1
    slab = rng.uniform(0.88, 1.1, (ny, nx)).astype(np.float32)
    img *= cv2.resize(slab, (nx * step, ny * step), interpolation=cv2.INTER_NEAREST)[:h, :w, None]
    img[::step] *= 0.7
    img[:, ::step] *= 0.7
    img += _grain(rng, h, w, 0.025)[..., None]
    return np.clip(img, 0, 1)


_ROOF_COLOURS = ((0.25, 0.3, 0.6), (0.55, 0.55, 0.55), (0.6, 0.45, 0.3), (0.35, 0.35, 0.4), (0.8, 0.8, 0.78),
                 (0.3, 0.45, 0.35), (0.2, 0.25, 0.45))


def roof(rng: np.random.Generator, h: int, w: int) -> Image:
    """Tiled, corrugated or flat concrete roofs: stripes along one axis on a noisy base."""
    base = jitter_colour(rng, _ROOF_COLOURS[int(rng.integers(len(_ROOF_COLOURS)))], 0.05)
    shade = 0.85 + 0.25 * fractal_noise(rng, h, w, rng.uniform(20, 80))
    kind = int(rng.integers(3))
    if kind < 2:
        period = rng.uniform(2.5, 6.0)
        axis = np.arange(w if kind == 0 else h, dtype=np.float32)
        stripe = 0.9 + 0.12 * np.sin(axis * 2 * np.pi / period)
        shade = shade * (stripe[None, :] if kind == 0 else stripe[:, None])
    return _tint(base, shade + _grain(rng, h, w, 0.03))


def wall(rng: np.random.Generator, h: int, w: int) -> Image:
    base = jitter_colour(rng, tuple(rng.uniform(0.35, 0.85, 3)), 0.04)  # type: ignore[arg-type]
    shade = 0.85 + 0.2 * fractal_noise(rng, h, w, rng.uniform(20, 100)) + _grain(rng, h, w, 0.02)
    return _tint(base, shade)
