"""The camera between the scene and the file: exposure and white balance, haze, vignette, blur, resolution loss
and sensor noise. JPEG compression happens when the dataset writes the image, at the quality chosen here.

Each effect is drawn with its own probability, so the detector sees clean and degraded frames alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np


@dataclass(frozen=True)
class CameraEffects:
    gain: float
    white_balance: tuple[float, float, float]
    gamma: float
    haze: float  # 0..1 at the far end of the scene
    haze_colour: tuple[float, float, float]
    vignette: float
    motion_blur_px: int
    motion_angle: float
    defocus_sigma: float
    downscale: float  # 1 keeps full resolution
    noise_sigma: float
    jpeg_quality: int

    @staticmethod
    def random(rng: np.random.Generator) -> CameraEffects:
        night = rng.random() < 0.12
        g = float(rng.uniform(0.2, 0.45) if night else rng.uniform(0.7, 1.25))
        return CameraEffects(
            gain=g,
            white_balance=tuple(float(v) for v in rng.uniform(0.88, 1.12, 3)),  # type: ignore[arg-type]
            gamma=float(rng.uniform(0.8, 1.25)),
            haze=float(rng.uniform(0.0, 0.5) if rng.random() < 0.5 else 0.0),
            haze_colour=tuple(float(v) for v in rng.uniform(0.7, 0.9, 3)),  # type: ignore[arg-type]
            vignette=float(rng.uniform(0, 0.35)),
            motion_blur_px=int(rng.integers(3, 10)) if rng.random() < 0.25 else 0,
            motion_angle=float(rng.uniform(0, 180)),
            defocus_sigma=float(rng.uniform(0.4, 1.4)) if rng.random() < 0.25 else 0.0,
            downscale=float(rng.uniform(0.4, 0.8)) if rng.random() < 0.3 else 1.0,
            noise_sigma=float(rng.uniform(0.02, 0.06) if night else rng.uniform(0.0, 0.025)),
            jpeg_quality=int(rng.integers(35, 96)),
        )

    @staticmethod
    def none() -> CameraEffects:
        return CameraEffects(1.0, (1.0, 1.0, 1.0), 1.0, 0.0, (0.8, 0.8, 0.8), 0.0, 0, 0.0, 0.0, 1.0, 0.0, 95)


def _haze_weight(h: int, w: int, far_row: float | None, amount: float) -> np.ndarray:
    """Haze per row: uniform from above; in a street view growing towards the horizon row."""
    if far_row is None:
        return np.full((h, 1, 1), amount, np.float32)
    rows = np.arange(h, dtype=np.float32)
    depth = np.clip(1 - np.abs(rows - far_row) / max(h - far_row, 1), 0, 1) ** 3
    return (amount * depth).reshape(h, 1, 1)


_BANK_SCALE = 24.0  # int8 noise field units per standard deviation


@lru_cache(maxsize=4)
def _noise_bank(h: int, w: int) -> np.ndarray:
    """Gaussian luma noise plus a third of half-resolution chroma noise, as int8, twice the frame's size."""
    rng = np.random.default_rng(0x5EED)
    bh, bw = 2 * h, 2 * w
    luma = rng.standard_normal((bh, bw, 1), dtype=np.float32)
    chroma = cv2.resize(rng.standard_normal((bh // 2, bw // 2, 3), dtype=np.float32), (bw, bh),
                        interpolation=cv2.INTER_NEAREST)
    return np.clip((luma + 0.33 * chroma) * _BANK_SCALE, -127, 127).astype(np.int8)


@lru_cache(maxsize=8)
def _radius2(h: int, w: int) -> np.ndarray:
    yy, xx = np.ogrid[0:h, 0:w]
    return (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2).astype(np.float32)[..., None]


def apply_camera(img: np.ndarray, fx: CameraEffects, rng: np.random.Generator,
                 far_row: float | None = None) -> np.ndarray:
    """Float BGR in [0, 1] -> uint8 BGR as the camera would have recorded it."""
    h, w = img.shape[:2]
    # Haze, white balance, exposure and vignette folded into out = (img * a + b) * vignette, done in place.
    gain = np.asarray(fx.white_balance, np.float32) * np.float32(fx.gain * 255)
    a = gain.reshape(1, 1, 3)
    out = img * a if fx.haze <= 0 else img * (a * (1 - _haze_weight(h, w, far_row, fx.haze)))
    if fx.haze > 0:
        out += (np.asarray(fx.haze_colour, np.float32) * gain).reshape(1, 1, 3) * _haze_weight(h, w, far_row, fx.haze)
    if fx.vignette > 0:
        out *= 1 - np.float32(fx.vignette * 0.5) * _radius2(h, w)
    u8 = cv2.convertScaleAbs(out)  # saturates to 0..255; the image holds no negative values
    if fx.gamma != 1.0:
        lut = (np.linspace(0, 1, 256) ** fx.gamma * 255 + 0.5).astype(np.uint8)
        u8 = cv2.LUT(u8, lut)
    if fx.motion_blur_px > 1:
        n = fx.motion_blur_px
        kernel = np.zeros((n, n), np.float32)
        kernel[n // 2, :] = 1.0 / n
        rot = cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), fx.motion_angle, 1.0)
        kernel = cv2.warpAffine(kernel, rot, (n, n))
        u8 = cv2.filter2D(u8, -1, kernel / max(kernel.sum(), 1e-6))
    if fx.defocus_sigma > 0:
        u8 = cv2.GaussianBlur(u8, (0, 0), fx.defocus_sigma)
    if fx.downscale < 1.0:
        small = cv2.resize(u8, (max(8, int(w * fx.downscale)), max(8, int(h * fx.downscale))),
                           interpolation=cv2.INTER_AREA)
        u8 = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if fx.noise_sigma > 0:
        # A crop of a fixed noise field at an offset drawn from the frame's generator: as random per frame as fresh
        # noise for training, deterministic per seed, and one pass instead of drawing a million normals.
        bank = _noise_bank(h, w)
        oy, ox = int(rng.integers(0, bank.shape[0] - h + 1)), int(rng.integers(0, bank.shape[1] - w + 1))
        brightness = float(u8.mean()) / 255
        sigma = fx.noise_sigma * 255 * (0.5 + np.sqrt(brightness))  # shot noise grows with the light
        u8 = cv2.addWeighted(u8, 1.0, bank[oy:oy + h, ox:ox + w], sigma / _BANK_SCALE, 0.0, dtype=cv2.CV_8U)
    return u8
